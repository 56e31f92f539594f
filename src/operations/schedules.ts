/**
 * The Temporal Schedule of each decky's mutation (`mutate-<name>`): created when the decky is
 * deployed, updated by mutate-interval, deleted on teardown. Operators pause, trigger and
 * inspect it in the Temporal Web UI or with `temporal schedule`.
 */
import { type Client, ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy } from '@temporalio/client';
import type { Decky, DeploymentSettings } from '../entities';
import type { scheduledMutationWorkflow } from '../workflows';
import type { WorkflowName } from './workflow-start';
import { deckySearchAttributes, mutationScheduleId, scheduledMutationWorkflowId } from '../domain/workflow-ids';

/** Minutes between mutations, or null when mutation is off for the decky. */
export function effectiveMutateInterval(
  decky: Pick<Decky, 'mutateEnabled' | 'mutateInterval'>,
  settings: Pick<DeploymentSettings, 'mutateInterval'>,
): number | null {
  if (!decky.mutateEnabled) return null;
  return decky.mutateInterval ?? settings.mutateInterval;
}

/** A tenth of the interval, at most five minutes: deckies deployed together don't all change at once. */
const jitterMs = (minutes: number) => Math.min(minutes * 6_000, 300_000);

export async function syncMutationSchedule(client: Client, taskQueue: string, deckyName: string, intervalMinutes: number | null): Promise<string> {
  const scheduleId = mutationScheduleId(deckyName);
  if (intervalMinutes === null) return deleteMutationSchedule(client, deckyName);
  const spec = { intervals: [{ every: intervalMinutes * 60_000 }], jitter: jitterMs(intervalMinutes) };
  try {
    await client.schedule.create({
      scheduleId,
      spec,
      action: {
        type: 'startWorkflow',
        workflowType: 'scheduledMutationWorkflow' satisfies WorkflowName,
        workflowId: scheduledMutationWorkflowId(deckyName),
        taskQueue,
        args: [{ deckyName }] satisfies Parameters<typeof scheduledMutationWorkflow>,
        typedSearchAttributes: deckySearchAttributes(deckyName, 'mutate'),
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
      state: { note: `mutates decky ${deckyName} every ${intervalMinutes} min` },
    });
    return `created schedule ${scheduleId} every ${intervalMinutes}m`;
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  await client.schedule.getHandle(scheduleId).update((previous) => ({
    ...previous,
    spec,
    state: { ...previous.state, note: `mutates decky ${deckyName} every ${intervalMinutes} min` },
  }));
  return `updated schedule ${scheduleId} to every ${intervalMinutes}m`;
}

export async function deleteMutationSchedule(client: Client, deckyName: string): Promise<string> {
  const scheduleId = mutationScheduleId(deckyName);
  try {
    await client.schedule.getHandle(scheduleId).delete();
    return `deleted schedule ${scheduleId}`;
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return `no schedule ${scheduleId}`;
    throw err;
  }
}
