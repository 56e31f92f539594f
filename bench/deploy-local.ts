/**
 * bench/deploy-local: the local deploy path's figures against their targets (not a test; it
 * prints a table and asserts nothing). The master is a `decnet up` process of its own, on the
 * benchmark's PostgreSQL and dev server, and every figure is taken from outside it:
 *  - time to 202 for 1, 10, 50 and 500 deckies (the deployment limit's maximum), p50 of 5 runs;
 *  - the control plane alone: 150 deckies whose service image is missing, so each row ends at
 *    the image check (one Docker API call), POST → all rows terminal, in rows/s;
 *  - 10 and 50 real deckies (ssh+http), POST → all rows terminal, next to one plain
 *    `compose up -d` of the same deckies in the same run;
 *  - GET /deckies/lifecycle latency, polled by a separate process during a 100-decky deploy.
 * Parts may be named on the command line (202, control-plane, compose, lifecycle) to run only those.
 * Between the control-plane runs the benchmark deletes their failed deckies in PostgreSQL: they
 * own no container and no schedule, and tearing 500 down through the API would cost more than
 * what is measured. Sends traffic only to loopback and to the containers it creates on veth
 * pairs it makes.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import Docker from 'dockerode';
import { parse, stringify } from 'yaml';
import { loadCatalogue } from '../src/domain/catalog';
import { renderComposeYaml } from '../src/domain/compose-render';
import { ComposeRuntime } from '../src/compose/runtime';
import { composeCommand, run } from '../src/compose/command';
import { openOrm } from '../src/db/orm';
import { Decky, DeckyLifecycle, DeploymentSettings } from '../src/entities';
import type { DeckySpec } from '../src/domain/schemas';
import { createVethParent, deleteVethParent } from '../test/support/veth';
import { removeComposeProject } from '../test/support/agents';
import type { ApiClient } from '../test/support/http';
import {
  BENCH_REGISTRY,
  BENCH_TAG,
  BENCH_TOKEN,
  benchDataDir,
  buildFixturesButImageless,
  cpuSecondsOfTrees,
  cpuSpent,
  imageless,
  masterGauges,
  median,
  ms,
  percentile,
  postDeploy,
  printTable,
  secs,
  spawnBenchMaster,
  startBenchServices,
  stepBreakdown,
  waitForRows,
  type Figure,
} from './support';

const DATA = benchDataDir('.bench-data');
const PROJECT = 'bench';
const PARENT = 'dnvbench';
/** macvlan allows one network per parent: the plain compose run gets its own. */
const PLAIN_PARENT = 'dnvplain';
/** A /16 of the benchmarking range: room for the largest fleet. */
const NETWORK = { subnet: '198.19.0.0/16', gateway: '198.19.0.1', interface: PARENT };
const RUNS = 5;
/** The parts of the benchmark, in order; `npm run bench:deploy-local -- lifecycle` runs only those named. */
const PARTS = ['202', 'control-plane', 'compose', 'lifecycle'] as const;
const asked = process.argv.slice(2);
const unknownPart = asked.find((a) => !(PARTS as readonly string[]).includes(a));
if (unknownPart) throw new Error(`unknown part "${unknownPart}"; the parts are ${PARTS.join(', ')}`);
const runs = (part: (typeof PARTS)[number]) => asked.length === 0 || asked.includes(part);

