/** UpBatches: how compose-up requests coalesce into invocations (the compose process is faked). */
import type { CommandResult } from '../../src/compose/command';
import { UpBatches } from '../../src/compose/up-batches';

const ok: CommandResult = { code: 0, stdout: '', stderr: '' };

/** A fake compose: records every invocation; `release()` lets the current one return. */
function fakeCompose(outcome: (files: string[]) => CommandResult = () => ok) {
  const calls: string[][] = [];
  let release: () => void = () => undefined;
  let gate = Promise.resolve();
  return {
    calls,
    hold() {
      gate = new Promise((r) => (release = r));
    },
    release: () => release(),
    runUp: async (files: string[]) => {
      calls.push(files);
      await gate;
      return outcome(files);
    },
  };
}

const failure = (result: CommandResult) => new Error(result.stderr);

test('requests that arrive together run as one invocation', async () => {
  const compose = fakeCompose();
  const batches = new UpBatches({ runUp: compose.runUp });
  await Promise.all(['a', 'b', 'c'].map((d) => batches.up(d, `${d}.yml`, { failure })));
  expect(compose.calls).toEqual([['a.yml', 'b.yml', 'c.yml']]);
});

test('requests arriving while a batch runs form the next batch', async () => {
  const compose = fakeCompose();
  compose.hold();
  const batches = new UpBatches({ runUp: compose.runUp, windowMs: 1 });
  const first = batches.up('a', 'a.yml', { failure });
  await new Promise((r) => setTimeout(r, 20));
  const later = [batches.up('b', 'b.yml', { failure }), batches.up('c', 'c.yml', { failure })];
  compose.release();
  compose.hold();
  await first;
  compose.release();
  await Promise.all(later);
  expect(compose.calls).toEqual([['a.yml'], ['b.yml', 'c.yml']]);
});

test('a failed batch is re-run decky by decky, so each error lands on its own decky', async () => {
  const compose = fakeCompose((files) => (files.includes('bad.yml') ? { code: 1, stdout: '', stderr: `no image for ${files.join(',')}` } : ok));
  const batches = new UpBatches({ runUp: compose.runUp });
  const results = await Promise.allSettled(['a', 'bad', 'c'].map((d) => batches.up(d, `${d}.yml`, { failure })));
  expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  expect((results[1] as PromiseRejectedResult).reason.message).toBe('no image for bad.yml');
  expect(compose.calls[0]).toEqual(['a.yml', 'bad.yml', 'c.yml']);
  expect(compose.calls.slice(1).sort()).toEqual([['a.yml'], ['bad.yml'], ['c.yml']]);
});

test('a request cancelled while queued leaves the batch; a running batch is waited for by settled()', async () => {
  const compose = fakeCompose();
  compose.hold();
  const batches = new UpBatches({ runUp: compose.runUp, windowMs: 1 });
  const running = batches.up('a', 'a.yml', { failure });
  await new Promise((r) => setTimeout(r, 20));
  const abort = new AbortController();
  const queued = batches.up('b', 'b.yml', { failure, signal: abort.signal });
  abort.abort(new Error('cancelled'));
  await expect(queued).rejects.toThrow('cancelled');

  let settled = false;
  const waiting = batches.settled('a').then(() => (settled = true));
  await new Promise((r) => setTimeout(r, 20));
  expect(settled).toBe(false);
  compose.release();
  await Promise.all([running, waiting]);
  expect(settled).toBe(true);
  expect(compose.calls).toEqual([['a.yml']]);
});

test('the same decky asked twice before its batch starts runs once and answers both', async () => {
  const compose = fakeCompose();
  const batches = new UpBatches({ runUp: compose.runUp });
  await Promise.all([batches.up('a', 'a.yml', { failure }), batches.up('a', 'a.yml', { failure })]);
  expect(compose.calls).toEqual([['a.yml']]);
});
