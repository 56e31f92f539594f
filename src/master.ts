/**
 * The master: migrations, the admin token, the Temporal worker, the API and the reconciler in one
 * process. `decnet up` runs it after starting the embedded parts; tests run it in-process. Several
 * of them (`decnet api`, `decnet worker`) make one fleet on one PostgreSQL and one Temporal: the
 * bus is relayed through PostgreSQL, and the fleet-wide loops run in one elected process.
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
import { startPgRelay, type PgRelay } from './bus/pg-relay';
import { campaign, LEADER_LOCKS, type Election } from './db/leader';
import { EXCLUSIVE_LOCKS, runExclusively } from './db/exclusive';
import { metricsApp } from './api/routes/metrics';
import { loadCatalogue } from './domain/catalog';
import { ComposeRuntime } from './compose/runtime';
import { startDriftWatcher } from './compose/drift-watcher';
import { createApp, temporalProbe } from './api/app';
import { seedAdminToken } from './operations/tokens';
import { reconcileLifecycles } from './operations/reconcile';
import type { OperationsContext } from './operations/context';
import { registerSearchAttributes } from './infra/temporal-cli';
import { SEARCH_ATTRIBUTE_KINDS } from './domain/workflow-ids';
import { createWorker, temporalSdkMetrics, type WorkerOptions } from '../worker';
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
  /** The bus's relay through PostgreSQL (its listening connection's application_name). */
  relay: PgRelay;
  /** The elections this process campaigns in: `fleet` (reconciler, host sweeper) always, `driftWatcher` with a worker. */
  elections: { fleet: Election; driftWatcher?: Election };
  /** Without the API but with a worker: GET /metrics here (`http://host:DECNET_METRICS_PORT`). */
  metricsUrl?: string;
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
  const relay = await startPgRelay(bus, { orm, logger }).catch(async (err: unknown) => {
    await connection.close();
    await orm.close(true);
    throw err;
  });
  const catalogue = loadCatalogue({ registry: config.imageRegistry, tag: config.imageTag });
  const docker = new Docker();
  const runtime = new ComposeRuntime({
    docker,
    project: config.composeProject,
    workDir: path.join(config.dataDir, 'compose'),
    catalogue,
    // The master's workers share its engine: one swaps its LAN network at a time.
    moveExclusively: (move) => runExclusively(orm, EXCLUSIVE_LOCKS.lanMove, move),
  });
  const operations: OperationsContext = { orm, client, taskQueue: config.taskQueue, catalogue, logger, role: config.mode };

  // The swarm's CA and the master's certificate are created at first start (architecture.md §8): the API
  // enrolls agents with them, the worker's dispatch presents the master's certificate to agents.
  const wildcard = ['0.0.0.0', '::', ''].includes(config.swarmHost);
  const pki = await loadOrCreatePki(pkiDir(config.dataDir), { masterSans: wildcard ? [] : [config.swarmHost] });

  const swarm: SwarmContext = {
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
  const elect = (name: keyof typeof LEADER_LOCKS, lead: () => { stop(): Promise<void> }) =>
    campaign({ databaseUrl: opts.databaseUrl, name, lockKey: LEADER_LOCKS[name], retryMs: config.leaderRetryMs, logger, lead });

  let workerLoop: { stop(): Promise<void> } | undefined;
  let driftWatcher: Election | undefined;
  let metricsServer: http.Server | undefined;
  let metricsUrl: string | undefined;
  if (opts.runWorker !== false) {
    if (opts.runApi === false) {
      // The API's port serves /metrics where there is one; a worker alone gets a port for it.
      metricsServer = await listen(metricsApp(orm, logger, temporalSdkMetrics), config.metricsHost, config.metricsPort);
      metricsUrl = `http://${config.metricsHost}:${(metricsServer.address() as AddressInfo).port}`;
    }
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
    // The workers' processes own the Docker engine the master's deckies run on (one engine per
    // fleet, docs/operations.md): one of them watches it.
    driftWatcher = elect('driftWatcher', () =>
      startDriftWatcher({
        docker,
        runtime,
        project: config.composeProject,
        operations,
        intervalMs: config.driftIntervalMs,
        healPolicy: config.healPolicy,
      }),
    );
  }

  // The fleet's loops, in its elected process only: on election, rows committed before a crash but
  // never started get their workflow at once; then the reconciler's period, and the host sweep.
  const reconcile = async (graceMs: number) => {
    try {
      const report = await reconcileLifecycles(operations, { graceMs });
      if (report.started.length || report.failed.length) logger.info(report, 'reconciled lifecycle rows');
    } catch (err) {
      logger.warn({ err }, 'reconcile failed; will retry');
    }
  };
  const fleet = elect('fleet', () => {
    // In the background: the API answers meanwhile, and a restart is ready without waiting for it.
    const booted = reconcile(0);
    const reconcileTimer = setInterval(() => void reconcile(config.reconcileIntervalMs), config.reconcileIntervalMs);
    const sweeper = startHostSweeper(swarm, config.failover ? { operations, delayMs: config.failoverDelayMs } : undefined);
    return {
      async stop() {
        clearInterval(reconcileTimer);
        await booted;
        await sweeper.stop();
      },
    };
  });

  let server: http.Server | undefined;
  let apiUrl: string | undefined;
  let swarmServer: SwarmServer | undefined;
  let enrollServer: SwarmServer | undefined;
  // With the worker in the process, the API reads through connections of its own: the worker's
  // activities may hold every one of `orm`'s, and an operator's poll must not queue behind them.
  const apiOrm = opts.runApi !== false && opts.runWorker !== false ? await openOrm(opts.databaseUrl, API_POOL_MAX) : orm;
  if (opts.runApi !== false) {
    const app = createApp({
      operations: { ...operations, orm: apiOrm },
      bus,
      logger,
      role: config.mode,
      ensureTemporalReachable: temporalProbe(connection),
      temporalUi: { url: config.temporalUiUrl, namespace: config.temporalNamespace },
      eventStreams: { maxStreamsPerToken: config.sseMaxStreamsPerToken, maxBufferedBytes: config.sseMaxBufferedBytes },
      swarm,
      moreMetrics: opts.runWorker !== false ? temporalSdkMetrics : undefined,
    });
    server = await listen(app, config.apiHost, config.apiPort);
    const address = server.address() as AddressInfo;
    apiUrl = `http://${config.apiHost}:${address.port}`;
    logger.info({ url: apiUrl }, 'API listening');
    // Agents only ever talk to the swarm port: TLS with a client certificate from the CA.
    swarmServer = await startSwarmServer(swarm, { host: config.swarmHost, port: config.swarmPort });
    // Agent hosts download their enrollment where they reach the swarm port, over HTTPS.
    enrollServer = await startEnrollmentServer(swarm, { host: config.swarmHost, port: config.enrollPort });
    if (config.enrollPlainHttp)
      logger.warn({ api_port: config.apiPort }, 'DECNET_ENROLL_PLAIN_HTTP: enrollment downloads are also served over plain HTTP on the API port, unprotected');
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
    relay,
    elections: { fleet, driftWatcher },
    metricsUrl,
    async stop() {
      await fleet.stop();
      await driftWatcher?.stop();
      await swarmServer?.close();
      await enrollServer?.close();
      if (server) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server!.close(() => resolve()));
      }
      if (metricsServer) await new Promise<void>((resolve) => metricsServer!.close(() => resolve()));
      await workerLoop?.stop();
      await relay.stop();
      await connection.close();
      if (apiOrm !== orm) await apiOrm.close(true);
      await orm.close(true);
    },
  };
}

/** The API's own connections when the worker shares the process. */
const API_POOL_MAX = 4;

async function listen(app: http.RequestListener, host: string, port: number): Promise<http.Server> {
  const server = http.createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return server;
}

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
  const run = worker.run().then(
    () => ({ error: undefined as unknown }),
    (error: unknown) => ({ error }),
  );
  for (;;) {
    const ended = await Promise.race([run, sleep(WORKER_STATE_POLL_MS).then(() => undefined)]);
    if (ended) return ended.error;
    if (worker.getState() === 'FAILED') return new Error('the Temporal worker failed (its reason is logged above as `Worker failed`)');
  }
}
