import { executeChild, ParentClosePolicy } from '@temporalio/workflow';
import { deckySearchAttributes } from '../domain/workflow-ids';
import { db } from './activities';
import { mutateDeckyWorkflow } from './mutate-decky';

/**
 * What a decky's Schedule starts: plan a `scheduled` mutation (skipped while another operation
 * runs on the decky), then run it as the same workflow an operator's mutation runs.
 */
export async function scheduledMutationWorkflow(input: { deckyName: string }): Promise<string> {
  const planned = await db.submitScheduledMutation(input.deckyName);
  if (!planned) return `skipped: decky ${input.deckyName} is busy or gone`;
  await executeChild(mutateDeckyWorkflow, {
    workflowId: planned.workflowId,
    args: [
      {
        lifecycleId: planned.lifecycleId,
        deckyName: input.deckyName,
        ...(planned.hostUuid ? { hostUuid: planned.hostUuid } : {}),
        previousServices: planned.previousServices,
      },
    ],
    typedSearchAttributes: deckySearchAttributes(input.deckyName, 'mutate', planned.hostUuid),
    // The mutation finishes even if someone terminates the schedule's run.
    parentClosePolicy: ParentClosePolicy.ABANDON,
  });
  return `mutated in ${planned.workflowId}`;
}
