import { compose, schedules, verify } from './activities';
import { renderStep, runLifecycle, type DeckyOperationInput } from './lifecycle';

/** Deploy one decky on the master's Docker engine: render → network → compose_up → verify → schedule. */
export async function deployDeckyWorkflow(input: DeckyOperationInput): Promise<void> {
  await runLifecycle(input, async (step) => {
    const plan = await renderStep(step, input.deckyName);
    await step('network', () => compose.ensureLanNetwork(plan.network));
    await step('compose_up', () => compose.composeUp(plan.decky, plan.network.driver));
    await step('verify', () => verify.verifyDecky(plan.decky));
    await step('schedule', () => schedules.scheduleMutation(input.deckyName));
  });
}
