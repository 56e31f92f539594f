import { gaveUpNote, healDecision, withoutHealNote, type PastOperation } from '../../../src/domain/heal';

const policy = { maxAttempts: 3, backoffMs: 1_000, maxBackoffMs: 3_000 };
const now = new Date('2026-11-29T12:00:00Z');
const ago = (ms: number) => new Date(now.getTime() - ms);
const failedHeal = (msAgo: number, error = 'MissingImage: x'): PastOperation => ({ operation: 'heal', status: 'failed', error, completedAt: ago(msAgo) });
const succeeded = (operation: PastOperation['operation']): PastOperation => ({ operation, status: 'succeeded', error: null, completedAt: ago(60_000) });

test('the first heal starts at once; a failed heal doubles the wait; a success starts over', () => {
  expect(healDecision([], now, policy)).toEqual({ kind: 'heal' });
  expect(healDecision([succeeded('deploy')], now, policy)).toEqual({ kind: 'heal' });
  expect(healDecision([failedHeal(500)], now, policy)).toEqual({ kind: 'wait', until: ago(-500), failures: 1 });
  expect(healDecision([failedHeal(1_000)], now, policy)).toEqual({ kind: 'heal' });
  expect(healDecision([failedHeal(1_500), failedHeal(5_000)], now, policy)).toEqual({ kind: 'wait', until: ago(-500), failures: 2 });
  expect(healDecision([failedHeal(500), succeeded('heal'), failedHeal(5_000), failedHeal(9_000)], now, policy)).toEqual({
    kind: 'wait',
    until: ago(-500),
    failures: 1,
  });
  // Other operations that failed do not count; the wait is capped.
  const capped = { ...policy, maxAttempts: 10 };
  expect(
    healDecision([failedHeal(2_900), { ...failedHeal(3_000), operation: 'mutate' }, failedHeal(4_000), failedHeal(5_000), failedHeal(6_000)], now, capped),
  ).toEqual({
    kind: 'wait',
    until: ago(-100),
    failures: 4,
  });
});

test('after maxAttempts failed heals in a row it gives up, naming the last error', () => {
  expect(healDecision([failedHeal(1, 'last'), failedHeal(2), failedHeal(3)], now, policy)).toEqual({ kind: 'give_up', failures: 3, lastError: 'last' });
  const note = gaveUpNote('web', 3, 'last');
  expect(note).toBe('auto-heal stopped after 3 failed heal(s) (last: last); heal it by hand: POST /api/v1/deckies/web/heal');
  expect(withoutHealNote(`container ssh exited (137); ${note}`)).toBe('container ssh exited (137)');
  expect(withoutHealNote('container ssh exited (137)')).toBe('container ssh exited (137)');
  expect(withoutHealNote(null)).toBeNull();
});
