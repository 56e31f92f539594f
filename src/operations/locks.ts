/** PostgreSQL advisory locks that serialize operations on shared state. */
import type { EntityManager } from '@mikro-orm/postgresql';

/** Deploys and LAN changes: IP allocation must see every earlier deploy, and the LAN cannot change under one. */
export const FLEET_LOCK = 0x6465636b; // "deck"

/**
 * Held until the transaction `tx` ends. `tx.execute` runs on the transaction's own connection;
 * `tx.getConnection().execute` would take a pooled one, where the lock ends with its statement.
 */
export async function lockFleet(tx: EntityManager): Promise<void> {
  await tx.execute(`select pg_advisory_xact_lock(${FLEET_LOCK})`);
}
