import { agent, compose, schedules, temporal } from './activities';
import { runOnAgent } from './agent-job';
import { runLifecycle, type DeckyOperationInput } from './lifecycle';

export interface TeardownInput extends DeckyOperationInput {
  /** The in-flight operation this teardown cancelled; it must close before containers are removed. */
  supersedesWorkflowId?: string;
}

/**
 * Remove every container of the decky, base included (through its agent for a swarm decky); the
 * finished row frees its name and IP.
 */
export async function teardownDeckyWorkflow(input: TeardownInput): Promise<void> {
  await runLifecycle(input, async (step) => {
    const superseded = input.supersedesWorkflowId;
    if (superseded) await step('cancel_inflight', () => temporal.awaitWorkflowClosed(superseded));
    // No scheduled mutation may start on a decky that is going away.
    await step('unschedule', () => schedules.unscheduleMutation(input.deckyName));
    if (!input.hostUuid) {
      await step('compose_down', () => compose.composeDown(input.deckyName));
      return;
    }
    const host = await agent.describeAgentHost(input.hostUuid);
    if (host.status === 'decommissioned') {
      // Its certificate no longer works and the machine may be gone: nothing can be removed there.
      await step('dispatch', async () => `skipped: swarm host "${host.name}" was decommissioned; the decky is forgotten`);
      return;
    }
    await runOnAgent(step, input.lifecycleId, input.hostUuid, { kind: 'teardown', body: { decky: input.deckyName } }, host);
  });
}
