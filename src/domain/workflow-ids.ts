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
};

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

/** One Schedule per decky (SPEC §9). */
export function mutationScheduleId(deckyName: string): string {
  return `mutate-${deckyName}`;
}
