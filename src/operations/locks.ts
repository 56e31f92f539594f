/** PostgreSQL advisory locks that serialize operations on shared state. */
import type { EntityManager } from '@mikro-orm/postgresql';

/** Deploys and LAN changes: IP allocation must see every earlier deploy, and the LAN cannot change under one. */
const FLEET_LOCK = 0x6465636b; // "deck"

/** Held until the transaction `tx` ends. */
export async function lockFleet(tx: EntityManager): Promise<void> {
  await tx.getConnection().execute(`select pg_advisory_xact_lock(${FLEET_LOCK})`);
}
