/**
 * The master: migrations, the admin token, the Temporal worker, the API and the reconciler in one
 * process. `decnet up` runs it after starting the embedded parts; tests run it in-process.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import Docker from 'dockerode';
import { Client, Connection } from '@temporalio/client';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Worker } from '@temporalio/worker';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Config } from './config';
import { openOrm, migrate } from './db/orm';
import { Bus } from './bus/bus';
import { loadCatalogue } from './domain/catalog';
import { ComposeRuntime } from './compose/runtime';
import { startDriftWatcher } from './compose/drift-watcher';
import { createApp, temporalProbe } from './api/app';
import { seedAdminToken } from './operations/tokens';
import { reconcileLifecycles } from './operations/reconcile';
import type { OperationsContext } from './operations/context';
import { registerSearchAttributes } from './infra/temporal-cli';
import { SEARCH_ATTRIBUTE_KINDS } from './domain/workflow-ids';
import { createWorker, type WorkerOptions } from '../worker';
import { loadOrCreatePki, pkiDir, type SwarmPki } from './swarm/pki';
import { startEnrollmentServer, startHostSweeper, startSwarmServer, type SwarmServer } from './swarm/server';
import type { SwarmContext } from './swarm/context';
import { defaultAgentArtefactPath } from './swarm/agent-artefact';

export interface MasterOptions {
  config: Config;
  databaseUrl: string;
  temporalAddress: string;
  logger: Logger;
  runApi?: boolean;
  runWorker?: boolean;
}

export interface RunningMaster {
  apiUrl?: string;
  adminToken?: string;
  orm: MikroORM;
  client: Client;
  bus: Bus;
  runtime: ComposeRuntime;
  operations: OperationsContext;
  /** With the API: the swarm port (`https://host:port`, mTLS). */
  swarmUrl?: string;
  /** With the API: the enrollment port (`https://host:port`): the downloads, the master's key pinned. */
  enrollUrl?: string;
  /** The swarm CA and the master certificate (agents pin it; dispatch presents it). */
  pki: SwarmPki;
  stop(): Promise<void>;
}

