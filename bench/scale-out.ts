/**
 * bench/scale-out: the control plane's throughput as the fleet scales out (not a test; it prints a
 * table and asserts nothing). The run of bench/swarm's control-plane figure, 400 deckies over 4
 * real `decnet agent` processes whose service image no engine here has, so each agent job ends at
 * its image check: API → PostgreSQL → Temporal → mTLS dispatch → agent job → result heartbeat →
 * row. The same run three times, each on a fresh decnet database with one `decnet api` process:
 *  - the Temporal CLI's dev server (SQLite), 1 `decnet worker` process;
 *  - the real Temporal server (scripts/setup-cluster.sh) on PostgreSQL, 4 history shards (or
 *    BENCH_HISTORY_SHARDS), 1 worker;
 *  - the same server, 2 worker processes.
 * One embedded PostgreSQL keeps the decnet databases and the Temporal server's. Everything runs
 * under .bench-data-scale-out on loopback, and on a veth pair the bench makes.
 */
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import fs from 'node:fs/promises';
import { Client, Connection } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { createDatabase, startEmbeddedPostgres } from '../src/infra/embedded-postgres';
import { findTemporalCli, startTemporalDevServer } from '../src/infra/temporal-cli';
import { apiClient } from '../test/support/http';
import { enrollAgent, masterCreds, removeAgentContainers, startAgent, waitForActive, type TestAgent } from '../test/support/agents';
import { apiBaseOf, startFleetProcess, type FleetProcess } from '../test/support/fleet';
import { freePort } from '../test/support/master';
import { stop } from '../test/support/process';
import { createVethParent, deleteVethParent } from '../test/support/veth';
import { installTemporalServer, startTemporalCluster } from '../test/support/temporal-cluster';
import { BENCH_TOKEN, benchDataDir, printTable, secs, waitForRows, type Figure } from './support';
import Docker from 'dockerode';

const DATA = benchDataDir('.bench-data-scale-out');
const PARENT = 'dnvbenchscale';
const PROJECT = 'benchscale';
const LAN = `${PROJECT}_lan`;
/** A /22: room for 400 deckies. */
const NETWORK = { subnet: '198.18.248.0/22', gateway: '198.18.248.1', interface: PARENT };
const DECKIES_PER_AGENT = 100;
const AGENTS = ['a', 'b', 'c', 'd'];
/** bench/swarm's target for the same run. */
const TARGET = '≥ 50 rows/s';
/** Rows whose workflow history is counted for the events-per-row figure. */
const HISTORY_SAMPLE = 20;
/** How long the fleet is watched idle before the deploy, for the idle commit rate. */
const IDLE_WINDOW_MS = 15_000;
/** The PostgreSQL-backed server's history shards (BENCH_HISTORY_SHARDS): fixed for its database's life. */
const SHARDS = Number(process.env.BENCH_HISTORY_SHARDS ?? 4);

interface Setup {
  label: string;
  temporalAddress: string;
  /** The Temporal server's process, for its CPU time. */
  temporalPid: number;
  postgresPid: number;
  workers: number;
}

