/**
 * Healing on the master's own engine: a degraded decky is healed by a `heal` lifecycle row (trigger
 * `reconciler`), keeping its base container when it runs and re-creating it with the same IP when
 * it is gone; auto-heal can be switched off per decky and fleet-wide (then only an operator's
 * POST /heal heals); repeated failed heals back off and then stop, and the decky says so.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LABELS, ROLES } from '../../src/domain/compose-render';
import { createTestStack, type TestStack } from '../support/master';
import { apiClient, waitForTerminal, type ApiClient } from '../support/http';
import { recordHistories } from '../support/histories';
import { cliEnvFor, runDecnet } from '../support/process';

let stack: TestStack;
let api: ApiClient;
const FRAGILE_IMAGE = 'theal-fragile:1';
/** Workflows whose histories RECORD_HISTORIES=<change> saves for the replay test, by file name. */
const toRecord = new Map<string, string>();

beforeAll(async () => {
  stack = await createTestStack('heal', 77, { DECNET_DRIFT_INTERVAL_MS: '500', DECNET_HEAL_BACKOFF_MS: '500', DECNET_HEAL_MAX_ATTEMPTS: '2' });
  await stack.startMaster();
  api = apiClient(stack.api, stack.adminToken);
  await stack.docker.getImage(`${process.env.TEST_IMAGE_REGISTRY}/base:${process.env.TEST_IMAGE_TAG}`).tag({ repo: 'theal-fragile', tag: '1' });
  const res = await api.post('/deckies/deploy', {
    network: { subnet: stack.lan.subnet, gateway: stack.lan.gateway, interface: stack.lan.parent },
    custom_services: { fragile: { image: FRAGILE_IMAGE } },
    deckies: [
      { name: 'h1', services: ['ssh', 'http'], ip: stack.lan.ip(10) },
      { name: 'h2', services: ['fragile'], ip: stack.lan.ip(11) },
    ],
  });
  expect([res.status, res.body.error]).toEqual([202, undefined]);
  const rows = await waitForTerminal(api, res.body.lifecycle_ids);
  expect(rows.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
});

afterAll(async () => {
  if (stack?.master) await recordHistories(toRecord);
  await stack?.cleanup();
  await stack?.docker
    .getImage(FRAGILE_IMAGE)
    .remove()
    .catch(() => undefined);
});

async function containerOf(decky: string, role: string) {
  const all = await stack.docker.listContainers({
    all: true,
    filters: { label: [`${LABELS.project}=${stack.config.composeProject}`, `${LABELS.decky}=${decky}`] },
  });
  return all.find((c) => (role === ROLES.base ? c.Labels[LABELS.role] === ROLES.base : c.Labels[LABELS.service] === role));
}

async function until(name: string, probe: (decky: any) => boolean, what: string, timeoutMs = 30_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const decky = (await api.get(`/deckies/${name}`)).body;
    if (probe(decky)) return decky;
    if (Date.now() > deadline) throw new Error(`${name} never ${what}: ${decky.state} (${decky.last_error})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const heals = async (name: string) => ((await api.get(`/deckies/${name}`)).body.lifecycle as any[]).filter((r) => r.operation === 'heal');

test('a killed service container: degraded, healed by the reconciler, running with the same base container', async () => {
  const base = (await containerOf('h1', ROLES.base))!;
  await stack.docker.getContainer((await containerOf('h1', 'ssh'))!.Id).kill();
  await until('h1', (d) => d.state === 'degraded' || d.last_lifecycle?.operation === 'heal', 'degraded', 5_000);
  const healed = await until('h1', (d) => d.state === 'running' && d.last_lifecycle?.operation === 'heal' && d.last_lifecycle.status === 'succeeded', 'healed');
  expect([healed.last_lifecycle.trigger, healed.last_error]).toEqual(['reconciler', null]);
  expect(healed.last_lifecycle.steps.map((s: any) => s.name)).toEqual(['render', 'network', 'compose_up', 'verify']);
  expect((await containerOf('h1', ROLES.base))!.Id).toBe(base.Id);
  expect((await containerOf('h1', 'ssh'))!.State).toBe('running');
  toRecord.set('heal-succeeded', healed.last_lifecycle.workflow_id);
});

test('a removed base container: healed with a new one holding the same IP', async () => {
  const before = (await containerOf('h1', ROLES.base))!;
  const healsBefore = (await heals('h1')).length;
  await stack.docker.getContainer(before.Id).remove({ force: true });
  await until('h1', (d) => d.state === 'running' && d.lifecycle.filter((r: any) => r.operation === 'heal').length > healsBefore, 'healed again');
  const after = (await containerOf('h1', ROLES.base))!;
  expect(after.Id).not.toBe(before.Id);
  const inspect = await stack.docker.getContainer(after.Id).inspect();
  expect(inspect.NetworkSettings.Networks[`${stack.config.composeProject}_lan`].IPAddress).toBe(stack.lan.ip(10));
});

test('auto-heal off for the decky, then fleet-wide: it stays degraded; an operator heal brings it back', async () => {
  expect((await api.put('/deckies/h1/auto-heal', { auto_heal: false })).body).toEqual({ name: 'h1', auto_heal: false, effective: false });
  const healsBefore = (await heals('h1')).length;
  await stack.docker.getContainer((await containerOf('h1', 'http'))!.Id).kill();
  await until('h1', (d) => d.state === 'degraded', 'degraded', 5_000);
  // Several drift periods (500 ms) pass: no heal starts.
  await new Promise((r) => setTimeout(r, 3_000));
  const stuck = (await api.get('/deckies/h1')).body;
  expect([stuck.state, stuck.last_error, stuck.auto_heal]).toEqual(['degraded', 'container http exited (137)', false]);
  expect((await heals('h1')).length).toBe(healsBefore);

  // The decky follows the fleet again, and the fleet says no.
  expect((await api.put('/system/healing', { auto_heal: false })).body).toEqual({ auto_heal: false });
  expect((await api.put('/deckies/h1/auto-heal', { auto_heal: null })).body).toEqual({ name: 'h1', auto_heal: null, effective: false });
  await new Promise((r) => setTimeout(r, 2_000));
  expect((await heals('h1')).length).toBe(healsBefore);

  const res = await api.post('/deckies/h1/heal');
  expect(res.status).toBe(202);
  const [row] = await waitForTerminal(api, res.body.lifecycle_ids);
  expect([row.operation, row.trigger, row.status]).toEqual(['heal', 'operator', 'succeeded']);
  expect((await api.get('/deckies/h1')).body.state).toBe('running');
  expect((await api.put('/system/healing', { auto_heal: true })).status).toBe(200);
});

test('a heal that keeps failing backs off, then stops and says why; bad heal requests are 400/404/409', async () => {
  await stack.docker.getContainer((await containerOf('h2', 'fragile'))!.Id).kill();
  // Its image is gone: each heal fails at compose_up.
  await stack.docker.getImage(FRAGILE_IMAGE).remove();
  const says =
    /^container fragile exited \(137\); auto-heal stopped after 2 failed heal\(s\) \(last: MissingImage: .*\); heal it by hand: POST \/api\/v1\/deckies\/h2\/heal$/;
  const gaveUp = await until('h2', (d) => says.test(d.last_error ?? ''), 'gave up');
  expect(gaveUp.state).toBe('degraded');
  const failed = await heals('h2');
  toRecord.set('heal-failed', failed[0].workflow_id);
  expect(failed.map((r) => [r.status, r.trigger])).toEqual([
    ['failed', 'reconciler'],
    ['failed', 'reconciler'],
  ]);
  // The back-off: the second heal started at least 500 ms after the first ended.
  expect(new Date(failed[0].started_at).getTime() - new Date(failed[1].completed_at).getTime()).toBeGreaterThanOrEqual(500);
  await new Promise((r) => setTimeout(r, 2_000));
  expect((await heals('h2')).length).toBe(2);

  expect((await api.post('/deckies/nope/heal')).status).toBe(404);
  expect((await api.put('/deckies/h2/auto-heal', { auto_heal: 'yes' })).status).toBe(400);
  expect((await api.put('/system/healing', {})).status).toBe(400);

  // The image is back: an operator's heal succeeds.
  await stack.docker.getImage(`${process.env.TEST_IMAGE_REGISTRY}/base:${process.env.TEST_IMAGE_TAG}`).tag({ repo: 'theal-fragile', tag: '1' });
  const res = await api.post('/deckies/h2/heal');
  expect(res.status).toBe(202);
  const again = await api.post('/deckies/h2/heal');
  expect([again.status, again.body.error?.code]).toEqual([409, 'operation_in_flight']);
  const [row] = await waitForTerminal(api, res.body.lifecycle_ids);
  expect(row.status).toBe('succeeded');
  const healed = (await api.get('/deckies/h2')).body;
  expect([healed.state, healed.last_error]).toEqual(['running', null]);
});

test('`decnet heal <name>` heals and waits: exit 0 and an [OK] line; an unknown decky exits non-zero naming it', async () => {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'decnet-heal-cli-'));
  try {
    const ok = await runDecnet(['heal', 'h1'], cliEnvFor(stack, home));
    expect([ok.code, ok.stdout]).toEqual([0, expect.stringMatching(/\[OK\] h1/)]);
    const missing = await runDecnet(['heal', 'nope'], cliEnvFor(stack, home));
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('decky "nope" does not exist');
  } finally {
    await fs.rm(home, { recursive: true, force: true });
  }
});
