import { bringUpDecky } from './deploy-decky';
import { runLifecycle, type DeckyOperationInput } from './lifecycle';

/**
 * Heal one decky: the deploy's steps without scheduling (its Schedule exists). A base container
 * that still runs is kept with its IP; a missing one is created again with the same IP.
 */
export async function healDeckyWorkflow(input: DeckyOperationInput): Promise<void> {
  await runLifecycle(input, (step, store) => bringUpDecky(step, store, input));
}
