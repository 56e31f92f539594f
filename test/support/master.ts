/**
 * An in-process master for integration tests: its own database, compose project, task queue,
 * LAN (a veth parent and a subnet of 198.18.0.0/15, the benchmarking range) on the shared
 * PostgreSQL, Temporal dev server and Docker engine that global setup started.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import Docker from 'dockerode';
import { loadConfig, type Config } from '../../src/config';
import { createDatabase } from '../../src/infra/embedded-postgres';
import { startMaster, type MasterOptions, type RunningMaster } from '../../src/master';
import { createLogger } from '../../src/logger';
import { LABELS } from '../../src/domain/compose-render';
import { loadCatalogue } from '../../src/domain/catalog';
import type { LanNetworkSpec } from '../../src/domain/schemas';
import { ComposeRuntime, type RuntimeOptions } from '../../src/compose/runtime';
import { createVethParent, deleteVethParent } from './veth';

export interface TestLan {
  parent: string;
  subnet: string;
  gateway: string;
  /** The n-th usable address (1 is the gateway). */
  ip(n: number): string;
}

export interface TestStack {
  name: string;
  config: Config;
  env: NodeJS.ProcessEnv;
  databaseUrl: string;
  lan: TestLan;
  master?: RunningMaster;
  api: string;
  adminToken: string;
  docker: Docker;
  /** `overrides`: e.g. no worker (an API-only master) or no API (a worker-only one), a logger the test reads, or other settings. */
  startMaster(overrides?: Partial<Pick<MasterOptions, 'runApi' | 'runWorker' | 'logger' | 'config'>>): Promise<RunningMaster>;
  stopMaster(): Promise<void>;
  cleanup(): Promise<void>;
}

/** `slot` picks the subnet 198.18.<slot>.0/24, distinct per test file; `envOverrides` win over the stack's own settings. */
export async function createTestStack(name: string, slot: number, envOverrides: NodeJS.ProcessEnv = {}): Promise<TestStack> {
  const adminUrl = requireEnv('TEST_DATABASE_ADMIN_URL');
  const databaseUrl = await createDatabase(adminUrl, `t_${name.replace(/-/g, '_')}_${Date.now()}`);
  const parent = `dnv${name.replace(/[^a-z0-9]/g, '').slice(0, 8)}${slot}`.slice(0, 15);
  const project = `t${name.replace(/[^a-z0-9]/g, '')}`.slice(0, 20);
  const docker = new Docker();
  // A run killed before its cleanup leaves containers and the network behind: start clean.
  await removeProjectResources(docker, project);
  await createVethParent(parent);
  const lan: TestLan = {
    parent,
    subnet: `198.18.${slot}.0/24`,
    gateway: `198.18.${slot}.1`,
    ip: (n) => `198.18.${slot}.${n}`,
  };
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), `decnet-${name}-`));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DECNET_DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl,
    DECNET_IMAGE_REGISTRY: requireEnv('TEST_IMAGE_REGISTRY'),
    DECNET_IMAGE_TAG: requireEnv('TEST_IMAGE_TAG'),
    DECNET_COMPOSE_PROJECT: project,
    DECNET_TASK_QUEUE: `${project}-${Date.now()}`,
    // At least ADMIN_TOKEN_MIN_LENGTH characters whatever the name.
    DECNET_ADMIN_TOKEN: `decnet-test-admin-${name}-token`,
    DECNET_API_PORT: String(await freePort()),
    // The swarm port on loopback only, on a port of its own.
    DECNET_SWARM_HOST: '127.0.0.1',
    DECNET_SWARM_PORT: String(await freePort()),
    DECNET_ENROLL_PORT: String(await freePort()),
    // A worker without the API serves /metrics on a port of its own.
    DECNET_METRICS_PORT: String(await freePort()),
    DECNET_LOG_LEVEL: process.env.DECNET_LOG_LEVEL ?? 'warn',
    ...envOverrides,
  };
  const config = loadConfig(env);

  const stack: TestStack = {
    name,
    config,
    env,
    databaseUrl,
    lan,
    api: `http://127.0.0.1:${config.apiPort}/api/v1`,
    adminToken: env.DECNET_ADMIN_TOKEN!,
    docker,
    async startMaster(overrides = {}) {
      stack.master = await startMaster({
        config,
        databaseUrl,
        temporalAddress: requireEnv('TEMPORAL_ADDRESS'),
        logger: createLogger(config.logLevel, name),
        ...overrides,
      });
      return stack.master;
    },
    async stopMaster() {
      await stack.master?.stop();
      stack.master = undefined;
    },
    async cleanup() {
      await stack.stopMaster();
      await removeProjectResources(docker, project);
      await deleteVethParent(parent);
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
  return stack;
}

/** An INI's `[general]` section for the stack's LAN, followed by a blank line. */
export function iniGeneral(lan: TestLan): string {
  return `[general]\nnet=${lan.subnet}\ngw=${lan.gateway}\ninterface=${lan.parent}\n\n`;
}

/** The stack's LAN as a macvlan network spec, as the runtime takes it. */
export function macvlanLan(lan: TestLan): LanNetworkSpec {
  return { driver: 'macvlan', parent: lan.parent, subnet: lan.subnet, gateway: lan.gateway };
}

/** A runtime on the stack's engine and compose project with the fixture images, as the master's activities build one. */
export function stackRuntime(
  stack: TestStack,
  workDir = path.join(stack.config.dataDir, 'compose'),
  options: Pick<RuntimeOptions, 'moveExclusively'> = {},
): ComposeRuntime {
  return new ComposeRuntime({
    docker: stack.docker,
    project: stack.config.composeProject,
    workDir,
    catalogue: loadCatalogue({ registry: requireEnv('TEST_IMAGE_REGISTRY'), tag: requireEnv('TEST_IMAGE_TAG') }),
    ...options,
  });
}

export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests through jest's global setup (npm test)`);
  return value;
}

