/** What every benchmark starts from: a fresh data directory with its own PostgreSQL and Temporal dev server. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { startEmbeddedPostgres } from '../src/infra/embedded-postgres';
import { findTemporalCli, startTemporalDevServer } from '../src/infra/temporal-cli';

/** The benchmarks' own fixture images (never the tests'). */
export const BENCH_REGISTRY = 'decnet-bench';
export const BENCH_TAG = 'fixture';

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
