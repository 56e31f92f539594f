import { compose, verify } from './activities';
import { runOnAgent } from './agent-job';
import { renderStep, runLifecycle, type DeckyOperationInput } from './lifecycle';

export interface MutateInput extends DeckyOperationInput {
  /** The services before the change, as the submission saw them (absent when the reconciler starts it). */
  previousServices?: string[];
}

/**
 * Swap a decky's service containers for its new desired services; the base container keeps
 * running with its IP: render → remove_stale → compose_up → verify, or on a swarm decky's host
 * render → dispatch → agent_result (the agent does the same swap).
 */
export async function mutateDeckyWorkflow(input: MutateInput): Promise<void> {
  await runLifecycle(input, async (step, store) => {
    const plan = await renderStep(step, store, input);
    const newServices = plan.decky.services;
    if (input.hostUuid) {
      await runOnAgent(step, input.lifecycleId, input.hostUuid, { kind: 'mutate', body: { decky: plan.decky, services: newServices, network: plan.network } });
      return { mutation: { old_services: input.previousServices ?? [], new_services: newServices } };
    }
    const before = await step(
      'remove_stale',
      () => compose.removeStaleServices(plan.decky),
      (r) => `removed ${r.removed.join(', ') || 'nothing'}`,
    );
    await step('compose_up', () => compose.composeUp(plan.decky, plan.network.driver));
    await step('verify', () => verify.verifyDecky(plan.decky));
    return { mutation: { old_services: input.previousServices ?? before.running, new_services: newServices } };
  });
}
