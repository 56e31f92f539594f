import { EntitySchema } from '@mikro-orm/core';
import type { LifecycleStatus, NetworkDriver, Operation, Step, Trigger } from '../domain/schemas';

/** One attempt at one operation on one decky. A terminal row (succeeded/failed) never changes again. */
export class DeckyLifecycle {
  id!: string;
  deckyName!: string;
  hostUuid: string | null = null;
  operation!: Operation;
  trigger!: Trigger;
  status: LifecycleStatus = 'pending';
  error: string | null = null;
  steps: Step[] = [];
  workflowId!: string;
  runId: string | null = null;
  startedAt: Date = new Date();
  updatedAt: Date = new Date();
  completedAt: Date | null = null;
  /** A mutation's services before it, so whoever starts its workflow (the reconciler too) passes them on. */
  previousServices: string[] | null = null;
  /** The Schedule run (its workflow id) that planned a scheduled mutation: one row per run. */
  scheduleRun: string | null = null;
  /** A `move`: the LAN driver it takes the decky to, so whoever starts its workflow passes it on. */
  networkDriver: NetworkDriver | null = null;
}

export const DeckyLifecycleSchema = new EntitySchema<DeckyLifecycle>({
  class: DeckyLifecycle,
  tableName: 'decky_lifecycle',
  properties: {
    id: { type: 'uuid', primary: true },
    deckyName: { type: 'string', index: true },
    hostUuid: { type: 'uuid', nullable: true },
    operation: { type: 'string' },
    trigger: { type: 'string' },
    status: { type: 'string', index: true },
    error: { type: 'text', nullable: true },
    steps: { type: 'json' },
    workflowId: { type: 'string' },
    runId: { type: 'string', nullable: true },
    startedAt: { type: 'Date' },
    updatedAt: { type: 'Date', index: true },
    completedAt: { type: 'Date', nullable: true },
    previousServices: { type: 'json', nullable: true },
    scheduleRun: { type: 'string', nullable: true, unique: true },
    networkDriver: { type: 'string', nullable: true },
  },
});
