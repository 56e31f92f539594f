/**
 * A Temporal worker that the SDK fails for good is replaced by a new one: here its namespace is
 * gone (the server came back on a fresh database), then returns. A dev server of the test's own,
 * as the shared one must not lose its namespace.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { startMaster, type RunningMaster } from '../../src/master';
import { findTemporalCli, startTemporalDevServer, type RunningTemporal } from '../../src/infra/temporal-cli';
import { createTestStack, iniGeneral, freePort, type TestStack } from '../support/master';
import { apiClient, waitForTerminal } from '../support/http';

const NAMESPACE = 'decnet-recreate';

let dir: string;
let stack: TestStack;
let server: RunningTemporal | undefined;
let master: RunningMaster | undefined;
const lines: Array<{ msg?: string }> = [];

async function startServer(dbFile: string, namespace?: string): Promise<RunningTemporal> {
  const [port, uiPort] = [Number(new URL(`http://${stack.env.TEMPORAL_ADDRESS}`).port), Number(stack.env.DECNET_TEMPORAL_UI_PORT)];
  return startTemporalDevServer({
    cliPath: findTemporalCli(),
    dbFile: path.join(dir, dbFile),
    port,
    uiPort,
    namespace,
    logFile: path.join(dir, 'temporal.log'),
  });
}

async function waitForLine(msg: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!lines.some((line) => line.msg === msg)) {
    if (Date.now() > deadline) throw new Error(`no "${msg}" log line within ${timeoutMs} ms`);
    await sleep(200);
  }
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'decnet-recreate-'));
  const [port, uiPort] = [await freePort(), await freePort()];
  stack = await createTestStack('recreate', 66, {
    TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
    TEMPORAL_NAMESPACE: NAMESPACE,
    DECNET_TEMPORAL_UI_PORT: String(uiPort),
  });
  server = await startServer('kept.db', NAMESPACE);
});

afterAll(async () => {
  await master?.stop();
  await stack?.cleanup();
  await server?.stop();
  await fs.rm(dir, { recursive: true, force: true });
});

test('a worker failed by a vanished namespace is created again once the namespace is back', async () => {
  const logger = pino({ name: 'recreate', level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  // Not stack.startMaster(): that one uses the shared dev server.
  master = await startMaster({ config: stack.config, databaseUrl: stack.databaseUrl, temporalAddress: server!.address, logger });

  await server!.stop();
  // The same address, a fresh database: no such namespace. The SDK fails the worker (after ~1 min).
  server = await startServer('fresh.db');
  await waitForLine('worker stopped with an error; starting a new one', 180_000);
  await server.stop();
  server = await startServer('kept.db', NAMESPACE);
  await waitForLine('worker running again', 60_000);

  // The new worker runs the workflows.
  const api = apiClient(stack.api, stack.adminToken);
  const ini = `${iniGeneral(stack.lan)}[again]\nservices=ssh\n`;
  const res = await api.post('/deckies/deploy', { ini_content: ini });
  expect(res.status).toBe(202);
  const [row] = await waitForTerminal(api, res.body.lifecycle_ids, 180_000);
  expect([row.status, row.error]).toEqual(['succeeded', null]);
}, 400_000);
