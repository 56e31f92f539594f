import type { NetworkDriver } from '../domain/schemas';
import { compose, verify } from './activities';
import { runOnAgent } from './agent-job';
import { runLifecycle, type DeckyOperationInput } from './lifecycle';

export interface MoveDeckyInput extends DeckyOperationInput {
  /** The driver the decky moves to (its lifecycle row's `network_driver`). */
  networkDriver: NetworkDriver;
  /** The driver change the row belongs to (the start time its rows share): its engine tries it once. */
  changeId: string;
}

/**
 * A driver change: one decky taken to another LAN network driver on its engine, its base container
 * and IP kept. On the master's Docker engine render → move_network → verify, on its swarm host
 * render → dispatch → agent_result. A driver the engine refuses fails the row and leaves the decky
 * on its network (the runtime puts the old one back), so the row's end keeps the decky's state.
 */
export async function moveDeckyWorkflow(input: MoveDeckyInput): Promise<void> {
  await runLifecycle(input, async (step, store) => {
    const plan = await step(
      'render',
      () => store.loadDeployPlan(input.deckyName, input.hostUuid),
      (p) => `${p.network.driver} → ${input.networkDriver} on ${p.network.parent}${p.host ? `; on swarm host "${p.host.name}"` : ''}`,
    );
    const network = { ...plan.network, driver: input.networkDriver };
    if (input.hostUuid) {
      await runOnAgent(step, input.lifecycleId, input.hostUuid, { kind: 'move', body: { network, decky: plan.decky, change_id: input.changeId } });
    } else {
      await step('move_network', () => compose.moveLanNetwork(network, plan.decky, input.changeId));
      await step('verify', () => verify.verifyDecky(plan.decky));
    }
  });
}
