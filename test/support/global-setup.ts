import fs from 'node:fs/promises';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { parse } from 'yaml';
import { startEmbeddedPostgres } from '../../src/infra/embedded-postgres';
import { findTemporalCli, registerSearchAttributes, startTemporalDevServer } from '../../src/infra/temporal-cli';
import { SEARCH_ATTRIBUTE_KINDS } from '../../src/domain/workflow-ids';
import { buildFixtureImages } from './fixture-images';
import { TEST_DATA_DIR, acquireRunLock, recordService, releaseRunLock, stopRecordedServices } from './started-services';

const REPO_ROOT = path.resolve(__dirname, '../..');

/**
 * Starts the one PostgreSQL and the one Temporal dev server that every test file shares, builds
 * the fixture images, and publishes all of it through process.env, which jest workers inherit.
 * DATABASE_URL / TEMPORAL_ADDRESS given from outside replace the embedded parts.
 */
export default async function globalSetup(): Promise<void> {
  await acquireRunLock();
  const started = Date.now();
  try {
    await stopRecordedServices(); // whatever a run killed before its teardown left running
    await setUpPostgres();
    await setUpTemporal();
    await setUpImages();
  } catch (err) {
    await stopRecordedServices();
    await releaseRunLock();
    throw err;
  }
  process.stderr.write(`[global-setup] PostgreSQL, Temporal and fixture images ready in ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
}

async function setUpPostgres(): Promise<void> {
  if (process.env.DATABASE_URL) {
    process.env.TEST_DATABASE_ADMIN_URL = process.env.DATABASE_URL;
    return;
  }
  process.env.TEST_DATABASE_ADMIN_URL = await startFreshPostgres('pg', Number(process.env.TEST_PG_PORT ?? 54339));
}

/**
 * An embedded PostgreSQL on a fresh cluster under .test-data/<name> (initdb takes about a second,
 * and a test's database never holds rows from an earlier run), recorded for teardown. Returns the
 * superuser's URL of its `postgres` database.
 */
export async function startFreshPostgres(name: string, port: number): Promise<string> {
  const dataDir = path.join(TEST_DATA_DIR, name);
  await fs.rm(dataDir, { recursive: true, force: true });
  const pg = await startEmbeddedPostgres({ dataDir, port, logFile: path.join(TEST_DATA_DIR, `${name === 'pg' ? 'postgres' : name}.log`) });
  await recordService('postgres', pg.pid);
  const adminUrl = new URL(pg.url);
  adminUrl.pathname = '/postgres';
  return adminUrl.toString();
}

async function setUpTemporal(): Promise<void> {
  const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';
  if (process.env.TEMPORAL_ADDRESS) {
    // Tests that spawn `decnet up` may still want the CLI; an external server does not need it.
    try {
      process.env.TEMPORAL_CLI_PATH = findTemporalCli();
    } catch {
      // no CLI: fine with an external server
    }
  } else {
    const cliPath = findTemporalCli();
    process.env.TEMPORAL_CLI_PATH = cliPath;
    // A fresh history each run, like the database.
    const dbFile = path.join(TEST_DATA_DIR, 'temporal.sqlite');
    for (const file of [dbFile, `${dbFile}-wal`, `${dbFile}-shm`]) await fs.rm(file, { force: true });
    const temporal = await startTemporalDevServer({
      cliPath,
      dbFile,
      port: 7244,
      uiPort: 8244,
      namespace,
      logFile: path.join(TEST_DATA_DIR, 'temporal.log'),
    });
    await recordService('temporal', temporal.pid);
    process.env.TEMPORAL_ADDRESS = temporal.address;
  }
  const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS });
  try {
    await registerSearchAttributes(connection, namespace, SEARCH_ATTRIBUTE_KINDS);
  } finally {
    await connection.close();
  }
}

async function setUpImages(): Promise<void> {
  const registry = (process.env.TEST_IMAGE_REGISTRY ??= 'decnet-test');
  const tag = (process.env.TEST_IMAGE_TAG ??= 'fixture');
  await buildFixtureImages({ registry, tag, services: await catalogServiceNames() });
}

async function catalogServiceNames(): Promise<string[]> {
  const file = path.join(REPO_ROOT, 'catalog', 'services.yaml');
  const catalog = parse(await fs.readFile(file, 'utf8')) as { services?: Array<{ name?: unknown }> } | null;
  const names = (catalog?.services ?? []).map((service) => service.name);
  if (names.length === 0 || !names.every((name): name is string => typeof name === 'string')) {
    throw new Error(`${file}: expected a top-level \`services:\` list of entries with a \`name\``);
  }
  return names;
}