export async function startMaster(opts: MasterOptions): Promise<RunningMaster> {
  const { config, logger } = opts;
  const orm = await openOrm(opts.databaseUrl);
  // Seeded under the migration lock: an API and a worker process starting together would both insert it.
  const seeded = (await migrate(orm, () => seedAdminToken(orm.em.fork(), config.adminToken)).catch(async (err: unknown) => {
    await orm.close(true);
    throw err;
  }))!;
  if (seeded.revoked.length > 0) logger.warn({ revoked_token_ids: seeded.revoked }, 'DECNET_ADMIN_TOKEN changed: the token of its previous value is revoked');

  const connection = await Connection.connect({ address: opts.temporalAddress });
  await registerSearchAttributes(connection, config.temporalNamespace, SEARCH_ATTRIBUTE_KINDS);
  const client = new Client({ connection, namespace: config.temporalNamespace });

  const bus = new Bus();
  const catalogue = loadCatalogue({ registry: config.imageRegistry, tag: config.imageTag });
  const docker = new Docker();
  const runtime = new ComposeRuntime({
    docker,
    project: config.composeProject,
    workDir: path.join(config.dataDir, 'compose'),
    catalogue,
  });
  const operations: OperationsContext = { orm, client, taskQueue: config.taskQueue, catalogue, logger, role: config.mode };

  // The swarm's CA and the master's certificate are created at first start (SPEC §8): the API
  // enrolls agents with them, the worker's dispatch presents the master's certificate to agents.
  const wildcard = ['0.0.0.0', '::', ''].includes(config.swarmHost);
  const pki = await loadOrCreatePki(pkiDir(config.dataDir), { masterSans: wildcard ? [] : [config.swarmHost] });

  let workerLoop: { stop(): Promise<void> } | undefined;
  let driftWatcher: { stop(): Promise<void> } | undefined;
  if (opts.runWorker !== false) {
    const workerOptions: WorkerOptions = {
      temporalAddress: opts.temporalAddress,
      namespace: config.temporalNamespace,
      taskQueue: config.taskQueue,
      deps: {
        orm,
        bus,
        runtime,
        client,
        catalogue,
        taskQueue: config.taskQueue,
        swarm: {
          pki,
          dispatchBudgetMs: config.agentRetryBudgetMs,
          resultTimeoutMs: config.agentResultTimeoutMs,
          pollIntervalMs: config.agentPollIntervalMs,
        },
      },
      logger,
    };
    // The first worker is created here so a bad configuration fails the start.
    workerLoop = runWorkerForever(await createWorker(workerOptions), () => createWorker(workerOptions), logger);
    // The worker's process owns the Docker engine the master's deckies run on: it watches it.
    driftWatcher = startDriftWatcher({ docker, runtime, project: config.composeProject, operations, bus, intervalMs: config.driftIntervalMs, healPolicy: config.healPolicy });
  }

  // Boot reconciliation: rows committed before a crash but never started get their workflow now.
  const reconcile = async (graceMs: number) => {
    try {
      const report = await reconcileLifecycles(operations, { graceMs });
      if (report.started.length || report.failed.length) logger.info(report, 'reconciled lifecycle rows');
    } catch (err) {
      logger.warn({ err }, 'reconcile failed; will retry');
    }
  };
  // In the background: the API answers meanwhile, and a restart is ready without waiting for it.
  const booted = reconcile(0);
  const reconcileTimer = setInterval(() => void reconcile(config.reconcileIntervalMs), config.reconcileIntervalMs);

  let server: http.Server | undefined;
  let apiUrl: string | undefined;
  let swarm: SwarmContext | undefined;
  let swarmServer: SwarmServer | undefined;
  let enrollServer: SwarmServer | undefined;
  let sweeper: { stop(): Promise<void> } | undefined;
  // With the worker in the process, the API reads through connections of its own: the worker's
  // activities may hold every one of `orm`'s, and an operator's poll must not queue behind them.
  const apiOrm = opts.runApi !== false && opts.runWorker !== false ? await openOrm(opts.databaseUrl, API_POOL_MAX) : orm;
  if (opts.runApi !== false) {
    swarm = {
      orm,
      pki,
      client,
      apiPort: config.apiPort,
      enrollPort: config.enrollPort,
      plainHttpEnrollment: config.enrollPlainHttp,
      swarmPort: config.swarmPort,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      agentArtefactPath: config.agentArtefactPath ?? defaultAgentArtefactPath(),
      logger: logger.child({ component: 'swarm' }),
    };
    const app = createApp({
      operations: { ...operations, orm: apiOrm },
      bus,
      logger,
      role: config.mode,
      ensureTemporalReachable: temporalProbe(connection),
      temporalUi: { url: config.temporalUiUrl, namespace: config.temporalNamespace },
      eventStreams: { maxStreamsPerToken: config.sseMaxStreamsPerToken, maxBufferedBytes: config.sseMaxBufferedBytes },
      swarm,
    });
    server = http.createServer(app);
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(config.apiPort, config.apiHost, resolve);
    });
    const address = server.address() as AddressInfo;
    apiUrl = `http://${config.apiHost}:${address.port}`;
    logger.info({ url: apiUrl }, 'API listening');
    // Agents only ever talk to the swarm port: TLS with a client certificate from the CA.
    swarmServer = await startSwarmServer(swarm, { host: config.swarmHost, port: config.swarmPort });
    // Agent hosts download their enrollment where they reach the swarm port, over HTTPS.
    enrollServer = await startEnrollmentServer(swarm, { host: config.swarmHost, port: config.enrollPort });
    if (config.enrollPlainHttp) logger.warn({ api_port: config.apiPort }, 'DECNET_ENROLL_PLAIN_HTTP: enrollment downloads are also served over plain HTTP on the API port, unprotected');
    sweeper = startHostSweeper(swarm, config.failover ? { operations, delayMs: config.failoverDelayMs } : undefined);
  }

  return {
    apiUrl,
    adminToken: seeded.token,
    orm,
    client,
    bus,
    runtime,
    operations,
    swarmUrl: swarmServer?.url,
    enrollUrl: enrollServer?.url,
    pki,
    async stop() {
      clearInterval(reconcileTimer);
      await booted;
      await driftWatcher?.stop();
      await sweeper?.stop();
      await swarmServer?.close();
      await enrollServer?.close();
      if (server) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server!.close(() => resolve()));
      }
      await workerLoop?.stop();
      await connection.close();
      if (apiOrm !== orm) await apiOrm.close(true);
      await orm.close(true);
    },
  };
}

