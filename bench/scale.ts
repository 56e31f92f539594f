/**
 * bench/scale: the master holding 1,000 deckies (not a test; it prints a table and asserts
 * nothing). The master is a `decnet up` process of its own on the benchmark's PostgreSQL and dev
 * server; every figure is taken from outside it:
 *  - time to 202 for one POST of 1,000 deckies, and POST → all rows terminal in rows/s;
 *  - the master's resident memory (VmRSS, and its peak VmHWM) idle, then holding the 1,000
 *    deckies, their lifecycle rows and their mutation schedules;
 *  - GET /deckies (the whole fleet) and the fleet page's data (GET /deckies, /system/network and
 *    /swarm/hosts together, as web/src/views/fleet.ts loads them), p50 / p95 of 20.
 * Control plane only: 1,000 deckies are 2,000 containers, more than this 2-core machine holds, so
 * the deckies use the service whose image is missing and each row ends at the image check. Their
 * mutation schedules are then created with the call the deploy's `schedule` step makes
 * (syncMutationSchedule), so the dev server holds what a deployed fleet gives it.
 * The product caps the fleet at 500 (architecture.md §3, `deployment_limit_range` in the database): this
 * benchmark lifts that check in its own, throw-away database to measure the 1,000 the
 * performance issue asks for. Sends traffic only to loopback and to a veth pair it makes.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import Docker from 'dockerode';
import pLimit from 'p-limit';
import { Client, Connection } from '@temporalio/client';
import { loadCatalogue } from '../src/domain/catalog';
import { loadConfig } from '../src/config';
import { openOrm } from '../src/db/orm';
import { Decky, DeploymentSettings } from '../src/entities';
import { syncMutationSchedule } from '../src/operations/schedules';
import { createVethParent, deleteVethParent } from '../test/support/veth';
import { removeComposeProject } from '../test/support/agents';
import type { ApiClient } from '../test/support/http';
import {
  BENCH_REGISTRY,
  BENCH_TAG,
  benchDataDir,
  buildFixturesButImageless,
  imageless,
  masterGauges,
  ms,
  percentile,
  postDeploy,
  printTable,
  secs,
  spawnBenchMaster,
  startBenchServices,
  waitForRows,
  type Figure,
} from './support';

const DATA = benchDataDir('.bench-data-scale');
const PROJECT = 'benchscale1k';
const PARENT = 'dnvscale1k';
/** A /22: room for 1,000 deckies. */
const NETWORK = { subnet: '198.18.236.0/22', gateway: '198.18.236.1', interface: PARENT };
const DECKIES = 1_000;
const READS = 20;
/** The dev server takes schedule creations one at a time (SQLite); a few in flight keep it busy. */
const SCHEDULE_CONCURRENCY = 8;

