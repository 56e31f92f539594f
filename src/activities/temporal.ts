/** Activities that talk to Temporal itself. */
import type { Client } from '@temporalio/client';
import { withHeartbeat } from './heartbeat';

export function createTemporalActivities(client: Client) {
  return {
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
