/**
 * The master: migrations, the admin token, the Temporal worker, the API and the reconciler in one
 * process. `decnet up` runs it after starting the embedded parts; tests run it in-process.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import Docker from 'dockerode';
import { Client, Connection } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Config } from './config';
import { openOrm, migrate } from './db/orm';
import { Bus } from './bus/bus';
import { loadCatalogue } from './domain/catalog';
import { ComposeRuntime } from './compose/runtime';
import { createApp, temporalProbe } from './api/app';
import { seedAdminToken } from './operations/tokens';
import { reconcileLifecycles } from './operations/reconcile';
import type { OperationsContext } from './operations/context';
import { registerSearchAttributes } from './infra/temporal-cli';
import { createWorker } from '../worker';
import { loadOrCreatePki, pkiDir, type SwarmPki } from './swarm/pki';
import { startHostSweeper, startSwarmServer, type SwarmServer } from './swarm/server';
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
  /** The swarm CA and the master certificate (agents pin it; dispatch presents it). */
  pki: SwarmPki;
  stop(): Promise<void>;
}

export async function startMaster(opts: MasterOptions): Promise<RunningMaster> {
  const { config, logger } = opts;
  const orm = await openOrm(opts.databaseUrl);
  await migrate(orm);
  const seeded = await seedAdminToken(orm.em.fork(), config.adminToken);

  const connection = await Connection.connect({ address: opts.temporalAddress });
  await registerSearchAttributes(connection, config.temporalNamespace, { DeckyName: 'Keyword', HostUuid: 'Keyword', Operation: 'Keyword' });
  const client = new Client({ connection, namespace: config.temporalNamespace });

  const bus = new Bus();
  const catalogue = loadCatalogue({ registry: config.imageRegistry, tag: config.imageTag });
  const runtime = new ComposeRuntime({
    docker: new Docker(),
    project: config.composeProject,
    workDir: path.join(config.dataDir, 'compose'),
    catalogue,
  });
  const operations: OperationsContext = { orm, client, taskQueue: config.taskQueue, catalogue, logger, role: config.mode };

  // The swarm's CA and the master's certificate are created at first start (SPEC §8): the API
  // enrolls agents with them, the worker's dispatch presents the master's certificate to agents.
  const wildcard = ['0.0.0.0', '::', ''].includes(config.swarmHost);
  const pki = await loadOrCreatePki(pkiDir(config.dataDir), { masterSans: wildcard ? [] : [config.swarmHost] });

  let worker: Worker | undefined;
  let workerRun: Promise<void> | undefined;
  if (opts.runWorker !== false) {
    worker = await createWorker({
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
    });
    workerRun = worker.run().catch((err) => logger.error({ err }, 'worker stopped with an error'));
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
  let sweeper: { stop(): Promise<void> } | undefined;
  if (opts.runApi !== false) {
    swarm = {
      orm,
      pki,
      client,
      apiPort: config.apiPort,
      swarmPort: config.swarmPort,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      agentArtefactPath: config.agentArtefactPath ?? defaultAgentArtefactPath(),
      logger: logger.child({ component: 'swarm' }),
    };
    const app = createApp({
      operations,
      bus,
      logger,
      role: config.mode,
      ensureTemporalReachable: temporalProbe(connection),
      temporalUi: { url: config.temporalUiUrl, namespace: config.temporalNamespace },
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
    sweeper = startHostSweeper(swarm);
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
    pki,
    async stop() {
      clearInterval(reconcileTimer);
      await booted;
      await sweeper?.stop();
      await swarmServer?.close();
      if (server) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server!.close(() => resolve()));
      }
      if (worker) {
        worker.shutdown();
        await workerRun;
      }
      await connection.close();
      await orm.close(true);
    },
  };
}