async function main() {
  const build = await installTemporalServer();
  await fs.rm(DATA, { recursive: true, force: true });
  await fs.mkdir(DATA, { recursive: true });
  const pg = await startEmbeddedPostgres({ dataDir: path.join(DATA, 'pg'), port: 54389, logFile: path.join(DATA, 'pg.log') });
  const adminUrl = new URL(pg.url);
  adminUrl.pathname = '/postgres';
  const devServer = await startTemporalDevServer({
    cliPath: findTemporalCli(),
    dbFile: path.join(DATA, 'temporal.db'),
    port: 7285,
    uiPort: 8285,
    logFile: path.join(DATA, 'temporal-dev.log'),
  });
  const cluster = await startTemporalCluster({
    build,
    postgresAdminUrl: adminUrl.toString(),
    dataDir: path.join(DATA, 'temporal-server'),
    portBase: 7420,
    numHistoryShards: SHARDS,
  });
  await createVethParent(PARENT);
  const docker = new Docker();
  try {
    console.log('decnet-deployer bench/scale-out');
    console.log(`machine: ${os.cpus().length} cores; ${AGENTS.length} agents on one dockerd; ${AGENTS.length * DECKIES_PER_AGENT} image-less deckies per run`);
    const setups: Setup[] = [
      { label: 'dev server (SQLite), 1 worker process', temporalAddress: devServer.address, temporalPid: devServer.pid, postgresPid: pg.pid, workers: 1 },
      {
        label: `Temporal server on PostgreSQL (${SHARDS} shards), 1 worker process`,
        temporalAddress: cluster.address,
        temporalPid: cluster.pid,
        postgresPid: pg.pid,
        workers: 1,
      },
      {
        label: `Temporal server on PostgreSQL (${SHARDS} shards), 2 worker processes`,
        temporalAddress: cluster.address,
        temporalPid: cluster.pid,
        postgresPid: pg.pid,
        workers: 2,
      },
    ];
    const figures: Figure[] = [];
    let baseline: number | undefined;
    let last: Awaited<ReturnType<typeof controlPlaneRun>> | undefined;
    // CPU time per row, whatever else the machine runs: the sizing arithmetic's main input.
    const cpuFigures: Figure[] = [];
    for (const [i, setup] of setups.entries()) {
      const result = await controlPlaneRun(setup, i, adminUrl.toString(), docker);
      baseline ??= result.rowsPerSecond;
      figures.push({
        figure: `${setup.label}: ${AGENTS.length * DECKIES_PER_AGENT} deckies (${result.atCheck} ended at the image check), POST → all terminal`,
        target: TARGET,
        measured: `${result.rowsPerSecond.toFixed(1)} rows/s (${secs(result.wallMs)}; load average ${result.load.toFixed(1)})`,
        ratio: `${(result.rowsPerSecond / baseline).toFixed(2)}×`,
      });
      process.stderr.write(`  ${figures.at(-1)!.figure}: ${figures.at(-1)!.measured}\n`);
      const c = result.cpuPerRow;
      cpuFigures.push({
        figure: `${setup.label}: CPU ms per row, API / workers / agents / Temporal / PostgreSQL (total)`,
        target: '—',
        measured: `${c.api.toFixed(0)} / ${c.workers.toFixed(0)} / ${c.agents.toFixed(0)} / ${c.temporal.toFixed(0)} / ${c.postgres.toFixed(0)} (${Object.values(
          c,
        )
          .reduce((a, b) => a + b, 0)
          .toFixed(0)})`,
      });
      last = result;
    }
    // What one row costs, from the last run (PostgreSQL-backed server): the sizing arithmetic's inputs.
    const { commitsPerRow, idleCommitsPerSecond: idle } = last!;
    figures.push(
      ...cpuFigures,
      { figure: `history events per row (${HISTORY_SAMPLE} workflows)`, target: '—', measured: last!.eventsPerRow.toFixed(1) },
      {
        figure: 'PostgreSQL commits per row above idle: decnet / Temporal persistence / visibility',
        target: '—',
        measured: `${commitsPerRow.decnet.toFixed(1)} / ${commitsPerRow.temporal.toFixed(1)} / ${commitsPerRow.visibility.toFixed(1)}`,
      },
      {
        figure: 'PostgreSQL commits per second, idle fleet: decnet / Temporal persistence / visibility',
        target: '—',
        measured: `${idle.decnet.toFixed(1)} / ${idle.temporal.toFixed(1)} / ${idle.visibility.toFixed(1)}`,
      },
    );
    printTable('bench/scale-out', figures);
  } finally {
    await cluster.stop();
    await devServer.stop();
    await pg.stop();
    await docker
      .getNetwork(LAN)
      .remove()
      .catch(() => undefined);
    await deleteVethParent(PARENT);
  }
}

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

/** CPU seconds (user + system, all threads) a process has used so far; 0 once it is gone. */
async function cpuSecondsOf(pid: number): Promise<number> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // The fields after the command name (which may hold spaces) in parentheses: utime and stime are 14th and 15th of the line.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields.length > 12 ? (Number(fields[11]) + Number(fields[12])) / USER_HZ : 0;
}

