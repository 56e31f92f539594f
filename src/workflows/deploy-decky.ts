import { compose, schedules, verify, type DbSteps } from './activities';
import { runOnAgent } from './agent-job';
import { renderStep, runLifecycle, type DeckyOperationInput, type StepRunner } from './lifecycle';

/**
 * Deploy one decky: on the master's Docker engine render → network → compose_up → verify, or on
 * its swarm host render → dispatch → agent_result; then schedule its mutations.
 */
export async function deployDeckyWorkflow(input: DeckyOperationInput): Promise<void> {
  await runLifecycle(input, async (step, store) => {
    await bringUpDecky(step, store, input);
    await step('schedule', () => schedules.scheduleMutation(input.deckyName));
  });
}

/**
 * The decky's containers made to match its desired state, where it runs: what deploy and heal
 * share. Compose keeps a container whose configuration did not change (the base and its IP).
 */
export async function bringUpDecky(step: StepRunner, store: DbSteps, input: DeckyOperationInput): Promise<void> {
  const plan = await renderStep(step, store, input);
  if (input.hostUuid) {
    await runOnAgent(step, input.lifecycleId, input.hostUuid, { kind: 'deploy', body: { config: { network: plan.network, deckies: [plan.decky] } } });
  } else {
    await step('network', () => compose.ensureLanNetwork(plan.network));
    await step('compose_up', () => compose.composeUp(plan.decky, plan.network.driver));
    await step('verify', () => verify.verifyDecky(plan.decky));
  }
}