async function main() {
  const { pg, temporal } = await startBenchServices(DATA, { pg: 54349, temporal: 7255, temporalUi: 8255 });
  const catalogue = loadCatalogue({ registry: BENCH_REGISTRY, tag: BENCH_TAG });
  await buildFixturesButImageless(catalogue);
  const docker = new Docker();
  await createVethParent(PARENT);
  await createVethParent(PLAIN_PARENT);
  const master = await spawnBenchMaster({
    dataDir: DATA,
    databaseUrl: pg.url,
    temporalAddress: temporal.address,
    project: PROJECT,
    apiPort: 18090,
    swarmPort: 18091,
    enrollPort: 18096,
  });
  const orm = await openOrm(pg.url);
  const { api } = master;
  const figures: Figure[] = [];

  try {
    // The most the product admits (architecture.md §3: deployment_limit 1–500).
    await orm.em.fork().nativeUpdate(DeploymentSettings, { id: 1 }, { deploymentLimit: 500 });
    const compose = (await composeCommand()).join(' ');
    console.log(
      `decnet-deployer bench/deploy-local — ${os.cpus().length} cores (${os.cpus()[0].model}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GB; ${compose}`,
    );

    // 1. Time to 202, control-plane deckies, each size RUNS times.
    if (runs('202')) {
      for (const count of [1, 10, 50, 500]) {
        const times: number[] = [];
        for (let run = 0; run < RUNS; run++) {
          const { elapsed, ids } = await post(api, imageless(`s${count}r${run}`, count));
          times.push(elapsed);
          await waitForRows(api, ids);
          await forgetControlPlaneDeckies(orm);
        }
        // 500 is the largest fleet the deployment limit allows; the target is that of 1,000 deckies.
        const target = count === 50 ? '≤ 150 ms' : count === 500 ? '≤ 1,000 ms (for 1,000)' : '—';
        figures.push({
          figure: `time to 202, ${count} decky(ies), p50 of ${RUNS}`,
          target,
          measured: `${ms(median(times))} (${times.map((t) => t.toFixed(0)).join(', ')})`,
        });
        progress(figures);
      }
    }

    // 2. The control plane alone.
    if (runs('control-plane')) {
      const rates: number[] = [];
      const trees = { master: master.proc.child.pid!, 'dev server': temporal.pid, PostgreSQL: pg.pid, 'this benchmark': process.pid };
      for (let run = 0; run < 3; run++) {
        const cpuBefore = cpuSecondsOfTrees(trees);
        const started = performance.now();
        const { ids } = await post(api, imageless(`cp${run}`, 150));
        const rows = await waitForRows(api, ids);
        const wall = performance.now() - started;
        process.stderr.write(
          `    run ${run + 1}: ${secs(wall)}; ${stepBreakdown(rows)}; CPU used meanwhile: ${cpuSpent(cpuBefore, cpuSecondsOfTrees(trees))}\n`,
        );
        const atCheck = rows.filter((r) => r.status === 'failed' && /not on the Docker engine/.test(r.error ?? '')).length;
        if (atCheck !== 150) throw new Error(`only ${atCheck}/150 rows ended at the image check`);
        rates.push(150 / (wall / 1000));
        await forgetControlPlaneDeckies(orm);
      }
      figures.push({
        figure: 'local control plane, 150 image-less deckies, POST → all terminal (median of 3)',
        target: '≥ 50 rows/s',
        measured: `${median(rates).toFixed(1)} rows/s (${rates.map((r) => r.toFixed(1)).join(', ')})`,
      });
      progress(figures);
    }

    // 3. Real deckies next to plain compose.
    if (runs('compose')) {
      for (const count of [10, 50]) {
        const started = performance.now();
        const { ids } = await post(api, [{ name: `w${count}`, amount: count, services: ['ssh', 'http'] }]);
        const rows = await waitForRows(api, ids);
        const wall = performance.now() - started;
        const ok = rows.filter((r) => r.status === 'succeeded').length;
        const specs = ((await api.get('/deckies')).body.deckies as DeckySpec[]).filter((d) => d.name.startsWith(`w${count}-`));
        await teardownAll(api);
        const plain = await plainComposeUp(specs, catalogue);
        figures.push({
          figure: `${count} deckies (ssh+http), POST → all terminal vs one plain \`compose up -d\``,
          target: '≤ 1.2×',
          measured: `${secs(wall)} vs ${secs(plain)} (${ok}/${count} succeeded)`,
          ratio: `${(wall / plain).toFixed(2)}×`,
        });
        progress(figures);
      }
    }

    // 4. Lifecycle polls from another process while 100 deckies deploy.
    if (runs('lifecycle')) {
      const lag = ['nodejs_eventloop_lag_p50_seconds', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_eventloop_lag_max_seconds'];
      await masterGauges(master.apiBase, lag);
      const { ids } = await post(api, [{ name: 'p', amount: 100, services: ['ssh'] }]);
      const poller = spawn(
        process.execPath,
        ['--import', 'tsx', path.join(__dirname, 'lifecycle-poller.ts'), master.apiBase, BENCH_TOKEN, ids.slice(0, 100).join(',')],
        {
          stdio: ['pipe', 'pipe', 'inherit'],
        },
      );
      let out = '';
      poller.stdout.on('data', (chunk) => (out += chunk));
      const pollerExited = new Promise((resolve) => poller.once('exit', resolve));
      const rows = await waitForRows(api, ids, { everyMs: 500 });
      poller.stdin.end();
      await pollerExited;
      const latencies = JSON.parse(out) as number[];
      const delay = await masterGauges(master.apiBase, lag);
      figures.push({
        figure: `GET /deckies/lifecycle (100 ids) from a separate process during a 100-decky deploy, ${latencies.length} requests`,
        target: 'p99 ≤ 20 ms',
        measured: `p50 ${latencies.length ? ms(percentile(latencies, 50)) : '—'}, p99 ${latencies.length ? ms(percentile(latencies, 99)) : '—'} (${rows.filter((r) => r.status === 'succeeded').length}/100 succeeded)`,
      });
      figures.push({
        figure: "the master's event-loop delay meanwhile (its /metrics), p50 / p99 / max",
        target: '—',
        measured: lag.map((name) => ms(delay[name] * 1000)).join(' / '),
      });
      await teardownAll(api);
    }

    printTable('bench/deploy-local', figures);
  } finally {
    await orm.close();
    await master.stop();
    await temporal.stop();
    await pg.stop();
    for (const project of [PROJECT, 'benchplain']) await removeComposeProject(docker, project);
    await deleteVethParent(PARENT);
    await deleteVethParent(PLAIN_PARENT);
  }
}

/** The newest figure on stderr as soon as it is measured: a full run takes several minutes. */
function progress(figures: Figure[]): void {
  const f = figures[figures.length - 1];
  process.stderr.write(`  ${f.figure}: ${f.measured}\n`);
}

const post = (api: ApiClient, deckies: unknown[]) => postDeploy(api, NETWORK, deckies);

/** The control-plane runs' deckies failed at the image check: no container, no schedule, only rows. */
async function forgetControlPlaneDeckies(orm: Awaited<ReturnType<typeof openOrm>>): Promise<void> {
  const em = orm.em.fork();
  const failed = await em.find(Decky, { state: 'failed' }, { fields: ['name'] });
  const names = failed.map((d) => d.name);
  await em.nativeDelete(DeckyLifecycle, { deckyName: { $in: names } });
  await em.nativeDelete(Decky, { name: { $in: names } });
}

async function teardownAll(api: ApiClient) {
  const fleet = (await api.get('/deckies')).body.deckies as { name: string }[];
  const ids = (await Promise.all(fleet.map((d) => api.delete(`/deckies/${d.name}`)))).flatMap((r) => r.body.lifecycle_ids as string[]);
  if (ids.length) await waitForRows(api, ids, { everyMs: 500 });
}

/** Merge the per-decky files the product renders into one file, and time one `up -d` of it. */
async function plainComposeUp(specs: DeckySpec[], catalogue: ReturnType<typeof loadCatalogue>): Promise<number> {
  const dir = path.join(DATA, 'plain');
  const runtime = new ComposeRuntime({ docker: new Docker(), project: 'benchplain', workDir: dir, catalogue });
  await runtime.ensureLanNetwork({ driver: 'macvlan', parent: PLAIN_PARENT, subnet: '198.18.241.0/24', gateway: '198.18.241.1' });
  const merged = { version: '2.4', services: {} as Record<string, unknown>, networks: {} as Record<string, unknown> };
  specs.forEach((spec, i) => {
    const file = parse(renderComposeYaml({ ...spec, ip: `198.18.241.${10 + i}` }, { project: 'benchplain', catalogue })) as typeof merged;
    Object.assign(merged.services, file.services);
    Object.assign(merged.networks, file.networks);
  });
  const file = path.join(dir, 'fleet.yml');
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(file, stringify(merged));
  const compose = await composeCommand();
  const started = performance.now();
  const result = await run([...compose, '-p', 'benchplain', '-f', file, 'up', '-d']);
  const elapsed = performance.now() - started;
  if (result.code !== 0) throw new Error(result.stderr);
  await run([...compose, '-p', 'benchplain', '-f', file, 'down', '--timeout', '1']);
  return elapsed;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
