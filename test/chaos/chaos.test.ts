/**
 * Chaos: kill -9, in turn, the Temporal dev server, PostgreSQL, the whole master, a worker process
 * and an agent, each at a seeded random point of a 5-decky deploy or mutation. After each run
 * every row is terminal, no decky has a container twice, no decky says `running` without its
 * containers running, and /readyz is back. Prints
 * `fault | runs | rows in flight at kill | rows ok | rows failed (reason) | stuck | duplicates | lying | time to ready`.
 *
 * CHAOS_SEEDS (default 2: one deploy and one mutation per fault) sets the runs per fault;
 * CHAOS_FAULTS (comma-separated) picks faults. `npm run test:chaos` runs ten seeds per fault.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { LABELS, ROLES } from '../../src/domain/compose-render';
import { seededRng } from '../../src/domain/fleet';
import { waitForTerminal } from '../support/http';
import { embeddedTopology, splitTopology, swarmTopology, type Fault, type Topology } from './topologies';

const SEEDS = Number(process.env.CHAOS_SEEDS ?? 2);
const FAULTS = (process.env.CHAOS_FAULTS ?? 'temporal,postgres,master,worker,agent').split(',') as Fault[];
/** The longest a row may take to end after its fault before it counts as stuck. */
const TERMINAL_BOUND_MS = 180_000;
/** Faults land uniformly within this long after the 202, which covers a 5-decky deploy here. */
const KILL_WINDOW_MS = 4_000;
const DECKIES = 5;
const SERVICE_SETS = [
  ['ssh', 'http'],
  ['ftp', 'telnet'],
];

interface RunResult {
  fault: Fault;
  /** Rows not yet terminal when the fault landed. */
  inFlight: number;
  ok: number;
  failed: string[];
  stuck: number;
  duplicates: string[];
  lying: string[];
  readyMs: number;
}

const results: RunResult[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

afterAll(async () => {
  const table = formatTable(results);
  process.stdout.write(`\n${table}\n`);
  const dir = path.join(__dirname, '..', '..', 'test-artifacts');
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'chaos.md'), `${table}\n`);
});

const TOPOLOGIES: Array<{ name: string; faults: Fault[]; start: () => Promise<Topology> }> = [
  { name: 'embedded', faults: ['temporal', 'postgres', 'master'], start: () => embeddedTopology(71) },
  { name: 'split', faults: ['worker'], start: () => splitTopology(72) },
  { name: 'swarm', faults: ['agent'], start: () => swarmTopology(73) },
];

for (const topology of TOPOLOGIES) {
  const faults = topology.faults.filter((f) => FAULTS.includes(f));
  if (faults.length === 0) continue;
  describe(`${topology.name}: ${topology.faults.join(', ')} killed mid-operation`, () => {
    let running: Topology | undefined;
    beforeAll(async () => {
      running = await topology.start();
    }, 300_000);
    afterAll(async () => {
      await running?.stop();
    }, 120_000);

    for (const fault of faults) {
      test(`kill -9 ${fault}: ${SEEDS} run(s), every row terminal, nothing duplicated, nothing lying`, async () => {
        const mine: RunResult[] = [];
        for (let seed = 1; seed <= SEEDS; seed++) mine.push(await chaosRun(running!, fault, seed));
        results.push(...mine);
        expect(mine.map((r) => ({ stuck: r.stuck, duplicates: r.duplicates, lying: r.lying, failed: r.failed }))).toEqual(
          mine.map(() => ({ stuck: 0, duplicates: [], lying: [], failed: [] })),
        );
      }, 900_000);
    }
  });
}

/**
 * Odd seeds deploy 5 new deckies, even seeds mutate them; the fault lands at a seeded point.
 * After a mutation run (or a deploy run that is the last) the deckies are torn down, unfaulted.
 */
