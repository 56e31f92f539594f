/**
 * Durability: SIGKILL the process that runs the worker and the API in the middle of a deploy,
 * start it again, and every decky still ends `succeeded`, each container created once.
 */
import path from 'node:path';
import { LABELS, ROLES } from '../../src/domain/compose-render';
import { openOrm } from '../../src/db/orm';
import { DeckyLifecycle } from '../../src/entities';
import { createTestStack, type TestStack } from '../support/master';
import { apiClient, waitForTerminal } from '../support/http';
import { sigkill, spawnDecnet, stop, waitForServing, type DecnetProcess } from '../support/process';

let stack: TestStack;
let proc: DecnetProcess | undefined;

beforeAll(async () => {
  stack = await createTestStack('sigkill', 12);
});

afterAll(async () => {
  if (proc) await stop(proc);
  await stack?.cleanup();
});

async function projectContainers() {
  return stack.docker.listContainers({ all: true, filters: { label: [`${LABELS.project}=${stack.config.composeProject}`] } });
}

async function startUp(): Promise<DecnetProcess> {
  proc = spawnDecnet(['up'], stack.env, path.join(stack.config.dataDir, 'up.log'));
  await waitForServing(proc, `${stack.api}/healthz`);
  return proc;
}

test('a master killed with SIGKILL mid-deploy finishes the deploy after it starts again', async () => {
  proc = await startUp();
  const api = apiClient(stack.api, stack.adminToken);
  const ini = `[general]\nnet=${stack.lan.subnet}\ngw=${stack.lan.gateway}\ninterface=${stack.lan.parent}\n\n[k]\nservices=ssh,http\namount=5\n`;
  const res = await api.post('/deckies/deploy', { ini_content: ini });
  expect(res.status).toBe(202);
  const ids: string[] = res.body.lifecycle_ids;
  expect(ids).toHaveLength(5);

  // Kill once compose has created containers for at least one decky, before all are done.
  const deadline = Date.now() + 120_000;
  while ((await projectContainers()).length === 0) {
    if (Date.now() > deadline) throw new Error('compose never started');
    await new Promise((r) => setTimeout(r, 100));
  }
  await sigkill(proc);
  const before = await api.get(`/deckies/lifecycle?ids=${ids.join(',')}`).catch(() => undefined);
  expect(before).toBeUndefined(); // the API died with the process
  // The kill landed mid-deploy: some rows were still unfinished.
  const orm = await openOrm(stack.databaseUrl);
  const unfinished = await orm.em.fork().count(DeckyLifecycle, { id: { $in: ids }, status: { $in: ['pending', 'running'] } });
  await orm.close(true);
  expect(unfinished).toBeGreaterThan(0);

  proc = await startUp();
  const rows = await waitForTerminal(api, ids, 300_000);
  expect(rows.map((r) => [r.decky_name, r.status, r.error])).toEqual(rows.map((r) => [r.decky_name, 'succeeded', null]));

  const containers = await projectContainers();
  for (let i = 1; i <= 5; i++) {
    const name = `k-0${i}`;
    const mine = containers.filter((c) => c.Labels[LABELS.decky] === name);
    // Each container exists exactly once: the base and its two services.
    expect(mine.map((c) => (c.Labels[LABELS.role] === ROLES.base ? 'base' : c.Labels[LABELS.service])).sort()).toEqual(['base', 'http', 'ssh']);
    expect(mine.every((c) => c.State === 'running')).toBe(true);
  }
  const all = await api.get('/deckies');
  for (const d of all.body.deckies) expect(d.last_lifecycle.status).toBe('succeeded');
  const check = await openOrm(stack.databaseUrl);
  expect(await check.em.fork().count(DeckyLifecycle, { status: { $in: ['pending', 'running'] } })).toBe(0);
  await check.close(true);
  await stop(proc);
  proc = undefined;
}, 600_000);

test('a master killed with SIGKILL mid-mutation finishes the mutation after it starts again', async () => {
  proc = await startUp();
  const api = apiClient(stack.api, stack.adminToken);
  const base = (await projectContainers()).find((c) => c.Labels[LABELS.decky] === 'k-01' && c.Labels[LABELS.role] === ROLES.base)!;
  const res = await api.post('/deckies/k-01/mutate', { services: ['ftp', 'telnet', 'snmp'] });
  expect(res.status).toBe(202);
  const [id] = res.body.lifecycle_ids;
  // Kill once the workflow has started on the row, before it finished.
  for (;;) {
    const row = (await api.get(`/deckies/lifecycle?ids=${id}`)).body.rows[0];
    expect(row.status).not.toBe('succeeded');
    if (row.status === 'running') break;
    await new Promise((r) => setTimeout(r, 20));
  }
  await sigkill(proc);

  proc = await startUp();
  const [row] = await waitForTerminal(api, [id], 300_000);
  expect(row).toMatchObject({ status: 'succeeded', operation: 'mutate' });
  const mine = (await projectContainers()).filter((c) => c.Labels[LABELS.decky] === 'k-01');
  expect(mine.find((c) => c.Labels[LABELS.role] === ROLES.base)!.Id).toBe(base.Id);
  expect(
    mine
      .filter((c) => c.Labels[LABELS.role] === ROLES.service)
      .map((c) => c.Labels[LABELS.service])
      .sort(),
  ).toEqual(['ftp', 'snmp', 'telnet']);
  expect(mine.every((c) => c.State === 'running')).toBe(true);
  await stop(proc);
  proc = undefined;
}, 600_000);