/** The API's own connections when the worker shares the process. */
const API_POOL_MAX = 4;

const WORKER_RETRY_MIN_MS = 500;
const WORKER_STATE_POLL_MS = 1_000;
const WORKER_RETRY_MAX_MS = 10_000;

/**
 * Runs the worker, and a new one whenever it fails. The SDK retries its polls through a server
 * outage by itself (minutes, observed), but fails a worker for good on other errors, e.g. a
 * namespace that is gone (a dev server started on a fresh database). Creating one connects to
 * Temporal, so while it is unreachable the attempts are spaced out.
 */
function runWorkerForever(first: Worker, create: () => Promise<Worker>, logger: Logger): { stop(): Promise<void> } {
  const stopping = new AbortController();
  let current: Worker | undefined = first;
  const loop = async (): Promise<void> => {
    let delay = WORKER_RETRY_MIN_MS;
    while (!stopping.signal.aborted) {
      if (current) {
        const worker: Worker = current;
        const failure = await untilWorkerEnds(worker);
        // A FAILED worker whose run() is stuck still holds its connection: closing it then throws.
        await worker.connection?.close().catch(() => undefined);
        if (stopping.signal.aborted) return;
        // run() resolves only after shutdown(), which only stop() calls.
        logger.error({ err: failure }, 'worker stopped with an error; starting a new one');
        current = undefined;
      }
      await sleep(delay, undefined, { signal: stopping.signal }).catch(() => undefined);
      if (stopping.signal.aborted) return;
      try {
        current = await create();
        if (stopping.signal.aborted) {
          // Stopped while this one was being created: run it only to shut it down (it sets RUNNING at once).
          const run = current.run().catch(() => undefined);
          current.shutdown();
          await run;
          await current.connection?.close().catch(() => undefined);
          return;
        }
        delay = WORKER_RETRY_MIN_MS;
        logger.warn('worker running again');
      } catch (err) {
        logger.warn({ err, retryInMs: delay }, 'worker cannot be created yet; retrying');
        delay = Math.min(delay * 2, WORKER_RETRY_MAX_MS);
      }
    }
  };
  const running = loop();
  return {
    async stop() {
      stopping.abort();
      // Only a worker whose run() is under way may be shut down; one being created ends in the loop.
      if (current?.getState() === 'RUNNING') current.shutdown();
      await running;
    },
  };
}

/**
 * Resolves with run()'s error (undefined after a shutdown) when it settles, or once the worker is
 * FAILED: run() may then never settle (SDK 1.24, seen after a `Namespace … is not found` poll
 * error). The SDK has logged the failure's reason itself (`Worker failed`).
 */
async function untilWorkerEnds(worker: Worker): Promise<unknown> {
  const run = worker.run().then(() => ({ error: undefined as unknown }), (error: unknown) => ({ error }));
  for (;;) {
    const ended = await Promise.race([run, sleep(WORKER_STATE_POLL_MS).then(() => undefined)]);
    if (ended) return ended.error;
    if (worker.getState() === 'FAILED') return new Error('the Temporal worker failed (its reason is logged above as `Worker failed`)');
  }
}