async function chaosRun(t: Topology, fault: Fault, seed: number): Promise<RunResult> {
  const rng = seededRng(seed * 7919 + fault.length);
  const prefix = `c${fault.slice(0, 3)}${Math.ceil(seed / 2)}`;
  const names = Array.from({ length: DECKIES }, (_, i) => `${prefix}-0${i + 1}`);
  const deploying = seed % 2 === 1;
  const services = SERVICE_SETS[deploying ? 0 : 1];

  let ids: string[];
  if (deploying) {
    const res = await t.api.post('/deckies/deploy', { ini_content: t.deployIni(prefix, DECKIES, services) });
    if (res.status !== 202) throw new Error(`deploy answered ${res.status}: ${JSON.stringify(res.body)}`);
    ids = res.body.lifecycle_ids;
  } else {
    ids = [];
    for (const name of names) {
      const res = await t.api.post(`/deckies/${name}/mutate`, { services });
      if (res.status !== 202) throw new Error(`mutate ${name} answered ${res.status}: ${JSON.stringify(res.body)}`);
      ids.push(...res.body.lifecycle_ids);
    }
  }

  await sleep(Math.floor(rng() * KILL_WINDOW_MS));
  const before = (await t.api.get(`/deckies/lifecycle?ids=${ids.join(',')}`)).body.rows as any[];
  const inFlight = before.filter((r) => r.status === 'pending' || r.status === 'running').length;
  const killedAt = Date.now();
  await t.kill(fault);
  const readyMs = Date.now() - killedAt;

  const rows = await waitForTerminal(t.api, ids, TERMINAL_BOUND_MS).catch(
    async () => (await t.api.get(`/deckies/lifecycle?ids=${ids.join(',')}`)).body.rows as any[],
  );
  const terminal = rows.filter((r) => r.status === 'succeeded' || r.status === 'failed');
  const result: RunResult = {
    fault,
    inFlight,
    ok: rows.filter((r) => r.status === 'succeeded').length,
    failed: rows.filter((r) => r.status === 'failed').map((r) => `${r.decky_name}: ${r.error}`),
    stuck: ids.length - terminal.length,
    ...(await inspectFleet(t, names)),
    readyMs,
  };
  if (!deploying || seed === SEEDS) await tearDown(t, names);
  return result;
}

/** Containers twice (per decky and role, or one IP on two running containers) and deckies called `running` that do not run. */
async function inspectFleet(t: Topology, names: string[]): Promise<Pick<RunResult, 'duplicates' | 'lying'>> {
  const containers = await t.docker.listContainers({ all: true, filters: { label: [`${LABELS.project}=${t.project}`] } });
  const duplicates: string[] = [];
  const byKey = new Map<string, number>();
  const byIp = new Map<string, string[]>();
  for (const c of containers) {
    const role = c.Labels[LABELS.role] === ROLES.base ? 'base' : c.Labels[LABELS.service];
    const key = `${c.Labels[LABELS.decky]}/${role}`;
    byKey.set(key, (byKey.get(key) ?? 0) + 1);
    if (c.State !== 'running') continue;
    for (const net of Object.values(c.NetworkSettings?.Networks ?? {})) {
      const ip = net.IPAddress || net.IPAMConfig?.IPv4Address;
      if (ip) byIp.set(ip, [...(byIp.get(ip) ?? []), key]);
    }
  }
  for (const [key, count] of byKey) if (count > 1) duplicates.push(`${key} ×${count}`);
  for (const [ip, holders] of byIp) if (holders.length > 1) duplicates.push(`${ip} on ${holders.join(', ')}`);

  const lying: string[] = [];
  for (const name of names) {
    const decky = (await t.api.get(`/deckies/${name}`)).body;
    if (decky.state !== 'running') continue;
    const mine = containers.filter((c) => c.Labels[LABELS.decky] === name);
    const expected = ['base', ...decky.services].sort();
    const actual = mine
      .filter((c) => c.State === 'running')
      .map((c) => (c.Labels[LABELS.role] === ROLES.base ? 'base' : c.Labels[LABELS.service]))
      .sort();
    if (JSON.stringify(actual) !== JSON.stringify(expected)) lying.push(`${name} running with [${actual.join(',')}], expected [${expected.join(',')}]`);
  }
  return { duplicates, lying };
}

async function tearDown(t: Topology, names: string[]): Promise<void> {
  const ids: string[] = [];
  for (const name of names) {
    const res = await t.api.delete(`/deckies/${name}`);
    if (res.status === 202) ids.push(...res.body.lifecycle_ids);
  }
  await waitForTerminal(t.api, ids, TERMINAL_BOUND_MS);
}

function formatTable(all: RunResult[]): string {
  const lines = [
    'fault | runs | rows in flight at kill | rows ok | rows failed (reason) | stuck | duplicates | lying | time to ready (median, max)',
    '--- | --- | --- | --- | --- | --- | --- | --- | ---',
  ];
  for (const fault of [...new Set(all.map((r) => r.fault))]) {
    const runs = all.filter((r) => r.fault === fault);
    const ready = runs.map((r) => r.readyMs).sort((a, b) => a - b);
    const failed = runs.flatMap((r) => r.failed);
    lines.push(
      [
        fault,
        runs.length,
        runs.reduce((n, r) => n + r.inFlight, 0),
        runs.reduce((n, r) => n + r.ok, 0),
        failed.length ? `${failed.length} (${[...new Set(failed.map((f) => f.replace(/^[^:]+: /, '')))].join('; ')})` : '0',
        runs.reduce((n, r) => n + r.stuck, 0),
        runs.flatMap((r) => r.duplicates).length,
        runs.flatMap((r) => r.lying).length,
        `${(ready[Math.floor((ready.length - 1) / 2)] / 1000).toFixed(1)} s, ${(ready[ready.length - 1] / 1000).toFixed(1)} s`,
      ].join(' | '),
    );
  }
  return lines.join('\n');
}
