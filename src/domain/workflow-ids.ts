/**
 * Names that workflows, the API and operators share: workflow ids derived from the decky's name
 * and the search attributes set on every decky workflow. Pure, so workflow code may import it.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { Operation } from './schemas';

export const SEARCH_ATTRIBUTES = {
  DeckyName: defineSearchAttributeKey('DeckyName', SearchAttributeType.KEYWORD),
  HostUuid: defineSearchAttributeKey('HostUuid', SearchAttributeType.KEYWORD),
  Operation: defineSearchAttributeKey('Operation', SearchAttributeType.KEYWORD),
  /** How the workflow ended, set at its end: an operator filters `Outcome="failed"` in the Web UI. */
  Outcome: defineSearchAttributeKey('Outcome', SearchAttributeType.KEYWORD),
};

/**
 * Every attribute above as the Temporal operator API registers it (all are keywords): the master
 * at boot, the tests' dev server, temporal-dev.yml's one-shot and docs/operations.md list these.
 */
export const SEARCH_ATTRIBUTE_KINDS = Object.fromEntries(Object.values(SEARCH_ATTRIBUTES).map((key) => [key.name, 'Keyword' as const]));

export type WorkflowOutcome = 'succeeded' | 'failed' | 'cancelled';

export function outcomeSearchAttribute(outcome: WorkflowOutcome) {
  return [{ key: SEARCH_ATTRIBUTES.Outcome, value: outcome }];
}

/** How a failed row's error starts when a teardown superseded its operation ("Type: message"). */
export const CANCELLED_ERROR_PREFIX = 'Cancelled: ';

/** A terminal row's outcome: a failed row that a teardown superseded was cancelled, not broken. */
export function rowOutcome(row: { status: 'succeeded' | 'failed'; error: string | null }): WorkflowOutcome {
  if (row.status === 'succeeded') return 'succeeded';
  return row.error?.startsWith(CANCELLED_ERROR_PREFIX) ? 'cancelled' : 'failed';
}

export function deckySearchAttributes(deckyName: string, operation: Operation, hostUuid?: string | null) {
  return [
    { key: SEARCH_ATTRIBUTES.DeckyName, value: deckyName },
    { key: SEARCH_ATTRIBUTES.Operation, value: operation },
    ...(hostUuid ? [{ key: SEARCH_ATTRIBUTES.HostUuid, value: hostUuid }] : []),
  ];
}

/** Operators find an operation in the Temporal Web UI by the decky's name. */
export function workflowIdFor(deckyName: string, operation: Operation, lifecycleId: string): string {
  return `decky-${deckyName}-${operation}-${lifecycleId}`;
}

/** `decky-<name>-<operation>-<lifecycle id>` read back (an operation is one word, a name may hold dashes). */
const DECKY_WORKFLOW_ID = /^decky-([a-z0-9][a-z0-9-]*)-([a-z]+)-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/** The decky and lifecycle row of a workflow id `workflowIdFor` built; null for any other id. */
export function parseDeckyWorkflowId(workflowId: string): { deckyName: string; operation: string; lifecycleId: string } | null {
  const match = DECKY_WORKFLOW_ID.exec(workflowId);
  return match ? { deckyName: match[1], operation: match[2], lifecycleId: match[3] } : null;
}

/** The id of the runs a decky's Schedule starts (the Schedule appends each action's time). */
export function scheduledMutationWorkflowId(deckyName: string): string {
  return `decky-${deckyName}-scheduled-mutation`;
}

/** One Schedule per decky (architecture.md §9). */
export function mutationScheduleId(deckyName: string): string {
  return `mutate-${deckyName}`;
}
