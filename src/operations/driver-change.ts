/**
 * Driver changes (issue 11 §4): a swarm host's `use_ipvlan`, or the master's LAN driver, changed
 * under running deckies moves them to the new driver instead of cutting them off: one `move` row
 * (trigger `driver_change`) per running or degraded decky, committed with the change's checks
 * under the fleet lock; the workflows start after the commit (the reconciler starts any a crash
 * left behind). The driver itself is recorded once a move succeeds (src/activities/db.ts), so
 * the host or LAN always names the driver its deckies are on.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { Decky, DeckyLifecycle } from '../entities';
import { IN_FLIGHT_STATUSES, type DeckyState, type NetworkDriver } from '../domain/schemas';
import { ConflictError } from './errors';
import { createPendingLifecycle } from './lifecycle-rows';

/** The message names at most this many deckies; the details carry them all. */
const NAMED_DECKIES = 20;

export function namedDeckies(names: string[]): string {
  return names.slice(0, NAMED_DECKIES).join(', ') + (names.length > NAMED_DECKIES ? ` and ${names.length - NAMED_DECKIES} more` : '');
}

/** A driver change answers 409 `operation_in_flight` while an earlier one's moves run on the scope. */
export async function assertNoMoveUnderWay(tx: EntityManager, scope: DriverChangeScope): Promise<void> {
  const moving = await tx.find(
    DeckyLifecycle,
    { hostUuid: scope.hostUuid, operation: 'move', status: { $in: [...IN_FLIGHT_STATUSES] } },
    { orderBy: { deckyName: 'asc' } },
  );
  if (moving.length === 0) return;
  throw new ConflictError(
    'operation_in_flight',
    `${scope.label} is moving ${moving.length} decky(ies) to ${moving[0].networkDriver} (${namedDeckies(moving.map((r) => r.deckyName))}); change its driver again when the moves have finished. Nothing was changed.`,
    { deckies: moving.map((r) => r.deckyName), lifecycle_ids: moving.map((r) => r.id) },
  );
}

/** The deckies of one engine: a swarm host's, or the master's own (`hostUuid` null); `label` names it in messages. */
export interface DriverChangeScope {
  hostUuid: string | null;
  label: string;
}

/** Deckies that hold a LAN address worth keeping; failed and torn-down ones are not moved. */
const MOVED_STATES: DeckyState[] = ['running', 'degraded'];

/**
 * The pending `move` rows taking the deckies of one engine (a swarm host's, or the master's own:
 * `hostUuid` null) to `driver`, in the caller's transaction under the fleet lock. Refused (409
 * `operation_in_flight`) while any decky there has an operation in flight, a move included:
 * that operation works on the network the move replaces.
 */
export async function planDriverMoves(tx: EntityManager, scope: DriverChangeScope, driver: NetworkDriver): Promise<DeckyLifecycle[]> {
  const deckies = await tx.find(Decky, { hostUuid: scope.hostUuid, state: { $ne: 'torn_down' } }, { orderBy: { name: 'asc' } });
  if (deckies.length === 0) return [];
  const busy = await tx.find(
    DeckyLifecycle,
    { deckyName: { $in: deckies.map((d) => d.name) }, status: { $in: [...IN_FLIGHT_STATUSES] } },
    { orderBy: { deckyName: 'asc' } },
  );
  if (busy.length > 0) {
    const names = busy.map((r) => `${r.deckyName} (${r.operation})`);
    throw new ConflictError(
      'operation_in_flight',
      `${scope.label} has ${busy.length} decky(ies) with an operation in flight: ${namedDeckies(names)}; change its driver when they have finished. Nothing was changed.`,
      { deckies: busy.map((r) => r.deckyName), lifecycle_ids: busy.map((r) => r.id) },
    );
  }
  const now = new Date();
  return deckies
    .filter((d) => MOVED_STATES.includes(d.state))
    .map((d) =>
      createPendingLifecycle(tx, { deckyName: d.name, operation: 'move', trigger: 'driver_change', hostUuid: scope.hostUuid, networkDriver: driver, now }),
    );
}
