/** Submitting a teardown: cancels whatever runs on the decky, then removes it. */
import { Decky } from '../entities';
import type { Trigger } from '../domain/schemas';
import { NotFoundError } from './errors';
import type { OperationsContext } from './context';
import { startLifecycleWorkflow } from './workflow-start';
import { createPendingLifecycle, findInFlight } from './lifecycle-rows';

export async function submitTeardown(ctx: OperationsContext, deckyName: string, trigger: Trigger): Promise<{ lifecycle_ids: string[] }> {
  const em = ctx.orm.em.fork();
  const planned = await em.transactional(async (tx) => {
    const decky = await tx.findOne(Decky, { name: deckyName }, { lockMode: 4 /* PESSIMISTIC_WRITE */ });
    if (!decky) throw new NotFoundError(`decky "${deckyName}" does not exist`);
    const inFlight = await findInFlight(tx, deckyName);
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
    const row = createPendingLifecycle(tx, { deckyName, operation: 'teardown', trigger, hostUuid: decky.hostUuid, now });
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
