/**
 * `decnet up`: embedded PostgreSQL and the Temporal dev server (each unless an external one is
 * configured), then the master. A second `up` after a crash reuses parts that are still running.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config';
import type { Logger } from 'pino';
import { startEmbeddedPostgres } from '../infra/embedded-postgres';
import { findTemporalCli, startTemporalDevServer } from '../infra/temporal-cli';
import { isProcessAlive, terminatePid } from '../infra/pid';
import { startMaster, type RunningMaster } from '../master';

/**
 * A dev server orphaned by a SIGKILLed `up` still holds our ports and SQLite file: stop it (by
 * the pid we recorded, and only if it is still that server) so this start owns a fresh one.
 */
async function stopOrphanedDevServer(pidFile: string, dbFile: string, logger: Logger): Promise<void> {
  const pid = Number(await fs.readFile(pidFile, 'utf8').catch(() => ''));
  if (!pid || !isProcessAlive(pid)) return;
  const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!cmdline.includes('start-dev') || !cmdline.includes(dbFile)) return;
  logger.warn({ pid }, 'stopping the Temporal dev server left by an earlier run');
  await terminatePid(pid, 'SIGTERM', 10_000);
}

export async function up(config: Config, logger: Logger): Promise<{ master: RunningMaster; stop(): Promise<void> }> {
  await fs.mkdir(config.dataDir, { recursive: true });
  const stops: Array<() => Promise<void>> = [];

  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    const pg = await startEmbeddedPostgres({ dataDir: path.join(config.dataDir, 'pg'), port: config.pgPort });
    databaseUrl = pg.url;
    stops.push(pg.stop);
    logger.info({ port: config.pgPort }, 'embedded PostgreSQL ready');
  }

  let temporalAddress = config.temporalAddress;
  if (!temporalAddress) {
    const dbFile = path.join(config.dataDir, 'temporal.db');
    const pidFile = path.join(config.dataDir, 'temporal.pid');
    await stopOrphanedDevServer(pidFile, dbFile, logger);
    // The SQLite file persists workflows, so a restarted master resumes what was in flight.
    const server = await startTemporalDevServer({
      cliPath: findTemporalCli(),
      dbFile,
      port: config.temporalPort,
      uiPort: config.temporalUiPort,
      logFile: path.join(config.dataDir, 'temporal.log'),
    });
    await fs.writeFile(pidFile, String(server.pid));
    temporalAddress = server.address;
    stops.push(server.stop);
    logger.info({ address: temporalAddress, ui: config.temporalUiUrl }, 'Temporal dev server ready');
  }

  const master = await startMaster({ config, databaseUrl, temporalAddress, logger });
  if (master.adminToken) {
    // Printed once, on the first start only: it is stored hashed.
    process.stdout.write(`\nAdmin API token (shown once): ${master.adminToken}\n\n`);
  }
  process.stdout.write(`decnet is up: API on ${master.apiUrl}/api/v1 , Temporal Web UI on ${config.temporalUiUrl}/\n`);
  return {
    master,
    async stop() {
      await master.stop();
      for (const stop of stops.reverse()) await stop();
    },
  };
}
