/**
 * Drift chaos: in a bounded loop, break a running decky behind the master's back (kill a service
 * container, remove the base container, take the base off the LAN) and time how long until the
 * fleet says `degraded` and until auto-heal has it `running` again, every container in place and
 * the base holding the decky's IP. Prints `fault | runs | degraded after (median, max) | running
 * again after (median, max)` and writes it to test-artifacts/drift-chaos.md.
 *
 * DRIFT_CHAOS_RUNS (default 6) sets the loop's length; the loop also stops after 4 minutes.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { LABELS, ROLES } from '../../src/domain/compose-render';
import { seededRng } from '../../src/domain/fleet';
import { createTestStack, type TestStack } from '../support/master';
import { apiClient, waitForTerminal, type ApiClient } from '../support/http';

const RUNS = Number(process.env.DRIFT_CHAOS_RUNS ?? 6);
const LOOP_BOUND_MS = 4 * 60_000;
const FAULTS = ['kill service container', 'remove base container', 'base off the LAN'] as const;
type Fault = (typeof FAULTS)[number];

let stack: TestStack;
let api: ApiClient;
const timings: Array<{ fault: Fault; degradedMs: number; runningMs: number }> = [];

beforeAll(async () => {
  stack = await createTestStack('driftchaos', 78, { DECNET_DRIFT_INTERVAL_MS: '1000' });
  await stack.startMaster();
  api = apiClient(stack.api, stack.adminToken);
  const res = await api.post('/deckies/deploy', {
    network: { subnet: stack.lan.subnet, gateway: stack.lan.gateway, interface: stack.lan.parent },
    deckies: [{ name: 'dc1', services: ['ssh', 'http'], ip: stack.lan.ip(10) }],
  });
  expect(res.status).toBe(202);
  expect((await waitForTerminal(api, res.body.lifecycle_ids))[0].status).toBe('succeeded');
}, 180_000);

afterAll(async () => {
  await stack?.cleanup();
  const lines = ['fault | runs | degraded after (median, max) | running again after (median, max)', '--- | --- | --- | ---'];
  const seconds = (ms: number[]) => {
    const sorted = [...ms].sort((a, b) => a - b);
    return `${(sorted[Math.floor((sorted.length - 1) / 2)] / 1000).toFixed(1)} s, ${(sorted[sorted.length - 1] / 1000).toFixed(1)} s`;
  };
  for (const fault of FAULTS) {
    const mine = timings.filter((t) => t.fault === fault);
    if (mine.length) lines.push(`${fault} | ${mine.length} | ${seconds(mine.map((t) => t.degradedMs))} | ${seconds(mine.map((t) => t.runningMs))}`);
  }
  const table = lines.join('\n');
  process.stdout.write(`\n${table}\n`);
  const dir = path.join(__dirname, '..', '..', 'test-artifacts');
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'drift-chaos.md'), `${table}\n`);
});

async function containerOf(role: string) {
  const all = await stack.docker.listContainers({ all: true, filters: { label: [`${LABELS.project}=${stack.config.composeProject}`, `${LABELS.decky}=dc1`] } });
  const found = all.find((c) => (role === ROLES.base ? c.Labels[LABELS.role] === ROLES.base : c.Labels[LABELS.service] === role));
  if (!found) throw new Error(`dc1 has no ${role} container`);
  return stack.docker.getContainer(found.Id);
}

async function breakDecky(fault: Fault): Promise<void> {
  if (fault === 'kill service container') await (await containerOf('ssh')).kill();
  else if (fault === 'remove base container') await (await containerOf(ROLES.base)).remove({ force: true });
  else await stack.docker.getNetwork(`${stack.config.composeProject}_lan`).disconnect({ Container: (await containerOf(ROLES.base)).id, Force: true });
}

/** Milliseconds from `since` until the decky's state is `state` (polled every 50 ms). */
async function until(state: string, since: number, timeoutMs: number): Promise<number> {
  for (;;) {
    const decky = (await api.get('/deckies/dc1')).body;
    if (decky.state === state) return Date.now() - since;
    if (Date.now() - since > timeoutMs) throw new Error(`dc1 is ${decky.state} (${decky.last_error}), not ${state}, after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test(`a decky broken ${RUNS} times behind the master's back is degraded within 5 s and healed each time`, async () => {
  const rng = seededRng(11);
  const started = Date.now();
  for (let run = 0; run < RUNS && Date.now() - started < LOOP_BOUND_MS; run++) {
    const fault = FAULTS[run < FAULTS.length ? run : Math.floor(rng() * FAULTS.length)];
    const brokenAt = Date.now();
    await breakDecky(fault);
    const degradedMs = await until('degraded', brokenAt, 5_000).catch(async (err) => {
      // A heal may already have finished: it is running again, and the heal row says it happened.
      const decky = (await api.get('/deckies/dc1')).body;
      if (decky.state === 'running' && decky.last_lifecycle?.operation === 'heal' && new Date(decky.last_lifecycle.started_at).getTime() >= brokenAt)
        return Date.now() - brokenAt;
      throw err;
    });
    const runningMs = await until('running', brokenAt, 60_000);
    timings.push({ fault, degradedMs, runningMs });
    const base = await (await containerOf(ROLES.base)).inspect();
    expect([fault, base.State.Running, base.NetworkSettings.Networks[`${stack.config.composeProject}_lan`]?.IPAddress]).toEqual([
      fault,
      true,
      stack.lan.ip(10),
    ]);
    for (const service of ['ssh', 'http'])
      expect([fault, service, (await (await containerOf(service)).inspect()).State.Running]).toEqual([fault, service, true]);
  }
  expect(timings.length).toBeGreaterThanOrEqual(Math.min(RUNS, FAULTS.length));
}, 300_000);
