/**
 * bench/deploy-local: figures for the local deploy path (not a test; prints, asserts nothing).
 *  - time to 202 for 1, 10 and 50 deckies;
 *  - wall time from POST to all rows terminal for 10 deckies, next to one plain
 *    `docker compose up -d` of the same rendered deckies on the same engine;
 *  - p50/p99 of GET /deckies/lifecycle while those 10 deploy.
 * Starts its own PostgreSQL and Temporal dev server under .bench-data; sends traffic only to
 * loopback and to the containers it creates on a veth pair it makes.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import Docker from 'dockerode';
import { parse, stringify } from 'yaml';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/logger';
import { startMaster } from '../src/master';
import { loadCatalogue } from '../src/domain/catalog';
import { renderComposeYaml, LABELS } from '../src/domain/compose-render';
import { ComposeRuntime } from '../src/compose/runtime';
import { composeCommand, run } from '../src/compose/command';
import { DeploymentSettings } from '../src/entities';
import type { DeckySpec } from '../src/domain/schemas';
import { buildFixtureImages } from '../test/support/fixture-images';
import { createVethParent, deleteVethParent } from '../test/support/veth';
import { BENCH_REGISTRY, BENCH_TAG, benchDataDir, startBenchServices } from './support';
import { apiClient, waitForTerminal, type ApiClient } from '../test/support/http';

const DATA = benchDataDir('.bench-data');
const REGISTRY = BENCH_REGISTRY;
const TAG = BENCH_TAG;
const PARENT = 'dnvbench';
/** macvlan allows one network per parent: the plain compose run gets its own. */
const PLAIN_PARENT = 'dnvplain';
const PREFIX = '198.18.240';

