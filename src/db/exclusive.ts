/**
 * Work that must not overlap across the processes of one fleet (one database) while it runs: it
 * runs inside a transaction holding a transaction-level advisory lock. A process that dies midway
 * drops its connection, and PostgreSQL the lock with it; the next process then takes over.
 */
import type { MikroORM } from '@mikro-orm/postgresql';

/** The advisory lock keys (apart from the leaders' in ./leader): one per kind of exclusive work. */
export const EXCLUSIVE_LOCKS = {
  /** A driver change's swap of the master's LAN network: its workers share one Docker engine. */
  lanMove: 0x6465636d, // "decm"
} as const;

/** Runs `work` once no other process of the fleet runs work under `key`; waits for it meanwhile. */
export function runExclusively<T>(orm: MikroORM, key: number, work: () => Promise<T>): Promise<T> {
  return orm.em.fork().transactional(async (tx) => {
    await tx.execute('select pg_advisory_xact_lock(?)', [key]);
    return work();
  });
}
