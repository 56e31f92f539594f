#!/usr/bin/env node
/** The `decnet` command line. */
import { Command, Option } from 'commander';
import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { openOrm, migrate } from '../db/orm';
import { createApiToken } from '../operations/tokens';
import { startEmbeddedPostgres } from '../infra/embedded-postgres';
import { startMaster } from '../master';
import { up } from './up';
import path from 'node:path';

const program = new Command('decnet').description('Deploy and mutate honeypot deckies with durable Temporal workflows');

/** Keep running until SIGINT/SIGTERM, then stop cleanly. */
function untilSignal(stop: () => Promise<void>) {
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      stop().then(
        () => process.exit(0),
        (err) => {
          console.error(err);
          process.exit(1);
        },
      );
    });
  }
}

async function databaseUrlFor(config = loadConfig()) {
  if (config.databaseUrl) return { url: config.databaseUrl, stop: async () => undefined };
  return startEmbeddedPostgres({ dataDir: path.join(config.dataDir, 'pg'), port: config.pgPort });
}

program
  .command('up')
  .description('run everything: embedded PostgreSQL, Temporal dev server, migrations, worker and API')
  .action(async () => {
    const config = loadConfig();
    const running = await up(config, createLogger(config.logLevel));
    untilSignal(running.stop);
  });

for (const [name, description, runApi, runWorker] of [
  ['api', 'run the API only (TEMPORAL_ADDRESS and DATABASE_URL or the embedded PostgreSQL)', true, false],
  ['worker', 'run the Temporal worker only', false, true],
] as const) {
  program
    .command(name)
    .description(description)
    .action(async () => {
      const config = loadConfig();
      const logger = createLogger(config.logLevel);
      const db = await databaseUrlFor(config);
      const master = await startMaster({
        config,
        databaseUrl: db.url,
        temporalAddress: config.temporalAddress ?? `127.0.0.1:${config.temporalPort}`,
        logger,
        runApi,
        runWorker,
      });
      untilSignal(async () => {
        await master.stop();
        await db.stop();
      });
    });
}

program
  .command('migrate')
  .description('apply the database migrations')
  .action(async () => {
    const db = await databaseUrlFor();
    const orm = await openOrm(db.url);
    await migrate(orm);
    await orm.close(true);
    await db.stop();
    console.log('migrations applied');
  });

program
  .command('token')
  .description('API tokens')
  .command('create')
  .description('create an API token and print it once')
  .requiredOption('--name <name>', 'who or what the token is for')
  .addOption(new Option('--role <role>', 'admin may change things, viewer may read').choices(['admin', 'viewer']).default('viewer'))
  .action(async (opts: { name: string; role: 'admin' | 'viewer' }) => {
    const db = await databaseUrlFor();
    const orm = await openOrm(db.url);
    await migrate(orm);
    const token = await createApiToken(orm.em.fork(), opts.name, opts.role);
    await orm.close(true);
    await db.stop();
    console.log(token);
  });

program.parseAsync(process.argv).catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
