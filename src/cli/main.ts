#!/usr/bin/env node
/** The `decnet` command line. */
import { Command, Option } from 'commander';
import path from 'node:path';
import { loadConfig } from '../config';
import { DECNET_VERSION } from '../domain/version';
import { runProgram } from './run';
import { registerDeployCommand } from './commands/deploy';
import { registerStatusCommand } from './commands/status';
import { registerTeardownCommand } from './commands/teardown';
import { registerMutateCommand } from './commands/mutate';
import { registerHealCommand } from './commands/heal';
import { registerMutateIntervalCommand } from './commands/mutate-interval';
import { registerEnrollCommand } from './commands/enroll';
import { registerHostsCommand } from './commands/hosts';
import { registerSwarmDeployCommand } from './commands/swarm-deploy';
import { registerAgentCommand } from './commands/agent';
import { registerNetworkCommand } from './commands/network';
import { registerTokenCommands } from './commands/token';

// The server side (ORM, Temporal, embedded PostgreSQL) is loaded by the commands that run it, so
// the operator commands that only talk HTTP start quickly.
const serverSide = {
  logger: () => import('../logger'),
  orm: () => import('../db/orm'),
  tokens: () => import('../operations/tokens'),
  embeddedPostgres: () => import('../infra/embedded-postgres'),
  master: () => import('../master'),
  up: () => import('./up'),
};

const program = new Command('decnet')
  .description('Deploy and mutate honeypot deckies with durable Temporal workflows')
  .version(DECNET_VERSION, '--version', 'print the decnet version');
// Usage errors exit 2 (commander would exit 1): commander throws instead of exiting, main maps the code.
// Set before the subcommands are created: they inherit it.
program.exitOverride().showHelpAfterError('(run `decnet help <command>` for its usage)');

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
  const { startEmbeddedPostgres } = await serverSide.embeddedPostgres();
  return startEmbeddedPostgres({ dataDir: path.join(config.dataDir, 'pg'), port: config.pgPort });
}

program
  .command('up')
  .description('run everything: embedded PostgreSQL, Temporal dev server, migrations, worker and API')
  .action(async () => {
    const config = loadConfig();
    const [{ up }, { createLogger }] = await Promise.all([serverSide.up(), serverSide.logger()]);
    const logger = createLogger(config.logLevel);
    const running = await up(config, logger);
    untilSignal(running.stop);
    // A part that stayed down: exit non-zero so systemd or the container runtime restarts the
    // whole master. The stop is bounded, as the master may hang on the part that is gone.
    void running.gaveUp.then(async (reason) => {
      logger.fatal({ reason: reason.message }, 'giving up');
      console.error(`decnet up: ${reason.message}`);
      const bounded = new Promise((resolve) => setTimeout(resolve, 30_000));
      await Promise.race([running.stop().catch(() => undefined), bounded]);
      process.exit(1);
    });
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
      const [{ createLogger }, { startMaster }] = await Promise.all([serverSide.logger(), serverSide.master()]);
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
    const { openOrm, migrate } = await serverSide.orm();
    const db = await databaseUrlFor();
    const orm = await openOrm(db.url);
    await migrate(orm);
    await orm.close(true);
    await db.stop();
    console.log('migrations applied');
  });

const token = program.command('token').description('API tokens');
token
  .command('create')
  .description('create an API token and print it once')
  .requiredOption('--name <name>', 'who or what the token is for')
  .addOption(new Option('--role <role>', 'admin may change things, viewer may read').choices(['admin', 'viewer']).default('viewer'))
  .action(async (opts: { name: string; role: 'admin' | 'viewer' }) => {
    const [{ openOrm, migrate }, { createApiToken }] = await Promise.all([serverSide.orm(), serverSide.tokens()]);
    const db = await databaseUrlFor();
    const orm = await openOrm(db.url);
    await migrate(orm);
    const secret = await createApiToken(orm.em.fork(), opts.name, opts.role);
    await orm.close(true);
    await db.stop();
    console.log(secret);
  });
registerTokenCommands(token);

// The operator commands: HTTP to the API (DECNET_API_URL, DECNET_API_TOKEN or ~/.config/decnet/cli.json).
registerDeployCommand(program);
registerStatusCommand(program);
registerTeardownCommand(program);
registerMutateCommand(program);
registerHealCommand(program);
registerMutateIntervalCommand(program);
registerEnrollCommand(program);
registerHostsCommand(program);
registerSwarmDeployCommand(program);
registerNetworkCommand(program);
// The swarm agent (its server side is imported when it runs).
registerAgentCommand(program);

runProgram(program);
