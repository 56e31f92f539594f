/** What every benchmark starts from: a fresh data directory with its own PostgreSQL and Temporal dev server. */
import { readFileSync, readdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { startEmbeddedPostgres } from '../src/infra/embedded-postgres';
import { findTemporalCli, startTemporalDevServer } from '../src/infra/temporal-cli';
import { spawnDecnet, stop, waitForServing, type DecnetProcess } from '../test/support/process';
import { performance } from 'node:perf_hooks';
import Docker from 'dockerode';
import type { Catalogue } from '../src/domain/catalog';
import { buildFixtureImages } from '../test/support/fixture-images';
import { apiClient, type ApiClient } from '../test/support/http';

/** The benchmarks' own fixture images (never the tests'). */
export const BENCH_REGISTRY = 'decnet-bench';
export const BENCH_TAG = 'fixture';
/** The one catalogue service the control-plane benchmarks leave without an image: each row ends at the image check. */
export const IMAGELESS_SERVICE = 'vnc';

/** Every fixture image but the image-less service's, which is removed if another benchmark built it. */
export async function buildFixturesButImageless(catalogue: Catalogue): Promise<void> {
  await buildFixtureImages({ registry: BENCH_REGISTRY, tag: BENCH_TAG, services: [...catalogue.services.keys()].filter((s) => s !== IMAGELESS_SERVICE) });
  await new Docker()
    .getImage(catalogue.imageFor(IMAGELESS_SERVICE))
    .remove({ force: true })
    .catch(() => undefined);
}

/** `count` deckies with the image-less service, as requests of at most 100 (the `amount` limit). */
export function imageless(prefix: string, count: number) {
  return Array.from({ length: Math.ceil(count / 100) }, (_, i) => ({
    name: `${prefix}x${i}`,
    amount: Math.min(100, count - i * 100),
    services: [IMAGELESS_SERVICE],
  }));
}

/** POST /deckies/deploy, timed to its 202. */
export async function postDeploy(api: ApiClient, network: unknown, deckies: unknown[]): Promise<{ elapsed: number; ids: string[] }> {
  const started = performance.now();
  const res = await api.post('/deckies/deploy', { network, deckies });
  const elapsed = performance.now() - started;
  if (res.status !== 202) throw new Error(`deploy answered ${res.status}: ${JSON.stringify(res.body)}`);
  return { elapsed, ids: res.body.lifecycle_ids };
}

/** A benchmark's data directory, at the top of the repository (ignored by git). */
export const benchDataDir = (name: string) => path.join(__dirname, '..', name);

export async function startBenchServices(dataDir: string, ports: { pg: number; temporal: number; temporalUi: number }) {
  await fs.rm(dataDir, { recursive: true, force: true });
  await fs.mkdir(dataDir, { recursive: true });
  const pg = await startEmbeddedPostgres({ dataDir: path.join(dataDir, 'pg'), port: ports.pg, logFile: path.join(dataDir, 'pg.log') });
  const temporal = await startTemporalDevServer({
    cliPath: findTemporalCli(),
    dbFile: path.join(dataDir, 'temporal.db'),
    port: ports.temporal,
    uiPort: ports.temporalUi,
    logFile: path.join(dataDir, 'temporal.log'),
  });
  return { pg, temporal };
}

/** A figure of a benchmark's table; `ratio` where a baseline ran in the same process. */
export interface Figure {
  figure: string;
  target: string;
  measured: string;
  ratio?: string;
}

/** Prints `figure | target | measured | ratio` as a Markdown table (the README's Performance section takes it as is). */
export function printTable(title: string, figures: Figure[]): void {
  const lines = [
    `### ${title}`,
    '',
    '| figure | target | measured | ratio |',
    '|---|---|---|---|',
    ...figures.map((f) => `| ${f.figure} | ${f.target} | ${f.measured} | ${f.ratio ?? '—'} |`),
  ];
  console.log(lines.join('\n'));
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export const median = (values: number[]) => percentile(values, 50);
export const ms = (n: number) => `${n.toFixed(0)} ms`;
export const secs = (n: number) => `${(n / 1000).toFixed(2)} s`;

export interface BenchRow {
  id: string;
  decky_name: string;
  workflow_id: string;
  status: string;
  error: string | null;
  started_at: string;
  completed_at: string | null;
  steps: Array<{ name: string; started_at: string; finished_at: string }>;
}

/** Where the rows' time went: from the row's creation to its first step, then each step, p50 and p95. */
export function stepBreakdown(rows: BenchRow[]): string {
  const spans = new Map<string, number[]>();
  const add = (name: string, from: string, to: string) => {
    const list = spans.get(name) ?? [];
    list.push(Date.parse(to) - Date.parse(from));
    spans.set(name, list);
  };
  for (const row of rows) {
    if (row.steps.length) add('(queued)', row.started_at, row.steps[0].started_at);
    for (const step of row.steps) add(step.name, step.started_at, step.finished_at);
  }
  return [...spans].map(([name, v]) => `${name} p50 ${percentile(v, 50)} ms / p95 ${percentile(v, 95)} ms`).join('; ');
}

/**
 * Polls the rows every `everyMs` (finer than the tests' waitForTerminal, so wall times are not
 * rounded up to its 500 ms), 200 ids per request, until all are terminal.
 */
export async function waitForRows(api: ApiClient, ids: string[], opts: { timeoutMs?: number; everyMs?: number } = {}): Promise<BenchRow[]> {
  const deadline = Date.now() + (opts.timeoutMs ?? 1_800_000);
  const chunks: string[][] = [];
  for (let i = 0; i < ids.length; i += 200) chunks.push(ids.slice(i, i + 200));
  const done = new Map<string, BenchRow>();
  for (;;) {
    for (const chunk of chunks) {
      const open = chunk.filter((id) => !done.has(id));
      if (open.length === 0) continue;
      const res = await api.get(`/deckies/lifecycle?${open.map((id) => `ids=${id}`).join('&')}`);
      if (res.status !== 200) throw new Error(`lifecycle poll answered ${res.status}: ${JSON.stringify(res.body)}`);
      for (const row of res.body.rows as BenchRow[]) if (row.status === 'succeeded' || row.status === 'failed') done.set(row.id, row);
    }
    if (done.size === ids.length) return ids.map((id) => done.get(id)!);
    if (Date.now() > deadline) throw new Error(`${ids.length - done.size} row(s) not terminal in time`);
    await new Promise((r) => setTimeout(r, opts.everyMs ?? 50));
  }
}

export const BENCH_TOKEN = 'bench-admin-token-0123456789';

export interface BenchMaster {
  api: ApiClient;
  /** http://127.0.0.1:<port>/api/v1 */
  apiBase: string;
  env: NodeJS.ProcessEnv;
  proc: DecnetProcess;
  /** Starts the same master again (after kill()), resolving once /readyz answers. */
  restart(): Promise<void>;
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `decnet up` as its own process on the benchmark's PostgreSQL and dev server, so the figures are
 * taken from outside the master, as an operator sees them, and the master can be SIGKILLed.
 */
export async function spawnBenchMaster(opts: {
  dataDir: string;
  databaseUrl: string;
  temporalAddress: string;
  project: string;
  apiPort: number;
  swarmPort: number;
  enrollPort: number;
  env?: NodeJS.ProcessEnv;
}): Promise<BenchMaster> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: opts.databaseUrl,
    TEMPORAL_ADDRESS: opts.temporalAddress,
    DECNET_DATA_DIR: path.join(opts.dataDir, 'decnet'),
    DECNET_IMAGE_REGISTRY: BENCH_REGISTRY,
    DECNET_IMAGE_TAG: BENCH_TAG,
    DECNET_COMPOSE_PROJECT: opts.project,
    DECNET_ADMIN_TOKEN: BENCH_TOKEN,
    DECNET_API_PORT: String(opts.apiPort),
    DECNET_SWARM_HOST: '127.0.0.1',
    DECNET_SWARM_PORT: String(opts.swarmPort),
    DECNET_ENROLL_PORT: String(opts.enrollPort),
    DECNET_LOG_LEVEL: 'warn',
    ...opts.env,
  };
  const apiBase = `http://127.0.0.1:${opts.apiPort}/api/v1`;
  const logFile = path.join(opts.dataDir, 'master.log');
  const master: BenchMaster = {
    api: apiClient(apiBase, BENCH_TOKEN),
    apiBase,
    env,
    proc: spawnDecnet(['up'], env, logFile),
    async restart() {
      master.proc = spawnDecnet(['up'], env, logFile);
      await waitForServing(master.proc, `http://127.0.0.1:${opts.apiPort}/readyz`);
    },
    async kill() {
      master.proc.child.kill('SIGKILL');
      await master.proc.exited;
    },
    stop: () => stop(master.proc),
  };
  await waitForServing(master.proc, `http://127.0.0.1:${opts.apiPort}/readyz`);
  return master;
}

/**
 * CPU seconds (user + system) used so far by each named process with the processes under it that
 * are not named themselves, read from /proc: where a benchmark's time went between two readings.
 */
export function cpuSecondsOfTrees(roots: Record<string, number>): Record<string, number> {
  const ticksPerSecond = 100; // USER_HZ on Linux
  const stats = new Map<number, { ppid: number; ticks: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command (which may hold spaces): state ppid … utime(14) stime(15).
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      stats.set(Number(entry), { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      /* the process ended meanwhile */
    }
  }
  // A process counts for the nearest named process above it (or itself): a tree named inside another is its own.
  const nameOf = new Map(Object.entries(roots).map(([name, pid]) => [pid, name]));
  const owner = (pid: number): string | undefined => {
    for (let p = pid; p > 1; p = stats.get(p)?.ppid ?? 0) if (nameOf.has(p)) return nameOf.get(p);
    return undefined;
  };
  const seconds: Record<string, number> = Object.fromEntries(Object.keys(roots).map((name) => [name, 0]));
  for (const [pid, stat] of stats) {
    const name = owner(pid);
    if (name) seconds[name] += stat.ticks / ticksPerSecond;
  }
  return seconds;
}

/** `name a s, name b s, …` of the CPU each tree used between two readings. */
export function cpuSpent(before: Record<string, number>, after: Record<string, number>): string {
  return Object.keys(after)
    .map((name) => `${name} ${(after[name] - (before[name] ?? 0)).toFixed(1)} s`)
    .join(', ');
}

/**
 * Gauges of the master's own Prometheus metrics (prom-client's defaults). Reading them also
 * restarts prom-client's event-loop delay histogram: the next reading covers what happened since.
 */
export async function masterGauges<N extends string>(apiBase: string, names: N[]): Promise<Record<N, number>> {
  const text = await (await fetch(new URL('/metrics', apiBase))).text();
  return Object.fromEntries(names.map((name) => [name, Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1])])) as Record<N, number>;
}
