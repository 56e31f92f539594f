/** Activities that talk to Temporal itself. */
import type { Client } from '@temporalio/client';
import type { MikroORM } from '@mikro-orm/postgresql';
import { Decky, loadDeploymentSettings } from '../entities';
import { deleteMutationSchedule, effectiveMutateInterval, syncMutationSchedule } from '../operations/schedules';
import { withHeartbeat } from './heartbeat';

export function createTemporalActivities(client: Client, orm: MikroORM, taskQueue: string) {
  return {
    /** Create or update the decky's mutation Schedule from its interval (or the global one). */
    async scheduleMutation(deckyName: string): Promise<string> {
      const em = orm.em.fork();
      const decky = await em.findOne(Decky, { name: deckyName });
      if (!decky) return `decky ${deckyName} is gone; nothing to schedule`;
      const settings = await loadDeploymentSettings(em);
      return syncMutationSchedule(client, taskQueue, deckyName, effectiveMutateInterval(decky, settings));
    },

    async unscheduleMutation(deckyName: string): Promise<string> {
      return deleteMutationSchedule(client, deckyName);
    },

    /** Wait until a superseded operation's workflow has closed, whatever its outcome. */
    async awaitWorkflowClosed(workflowId: string): Promise<string> {
      return withHeartbeat(async () => {
        const handle = client.workflow.getHandle(workflowId);
        await handle.result().catch(() => undefined);
        const { status } = await handle.describe();
        return `${workflowId} closed (${status.name})`;
      });
    },
  };
}

export type TemporalActivities = ReturnType<typeof createTemporalActivities>;
