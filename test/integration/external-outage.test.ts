/**
 * `decnet up` against an external PostgreSQL and Temporal (DATABASE_URL, TEMPORAL_ADDRESS) that
 * go away for a while in the middle of a deploy: the API answers 503 with Retry-After meanwhile
 * (never a 500), and when both return the master resumes by itself and the deploy finishes.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LABELS } from '../../src/domain/compose-render';
import { findTemporalCli, startTemporalDevServer, type RunningTemporal } from '../../src/infra/temporal-cli';
import { isProcessAlive } from '../../src/infra/pid';
import { createTestStack, iniGeneral, freePort, type TestStack } from '../support/master';
import { apiClient, waitForTerminal } from '../support/http';
import { startPostgresProcess, type PostgresProcess } from '../support/postgres';
import { spawnDecnet, stop, waitForServing, type DecnetProcess } from '../support/process';

const OUTAGE_MS = 20_000;

let dir: string;
let stack: TestStack;
let proc: DecnetProcess | undefined;
let postgres: PostgresProcess | undefined;
let temporal: RunningTemporal | undefined;
let startPostgres: () => Promise<PostgresProcess>;
let startTemporal: () => Promise<RunningTemporal>;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'decnet-outage-deps-'));
  const [pgPort, temporalPort, uiPort] = [await freePort(), await freePort(), await freePort()];
  startPostgres = () => startPostgresProcess(path.join(dir, 'pg'), pgPort, path.join(dir, 'postgres.log'));
  startTemporal = () =>
    startTemporalDevServer({
      cliPath: findTemporalCli(),
      dbFile: path.join(dir, 'temporal.db'),
      port: temporalPort,
      uiPort,
      logFile: path.join(dir, 'temporal.log'),
    });
  postgres = await startPostgres();
  temporal = await startTemporal();
  stack = await createTestStack('outage', 66, { DATABASE_URL: postgres.url, TEMPORAL_ADDRESS: temporal.address });
});

afterAll(async () => {
  if (proc) await stop(proc);
  await stack?.cleanup();
  await temporal?.stop();
  await postgres?.stop();
  await fs.rm(dir, { recursive: true, force: true });
});

test('PostgreSQL and Temporal down mid-deploy: 503 with Retry-After meanwhile, the deploy finishes after', async () => {
  proc = spawnDecnet(['up'], stack.env, path.join(stack.config.dataDir, 'up.log'));
  const origin = new URL(stack.api).origin;
  await waitForServing(proc, `${origin}/readyz`, 180_000);
  const api = apiClient(stack.api, stack.adminToken);

  const ini = `${iniGeneral(stack.lan)}[ok]\nservices=ssh,http\namount=5\n`;
  const res = await api.post('/deckies/deploy', { ini_content: ini });
  expect(res.status).toBe(202);
  const ids: string[] = res.body.lifecycle_ids;
  const containers = () => stack.docker.listContainers({ all: true, filters: { label: [`${LABELS.project}=${stack.config.composeProject}`] } });
  while ((await containers()).length === 0) await sleep(100);

  await Promise.all([temporal!.stop(), postgres!.stop()]);
  temporal = postgres = undefined;
  const outageEnds = Date.now() + OUTAGE_MS;
  const statuses = new Set<number>();
  while (Date.now() < outageEnds) {
    const [ready, list, deploy] = await Promise.all([
      fetch(`${origin}/readyz`),
      api.get('/deckies'),
      api.post('/deckies/deploy', { ini_content: ini.replace('[ok]', '[later]') }),
    ]);
    for (const answer of [ready, list, deploy]) {
      statuses.add(answer.status);
      expect(answer.headers.get('retry-after')).toBe('5');
    }
    await sleep(1_000);
  }
  expect([...statuses]).toEqual([503]);
  // Outages do not end the master: there is nothing of its own to restart.
  expect(isProcessAlive(proc.child.pid!)).toBe(true);

  [postgres, temporal] = await Promise.all([startPostgres(), startTemporal()]);
  await waitForServing(proc, `${origin}/readyz`, 120_000);
  const rows = await waitForTerminal(api, ids, 300_000);
  expect(rows.map((r) => [r.decky_name, r.status, r.error])).toEqual(rows.map((r) => [r.decky_name, 'succeeded', null]));
  const running = (await containers()).filter((c) => c.State === 'running');
  expect(running).toHaveLength(15);
}, 600_000);
