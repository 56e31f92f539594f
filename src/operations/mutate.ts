/** Submitting a mutation: the decky's desired services change, one lifecycle row, one workflow. */
import type { EntityManager } from '@mikro-orm/postgresql';
import { Decky, DeckyLifecycle, loadDeploymentSettings } from '../entities';
import type { MutateRequest, Trigger } from '../domain/schemas';
import { checkMutationServices, pickNewServices } from '../domain/mutation';
import { parseMutateInterval } from '../domain/interval';
import { createPendingLifecycle, withIdleDecky } from './lifecycle-rows';
import type { Catalogue } from '../domain/catalog';
import { NotFoundError } from './errors';
import type { OperationsContext } from './context';
import { startOrLeaveToReconciler } from './workflow-start';
import { effectiveMutateInterval, syncMutationSchedule } from './schedules';

/**
 * In one transaction: lock the decky, refuse while another operation runs on it, record the new
 * services as its desired state and a pending row holding the previous ones. Shared by operators
 * and the schedules; a Schedule run (`scheduleRun`) that planned before gets its own row back,
 * whatever became of it.
 */
export async function planMutation(
  em: EntityManager,
  catalogue: Catalogue,
  deckyName: string,
  request: MutateRequest,
  trigger: Trigger,
  scheduleRun?: string,
): Promise<DeckyLifecycle> {
  return withIdleDecky(
    em,
    deckyName,
    (tx, decky) => {
      const services = request.services
        ? checkMutationServices(request.services, catalogue, decky.customServices)
        : pickNewServices(decky, catalogue, Math.random);
      const previousServices = decky.services;
      decky.services = services;
      return createPendingLifecycle(tx, {
        deckyName,
        operation: 'mutate',
        trigger,
        hostUuid: decky.hostUuid,
        previousServices,
        ...(scheduleRun ? { scheduleRun } : {}),
      });
    },
    { existing: scheduleRun ? (tx) => tx.findOne(DeckyLifecycle, { scheduleRun }) : undefined },
  );
}

export async function submitMutation(
  ctx: OperationsContext,
  deckyName: string,
  request: MutateRequest,
  trigger: Trigger,
): Promise<{ lifecycle_ids: string[] }> {
  const row = await planMutation(ctx.orm.em.fork(), ctx.catalogue, deckyName, request, trigger);
  await startOrLeaveToReconciler(ctx, row);
  return { lifecycle_ids: [row.id] };
}

/** PUT mutate-interval: minutes, a duration string, or null to switch mutation off. */
export async function setMutateInterval(ctx: OperationsContext, deckyName: string, value: number | string | null) {
  const minutes = parseMutateInterval(value) ?? null;
  const em = ctx.orm.em.fork();
  const decky = await em.findOne(Decky, { name: deckyName });
  if (!decky) throw new NotFoundError(`decky "${deckyName}" does not exist`);
  const settings = await loadDeploymentSettings(em);
  decky.mutateEnabled = minutes !== null;
  if (minutes !== null) decky.mutateInterval = minutes;
  await em.flush();
  const effective = effectiveMutateInterval(decky, settings);
  await syncMutationSchedule(ctx.client, ctx.taskQueue, deckyName, effective);
  return { name: deckyName, mutate_interval: decky.mutateEnabled ? decky.mutateInterval : null, effective_interval: effective };
}
