import fs from 'node:fs/promises';
import path from 'node:path';
import { startFreshPostgres } from '../support/global-setup';
import { TEST_DATA_DIR, acquireRunLock, recordService, releaseRunLock, stopRecordedServices } from '../support/started-services';
import { installTemporalServer, startTemporalCluster } from '../support/temporal-cluster';

/** PostgreSQL for test:cluster: clear of the main suite's 54339 and the benchmarks' 54349–54369. */
const CLUSTER_PG_PORT = 54379;
/** The Temporal server's first port (it takes 9 from there; see test/support/temporal-cluster.ts). */
const CLUSTER_TEMPORAL_PORT_BASE = 7400;

/**
 * `npm run test:cluster`: the real Temporal server (built once per machine by
 * scripts/setup-cluster.sh) with PostgreSQL persistence and visibility on one embedded
 * PostgreSQL, which also keeps the tests' decnet databases. Published through process.env as the
 * main suite's global setup does (TEST_DATABASE_ADMIN_URL, TEMPORAL_ADDRESS), plus
 * TEMPORAL_SERVER_DIR, the build's directory. The run lock is the main suite's: one jest run at a
 * time on this machine's ports and Docker engine.
 */
export default async function clusterGlobalSetup(): Promise<void> {
  await acquireRunLock();
  const started = Date.now();
  try {
    await stopRecordedServices();
    const build = await installTemporalServer();
    const adminUrl = await startFreshPostgres('cluster-pg', Number(process.env.TEST_CLUSTER_PG_PORT ?? CLUSTER_PG_PORT));
    const dataDir = path.join(TEST_DATA_DIR, 'cluster-temporal');
    await fs.rm(dataDir, { recursive: true, force: true });
    const temporal = await startTemporalCluster({ build, postgresAdminUrl: adminUrl, dataDir, portBase: CLUSTER_TEMPORAL_PORT_BASE });
    await recordService('temporal-server', temporal.pid);
    process.env.TEST_DATABASE_ADMIN_URL = adminUrl;
    process.env.TEMPORAL_ADDRESS = temporal.address;
    process.env.TEMPORAL_SERVER_DIR = build.dir;
  } catch (err) {
    await stopRecordedServices();
    await releaseRunLock();
    throw err;
  }
  process.stderr.write(`[cluster-setup] Temporal server (PostgreSQL persistence) ready in ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
}
