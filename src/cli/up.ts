/**
 * `decnet up`: embedded PostgreSQL and the Temporal dev server (each unless an external one is
 * configured), then the master. It supervises the parts it started: one that exits is started
 * again; one that cannot be brought back within DECNET_EMBEDDED_RESTART_LIMIT_MS ends `up`.
 * A second `up` after a crash reuses parts that are still running.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config';
import type { Logger } from 'pino';
import { startEmbeddedPostgres } from '../infra/embedded-postgres';
import { findTemporalCli, startTemporalDevServer } from '../infra/temporal-cli';
import { isProcessAlive, readUpPids, terminatePid, writeUpPids, type UpPids } from '../infra/pid';
import { supervise, type SupervisedServer, type Supervision } from '../infra/supervisor';
import { embeddedRestarts } from '../metrics';
import { startMaster, type RunningMaster } from '../master';

export interface RunningUp {
  master: RunningMaster;
  /** Settles with the reason when an embedded part stayed down past the limit. */
  gaveUp: Promise<Error>;
  stop(): Promise<void>;
}

/**
 * A dev server orphaned by a SIGKILLed `up` still holds our ports and SQLite file: stop it (by
 * the pid we recorded, and only if it is still that server) so this start owns a fresh one.
 */
async function stopOrphanedDevServer(dataDir: string, dbFile: string, logger: Logger): Promise<void> {
  const pid = (await readUpPids(dataDir))?.temporal;
  if (!pid || !isProcessAlive(pid)) return;
  const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!cmdline.includes('start-dev') || !cmdline.includes(dbFile)) return;
  logger.warn({ pid }, 'stopping the Temporal dev server left by an earlier run');
  await terminatePid(pid, 'SIGTERM', 10_000);
}

export async function up(config: Config, logger: Logger): Promise<RunningUp> {
  // It holds the swarm CA key, the database and its password: the owner's alone.
  await fs.mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  await fs.chmod(config.dataDir, 0o700);
  const pids: UpPids = { master: process.pid };
  const supervisions: Supervision[] = [];
  const superviseEmbedded = <S extends SupervisedServer>(component: 'postgres' | 'temporal', first: S, restart: () => Promise<S>): void => {
    pids[component] = first.pid;
    supervisions.push(
      supervise(first, {
        component,
        restart,
        giveUpAfterMs: config.embeddedRestartLimitMs,
        logger,
        async onRestarted(server) {
          embeddedRestarts.labels(component).inc();
          pids[component] = server.pid;
          await writeUpPids(config.dataDir, pids);
        },
      }),
    );
  };

  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    const startPostgres = () =>
      startEmbeddedPostgres({
        dataDir: path.join(config.dataDir, 'pg'),
        port: config.pgPort,
        logFile: path.join(config.dataDir, 'postgres.log'),
      });
    const pg = await startPostgres();
    databaseUrl = pg.url;
    superviseEmbedded('postgres', pg, startPostgres);
    logger.info({ port: config.pgPort }, 'embedded PostgreSQL ready');
  }

  let temporalAddress = config.temporalAddress;
  if (!temporalAddress) {
    const dbFile = path.join(config.dataDir, 'temporal.db');
    await stopOrphanedDevServer(config.dataDir, dbFile, logger);
    // The SQLite file persists workflows, so a restarted master resumes what was in flight.
    const startDevServer = () =>
      startTemporalDevServer({
        cliPath: findTemporalCli(),
        dbFile,
        port: config.temporalPort,
        uiPort: config.temporalUiPort,
        logFile: path.join(config.dataDir, 'temporal.log'),
      });
    const server = await startDevServer();
    temporalAddress = server.address;
    superviseEmbedded('temporal', server, startDevServer);
    logger.info({ address: temporalAddress, ui: config.temporalUiUrl }, 'Temporal dev server ready');
  }
  await writeUpPids(config.dataDir, pids);

  const master = await startMaster({ config, databaseUrl, temporalAddress, logger });
  if (master.adminToken) {
    // Printed once, on the first start only: it is stored hashed.
    process.stdout.write(`\nAdmin API token (shown once): ${master.adminToken}\n\n`);
  }
  process.stdout.write(`decnet is up: API on ${master.apiUrl}/api/v1 , Temporal Web UI on ${config.temporalUiUrl}/\n`);
  return {
    master,
    // No supervision never gives up.
    gaveUp: Promise.race(supervisions.map((s) => s.gaveUp)),
    async stop() {
      await master.stop();
      for (const supervision of supervisions.reverse()) await supervision.stop();
    },
  };
}
