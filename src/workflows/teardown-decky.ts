import { compose, schedules, temporal } from './activities';
import { runLifecycle, type DeckyOperationInput } from './lifecycle';

export interface TeardownInput extends DeckyOperationInput {
  /** The in-flight operation this teardown cancelled; it must close before containers are removed. */
  supersedesWorkflowId?: string;
}

/** Remove every container of the decky, base included; the finished row frees its name and IP. */
export async function teardownDeckyWorkflow(input: TeardownInput): Promise<void> {
  await runLifecycle(input, async (step) => {
    const superseded = input.supersedesWorkflowId;
    if (superseded) await step('cancel_inflight', () => temporal.awaitWorkflowClosed(superseded));
    // No scheduled mutation may start on a decky that is going away.
    await step('unschedule', () => schedules.unscheduleMutation(input.deckyName));
    await step('compose_down', () => compose.composeDown(input.deckyName));
  });
}
