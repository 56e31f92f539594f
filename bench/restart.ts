/**
 * bench/restart: a master killed with SIGKILL mid-deploy, and started again (not a test; it prints
 * a table and asserts nothing). PostgreSQL and the dev server stay up, as they do when only the
 * master process dies. Five runs of: deploy 6 deckies (ssh), SIGKILL `decnet up` once a row runs,
 * start it again; figures are the time from the restart to /readyz answering, and to every row of
 * that deploy being terminal (min / median / max). Sends traffic only to loopback and to the
 * containers it creates on a veth pair it makes.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import Docker from 'dockerode';
import { loadCatalogue } from '../src/domain/catalog';
import { buildFixtureImages } from '../test/support/fixture-images';
import { createVethParent, deleteVethParent } from '../test/support/veth';
import { removeComposeProject } from '../test/support/agents';
import type { ApiClient } from '../test/support/http';
import { BENCH_REGISTRY, BENCH_TAG, benchDataDir, median, printTable, secs, spawnBenchMaster, startBenchServices, waitForRows, type BenchRow } from './support';

const DATA = benchDataDir('.bench-data-restart');
const PROJECT = 'benchrestart';
const PARENT = 'dnvbenchrst';
const NETWORK = { subnet: '198.19.64.0/24', gateway: '198.19.64.1', interface: PARENT };
const API_PORT = 18094;
const RUNS = 5;
const DECKIES = 6;

async function main() {
  const { pg, temporal } = await startBenchServices(DATA, { pg: 54369, temporal: 7275, temporalUi: 8275 });
  const catalogue = loadCatalogue({ registry: BENCH_REGISTRY, tag: BENCH_TAG });
  await buildFixtureImages({ registry: BENCH_REGISTRY, tag: BENCH_TAG, services: [...catalogue.services.keys()] });
  await createVethParent(PARENT);
  const master = await spawnBenchMaster({
    dataDir: DATA,
    databaseUrl: pg.url,
    temporalAddress: temporal.address,
    project: PROJECT,
    apiPort: API_PORT,
    swarmPort: 18095,
    enrollPort: 18097,
  });
  const { api } = master;
  const ready: number[] = [];
  const terminal: number[] = [];
  const outcomes: string[] = [];
  try {
    console.log(`decnet-deployer bench/restart — ${os.cpus().length} cores (${os.cpus()[0].model}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GB`);
    for (let run = 0; run < RUNS; run++) {
      const res = await api.post('/deckies/deploy', { network: NETWORK, deckies: [{ name: `k${run}`, amount: DECKIES, services: ['ssh'] }] });
      if (res.status !== 202) throw new Error(`deploy answered ${res.status}: ${JSON.stringify(res.body)}`);
      const ids: string[] = res.body.lifecycle_ids;
      await untilOneRuns(api, ids);
      await master.kill();
      const restarted = performance.now();
      await master.restart();
      ready.push(performance.now() - restarted);
      const rows = await waitForRows(api, ids, { everyMs: 100 });
      terminal.push(performance.now() - restarted);
      outcomes.push(summarize(rows));
      process.stderr.write(`  run ${run + 1}: ready ${secs(ready.at(-1)!)}, rows terminal ${secs(terminal.at(-1)!)}; ${outcomes.at(-1)}\n`);
      await teardownAll(api);
    }
    const spread = (values: number[]) => `${secs(median(values))} (min ${secs(Math.min(...values))}, max ${secs(Math.max(...values))})`;
    printTable('bench/restart', [
      { figure: `SIGKILL of decnet up mid-deploy (${DECKIES} deckies), restart → /readyz, median of ${RUNS}`, target: '≤ 3 s', measured: spread(ready) },
      { figure: `restart → every in-flight row terminal, median of ${RUNS}`, target: '≤ 15 s', measured: spread(terminal) },
      { figure: 'rows after the restart, per run', target: 'all succeeded', measured: outcomes.join('; ') },
    ]);
  } finally {
    await master.stop();
    await temporal.stop();
    await pg.stop();
    await removeComposeProject(new Docker(), PROJECT);
    await deleteVethParent(PARENT);
  }
}

/** Waits until a row of the deploy runs: the kill then lands in the middle of its steps. */
async function untilOneRuns(api: ApiClient, ids: string[]): Promise<void> {
  for (;;) {
    const rows = (await api.get(`/deckies/lifecycle?ids=${ids.join(',')}`)).body.rows as BenchRow[];
    if (rows.some((r) => r.status !== 'pending')) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

function summarize(rows: BenchRow[]): string {
  const ok = rows.filter((r) => r.status === 'succeeded').length;
  const failed = rows.filter((r) => r.status === 'failed');
  return `${ok}/${rows.length} succeeded${failed.length ? `, failed: ${failed.map((r) => `${r.decky_name} (${r.error})`).join(', ')}` : ''}`;
}

async function teardownAll(api: ApiClient) {
  const limits = (await api.get('/system/limits')).body as { deckies_used: number };
  const res = await api.delete(`/deckies?confirm=${limits.deckies_used}`);
  if (res.status !== 202) throw new Error(`fleet teardown answered ${res.status}: ${JSON.stringify(res.body)}`);
  await waitForRows(api, res.body.lifecycle_ids, { everyMs: 200 });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