/** The PostgreSQL server's processes: the postmaster and its children (one backend per connection). */
async function postgresPids(postmaster: number): Promise<number[]> {
  const children = await fs.readFile(`/proc/${postmaster}/task/${postmaster}/children`, 'utf8').catch(() => '');
  return [postmaster, ...children.split(' ').filter(Boolean).map(Number)];
}

type CpuShare = 'api' | 'workers' | 'agents' | 'temporal' | 'postgres';

/** CPU seconds so far of each part of the run, by pid, so that a backend that comes or goes counts only its own share. */
async function cpuByPart(parts: Record<CpuShare, () => Promise<number[]>>): Promise<Map<string, number>> {
  const seconds = new Map<string, number>();
  for (const [part, pids] of Object.entries(parts)) for (const pid of await pids()) seconds.set(`${part}:${pid}`, await cpuSecondsOf(pid));
  return seconds;
}

/** CPU seconds each part used between two readings. */
function cpuUsed(before: Map<string, number>, after: Map<string, number>): Record<CpuShare, number> {
  const used: Record<CpuShare, number> = { api: 0, workers: 0, agents: 0, temporal: 0, postgres: 0 };
  for (const [key, seconds] of after) used[key.split(':')[0] as CpuShare] += seconds - (before.get(key) ?? 0);
  return used;
}

/** Committed transactions so far, by database (pg_stat_database). */
async function commitsByDatabase(adminUrl: string): Promise<Map<string, number>> {
  const pg = new PgClient({ connectionString: adminUrl });
  await pg.connect();
  try {
    const { rows } = await pg.query<{ datname: string; xact_commit: string }>('SELECT datname, xact_commit FROM pg_stat_database WHERE datname IS NOT NULL');
    return new Map(rows.map((r) => [r.datname, Number(r.xact_commit)]));
  } finally {
    await pg.end();
  }
}

