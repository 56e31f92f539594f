/**
 * bench/swarm: figures for the swarm path against their targets (not a test; it prints a table
 * and asserts nothing). Four real `decnet agent` processes, enrolled through the bundle flow, on
 * this machine's dockerd:
 *  - wall time from POST to all rows terminal for 40 deckies (real containers);
 *  - the control plane's throughput (rows that go pending → running → terminal, per second) and
 *    the p95 wait before a row's first step, for 400 deckies whose service image the agents do
 *    not have: each agent job ends at its image check (one Docker API call), so the figure is
 *    API → PostgreSQL → Temporal → mTLS dispatch → agent job → result signal → row, without
 *    docker's own container work.
 * Starts its own PostgreSQL and Temporal dev server under .bench-data; sends traffic only to
 * loopback and to the containers it creates on a veth pair it makes.
 */
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import Docker from 'dockerode';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/logger';
import { startMaster } from '../src/master';
import { loadCatalogue } from '../src/domain/catalog';
import { LABELS } from '../src/domain/compose-render';
import { DeploymentSettings } from '../src/entities';
import { createVethParent, deleteVethParent } from '../test/support/veth';
import {
  BENCH_REGISTRY,
  BENCH_TAG,
  BENCH_TOKEN,
  IMAGELESS_SERVICE,
  benchDataDir,
  buildFixturesButImageless,
  cpuSecondsOfTrees,
  cpuSpent,
  percentile,
  stepBreakdown,
  printTable,
  secs,
  startBenchServices,
  waitForRows,
  type BenchRow,
  type Figure,
} from './support';
import { apiClient, type ApiClient } from '../test/support/http';
import { enrollAgent, masterCreds, startAgent, waitForActive, type TestAgent } from '../test/support/agents';
import { stop } from '../test/support/process';

const DATA = benchDataDir('.bench-data-swarm');
const REGISTRY = BENCH_REGISTRY;
const TAG = BENCH_TAG;
const PARENT = 'dnvbenchswarm';
const PROJECT = 'benchswarm';
const LAN = `${PROJECT}_lan`;
/** A /22: room for 400 deckies. */
const NETWORK = { subnet: '198.18.244.0/22', gateway: '198.18.244.1', interface: PARENT };

