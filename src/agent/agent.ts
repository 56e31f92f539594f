/**
 * `decnet agent --config <decnet.ini>` (architecture.md §8): the HTTPS API the master drives (client
 * certificate from the product's CA required, and the master's fingerprint pinned), jobs kept on
 * disk, compose through the same ComposeRuntime the master uses, results reported to the
 * master's swarm port until acknowledged, and a status heartbeat. Decommissioned by the master
 * (POST /decommission), it removes its deckies and LAN network and refuses jobs for good (an
 * installed agent then removes itself: src/cli/commands/agent.ts).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import Docker from 'dockerode';
import express from 'express';
import type pino from 'pino';
import { z } from 'zod';
import type { AgentConfig } from '../config';
import { errorHandler, HttpError, sendError } from '../http/errors';
import { clientCertificateFingerprint, startHttpsServer } from '../http/mtls';
import { ComposeRuntime } from '../compose/runtime';
import { probeNetworkDrivers } from '../compose/driver-probe';
import { RuntimeError } from '../compose/errors';
import { loadCatalogue } from '../domain/catalog';
import type { DeckySpec, LanNetworkSpec } from '../domain/schemas';
import {
  AGENT_ACK_FILE,
  AGENT_PATHS,
  AgentDecommissionRequestSchema,
  AgentJobKindSchema,
  AgentJobRequestSchemas,
  type AgentJobRequestOf,
  type AgentDecommissionResponse,
  type AgentDeckyResult,
  type AgentIni,
  type AgentJobAccepted,
  type AgentJobKind,
  type StaleDecky,
} from '../domain/swarm-schemas';
import { DECNET_VERSION } from '../domain/version';
import { parseAgentIni } from '../swarm/bundle';
import { JobStore, publicJob, type AgentJob } from './jobs';
import { MasterReporter } from './reporter';

type DeployRequest = AgentJobRequestOf<'deploy'>;
type MutateRequest = AgentJobRequestOf<'mutate'>;
type TeardownRequest = AgentJobRequestOf<'teardown'>;
type MoveRequest = AgentJobRequestOf<'move'>;

/** The agent's environment (src/config.ts) with its decnet.ini and the files the ini names. */
export interface AgentSettings extends AgentConfig {
  iniPath: string;
  ini: AgentIni;
  caPem: string;
  certPem: string;
  keyPem: string;
  /** Where the API listens: decnet.ini's agent-port unless DECNET_AGENT_PORT overrides it. */
  port: number;
  dataDir: string;
}

/** Jobs, compose files and the decommission mark: DECNET_DATA_DIR, else `data/` beside decnet.ini. */
export const agentDataDir = (iniDir: string, config: Pick<AgentConfig, 'dataDir'>) => config.dataDir ?? path.join(iniDir, 'data');

export async function loadAgentSettings(iniPath: string, config: AgentConfig): Promise<AgentSettings> {
  const resolved = path.resolve(iniPath);
  const dir = path.dirname(resolved);
  const ini = parseAgentIni(await fs.readFile(resolved, 'utf8'));
  const read = (f: string) => fs.readFile(path.resolve(dir, f), 'utf8');
  return {
    ...config,
    iniPath: resolved,
    ini,
    caPem: await read(ini.agent['ca-cert']),
    certPem: await read(ini.agent.cert),
    keyPem: await read(ini.agent.key),
    port: config.agentPort ?? ini.agent['agent-port'],
    dataDir: agentDataDir(dir, config),
  };
}

export interface RunningAgent {
  url: string;
  port: number;
  /** Settles once the master decommissioned this agent and its deckies are removed (the answer sent). */
  decommissioned: Promise<void>;
  stop(): Promise<void>;
}

/** Next to the jobs: once written, this agent takes no more jobs, across restarts. */
const DECOMMISSION_MARK = 'decommissioned.json';
const DecommissionMarkSchema = z.object({ host_uuid: z.uuid(), decommissioned_at: z.iso.datetime() });
type DecommissionMark = z.infer<typeof DecommissionMarkSchema>;

