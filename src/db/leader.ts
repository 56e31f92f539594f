/**
 * Leader election through a PostgreSQL session-level advisory lock: of all the processes of one
 * fleet (one database) that campaign for a lock, the one whose dedicated connection holds it runs
 * the job; the others retry every `retryMs`. The lock goes with its connection, so a leader that
 * dies (or whose connection is killed) hands over to a standby within `retryMs`. A leader checks
 * its connection every `retryMs` too, and stops the job as soon as it is gone: two leaders can
 * overlap by at most that long, which the jobs tolerate (each of their steps is idempotent).
 */
import os from 'node:os';
import { Client } from 'pg';
import type { Logger } from 'pino';

/** The advisory lock keys (pg_advisory_lock's bigint space, per database): one per fleet-wide job. */
export const LEADER_LOCKS = {
  /** The reconciler and the swarm host sweeper (heartbeat sweep and failover). */
  fleet: 0x6465636c, // "decl"
  /** The drift watcher, among the processes that run a worker (they share the master's Docker engine). */
  driftWatcher: 0x64656377, // "decw"
} as const;

/** The shortest connect and query timeout, for short retry periods (tests). */
const MIN_TIMEOUT_MS = 2_000;

export interface LeaderJob {
  stop(): Promise<void>;
}

export interface ElectionOptions {
  databaseUrl: string;
  /** What is elected, for logs and application_name (`decnet-leader-<name>@<host>:<pid>`). */
  name: string;
  lockKey: number;
  /** How often a standby tries the lock and a leader checks its connection. */
  retryMs: number;
  logger: Logger;
  /** Started on winning the lock, stopped on losing it or at stop(). */
  lead(): LeaderJob;
}

export interface Election {
  /** Whether this process holds the lock and runs the job now. */
  isLeader(): boolean;
  /** Stops the job (when leading) and ends the campaign; the lock goes with the connection. */
  stop(): Promise<void>;
}

export function campaign(opts: ElectionOptions): Election {
  const logger = opts.logger.child({ component: 'leader', job: opts.name });
  let client: Client | undefined;
  let job: LeaderJob | undefined;
  let stopped = false;
  let busy: Promise<void> = Promise.resolve();

  const dropConnection = async () => {
    const gone = client;
    client = undefined;
    await gone?.end().catch(() => undefined);
  };
  const stepDown = async (why: string) => {
    if (job) {
      logger.warn({ reason: why }, `no longer the leader for ${opts.name}: stopping it`);
      const running = job;
      job = undefined;
      await running.stop();
    }
    await dropConnection();
  };

  const attempt = async () => {
    if (stopped) return;
    try {
      if (!client) {
        // A database that does not answer within a period counts as lost: a leader then steps down.
        const fresh = new Client({
          connectionString: opts.databaseUrl,
          // Which process leads, in pg_stat_activity (PostgreSQL keeps 63 bytes of it).
          application_name: `decnet-leader-${opts.name}@${os.hostname()}:${process.pid}`.slice(0, 63),
          keepAlive: true,
          connectionTimeoutMillis: Math.max(opts.retryMs, MIN_TIMEOUT_MS),
          query_timeout: Math.max(opts.retryMs, MIN_TIMEOUT_MS),
        });
        fresh.on('error', (err) => logger.debug({ err }, 'leader election connection failed'));
        // A connection killed under a leader: check now, which steps down, rather than at the next period.
        fresh.on('end', () => {
          if (client === fresh) tick();
        });
        await fresh.connect();
        client = fresh;
      }
      if (job) {
        await client.query('select 1');
        return;
      }
      const { rows } = await client.query<{ locked: boolean }>('select pg_try_advisory_lock($1) as locked', [opts.lockKey]);
      if (!rows[0]?.locked || stopped) return;
      logger.info(`elected leader for ${opts.name}`);
      job = opts.lead();
    } catch (err) {
      logger.debug({ err }, 'leader election attempt failed');
      await stepDown(err instanceof Error ? err.message : String(err));
    }
  };
  let attempting = false;
  const tick = () => {
    // One attempt at a time; a period that finds one under way is skipped, not queued.
    if (attempting) return;
    attempting = true;
    busy = attempt().finally(() => (attempting = false));
  };
  tick();
  const timer = setInterval(tick, opts.retryMs);

  return {
    isLeader: () => job !== undefined,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await busy;
      if (job) {
        const running = job;
        job = undefined;
        await running.stop();
      }
      // Ending the session releases the lock: a standby takes over at its next try.
      await dropConnection();
    },
  };
}
