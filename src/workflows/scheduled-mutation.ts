import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { executeChild, isCancellation, ParentClosePolicy, patched, upsertSearchAttributes, workflowInfo, WorkflowIdReusePolicy } from '@temporalio/workflow';
import { deckySearchAttributes, outcomeSearchAttribute } from '../domain/workflow-ids';
import { db } from './activities';
import { WORKFLOW_OUTCOME_PATCH } from './lifecycle';
import { mutateDeckyWorkflow } from './mutate-decky';

/**
 * What a decky's Schedule starts: plan a `scheduled` mutation (skipped while another operation
 * runs on the decky), then run it as the same workflow an operator's mutation runs.
 *
 * Since WORKFLOW_OUTCOME_PATCH the plan is keyed by this run's workflow id (the schedule appends
 * its action time), so a retry after the commit finds its own row instead of "busy"; the run ends
 * as its mutation did (`Outcome`, and failed when the mutation failed).
 */
export async function scheduledMutationWorkflow(input: { deckyName: string }): Promise<string> {
  const keyed = patched(WORKFLOW_OUTCOME_PATCH);
  const planned = keyed ? await db.submitScheduledMutation(input.deckyName, workflowInfo().workflowId) : await db.submitScheduledMutation(input.deckyName);
  if (!planned) {
    if (keyed) upsertSearchAttributes(outcomeSearchAttribute('succeeded'));
    return `skipped: decky ${input.deckyName} is busy or gone`;
  }
  try {
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
      // One run per row, as for every lifecycle workflow: never a second run of a finished one.
      ...(keyed ? { workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE } : {}),
    });
  } catch (err) {
    if (!keyed) throw err;
    // A master restarted after the plan's commit: its reconciler started the row's workflow first.
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      upsertSearchAttributes(outcomeSearchAttribute('succeeded'));
      return `mutation ${planned.workflowId} was already started (resumed by the reconciler)`;
    }
    if (isCancellation(err)) {
      upsertSearchAttributes(outcomeSearchAttribute('cancelled'));
      return `mutation ${planned.workflowId} was cancelled (superseded by a teardown)`;
    }
    upsertSearchAttributes(outcomeSearchAttribute('failed'));
    throw err;
  }
  if (keyed) upsertSearchAttributes(outcomeSearchAttribute('succeeded'));
  return `mutated in ${planned.workflowId}`;
}