const ms = (n: number) => `${n.toFixed(0)} ms`;
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main() {
  const { pg, temporal } = await startBenchServices(DATA, { pg: 54349, temporal: 7255, temporalUi: 8255 });
  const catalogue = loadCatalogue({ registry: REGISTRY, tag: TAG });
  await buildFixtureImages({ registry: REGISTRY, tag: TAG, services: [...catalogue.services.keys()] });
  await createVethParent(PARENT);
  await createVethParent(PLAIN_PARENT);
  const config = loadConfig({
    DECNET_DATA_DIR: path.join(DATA, 'decnet'),
    DECNET_IMAGE_REGISTRY: REGISTRY,
    DECNET_IMAGE_TAG: TAG,
    DECNET_COMPOSE_PROJECT: 'bench',
    DECNET_ADMIN_TOKEN: 'bench-admin',
    DECNET_API_PORT: '18090',
    DECNET_SWARM_HOST: '127.0.0.1',
    DECNET_SWARM_PORT: '18091',
    DECNET_LOG_LEVEL: 'warn',
  });
  const master = await startMaster({ config, databaseUrl: pg.url, temporalAddress: temporal.address, logger: createLogger('warn', 'bench') });
  await master.orm.em.fork().nativeUpdate(DeploymentSettings, { id: 1 }, { deploymentLimit: 100 });
  const api = apiClient(`${master.apiUrl}/api/v1`, 'bench-admin');
  const network = { subnet: `${PREFIX}.0/24`, gateway: `${PREFIX}.1`, interface: PARENT };
  const docker = new Docker();

  try {
    console.log('decnet-deployer bench/deploy-local');
    console.log(`machine: ${(await import('node:os')).cpus().length} cores; compose: ${(await composeCommand()).join(' ')}`);

    // 1. Time to 202.
    for (const count of [1, 10, 50]) {
      const started = performance.now();
      const res = await api.post('/deckies/deploy', { network, deckies: [{ name: `t${count}`, amount: count, services: ['ssh'] }] });
      const elapsed = performance.now() - started;
      if (res.status !== 202) throw new Error(`deploy answered ${res.status}: ${JSON.stringify(res.body)}`);
      console.log(`time to 202 for ${String(count).padStart(2)} decky(ies): ${ms(elapsed)}`);
      await waitForTerminal(api, res.body.lifecycle_ids, 900_000);
      await teardownAll(api);
    }

    // 2 + 3. Ten deckies, POST to all terminal, with lifecycle polls running meanwhile.
    const deckies = [{ name: 'w', amount: 10, services: ['ssh', 'http'] }];
    const started = performance.now();
    const res = await api.post('/deckies/deploy', { network, deckies });
    const ids: string[] = res.body.lifecycle_ids;
    const latencies: number[] = [];
    let polling = true;
    const pollers = Array.from({ length: 4 }, async () => {
      while (polling) {
        const t = performance.now();
        const r = await api.get(`/deckies/lifecycle?ids=${ids.join(',')}`);
        latencies.push(performance.now() - t);
        if (r.status !== 200) throw new Error(`poll answered ${r.status}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    });
    const rows = await waitForTerminal(api, ids, 900_000);
    const wall = performance.now() - started;
    polling = false;
    await Promise.all(pollers);
    const ok = rows.filter((r) => r.status === 'succeeded').length;
    console.log(`10 deckies (ssh+http), POST to all rows terminal: ${ms(wall)} (${ok}/10 succeeded)`);
    console.log(`GET /deckies/lifecycle during that deploy: p50 ${ms(percentile(latencies, 50))}, p99 ${ms(percentile(latencies, 99))} over ${latencies.length} requests`);
    const specs = (await api.get('/deckies')).body.deckies;
    await teardownAll(api);

    // The same ten deckies as one plain compose file, on their own project and network.
    const plain = await plainComposeUp(docker, specs, catalogue);
    console.log(`one plain \`${(await composeCommand()).join(' ')} up -d\` of the same 10 deckies: ${ms(plain)}`);
  } finally {
    await master.stop();
    await temporal.stop();
    await pg.stop();
    for (const project of ['bench', 'benchplain']) {
      const left = await docker.listContainers({ all: true, filters: { label: [`${LABELS.project}=${project}`] } });
      for (const c of left) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
      await docker.getNetwork(`${project}_lan`).remove().catch(() => undefined);
    }
    await deleteVethParent(PARENT);
    await deleteVethParent(PLAIN_PARENT);
  }
}

async function teardownAll(api: ApiClient) {
  const fleet = (await api.get('/deckies')).body.deckies as { name: string }[];
  const ids = (await Promise.all(fleet.map((d) => api.delete(`/deckies/${d.name}`)))).flatMap((r) => r.body.lifecycle_ids);
  if (ids.length) await waitForTerminal(api, ids, 900_000);
}

/** Merge the per-decky files the product renders into one file, and time one `up -d` of it. */
async function plainComposeUp(docker: Docker, specs: DeckySpec[], catalogue: ReturnType<typeof loadCatalogue>): Promise<number> {
  const runtime = new ComposeRuntime({ docker, project: 'benchplain', workDir: path.join(DATA, 'plain'), catalogue });
  await runtime.ensureLanNetwork({ driver: 'macvlan', parent: PLAIN_PARENT, subnet: `198.18.241.0/24`, gateway: '198.18.241.1' });
  const merged = { version: '2.4', services: {} as Record<string, unknown>, networks: {} as Record<string, unknown> };
  specs.forEach((spec, i) => {
    const file = parse(renderComposeYaml({ ...spec, ip: `198.18.241.${10 + i}` }, { project: 'benchplain', catalogue })) as typeof merged;
    Object.assign(merged.services, file.services);
    Object.assign(merged.networks, file.networks);
  });
  const file = path.join(DATA, 'plain', 'fleet.yml');
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, stringify(merged));
  const started = performance.now();
  const result = await run([...(await composeCommand()), '-p', 'benchplain', '-f', file, 'up', '-d']);
  const elapsed = performance.now() - started;
  if (result.code !== 0) throw new Error(result.stderr);
  await run([...(await composeCommand()), '-p', 'benchplain', '-f', file, 'down', '--timeout', '1']);
  return elapsed;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
