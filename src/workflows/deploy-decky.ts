import { compose, db, schedules, verify } from './activities';
import { runLifecycle, type DeckyOperationInput } from './lifecycle';

/** Deploy one decky on the master's Docker engine: render → network → compose_up → verify → schedule. */
export async function deployDeckyWorkflow(input: DeckyOperationInput): Promise<void> {
  await runLifecycle(input, async (step) => {
    const plan = await step('render', async () => {
      const plan = await db.loadDeployPlan(input.deckyName);
      await compose.renderComposeFile(plan.decky);
      return plan;
    }, (plan) => `${plan.decky.services.length + 1} container(s), ${plan.network.driver} on ${plan.network.parent}`);
    await step('network', () => compose.ensureLanNetwork(plan.network));
    await step('compose_up', () => compose.composeUp(plan.decky, plan.network.driver));
    await step('verify', () => verify.verifyDecky(plan.decky));
    await step('schedule', () => schedules.scheduleMutation(input.deckyName));
  });
}
