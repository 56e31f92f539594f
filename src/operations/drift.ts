/**
 * Applying drift to the fleet's truth: a decky whose engine does not run it as desired becomes
 * `degraded` with the reason, and `running` again once it does. Deckies with an operation in
 * flight are left to that operation, which ends by writing their state itself.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { Decky, loadDeploymentSettings } from '../entities';
import { driftReason, type ObservedEngine } from '../domain/drift';
import { withoutHealNote } from '../domain/heal';
import { IN_FLIGHT_STATUSES, type DeckyState, type NetworkDriver } from '../domain/schemas';

export interface DeckyStateChange {
  name: string;
  state: DeckyState;
  reason: string | null;
}

/** States drift detection judges; the others belong to an operation or are terminal. */
const JUDGED_STATES: DeckyState[] = ['running', 'degraded'];

/**
 * Judges the master's own deckies (no swarm host) against what its engine runs and writes the
 * changes; returns them for the event stream.
 */
export async function applyLocalDrift(em: EntityManager, observe: () => Promise<ObservedEngine>): Promise<DeckyStateChange[]> {
  const settings = await loadDeploymentSettings(em);
  const driver: NetworkDriver = settings.ipvlan ? 'ipvlan' : 'macvlan';
  return applyDrift(em, { hostUuid: null }, async () => {
    const observed = await observe();
    return (decky) => driftReason(decky, observed.deckies[decky.name] ?? [], observed.lan, driver);
  });
}

/**
 * Writes `degraded` + reason or `running` for the deckies of one scope (the master's, or a swarm
 * host's). The engine is observed after the rows are read, so an operation that ended meanwhile
 * is judged by what it left; each update is conditional on the state judged and on no operation
 * being in flight, so an operation that began meanwhile wins (it writes the state it ends with).
 */
export async function applyDrift(
  em: EntityManager,
  scope: { hostUuid: string | null },
  judge: () => Promise<(decky: Decky) => string | null>,
): Promise<DeckyStateChange[]> {
  const deckies = await em.find(Decky, { hostUuid: scope.hostUuid, state: { $in: JUDGED_STATES } });
  if (!deckies.length) return [];
  const reasonOf = await judge();
  const changes: DeckyStateChange[] = [];
  for (const decky of deckies) {
    const reason = reasonOf(decky);
    const state: DeckyState = reason ? 'degraded' : 'running';
    if (state === decky.state && (state === 'running' || reason === withoutHealNote(decky.lastError))) continue;
    const { affectedRows } = await em.getConnection().execute<{ affectedRows: number }>(
      `update "decky" set "state" = ?, "last_error" = ?, "last_seen" = coalesce(?, "last_seen"), "updated_at" = now()
        where "name" = ? and "state" = ?
        and not exists (select 1 from "decky_lifecycle" l where l."decky_name" = "decky"."name" and l."status" in (${IN_FLIGHT_STATUSES.map(() => '?').join(', ')}))`,
      [state, reason, reason ? null : new Date(), decky.name, decky.state, ...IN_FLIGHT_STATUSES],
      'run',
    );
    if (affectedRows) changes.push({ name: decky.name, state, reason });
  }
  return changes;
}