/** Ports this process handed out: each once. */
const handedOut = new Set<number>();
const LOWEST_PORT = 10_000;
/** Jest workers draw from slices of their own, so two never pick one port at the same moment. */
const WORKER_SLICES = 8;

/**
 * A port free on 127.0.0.1, chosen below the kernel's ephemeral range. A port in that range can be
 * handed out again between this check and the listen that follows (to an outgoing connection, or
 * to a server binding port 0, as the Temporal dev server does for its HTTP and metrics ports);
 * one below it is only ever taken by someone asking for it by number.
 */
export async function freePort(): Promise<number> {
  const net = await import('node:net');
  const ephemeralLow = Number((await fs.readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')).split(/\s+/)[0]);
  const slice = Math.floor((ephemeralLow - LOWEST_PORT) / WORKER_SLICES);
  if (slice < 100) throw new Error(`the ephemeral port range starts at ${ephemeralLow}: the tests need ports below it, from ${LOWEST_PORT}`);
  const first = LOWEST_PORT + ((Number(process.env.JEST_WORKER_ID ?? 1) - 1) % WORKER_SLICES) * slice;
  for (;;) {
    const port = first + Math.floor(Math.random() * slice);
    if (handedOut.has(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (!free) continue;
    handedOut.add(port);
    return port;
  }
}

async function removeProjectResources(docker: Docker, project: string): Promise<void> {
  const containers = await docker.listContainers({ all: true, filters: { label: [`${LABELS.project}=${project}`] } });
  await Promise.all(
    containers.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined),
    ),
  );
  await docker
    .getNetwork(`${project}_lan`)
    .remove()
    .catch(() => undefined);
}

/** Whether the engine has a network of this name. */
export function networkExists(docker: Docker, name: string): Promise<boolean> {
  return docker
    .getNetwork(name)
    .inspect()
    .then(
      () => true,
      (err: { statusCode?: number }) => (err.statusCode === 404 ? false : Promise.reject(err)),
    );
}