async function main() {
  const { pg, temporal } = await startBenchServices(DATA, { pg: 54359, temporal: 7265, temporalUi: 8265 });
  const catalogue = loadCatalogue({ registry: REGISTRY, tag: TAG });
  await buildFixturesButImageless(catalogue);
  await createVethParent(PARENT);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: pg.url,
    TEMPORAL_ADDRESS: temporal.address,
    DECNET_DATA_DIR: path.join(DATA, 'decnet'),
    DECNET_IMAGE_REGISTRY: REGISTRY,
    DECNET_IMAGE_TAG: TAG,
    DECNET_COMPOSE_PROJECT: PROJECT,
    DECNET_ADMIN_TOKEN: BENCH_TOKEN,
    DECNET_API_PORT: '18092',
    DECNET_SWARM_HOST: '127.0.0.1',
    DECNET_SWARM_PORT: '18093',
    DECNET_ENROLL_PORT: '18098',
    DECNET_LOG_LEVEL: 'warn',
    DECNET_AGENT_POLL_INTERVAL_MS: '10000',
  };
  const config = loadConfig(env);
  const master = await startMaster({ config, databaseUrl: pg.url, temporalAddress: temporal.address, logger: createLogger('warn', 'bench') });
  await master.orm.em.fork().nativeUpdate(DeploymentSettings, { id: 1 }, { deploymentLimit: 500 });
  const apiBase = `${master.apiUrl}/api/v1`;
  const api = apiClient(apiBase, BENCH_TOKEN);
  const docker = new Docker();
  const agents: TestAgent[] = [];
  const stack = { api: apiBase, env, config };

  try {
    const creds = await masterCreds(stack);
    for (const name of ['bench-a', 'bench-b', 'bench-c', 'bench-d']) {
      const agent = await enrollAgent(stack, api, DATA, {
        name,
        project: `${PROJECT}-${name.slice(-1)}`,
        useIpvlan: false,
        env: { DECNET_LAN_NETWORK: LAN, DECNET_LOG_LEVEL: 'warn' },
      });
      await startAgent(agent, creds);
      await waitForActive(api, agent);
      agents.push(agent);
    }
    console.log('decnet-deployer bench/swarm');
    console.log(`machine: ${os.cpus().length} cores; ${agents.length} agents on one dockerd; mode: ${(await api.get('/system/deployment-mode')).body.message}`);

    // 1. 40 real deckies.
    const real = await timedDeploy(api, [{ name: 'r', amount: 40, services: ['ssh'] }]);
    const figures: Figure[] = [
      { figure: '40 deckies (ssh) over 4 agents, POST → all terminal', target: '—', measured: `${secs(real.wallMs)} (${real.succeeded}/40 succeeded)` },
    ];
    process.stderr.write(`  ${figures[0].figure}: ${figures[0].measured}\n`);
    await teardownAll(api);

    // 2. 400 deckies through the whole control plane, each agent job ending at the image check.
    // The bench's own process is the master (its threads, with the bench's polling).
    const trees = {
      'master (this process)': process.pid,
      'dev server': temporal.pid,
      PostgreSQL: pg.pid,
      ...Object.fromEntries(agents.map((a) => [a.name, a.proc!.child.pid!])),
    };
    const cpuBefore = cpuSecondsOfTrees(trees);
    const plane = await timedDeploy(
      api,
      ['p', 'q', 's', 't'].map((name) => ({ name, amount: 100, services: [IMAGELESS_SERVICE] })),
    );
    const atCheck = plane.rows.filter((r) => r.status === 'failed' && /not on the Docker engine/.test(r.error ?? '')).length;
    const waits = plane.rows.filter((r) => r.steps.length).map((r) => Date.parse(r.steps[0].started_at) - Date.parse(r.started_at));
    figures.push(
      {
        figure: `400 deckies, control plane only (${atCheck}/400 ended at the image check), POST → all terminal`,
        target: '≥ 50 rows/s',
        measured: `${(plane.rows.length / (plane.wallMs / 1000)).toFixed(1)} rows/s (${secs(plane.wallMs)})`,
      },
      { figure: "wait before a row's first step, p50 / p95", target: 'p95 ≤ 2 s', measured: `${secs(percentile(waits, 50))} / ${secs(percentile(waits, 95))}` },
    );
    console.log(`where a row's time went: ${stepBreakdown(plane.rows)}`);
    console.log(`CPU used meanwhile (${secs(plane.wallMs)} of wall time on ${os.cpus().length} cores): ${cpuSpent(cpuBefore, cpuSecondsOfTrees(trees))}`);
    await teardownAll(api);
    printTable('bench/swarm', figures);
  } finally {
    for (const agent of agents) if (agent.proc) await stop(agent.proc);
    await master.stop();
    await temporal.stop();
    await pg.stop();
    const left = await docker.listContainers({ all: true, filters: { label: [LABELS.project] } });
    for (const c of left.filter((c) => c.Labels[LABELS.project].startsWith(`${PROJECT}-`)))
      await docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined);
    await docker
      .getNetwork(LAN)
      .remove()
      .catch(() => undefined);
    await deleteVethParent(PARENT);
  }
}

async function timedDeploy(api: ApiClient, deckies: unknown[]) {
  const started = performance.now();
  const res = await api.post('/deckies/deploy', { network: NETWORK, deckies });
  if (res.status !== 202) throw new Error(`deploy answered ${res.status}: ${JSON.stringify(res.body)}`);
  const rows = await waitForAll(api, res.body.lifecycle_ids);
  return { wallMs: performance.now() - started, rows, succeeded: rows.filter((r) => r.status === 'succeeded').length };
}

async function teardownAll(api: ApiClient) {
  const fleet = (await api.get('/deckies')).body.deckies as { name: string }[];
  const ids = (await Promise.all(fleet.map((d) => api.delete(`/deckies/${d.name}`)))).flatMap((r) => r.body.lifecycle_ids);
  if (ids.length) await waitForAll(api, ids);
}

async function waitForAll(api: ApiClient, ids: string[]): Promise<BenchRow[]> {
  return waitForRows(api, ids, { everyMs: 250 });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
