/** Starting the workflow of a lifecycle row: used by the API's submissions and by the boot reconciler. */
import { type Client, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import type { MikroORM } from '@mikro-orm/postgresql';
import pLimit from 'p-limit';
import type { Logger } from 'pino';
import { DeckyLifecycle } from '../entities';
import type { Operation } from '../domain/schemas';
import { deckySearchAttributes } from '../domain/workflow-ids';
import type * as workflows from '../workflows';
import type { TeardownInput } from '../workflows/teardown-decky';

/** The exported workflow functions' names: a start names one that exists. */
export type WorkflowName = keyof typeof workflows;

const WORKFLOW_TYPES: Record<Operation, WorkflowName> = {
  deploy: 'deployDeckyWorkflow',
  mutate: 'mutateDeckyWorkflow',
  teardown: 'teardownDeckyWorkflow',
  heal: 'healDeckyWorkflow',
  move: 'moveDeckyWorkflow',
};

export interface StartContext {
  orm: MikroORM;
  client: Client;
  taskQueue: string;
}

type LifecycleStartRow = Pick<
  DeckyLifecycle,
  'id' | 'deckyName' | 'operation' | 'workflowId' | 'hostUuid' | 'previousServices' | 'networkDriver' | 'startedAt'
>;

/**
 * Start (or find) the workflow of a row and record its run id. Starting twice is harmless: the
 * workflow id is the row's, so a second start finds the first run. The input comes from the row
 * alone (plus a teardown's superseded workflow), so the reconciler starts the same workflow the
 * submission would have.
 */
export async function startLifecycleWorkflow(
  ctx: StartContext,
  row: LifecycleStartRow,
  teardown: Pick<TeardownInput, 'supersedesWorkflowId'> = {},
): Promise<string> {
  let runId: string;
  try {
    const handle = await ctx.client.workflow.start(WORKFLOW_TYPES[row.operation], {
      taskQueue: ctx.taskQueue,
      workflowId: row.workflowId,
      // One run per row, ever: a late reconciler must not run a finished operation again.
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      args: [
        {
          lifecycleId: row.id,
          deckyName: row.deckyName,
          ...(row.hostUuid ? { hostUuid: row.hostUuid } : {}),
          ...(row.previousServices ? { previousServices: row.previousServices } : {}),
          ...teardown,
          // A move's rows were written together: their shared start time names their driver change.
          ...(row.networkDriver ? { networkDriver: row.networkDriver, changeId: row.startedAt.toISOString() } : {}),
        },
      ],
      typedSearchAttributes: deckySearchAttributes(row.deckyName, row.operation, row.hostUuid),
      // A task held by a killed worker (its local database steps run inside one) is handed on after
      // this instead of the default 10 s; longer local steps keep it alive by heartbeating.
      workflowTaskTimeout: '4s',
      staticSummary: `${row.operation} decky ${row.deckyName}`,
    });
    runId = handle.firstExecutionRunId;
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    runId = (await ctx.client.workflow.getHandle(row.workflowId).describe()).runId;
  }
  await ctx.orm.em.fork().nativeUpdate(DeckyLifecycle, { id: row.id }, { runId });
  return runId;
}

/**
 * One queue of starts per process. The dev server writes them one at a time anyway; a burst of
 * 1,000 concurrent starts would only queue there and trip its rate limits.
 */
const startQueue = pLimit(16);

/**
 * Starts the workflows of freshly committed rows without making the caller wait for them. Safe
 * because the rows are committed first: a start that fails, or never runs because the process
 * died, leaves a `pending` row without a run id, which the reconciler starts.
 */
export function startLifecycleWorkflowsInBackground(ctx: StartContext & { logger: Logger }, rows: LifecycleStartRow[]): void {
  for (const row of rows) void startQueue(() => startOrLeaveToReconciler(ctx, row));
}

/**
 * Starts a committed row's workflow; a failure is logged, not thrown: the row stays `pending`
 * without a run id, and the reconciler starts it.
 */
export async function startOrLeaveToReconciler(
  ctx: StartContext & { logger: Logger },
  row: LifecycleStartRow,
  teardown: Pick<TeardownInput, 'supersedesWorkflowId'> = {},
): Promise<void> {
  await startLifecycleWorkflow(ctx, row, teardown).catch((err) =>
    ctx.logger.warn({ err, lifecycle_id: row.id, decky: row.deckyName }, 'workflow start failed; the reconciler retries it'),
  );
}

/** Runs `fn` in the same bounded queue as the starts (the reconciler's starts and describes). */
export function inStartQueue<T>(fn: () => Promise<T>): Promise<T> {
  return startQueue(fn);
}