async function main() {
  const { pg, temporal } = await startBenchServices(DATA, { pg: 54399, temporal: 7305, temporalUi: 8305 });
  const catalogue = loadCatalogue({ registry: BENCH_REGISTRY, tag: BENCH_TAG });
  await buildFixturesButImageless(catalogue);
  await createVethParent(PARENT);
  const orm = await openOrm(pg.url);
  const master = await spawnBenchMaster({
    dataDir: DATA,
    databaseUrl: pg.url,
    temporalAddress: temporal.address,
    project: PROJECT,
    apiPort: 18124,
    swarmPort: 18125,
    enrollPort: 18126,
  });
  const { api } = master;
  const pid = master.proc.child.pid!;
  const connection = await Connection.connect({ address: temporal.address });
  const figures: Figure[] = [];
  const add = (figure: Figure) => {
    figures.push(figure);
    process.stderr.write(`  ${figure.figure}: ${figure.measured}\n`);
  };

  try {
    console.log(`decnet-deployer bench/scale — ${os.cpus().length} cores (${os.cpus()[0].model}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GB`);
    await orm.em.getConnection().execute('alter table "deployment_settings" drop constraint "deployment_limit_range"');
    await orm.em.fork().nativeUpdate(DeploymentSettings, { id: 1 }, { deploymentLimit: DECKIES });
    // A few reads first, so the idle figure is of a master that has served the API once.
    await fleetPage(api);
    const idle = await memoryOf(pid);
    add({ figure: 'master RSS, idle (no decky)', target: '—', measured: mb(idle.rss) });

    const started = performance.now();
    const { elapsed, ids } = await postDeploy(api, NETWORK, imageless('scale', DECKIES));
    const rows = await waitForRows(api, ids, { everyMs: 250 });
    const wall = performance.now() - started;
    const atCheck = rows.filter((r) => r.status === 'failed' && /not on the Docker engine/.test(r.error ?? '')).length;
    add({ figure: `time to 202, ${DECKIES} deckies in one POST`, target: '≤ 1,000 ms', measured: ms(elapsed) });
    add({
      figure: `${DECKIES} deckies, control plane only (${atCheck}/${DECKIES} ended at the image check), POST → all terminal`,
      target: '≥ 50 rows/s',
      measured: `${(DECKIES / (wall / 1000)).toFixed(1)} rows/s (${secs(wall)})`,
    });

    const names = (await orm.em.fork().find(Decky, {}, { fields: ['name'] })).map((d) => d.name);
    const config = loadConfig(master.env);
    const client = new Client({ connection, namespace: config.temporalNamespace });
    const limit = pLimit(SCHEDULE_CONCURRENCY);
    const scheduling = performance.now();
    await Promise.all(names.map((name) => limit(() => syncMutationSchedule(client, config.taskQueue, name, 30))));
    add({
      figure: `${names.length} mutation schedules created (${SCHEDULE_CONCURRENCY} at a time, from the benchmark)`,
      target: '—',
      measured: secs(performance.now() - scheduling),
    });

    const fleetTimes: number[] = [];
    let fleetBytes = 0;
    for (let i = 0; i < READS; i++) {
      const t = performance.now();
      const res = await api.get('/deckies');
      fleetTimes.push(performance.now() - t);
      if (res.status !== 200 || res.body.deckies.length !== names.length)
        throw new Error(`GET /deckies answered ${res.status} with ${res.body.deckies?.length} deckies`);
      fleetBytes = JSON.stringify(res.body).length;
    }
    add({
      figure: `GET /deckies, ${names.length} deckies (${(fleetBytes / 1024).toFixed(0)} KB), p50 / p95 of ${READS}`,
      target: '—',
      measured: `${ms(percentile(fleetTimes, 50))} / ${ms(percentile(fleetTimes, 95))}`,
    });
    const pageTimes: number[] = [];
    for (let i = 0; i < READS; i++) pageTimes.push(await fleetPage(api));
    add({
      figure: `fleet page's data (GET /deckies, /system/network, /swarm/hosts at once), p50 / p95 of ${READS}`,
      target: '—',
      measured: `${ms(percentile(pageTimes, 50))} / ${ms(percentile(pageTimes, 95))}`,
    });

    const loaded = await memoryOf(pid);
    add({
      figure: `master RSS holding ${names.length} deckies, their rows and schedules (peak since start)`,
      target: '≤ 300 MB',
      measured: `${mb(loaded.rss)} (${mb(loaded.hwm)})`,
    });
    const heap = await masterGauges(master.apiBase, ['nodejs_heap_size_used_bytes', 'nodejs_heap_size_total_bytes', 'nodejs_external_memory_bytes']);
    add({
      figure: "of which the main thread's JS heap used / allocated, and external memory (its /metrics)",
      target: '—',
      measured: `${mb(heap.nodejs_heap_size_used_bytes)} / ${mb(heap.nodejs_heap_size_total_bytes)}, ${mb(heap.nodejs_external_memory_bytes)}`,
    });

    printTable('bench/scale', figures);
  } finally {
    await connection.close();
    await orm.close();
    await master.stop();
    await temporal.stop();
    await pg.stop();
    await removeComposeProject(new Docker(), PROJECT);
    await deleteVethParent(PARENT);
  }
}

/** The fleet page's three reads, together as the page makes them; ms until the last answers. */
async function fleetPage(api: ApiClient): Promise<number> {
  const started = performance.now();
  const answers = await Promise.all(['/deckies', '/system/network', '/swarm/hosts'].map((path) => api.get(path)));
  const failed = answers.find((a) => a.status !== 200);
  if (failed) throw new Error(`the fleet page's data answered ${failed.status}: ${JSON.stringify(failed.body)}`);
  return performance.now() - started;
}

/** VmRSS and VmHWM (peak) of a process, in bytes. */
async function memoryOf(pid: number): Promise<{ rss: number; hwm: number }> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
