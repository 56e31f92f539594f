import type { MikroORM } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import type { Catalogue } from '../domain/catalog';
import type { Logger } from 'pino';

/** What submitting an operation needs: state, the workflow engine, the catalogue. */
export interface OperationsContext {
  orm: MikroORM;
  client: Client;
  taskQueue: string;
  catalogue: Catalogue;
  logger: Logger;
  /** DECNET_MODE: an agent-role process never shards (architecture.md §8 mode rule). */
  role?: 'master' | 'agent';
}
