/**
 * When to heal a degraded decky without an operator: at once the first time, then with an
 * exponential back-off after each failed heal, and not at all after `maxAttempts` failures in a
 * row (the decky stays `degraded` and says why; an operator's heal starts over).
 */
import type { LifecycleStatus, Operation } from './schemas';

export interface HealPolicy {
  maxAttempts: number;
  /** The wait after the first failed heal; it doubles after each further one. */
  backoffMs: number;
  maxBackoffMs: number;
}

export type HealDecision = { kind: 'heal' } | { kind: 'wait'; until: Date; failures: number } | { kind: 'give_up'; failures: number; lastError: string | null };

export interface PastOperation {
  operation: Operation;
  status: LifecycleStatus;
  error: string | null;
  completedAt: Date | null;
}

/** `history`: the decky's terminal lifecycle rows, newest first; failed heals count until a success. */
export function healDecision(history: readonly PastOperation[], now: Date, policy: HealPolicy): HealDecision {
  const failed: PastOperation[] = [];
  for (const op of history) {
    if (op.status === 'succeeded') break;
    if (op.operation === 'heal' && op.status === 'failed') failed.push(op);
  }
  if (failed.length === 0) return { kind: 'heal' };
  if (failed.length >= policy.maxAttempts) return { kind: 'give_up', failures: failed.length, lastError: failed[0].error };
  const wait = Math.min(policy.backoffMs * 2 ** (failed.length - 1), policy.maxBackoffMs);
  const until = new Date((failed[0].completedAt ?? now).getTime() + wait);
  return until <= now ? { kind: 'heal' } : { kind: 'wait', until, failures: failed.length };
}

const GAVE_UP = 'auto-heal stopped';

/** What a decky that auto-heal gave up on says, after what is wrong with it. */
export function gaveUpNote(deckyName: string, failures: number, lastError: string | null): string {
  return `${GAVE_UP} after ${failures} failed heal(s)${lastError ? ` (last: ${lastError})` : ''}; heal it by hand: POST /api/v1/deckies/${deckyName}/heal`;
}

/** A degraded decky's reason without the note auto-heal added to it. */
export function withoutHealNote(lastError: string | null): string | null {
  const at = lastError?.indexOf(GAVE_UP) ?? -1;
  return at < 0 ? lastError : lastError!.slice(0, at).replace(/; $/, '');
}
