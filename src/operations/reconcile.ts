/**
 * The reconciler: a crash between the DB commit and the workflow start leaves `pending` rows with no
 * workflow; this starts them. It also fails rows whose workflow closed without finishing them.
 */
import type { DeckyLifecycle } from '../entities';
import { DeckyLifecycle as Lifecycle } from '../entities';
import type { OperationsContext } from './context';
import { IN_FLIGHT_STATUSES } from '../domain/schemas';
import { inStartQueue, startLifecycleWorkflow } from './workflow-start';

export interface ReconcileReport {
  started: string[];
  failed: string[];
}

export async function reconcileLifecycles(ctx: OperationsContext, opts: { graceMs: number }): Promise<ReconcileReport> {
  const em = ctx.orm.em.fork();
  const report: ReconcileReport = { started: [], failed: [] };
  const cutoff = new Date(Date.now() - opts.graceMs);
  const orphans = await em.find(Lifecycle, { status: 'pending', runId: null, startedAt: { $lte: cutoff } });
  await Promise.all(
    orphans.map((row) =>
      inStartQueue(async () => {
        await startLifecycleWorkflow(ctx, row);
        report.started.push(row.id);
      }),
    ),
  );
  const inFlight = await em.find(Lifecycle, { status: { $in: [...IN_FLIGHT_STATUSES] }, runId: { $ne: null }, updatedAt: { $lte: cutoff } });
  const closed = await Promise.all(inFlight.map((row) => inStartQueue(() => workflowClosed(ctx, row))));
  for (const row of inFlight.filter((_, i) => closed[i])) {
    const now = new Date();
    const changed = await em.nativeUpdate(
      Lifecycle,
      { id: row.id, status: { $in: [...IN_FLIGHT_STATUSES] } },
      { status: 'failed', error: 'WorkflowClosed: the workflow ended without finishing this row', updatedAt: now, completedAt: now },
    );
    if (changed) report.failed.push(row.id);
  }
  return report;
}

async function workflowClosed(ctx: OperationsContext, row: DeckyLifecycle): Promise<boolean> {
  try {
    const { status } = await ctx.client.workflow.getHandle(row.workflowId).describe();
    return status.name !== 'RUNNING';
  } catch (err) {
    return (err as Error).name === 'WorkflowNotFoundError';
  }
}
