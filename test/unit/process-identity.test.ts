import { spawnSync } from 'node:child_process';
import { isIdentityAlive, ownIdentity } from '../../src/infra/pid';

test('a process is alive by its identity; one that ended, or another holding its pid, is not', () => {
  const me = ownIdentity();
  expect(me.pid).toBe(process.pid);
  expect(me.startTicks).toBeGreaterThan(0);
  expect(isIdentityAlive(me)).toBe(true);
  // The same pid started at another moment: a process that got a dead one's pid.
  expect(isIdentityAlive({ ...me, startTicks: me.startTicks + 1 })).toBe(false);
  const ended = spawnSync(process.execPath, ['-e', '']).pid!;
  expect(isIdentityAlive({ pid: ended, startTicks: 0 })).toBe(false);
});
