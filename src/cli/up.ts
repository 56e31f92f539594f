/**
 * `decnet up`: embedded PostgreSQL and the Temporal dev server (each unless an external one is
 * configured), then the master. A second `up` after a crash reuses parts that are still running.
 */
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { Config } from '../config';
import type { Logger } from 'pino';
import { startEmbeddedPostgres } from '../infra/embedded-postgres';
import { findTemporalCli, startTemporalDevServer } from '../infra/temporal-cli';
import { startMaster, type RunningMaster } from '../master';

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
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
    temporalAddress = `127.0.0.1:${config.temporalPort}`;
    if (await portAnswers(config.temporalPort)) {
      // Left running by a master that was killed: its SQLite file is ours, so reuse it.
      logger.warn({ address: temporalAddress }, 'a Temporal dev server already answers; reusing it');
    } else {
      const server = await startTemporalDevServer({
        cliPath: findTemporalCli(),
        dbFile: path.join(config.dataDir, 'temporal.db'),
        port: config.temporalPort,
        uiPort: config.temporalUiPort,
        logFile: path.join(config.dataDir, 'temporal.log'),
      });
      stops.push(server.stop);
      logger.info({ address: temporalAddress, ui: config.temporalUiUrl }, 'Temporal dev server ready');
    }
  }

  const master = await startMaster({ config, databaseUrl, temporalAddress, logger });
  if (master.adminToken) {
    // Printed once, on the first start only: it is stored hashed.
    process.stdout.write(`\nAdmin API token (shown once): ${master.adminToken}\n\n`);
  }
  process.stdout.write(`decnet is up: wizard and API on ${master.apiUrl}/ , Temporal Web UI on ${config.temporalUiUrl}/\n`);
  return {
    master,
    async stop() {
      await master.stop();
      for (const stop of stops.reverse()) await stop();
    },
  };
}
