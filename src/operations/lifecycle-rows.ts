import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { DeckyLifecycle } from '../entities';
import { IN_FLIGHT_STATUSES, type Operation, type Trigger } from '../domain/schemas';
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
  });
}

/** The decky's operation in flight, if any (at most one: a partial unique index guarantees it). */
export function findInFlight(tx: EntityManager, deckyName: string): Promise<DeckyLifecycle | null> {
  return tx.findOne(DeckyLifecycle, { deckyName, status: { $in: [...IN_FLIGHT_STATUSES] } });
}
