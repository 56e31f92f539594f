/** The supervisor's logic with stand-in servers: restart with back-off, give up past the bound, stop. */
import { supervise, type SupervisedServer } from '../../src/infra/supervisor';
import { createLogger } from '../../src/logger';

const logger = createLogger('silent');

/** A stand-in server that "exits" when exit() is called. */
function fakeServer(pid: number): SupervisedServer & { exit(): void; stopped: boolean } {
  let exit!: () => void;
  const exited = new Promise<void>((resolve) => (exit = resolve));
  const server = {
    pid,
    exited,
    stopped: false,
    exit,
    async stop() {
      server.stopped = true;
      exit();
    },
  };
  return server;
}

test('an exited server is started again after failed attempts, and the new one is reported', async () => {
  const first = fakeServer(1);
  const second = fakeServer(2);
  let attempts = 0;
  const restarted: number[] = [];
  const supervision = supervise(first, {
    component: 'part',
    giveUpAfterMs: 10_000,
    logger,
    async restart() {
      attempts++;
      if (attempts < 3) throw new Error('port busy');
      return second;
    },
    onRestarted: (server) => void restarted.push(server.pid),
  });
  const started = Date.now();
  first.exit();
  while (restarted.length === 0) await new Promise((r) => setTimeout(r, 10));
  expect(restarted).toEqual([2]);
  expect(attempts).toBe(3);
  // Back-off: 250 ms then 500 ms between the attempts.
  expect(Date.now() - started).toBeGreaterThanOrEqual(700);
  expect(first.stopped).toBe(true);

  await supervision.stop();
  expect(second.stopped).toBe(true);
  expect(attempts).toBe(3);
});

test('a server that cannot be started again within the bound gives up with the last reason', async () => {
  const first = fakeServer(1);
  let attempts = 0;
  const supervision = supervise(first, {
    component: 'part',
    giveUpAfterMs: 1_000,
    logger,
    async restart() {
      attempts++;
      throw new Error(`attempt ${attempts} failed`);
    },
    onRestarted: () => undefined,
  });
  const started = Date.now();
  first.exit();
  const reason = await supervision.gaveUp;
  // The last attempt is made at the bound, not before it.
  expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
  expect(Date.now() - started).toBeLessThanOrEqual(1_200);
  expect(reason.message).toBe(`part exited and could not be restarted within 1s (${attempts} attempts): attempt ${attempts} failed`);
  expect(attempts).toBeGreaterThanOrEqual(3);
  await supervision.stop();
});

test('stopping is not an exit: nothing is restarted and the supervision never gives up', async () => {
  const first = fakeServer(1);
  const restart = jest.fn(async () => fakeServer(2));
  const supervision = supervise(first, { component: 'part', giveUpAfterMs: 1_000, logger, restart, onRestarted: () => undefined });
  await supervision.stop();
  expect(first.stopped).toBe(true);
  const outcome = await Promise.race([supervision.gaveUp.then(() => 'gave up'), new Promise((r) => setTimeout(() => r('quiet'), 300))]);
  expect(outcome).toBe('quiet');
  expect(restart).not.toHaveBeenCalled();
});
