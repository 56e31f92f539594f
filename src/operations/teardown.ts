/** Submitting a teardown: cancels whatever runs on the decky, then removes it. */
import { randomUUID } from 'node:crypto';
import { Decky, DeckyLifecycle } from '../entities';
import type { Trigger } from '../domain/schemas';
import { NotFoundError } from './errors';
import type { OperationsContext } from './context';
import { startLifecycleWorkflow } from './workflow-start';
import { workflowIdFor } from '../domain/workflow-ids';

export async function submitTeardown(ctx: OperationsContext, deckyName: string, trigger: Trigger): Promise<{ lifecycle_ids: string[] }> {
  const em = ctx.orm.em.fork();
  const planned = await em.transactional(async (tx) => {
    const decky = await tx.findOne(Decky, { name: deckyName }, { lockMode: 4 /* PESSIMISTIC_WRITE */ });
    if (!decky) throw new NotFoundError(`decky "${deckyName}" does not exist`);
    const inFlight = await tx.findOne(DeckyLifecycle, { deckyName, status: { $in: ['pending', 'running'] } });
    // Asking twice for the same teardown is answered with the first one.
    if (inFlight?.operation === 'teardown') return { row: inFlight, superseded: undefined, fresh: false };
    const now = new Date();
    if (inFlight) {
      Object.assign(inFlight, {
        status: 'failed',
        error: 'Cancelled: superseded by a teardown of the decky',
        updatedAt: now,
        completedAt: now,
      });
      // The one-in-flight index: the superseded row must leave it before the teardown row enters,
      // and a flush writes inserts before updates.
      await tx.flush();
    }
    const id = randomUUID();
    const row = tx.create(DeckyLifecycle, {
      id,
      deckyName,
      hostUuid: decky.hostUuid,
      operation: 'teardown',
      trigger,
      status: 'pending',
      steps: [],
      workflowId: workflowIdFor(deckyName, 'teardown', id),
      startedAt: now,
      updatedAt: now,
    });
    return { row, superseded: inFlight?.workflowId, fresh: true };
  });

  if (planned.superseded) {
    await ctx.client.workflow
      .getHandle(planned.superseded)
      .cancel()
      .catch((err) => ctx.logger.info({ err, workflow_id: planned.superseded }, 'superseded workflow was not running'));
  }
  if (planned.fresh) {
    await startLifecycleWorkflow(ctx, planned.row, planned.superseded ? { supersedesWorkflowId: planned.superseded } : {}).catch((err) =>
      ctx.logger.warn({ err, lifecycle_id: planned.row.id }, 'workflow start failed; the reconciler retries it'),
    );
  }
  return { lifecycle_ids: [planned.row.id] };
}
