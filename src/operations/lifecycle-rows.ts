import { randomUUID } from 'node:crypto';
import { LockMode, UniqueConstraintViolationException, type EntityManager } from '@mikro-orm/postgresql';
import { Decky, DeckyLifecycle } from '../entities';
import { ConflictError, NotFoundError } from './errors';
import { IN_FLIGHT_STATUSES, type NetworkDriver, type Operation, type Trigger } from '../domain/schemas';
import { workflowIdFor } from '../domain/workflow-ids';

/** A new `pending` row, its workflow id fixed now so a restarted master starts the same workflow. */
export function createPendingLifecycle(
  tx: EntityManager,
  row: {
    deckyName: string;
    operation: Operation;
    trigger: Trigger;
    hostUuid?: string | null;
    now?: Date;
    previousServices?: string[];
    scheduleRun?: string;
    networkDriver?: NetworkDriver;
  },
): DeckyLifecycle {
  const id = randomUUID();
  const now = row.now ?? new Date();
  return tx.create(DeckyLifecycle, {
    id,
    deckyName: row.deckyName,
    hostUuid: row.hostUuid ?? null,
    operation: row.operation,
    trigger: row.trigger,
    status: 'pending',
    steps: [],
    workflowId: workflowIdFor(row.deckyName, row.operation, id),
    startedAt: now,
    updatedAt: now,
    previousServices: row.previousServices ?? null,
    scheduleRun: row.scheduleRun ?? null,
    networkDriver: row.networkDriver ?? null,
  });
}

/**
 * Gives the decky to a host (null: the master). Another host than before is a new assignment with
 * the next generation (fencing, architecture.md §8): jobs carry it and an agent holding an older one removes it.
 */
export function assignDeckyHost(decky: Decky, hostUuid: string | null): void {
  if (decky.hostUuid !== hostUuid) decky.generation += 1;
  decky.hostUuid = hostUuid;
}

/** The decky's operation in flight, if any (at most one: a partial unique index guarantees it). */
export function findInFlight(tx: EntityManager, deckyName: string): Promise<DeckyLifecycle | null> {
  return tx.findOne(DeckyLifecycle, { deckyName, status: { $in: [...IN_FLIGHT_STATUSES] } });
}

/**
 * In one transaction: lock the decky and refuse while another operation runs on it (409
 * `operation_in_flight`, 404 for no such decky), then `fn` records the new operation's row.
 * `existing`, asked first under the lock, returns what an earlier attempt of the same request
 * recorded (an idempotent retry gets its row back, whatever became of it).
 */
export async function withIdleDecky<T>(
  em: EntityManager,
  deckyName: string,
  fn: (tx: EntityManager, decky: Decky) => Promise<T> | T,
  opts: { existing?: (tx: EntityManager) => Promise<T | null> } = {},
): Promise<T> {
  try {
    return await em.transactional(async (tx) => {
      const decky = await tx.findOne(Decky, { name: deckyName }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      const earlier = await opts.existing?.(tx);
      if (earlier) return earlier;
      if (!decky) throw new NotFoundError(`decky "${deckyName}" does not exist`);
      const inFlight = await findInFlight(tx, deckyName);
      if (inFlight) {
        throw new ConflictError(
          'operation_in_flight',
          `decky "${deckyName}" has a ${inFlight.operation} in flight (lifecycle ${inFlight.id}); try again when it has finished`,
          {
            lifecycle_id: inFlight.id,
          },
        );
      }
      return fn(tx, decky);
    });
  } catch (err) {
    // Two requests raced past the check: the one-in-flight index decided.
    if (err instanceof UniqueConstraintViolationException) throw new ConflictError('operation_in_flight', `decky "${deckyName}" has an operation in flight`);
    throw err;
  }
}