/** One fleet (1 API, `setup.workers` workers, 4 agents) on a fresh database: deploy, time, stop. */
async function controlPlaneRun(setup: Setup, run: number, adminUrl: string, docker: Docker) {
  const dir = path.join(DATA, `run-${run}`);
  const databaseUrl = await createDatabase(adminUrl, `scale_out_${run}`);
  const base: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: setup.temporalAddress,
    DECNET_DATA_DIR: path.join(dir, 'master'),
    // No engine here has images of this registry: every agent job ends at its image check.
    DECNET_IMAGE_REGISTRY: 'decnet-bench-absent',
    DECNET_IMAGE_TAG: 'absent',
    DECNET_COMPOSE_PROJECT: PROJECT,
    DECNET_TASK_QUEUE: `${PROJECT}-${run}-${Date.now()}`,
    DECNET_ADMIN_TOKEN: BENCH_TOKEN,
    DECNET_SWARM_HOST: '127.0.0.1',
    DECNET_LOG_LEVEL: 'warn',
    // As bench/swarm: results come with the agents' heartbeats, the workflows poll every 10 s.
    DECNET_AGENT_POLL_INTERVAL_MS: '10000',
  };
  const member = async (name: string, command: 'api' | 'worker'): Promise<FleetProcess> => ({
    name,
    command,
    logFile: path.join(dir, `${name}.log`),
    env: {
      ...base,
      DECNET_API_PORT: String(await freePort()),
      DECNET_SWARM_PORT: String(await freePort()),
      DECNET_ENROLL_PORT: String(await freePort()),
      DECNET_METRICS_PORT: String(await freePort()),
    },
  });
  await fs.mkdir(dir, { recursive: true });
  const fleet = [await member('api', 'api')];
  for (let w = 1; w <= setup.workers; w++) fleet.push(await member(`worker${w}`, 'worker'));
  const connection = await Connection.connect({ address: setup.temporalAddress });
  const agents: TestAgent[] = [];
  try {
    // The API first: it migrates the database and creates the swarm CA the workers then load.
    await startFleetProcess(fleet[0], connection);
    await Promise.all(fleet.slice(1).map((m) => startFleetProcess(m, connection)));
    const apiBase = apiBaseOf(fleet[0]);
    const api = apiClient(apiBase, BENCH_TOKEN);
    const limit = await api.put('/system/limits', { deployment_limit: 500 });
    if (limit.status !== 200) throw new Error(`PUT /system/limits answered ${limit.status}: ${JSON.stringify(limit.body)}`);
    const creds = await masterCreds({ config: { dataDir: base.DECNET_DATA_DIR! } });
    for (const name of AGENTS) {
      await removeAgentContainers(docker, `${PROJECT}-${name}`);
      const agent = await enrollAgent({ api: apiBase, env: base }, api, dir, {
        name: `scale-${name}`,
        project: `${PROJECT}-${name}`,
        useIpvlan: false,
        env: { DECNET_LAN_NETWORK: LAN, DECNET_LOG_LEVEL: 'warn' },
      });
      agents.push(agent);
      await startAgent(agent, creds);
      await waitForActive(api, agent);
    }
    const pidsOf = (members: Array<{ proc?: { child: { pid?: number } } }>) => async () => members.map((m) => m.proc!.child.pid!);
    const parts = {
      api: pidsOf(fleet.slice(0, 1)),
      workers: pidsOf(fleet.slice(1)),
      agents: pidsOf(agents),
      temporal: async () => [setup.temporalPid],
      postgres: () => postgresPids(setup.postgresPid),
    };
    // What the idle fleet commits (Temporal's shard, queue and timer upkeep, the API's loops), so
    // the per-row figures count the deploy's own.
    const idleStart = await commitsByDatabase(adminUrl);
    await new Promise((r) => setTimeout(r, IDLE_WINDOW_MS));
    const cpuBefore = await cpuByPart(parts);
    const commitsBefore = await commitsByDatabase(adminUrl);
    const idlePerSecond = (db: string) => ((commitsBefore.get(db) ?? 0) - (idleStart.get(db) ?? 0)) / (IDLE_WINDOW_MS / 1000);
    const started = performance.now();
    const res = await api.post('/deckies/deploy', {
      network: NETWORK,
      deckies: AGENTS.map((name) => ({ name: `s${name}`, amount: DECKIES_PER_AGENT, services: ['ssh'] })),
    });
    if (res.status !== 202) throw new Error(`deploy answered ${res.status}: ${JSON.stringify(res.body)}`);
    const rows = await waitForRows(api, res.body.lifecycle_ids, { everyMs: 250 });
    const wallMs = performance.now() - started;
    const atCheck = rows.filter((r) => r.status === 'failed' && /not on the Docker engine/.test(r.error ?? '')).length;
    // Each backend reports its counts within a second or so of going idle.
    await new Promise((r) => setTimeout(r, 3_000));
    const commitsAfter = await commitsByDatabase(adminUrl);
    const cpu = cpuUsed(cpuBefore, await cpuByPart(parts));
    const runSeconds = wallMs / 1000 + 3;
    const commitsPerRow = (db: string) => ((commitsAfter.get(db) ?? 0) - (commitsBefore.get(db) ?? 0) - idlePerSecond(db) * runSeconds) / rows.length;
    const client = new Client({ connection });
    const sample = rows.slice(0, HISTORY_SAMPLE);
    let events = 0;
    for (const row of sample) events += (await client.workflow.getHandle(row.workflow_id).fetchHistory()).events?.length ?? 0;
    return {
      rowsPerSecond: rows.length / (wallMs / 1000),
      wallMs,
      // The machine may be shared: its 1-minute load average at the end of the run, beside the figure.
      load: os.loadavg()[0],
      atCheck,
      eventsPerRow: events / sample.length,
      cpuPerRow: Object.fromEntries(Object.entries(cpu).map(([part, seconds]) => [part, (seconds * 1000) / rows.length])) as Record<CpuShare, number>,
      commitsPerRow: { decnet: commitsPerRow(`scale_out_${run}`), temporal: commitsPerRow('temporal'), visibility: commitsPerRow('temporal_visibility') },
      idleCommitsPerSecond: {
        decnet: idlePerSecond(`scale_out_${run}`),
        temporal: idlePerSecond('temporal'),
        visibility: idlePerSecond('temporal_visibility'),
      },
    };
  } finally {
    for (const agent of agents) if (agent.proc) await stop(agent.proc);
    for (const m of fleet.reverse()) if (m.proc) await stop(m.proc);
    await connection.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