export async function readDecommissionMark(dataDir: string): Promise<DecommissionMark | undefined> {
  const text = await fs
    .readFile(path.join(dataDir, DECOMMISSION_MARK), 'utf8')
    .catch((err) => ((err as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : Promise.reject(err)));
  return text === undefined ? undefined : DecommissionMarkSchema.parse(JSON.parse(text));
}

/** A small JSON file in the data directory, written whole (temp file + rename). */
async function writeDataFile(dataDir: string, name: string, value: unknown): Promise<void> {
  const file = path.join(dataDir, name);
  await fs.writeFile(`${file}.tmp`, JSON.stringify(value), { mode: 0o600 });
  await fs.rename(`${file}.tmp`, file);
}

/**
 * What this run of the agent writes to AGENT_ACK_FILE when the master first acknowledges it: the
 * install script waits for it (the previous run's is removed before the agent is restarted).
 */
interface AgentAck {
  host_uuid: string;
  version: string;
  pid: number;
  acknowledged_at: string;
}

const describeError = (err: unknown) => (err instanceof RuntimeError ? `${err.type}: ${err.message}` : err instanceof Error ? err.message : String(err));

export async function startAgent(settings: AgentSettings, logger: pino.Logger): Promise<RunningAgent> {
  const docker = new Docker();
  const catalogue = loadCatalogue({ registry: settings.imageRegistry, tag: settings.imageTag });
  const runtime = new ComposeRuntime({
    docker,
    project: settings.composeProject,
    workDir: path.join(settings.dataDir, 'compose'),
    catalogue,
    networkName: settings.lanNetwork,
  });
  const store = await JobStore.open(settings.dataDir);
  const ipvlanHost = settings.ini.decnet.ipvlan;
  // Once at start: the kernel does not gain or lose a driver while the agent runs.
  const networkDrivers = await probeNetworkDrivers().then(
    (probe) => {
      logger.info({ network_drivers: probe.drivers, refused: probe.refused }, 'network drivers this kernel supports');
      return probe.drivers;
    },
    (err: unknown) => {
      logger.warn({ err: (err as Error).message }, 'network driver probe failed; the master is not told which drivers this kernel supports');
      return undefined;
    },
  );
  const reporter = new MasterReporter(settings, store, logger, {
    observe: async () => {
      // Generations first: the containers then observed are at least that new, never older.
      const generations = deckyGenerations();
      return { observed: await runtime.observe(), generations };
    },
    removeStale: (stale) => removeStale(stale),
    networkDrivers,
    onFirstAck: async () => {
      const ack: AgentAck = {
        host_uuid: settings.ini.agent['host-uuid'],
        version: DECNET_VERSION,
        pid: process.pid,
        acknowledged_at: new Date().toISOString(),
      };
      await writeDataFile(settings.dataDir, AGENT_ACK_FILE, ack);
      logger.info(ack, 'first heartbeat acknowledged by the master');
    },
  });
  let decommissioned = await readDecommissionMark(settings.dataDir);
  let cleanedUp!: () => void;
  const decommissionDone = new Promise<void>((resolve) => (cleanedUp = resolve));

  // One job at a time: compose runs of one project never race, and jobs run in arrival order.
  let chain: Promise<void> = Promise.resolve();
  let stopping = false;
  const enqueue = (job: AgentJob) => {
    chain = chain.then(() => (stopping ? undefined : runJob(job))).catch((err) => logger.error({ err, job_id: job.job_id }, 'job runner failed'));
  };

  async function runJob(job: AgentJob): Promise<void> {
    await store.update(job, { status: 'running' });
    logger.info({ job_id: job.job_id, kind: job.kind }, 'job running');
    let results: AgentDeckyResult[];
    try {
      if (decommissioned)
        results = [{ decky: '*', ok: false, error: `the agent was decommissioned at ${decommissioned.decommissioned_at}; it runs no more jobs` }];
      else if (job.kind === 'deploy') results = await runDeploy(job, job.request as DeployRequest);
      else if (job.kind === 'mutate') results = await runMutate(job, job.request as MutateRequest);
      else if (job.kind === 'move') results = await runMove(job.request as MoveRequest);
      else results = await runTeardown(job.request as TeardownRequest);
    } catch (err) {
      results = [{ decky: '*', ok: false, error: describeError(err) }];
    }
    const ok = results.every((r) => r.ok);
    await store.update(job, { status: ok ? 'succeeded' : 'failed', results, report: 'unacknowledged' });
    logger.info({ job_id: job.job_id, kind: job.kind, status: job.status, results }, 'job finished');
    reporter.flushSoon();
  }

  /** Fencing: each decky's generation here, the newest that a deploy or mutate job gave it. */
  function deckyGenerations(): Map<string, number> {
    const generations = new Map<string, number>();
    for (const job of store.all()) {
      const { generation } = job.request as { generation?: number };
      if (generation === undefined || job.kind === 'teardown') continue;
      const names = job.kind === 'deploy' ? (job.request as DeployRequest).config.deckies.map((d) => d.name) : [(job.request as MutateRequest).decky.name];
      for (const name of names) generations.set(name, Math.max(generations.get(name) ?? 0, generation));
    }
    return generations;
  }

  /**
   * The master's answer to a returning agent: remove these deckies, after the job in progress and
   * before any later one; one that a newer job gave a newer generation meanwhile is kept.
   */
  async function removeStale(stale: StaleDecky[]): Promise<void> {
    const removal = chain.then(async () => {
      const generations = deckyGenerations();
      for (const decky of stale) {
        if ((generations.get(decky.name) ?? 0) > decky.generation) continue;
        const removed = await runtime.down(decky.name);
        logger.warn({ decky: decky.name, generation: decky.generation, reason: decky.reason, removed }, 'fencing: stale decky removed');
      }
    });
    chain = removal.catch(() => undefined);
    await removal;
  }

  /** The network of a job: on an ipvlan host a macvlan request is upgraded (never the other way). */
  async function networkFor(job: AgentJob, requested: LanNetworkSpec): Promise<LanNetworkSpec> {
    const spec: LanNetworkSpec = { ...requested };
    if (ipvlanHost && requested.driver === 'macvlan') {
      spec.driver = 'ipvlan';
      const note = 'network driver macvlan forced to ipvlan: this host has ipvlan=true in decnet.ini and never creates a macvlan network';
      if (!job.notes.includes(note)) await store.update(job, { notes: [...job.notes, note] });
    }
    return spec;
  }

  async function deployOne(decky: DeckySpec, driver: 'macvlan' | 'ipvlan'): Promise<AgentDeckyResult> {
    try {
      await runtime.checkImages(decky);
      await runtime.up(decky, driver);
      return await awaitHealthy(decky);
    } catch (err) {
      return { decky: decky.name, ok: false, error: describeError(err) };
    }
  }

  /** Containers settle within seconds; a decky is ok only when all of it runs with its IP. */
  async function awaitHealthy(decky: DeckySpec): Promise<AgentDeckyResult> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        await runtime.verifyHealthy(decky);
        return { decky: decky.name, ok: true };
      } catch (err) {
        if (!(err instanceof RuntimeError && err.type === 'VerifyFailed') || Date.now() > deadline) throw err;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** A driver change on this engine; a refused driver leaves every decky on the old network (the runtime puts it back). */
  async function runMove(req: MoveRequest): Promise<AgentDeckyResult[]> {
    try {
      if (ipvlanHost && req.network.driver === 'macvlan') {
        throw new RuntimeError('NetworkDriverMismatch', 'this host has ipvlan=true in decnet.ini and never creates a macvlan network; nothing was moved', true);
      }
      await runtime.moveLanNetwork(req.network, req.decky, req.change_id);
      return [await awaitHealthy(req.decky)];
    } catch (err) {
      return [{ decky: req.decky.name, ok: false, error: describeError(err) }];
    }
  }

  async function runDeploy(job: AgentJob, req: DeployRequest): Promise<AgentDeckyResult[]> {
    const network = await networkFor(job, req.config.network);
    try {
      await runtime.ensureLanNetwork(network);
    } catch (err) {
      return req.config.deckies.map((d) => ({ decky: d.name, ok: false, error: describeError(err) }));
    }
    const results: AgentDeckyResult[] = [];
    for (const decky of req.config.deckies) results.push(await deployOne(decky, network.driver));
    return results;
  }

  async function runMutate(job: AgentJob, req: MutateRequest): Promise<AgentDeckyResult[]> {
    const decky = req.services ? { ...req.decky, services: req.services } : req.decky;
    let driver: 'macvlan' | 'ipvlan' = ipvlanHost ? 'ipvlan' : 'macvlan';
    if (req.network) {
      const network = await networkFor(job, req.network);
      driver = network.driver;
      await runtime.ensureLanNetwork(network);
    } else {
      const existing = await docker
        .getNetwork(runtime.networkName)
        .inspect()
        .catch(() => undefined);
      if (existing?.Driver === 'ipvlan' || existing?.Driver === 'macvlan') driver = existing.Driver;
    }
    try {
      await runtime.removeStaleServices(decky);
    } catch (err) {
      return [{ decky: decky.name, ok: false, error: describeError(err) }];
    }
    return [await deployOne(decky, driver)];
  }

  async function runTeardown(req: TeardownRequest): Promise<AgentDeckyResult[]> {
    return (await removeDeckies(req.decky ? [req.decky] : undefined)).results;
  }

  /** Remove the named deckies (all of this project's without names); the last one gone takes the LAN network along. */
  async function removeDeckies(names?: string[]): Promise<{ results: AgentDeckyResult[]; network: string }> {
    const results: AgentDeckyResult[] = [];
    for (const name of names ?? (await runtime.projectDeckies()).map((d) => d.name)) {
      try {
        await runtime.down(name);
        results.push({ decky: name, ok: true });
      } catch (err) {
        results.push({ decky: name, ok: false, error: describeError(err) });
      }
    }
    const network = await runtime.removeLanNetworkIfUnused().catch((err) => `network ${runtime.networkName} not removed: ${describeError(err)}`);
    return { results, network };
  }

  /**
   * The master decommissions this host: the mark is written first (so no job runs any more, even
   * after a restart), then after the job in progress every decky and the LAN network go. Repeating
   * it repeats the clean-up.
   */
  async function decommission(): Promise<AgentDecommissionResponse> {
    if (!decommissioned) {
      decommissioned = { host_uuid: settings.ini.agent['host-uuid'], decommissioned_at: new Date().toISOString() };
      await writeDataFile(settings.dataDir, DECOMMISSION_MARK, decommissioned);
      reporter.stop();
      logger.warn({ host_uuid: decommissioned.host_uuid }, 'agent decommissioned by the master: removing its deckies, refusing jobs from now on');
    }
    const mark = decommissioned;
    const cleanup = chain.then(() => removeDeckies());
    chain = cleanup.then(
      () => undefined,
      () => undefined,
    );
    const { results, network } = await cleanup;
    return {
      host_uuid: mark.host_uuid,
      decommissioned_at: mark.decommissioned_at,
      removed_deckies: results.filter((r) => r.ok).map((r) => r.decky),
      failed: results.filter((r) => !r.ok).map((r) => ({ decky: r.decky, error: r.error ?? 'failed' })),
      network,
    };
  }

  const app = express();
  app.disable('x-powered-by');
  app.use((req, _res, next) => {
    if (clientCertificateFingerprint(req) !== settings.ini.agent['master-fingerprint']) {
      throw new HttpError(403, 'forbidden', "the client certificate is not the master's (master-fingerprint in decnet.ini)");
    }
    next();
  });
  app.use(express.json({ limit: '8mb' }));
  app.get('/health', (_req, res) => {
    res.json({
      status: 'ok',
      host_uuid: settings.ini.agent['host-uuid'],
      name: settings.ini.agent.name,
      project: settings.composeProject,
      ipvlan: ipvlanHost,
      version: DECNET_VERSION,
      network_drivers: networkDrivers ?? null,
      decommissioned: decommissioned !== undefined,
      // A decommissioned agent never reports again: there is nothing for it to fence.
      fencing: !decommissioned && reporter.returning(),
    });
  });
  app.get(AGENT_PATHS.status, async (_req, res) => {
    res.json({
      host_uuid: settings.ini.agent['host-uuid'],
      project: settings.composeProject,
      ipvlan: ipvlanHost,
      network_drivers: networkDrivers ?? null,
      deckies: await runtime.projectDeckies(),
    });
  });
  const submit = (kind: AgentJobKind, schema: z.ZodType<{ job_id: string; lifecycle_id?: string }>) =>
    app.post(AGENT_PATHS.job(kind), async (req, res) => {
      if (decommissioned) {
        return sendError(
          res,
          410,
          'agent_decommissioned',
          `this agent was decommissioned at ${decommissioned.decommissioned_at} and takes no more jobs; enroll the host again to use it`,
        );
      }
      // A returning agent takes work only once the master told it what to remove (503: retried).
      if (reporter.returning())
        return sendError(res, 503, 'agent_fencing', 'this agent is back from a silence and removes its stale deckies first; try again shortly');
      const body = schema.parse(req.body ?? {});
      const { job, created } = await store.create({ job_id: body.job_id, kind, lifecycle_id: body.lifecycle_id, request: body });
      if (created) enqueue(job);
      const accepted: AgentJobAccepted = { job_id: job.job_id, status: job.status, kind: job.kind };
      res.status(202).json(accepted);
    });
  for (const kind of AgentJobKindSchema.options) submit(kind, AgentJobRequestSchemas[kind]);
  app.post(AGENT_PATHS.decommission, async (req, res) => {
    const body = AgentDecommissionRequestSchema.parse(req.body ?? {});
    if (body.host_uuid !== settings.ini.agent['host-uuid']) {
      return sendError(res, 409, 'host_mismatch', `this agent is host ${settings.ini.agent['host-uuid']}, not ${body.host_uuid}; nothing was changed`);
    }
    const answer = await decommission();
    res.once('close', cleanedUp);
    res.json(answer);
  });
  app.get(AGENT_PATHS.jobViewRoute, (req, res) => {
    const job = store.get(req.params.id);
    if (!job) return sendError(res, 404, 'not_found', `no job ${req.params.id}`);
    res.json(publicJob(job));
  });
  app.use((req, res) => sendError(res, 404, 'not_found', `no route for ${req.method} ${req.path}`));
  app.use(errorHandler);

  const server = await startHttpsServer(
    app,
    {
      identity: settings,
      clientCertificates: { ca: settings.caPem },
      host: settings.agentHost,
      port: settings.port,
      handshakeFailure: 'agent: TLS handshake refused',
    },
    logger,
  );
  const port = server.port;

  // Resume what a previous run left unfinished (compose up is idempotent), in creation order.
  const unfinished = store
    .all()
    .filter((j) => j.status === 'pending' || j.status === 'running')
    .sort((a, b) => a.created_at.localeCompare(b.created_at));
  for (const job of unfinished) {
    logger.info({ job_id: job.job_id, kind: job.kind }, 'resuming job');
    enqueue(job);
  }
  if (decommissioned) {
    // A restart in the middle of the clean-up finishes it; the master no longer takes heartbeats.
    chain = chain
      .then(async () => void (await removeDeckies()))
      .catch((err) => logger.error({ err }, 'decommission clean-up failed'))
      .finally(cleanedUp);
  } else {
    reporter.start();
  }
  logger.info(
    { port, project: settings.composeProject, host_uuid: settings.ini.agent['host-uuid'], ipvlan: ipvlanHost, resumed: unfinished.length },
    'decnet agent listening (mTLS)',
  );

  return {
    url: `https://127.0.0.1:${port}`,
    port,
    decommissioned: decommissionDone,
    async stop() {
      stopping = true;
      reporter.stop();
      await server.close();
      await chain;
    },
  };
}
