/**
 * The local Docker runtime of deckies: the LAN network, one compose file per decky, compose up/down,
 * and verification with dockerode. Used by the master's activities and (for swarm) by agents.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import Docker from 'dockerode';
import { z } from 'zod';
import { LanNetworkSpecSchema, type DeckySpec, type LanNetworkSpec } from '../domain/schemas';
import type { Catalogue } from '../domain/catalog';
import { LABELS, ROLES, lanNetworkName, renderComposeYaml, serviceImage } from '../domain/compose-render';
import { deckyRuntimeStates, type DeckyRuntimeState, type ObservedContainer, type ObservedEngine } from '../domain/drift';
import { COMMAND_TIMEOUT_MS, composeCommand, run, type CommandResult } from './command';
import { UpBatches } from './up-batches';
import { ComposeProcessFiles } from './process-files';
import { classifyComposeFailure, ipvlanUnsupported, isIpvlanRefusal, missingImage, networkConflict, networkDriverMismatch, RuntimeError } from './errors';

export interface RuntimeOptions {
  docker: Docker;
  project: string;
  /** Where the per-decky compose files live. */
  workDir: string;
  catalogue: Catalogue;
  /**
   * The LAN network's Docker name; default `<project>_lan`. Agents that share one Docker engine
   * (tests) share one LAN network, as hosts on one LAN do.
   */
  networkName?: string;
  /**
   * Runs a move of the LAN network with no other process moving it (the master's workers share
   * one engine: a PostgreSQL lock); moves within this process run one at a time anyway.
   */
  moveExclusively?: <T>(move: () => Promise<T>) => Promise<T>;
}

export interface VerifyReport {
  running: string[];
  missing: string[];
  notRunning: string[];
  baseIp?: string;
}

/** How many driver changes' outcomes the runtime keeps for their later rows (far more than run at once). */
const KEPT_MOVE_ATTEMPTS = 32;

/** A container on the LAN network, as it rejoins another: its address (static or given) and DNS aliases. */
const LanMemberSchema = z.object({ id: z.string(), ip: z.string().optional(), aliases: z.array(z.string()) });
type LanMember = z.infer<typeof LanMemberSchema>;

/**
 * Written before a driver change takes the LAN network down, removed once every container is back
 * on one: found by the next move (moves never overlap), it says what the network was and who was
 * on it, though the process that wrote it was killed with the containers off any network.
 */
const LanSwapSchema = z.object({ from: LanNetworkSpecSchema, members: z.array(LanMemberSchema) });
type LanSwap = z.infer<typeof LanSwapSchema>;

/** The container whose network namespace this one joined (`network_mode: service:base`), if any. */
const namespaceOwner = (c: Docker.ContainerInfo): string | undefined => /^container:(.+)$/.exec(c.HostConfig?.NetworkMode ?? '')?.[1];

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

const sameLanButDriver = (a: LanNetworkSpec, b: LanNetworkSpec) => a.subnet === b.subnet && a.gateway === b.gateway && a.parent === b.parent;

const isNotFound = (err: unknown) => (err as { statusCode?: number }).statusCode === 404;

export class ComposeRuntime {
  readonly networkName: string;
  private readonly upBatches: UpBatches;
  /** The compose process of each decky, on disk: it may outlive a worker killed with SIGKILL. */
  private readonly composeProcesses: ComposeProcessFiles;
  /** Deckies deploying together need the network once: concurrent callers share one check. */
  private ensuringNetwork = new Map<string, Promise<string>>();
  /** The LAN network's driver moves, one after the other (moveLanNetwork). */
  private moving: Promise<unknown> = Promise.resolve();
  /** The latest driver changes' attempts on this engine, by change. */
  private readonly moveAttempts = new Map<string, Promise<string>>();

  constructor(private readonly opts: RuntimeOptions) {
    this.networkName = opts.networkName ?? lanNetworkName(opts.project);
    this.composeProcesses = new ComposeProcessFiles(this.projectDir, COMMAND_TIMEOUT_MS);
    this.upBatches = new UpBatches({
      runUp: async (files) => {
        const deckies = files.map((f) => path.basename(f, '.yml'));
        let started: number | undefined;
        try {
          return await run([...(await composeCommand()), '-p', opts.project, ...files.flatMap((f) => ['-f', f]), 'up', '-d', '--no-build'], {
            onSpawn: (pid) => this.composeProcesses.record(deckies, (started = pid)),
          });
        } finally {
          if (started !== undefined) await this.composeProcesses.clear(deckies, started);
        }
      },
    });
  }

  get project(): string {
    return this.opts.project;
  }

  /** The project's compose files, its remembered LAN and its compose processes' pid files. */
  private get projectDir(): string {
    return path.join(this.opts.workDir, this.opts.project);
  }

  composeFile(deckyName: string): string {
    return path.join(this.projectDir, `${deckyName}.yml`);
  }

  /** Write the decky's compose file atomically (rename), so a crash never leaves half a file. */
  async writeComposeFile(decky: DeckySpec): Promise<string> {
    const file = this.composeFile(decky.name);
    await fs.mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await fs.writeFile(tmp, renderComposeYaml(decky, { project: this.opts.project, catalogue: this.opts.catalogue, network: this.networkName }));
    await fs.rename(tmp, file);
    return file;
  }

  /**
   * Make sure the LAN network exists with the wanted driver and pool. A network that differs is
   * replaced only when no container (running or stopped) is attached: never are deckies detached
   * as a side effect of a deploy, they would lose their LAN address while still called `running`.
   */
  ensureLanNetwork(spec: LanNetworkSpec): Promise<string> {
    const key = JSON.stringify(spec);
    const inFlight = this.ensuringNetwork.get(key);
    if (inFlight) return inFlight;
    const ensuring = this.ensureLanNetworkOnce(spec).finally(() => this.ensuringNetwork.delete(key));
    this.ensuringNetwork.set(key, ensuring);
    return ensuring;
  }

  private async ensureLanNetworkOnce(spec: LanNetworkSpec): Promise<string> {
    await this.rememberLan(spec);
    const { docker } = this.opts;
    const existing = await this.inspectLan();
    if (existing) {
      const pool = existing.IPAM?.Config?.[0] ?? {};
      const sameDriver = existing.Driver === spec.driver;
      const samePool = pool.Subnet === spec.subnet && (pool.Gateway ?? spec.gateway) === spec.gateway;
      const sameParent = existing.Options?.parent === spec.parent;
      if (sameDriver && samePool && sameParent) return `reused ${spec.driver} network ${this.networkName}`;
      // The network's own list holds only running containers; a stopped decky needs it too. One
      // never started (a failed deploy's) has nothing to lose.
      const attached = (await docker.listContainers({ all: true, filters: { network: [this.networkName] } })).filter((c) => c.State !== 'created').length;
      if (attached > 0) {
        if (!sameDriver) {
          throw networkDriverMismatch(
            `network ${this.networkName} is ${existing.Driver} with ${attached} attached container(s); this deploy needs ${spec.driver}. ` +
              "The network is kept and nothing attached to it was touched: a driver change moves the deckies on it (the host's use_ipvlan, or the LAN's driver), a deploy does not",
          );
        }
        throw networkConflict(
          `network ${this.networkName} exists with subnet ${pool.Subnet} on ${existing.Options?.parent} and ${attached} attached container(s); tear those deckies down before changing the LAN`,
        );
      }
      await docker.getNetwork(this.networkName).remove();
    }
    try {
      await this.createLanNetwork(spec);
    } catch (err) {
      const message = (err as Error).message;
      // Another workflow created it at the same moment (dockerd answers "already exists", or
      // "Pool overlaps" when that one took the subnet first): check it as an existing network.
      if (/already exists|Pool overlaps/i.test(message) && (await this.awaitOwnNetwork())) return this.ensureLanNetworkOnce(spec);
      if (/Pool overlaps/i.test(message)) {
        const holder = await this.networkHoldingSubnet(spec.subnet);
        // dockerd reserves the pool before the winner's network is listed: with no holder in
        // sight the race is still settling, so let the activity retry.
        if (!holder) throw new Error(`subnet ${spec.subnet} is being taken by a network that is not listed yet: ${message}`, { cause: err });
        throw networkConflict(`subnet ${spec.subnet} is already used by Docker network "${holder}" on this engine`);
      }
      if (isIpvlanRefusal(spec.driver, message)) throw ipvlanUnsupported(message);
      if (/parent|no such device|interface/i.test(message)) throw networkConflict(`cannot create ${spec.driver} network on ${spec.parent}: ${message}`);
      throw err;
    }
    return `created ${spec.driver} network ${this.networkName} on ${spec.parent}`;
  }

  private createLanNetwork(spec: LanNetworkSpec): Promise<Docker.Network> {
    return this.opts.docker.createNetwork({
      Name: this.networkName,
      Driver: spec.driver,
      CheckDuplicate: true,
      Options: spec.driver === 'ipvlan' ? { parent: spec.parent, ipvlan_mode: 'l2' } : { parent: spec.parent },
      // A named IPAM driver: an empty one costs a plugin lookup of about 15 s.
      IPAM: {
        Driver: 'default',
        Config: [{ Subnet: spec.subnet, Gateway: spec.gateway, ...(spec.ipRange ? { IPRange: spec.ipRange } : {}) }],
      },
      Labels: { [LABELS.project]: this.opts.project },
    });
  }

  private inspectLan(): Promise<Docker.NetworkInspectInfo | undefined> {
    return this.opts.docker
      .getNetwork(this.networkName)
      .inspect()
      .catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err))) as Promise<Docker.NetworkInspectInfo | undefined>;
  }

  /**
   * Takes the LAN network to `spec.driver` with every container on it (running or stopped) keeping
   * its address, then makes sure the decky's base is on it with the decky's IP. Docker holds one
   * subnet in one network per engine, so the network is replaced: every container leaves the old
   * one, the new one is created and each rejoins it with its address (its base container, and the
   * services in its namespace, are never recreated). When the new driver fails (the engine refuses
   * the network, or the kernel the first container joining it: ipvlan on a kernel without it), the
   * old network is put back the same way and the failure names the driver. Moves run one at a
   * time on this engine, and the rows of one driver change (`changeId`) share one attempt: the
   * first takes every container along (or is refused), the others get its outcome instead of
   * taking the LAN from under the deckies again. A swap cut off midway (its process killed with
   * the containers off the LAN) is on disk: the next move, the retry of that row first of all,
   * replaces the network again from what it was and brings every container of it back.
   */
  moveLanNetwork(spec: LanNetworkSpec, decky: DeckySpec, changeId: string): Promise<string> {
    let attempt = this.moveAttempts.get(changeId);
    if (!attempt) {
      const exclusively = this.opts.moveExclusively ?? ((move) => move());
      attempt = this.moving.then(() => exclusively(() => this.moveLanNetworkOnce(spec)));
      this.moving = attempt.catch(() => undefined);
      this.moveAttempts.set(changeId, attempt);
      for (const old of [...this.moveAttempts.keys()].slice(0, -KEPT_MOVE_ATTEMPTS)) this.moveAttempts.delete(old);
      // Only the engine's lasting verdicts are shared; a passing failure is tried again.
      attempt.catch((err: unknown) => {
        if (!(err instanceof RuntimeError && err.permanent)) this.moveAttempts.delete(changeId);
      });
    }
    return attempt.then(async (done) => {
      await this.reattachBaseToLan(decky);
      return done;
    });
  }

  private async moveLanNetworkOnce(spec: LanNetworkSpec): Promise<string> {
    const existing = await this.inspectLan();
    const interrupted = await this.interruptedSwap();
    const finished = interrupted && (await this.finishInterruptedSwap(interrupted, spec, existing));
    if (finished) return finished;
    if (!existing)
      throw networkConflict(
        `network ${this.networkName} does not exist on this engine: there is nothing to move to ${spec.driver} (heal or deploy the decky instead)`,
      );
    const pool = existing.IPAM?.Config?.[0] ?? {};
    const from: LanNetworkSpec = {
      driver: existing.Driver as LanNetworkSpec['driver'],
      parent: existing.Options?.parent ?? spec.parent,
      subnet: pool.Subnet ?? spec.subnet,
      gateway: pool.Gateway ?? spec.gateway,
      ipRange: pool.IPRange ?? null,
    };
    this.checkOnlyDriverChanges(from, spec);
    if (existing.Driver === spec.driver) return `network ${this.networkName} already ${spec.driver} (an earlier move took it there)`;
    const rejoined = await this.replaceLanNetwork(from, spec, await this.lanMembers());
    await this.rememberLan(spec);
    return `moved network ${this.networkName} from ${from.driver} to ${spec.driver} on ${spec.parent}: ${rejoined} container(s) rejoined it with their addresses`;
  }

  private checkOnlyDriverChanges(from: LanNetworkSpec, to: LanNetworkSpec): void {
    if (!sameLanButDriver(from, to)) {
      throw networkConflict(
        `network ${this.networkName} is ${from.subnet} via ${from.gateway} on ${from.parent}; a driver change moves deckies to ${to.subnet} via ${to.gateway} on ${to.parent} only when nothing else changes`,
      );
    }
  }

  /**
   * The swap that was cut off, done again towards `spec`: from the network as it was before it,
   * with the containers it had (those removed since left out) and any attached since (a newer
   * address wins). Undefined when nothing is left to do but an ordinary move: the LAN was changed
   * since (the swap's network is no more), or the swap got as far as `spec` before it was cut off.
   */
  private async finishInterruptedSwap(swap: LanSwap, spec: LanNetworkSpec, existing: Docker.NetworkInspectInfo | undefined): Promise<string | undefined> {
    const { from } = swap;
    const attached = existing ? await this.lanMembers() : [];
    const attachedIds = new Set(attached.map((m) => m.id));
    const offLan: LanMember[] = [];
    for (const m of swap.members) if (!attachedIds.has(m.id) && !(await this.containerGone(m.id))) offLan.push(m);
    const sameLan = sameLanButDriver(from, spec);
    // A move of another LAN with no network to go by: refused as an ordinary one is, the swap kept.
    if (!sameLan && !existing) return undefined;
    // Forgotten when the LAN changed since, or nothing is left to bring back: the network is what
    // `spec` asks for, or gone with every container it had.
    if (!sameLan || (offLan.length === 0 && (!existing || existing.Driver === spec.driver))) {
      await fs.rm(this.swapFile, { force: true });
      return undefined;
    }
    const members = new Map([...offLan, ...attached].map((m) => [m.id, m]));
    const rejoined = await this.replaceLanNetwork(from, spec, [...members.values()]);
    await this.rememberLan(spec);
    return `finished the move of network ${this.networkName} from ${from.driver} to ${spec.driver} that a killed process left midway: ${rejoined} container(s) rejoined it with their addresses`;
  }

  /** Every container on the LAN network with its address and aliases, as it rejoins a new one. */
  private async lanMembers(): Promise<LanMember[]> {
    const attached = await this.opts.docker.listContainers({ all: true, filters: { network: [this.networkName] } });
    const members: LanMember[] = [];
    for (const c of attached) {
      const endpoint = (await this.opts.docker.getContainer(c.Id).inspect()).NetworkSettings.Networks[this.networkName];
      if (!endpoint) continue;
      const ip = endpoint.IPAMConfig?.IPv4Address || endpoint.IPAddress || undefined;
      members.push({ id: c.Id, ip, aliases: endpoint.Aliases ?? [] });
    }
    return members;
  }

  /** Resolves with how many containers rejoined; the swap is on disk until they all have (or were put back). */
  private async replaceLanNetwork(from: LanNetworkSpec, to: LanNetworkSpec, members: LanMember[]): Promise<number> {
    await this.writeJsonFile(this.swapFile, { from, members } satisfies LanSwap);
    await this.emptyAndRemoveLan(members.map((m) => m.id));
    try {
      await this.createLanNetwork(to);
      const rejoined = await this.joinLan(members);
      await fs.rm(this.swapFile, { force: true });
      return rejoined;
    } catch (err) {
      const message = (err as Error).message;
      const failure = isIpvlanRefusal(to.driver, message)
        ? ipvlanUnsupported(message)
        : new RuntimeError('NetworkMoveFailed', `the engine refused the ${to.driver} network: ${message}`, true);
      let rejoined: number;
      try {
        await this.emptyAndRemoveLan([]);
        await this.createLanNetwork(from);
        rejoined = await this.joinLan(members);
        await fs.rm(this.swapFile, { force: true });
      } catch (restoreErr) {
        // Not the last word: the swap is on disk, and the activity's retry takes it up again.
        throw new RuntimeError(
          failure.type,
          `${failure.message}; putting the ${from.driver} network back failed too (${(restoreErr as Error).message}): its containers are off the LAN until the move is tried again`,
          false,
        );
      }
      throw new RuntimeError(
        failure.type,
        `${failure.message}. Nothing moved: network ${this.networkName} is ${from.driver} again and its ${rejoined} container(s) rejoined it with their addresses`,
        true,
      );
    }
  }

  /** Disconnects `ids` and whatever else is on the LAN network, then removes it (if it exists). */
  private async emptyAndRemoveLan(ids: string[]): Promise<void> {
    const network = this.opts.docker.getNetwork(this.networkName);
    const existing = await this.inspectLan();
    if (!existing) return;
    const attached = new Set([...ids, ...Object.keys(existing.Containers ?? {})]);
    // A container of an interrupted swap may be off the network already (the engine says so with a 500).
    const detached = (err: unknown) => isNotFound(err) || /is not connected to network/i.test((err as Error).message);
    for (const id of attached)
      await network.disconnect({ Container: id, Force: true }).catch((err: unknown) => (detached(err) ? undefined : Promise.reject(err)));
    await network.remove();
  }

  /** Connects each member that still exists (one removed meanwhile, by a teardown, is left out); resolves with how many. */
  private async joinLan(members: LanMember[]): Promise<number> {
    const network = this.opts.docker.getNetwork(this.networkName);
    let joined = 0;
    for (const member of members) {
      try {
        await network.connect({
          Container: member.id,
          EndpointConfig: { ...(member.ip ? { IPAMConfig: { IPv4Address: member.ip } } : {}), Aliases: member.aliases },
        });
        joined++;
      } catch (err) {
        if (!(isNotFound(err) && (await this.containerGone(member.id)))) throw err;
      }
    }
    return joined;
  }

  private containerGone(id: string): Promise<boolean> {
    return this.opts.docker
      .getContainer(id)
      .inspect()
      .then(
        () => false,
        (err: unknown) => (isNotFound(err) ? true : Promise.reject(err)),
      );
  }

  /**
   * After every teardown: remove the LAN network once no container uses it, so the last teardown
   * on this engine takes it along (the engine refuses to remove a network with endpoints too, so a
   * deploy attaching meanwhile keeps it). A deploy that made sure of the network just before and
   * has not attached yet is covered by `up`. Stopped containers count: the network's own list
   * holds only running ones, and a stopped decky could not start again without its network.
   */
  async removeLanNetworkIfUnused(): Promise<string> {
    const network = this.opts.docker.getNetwork(this.networkName);
    const existing = await network.inspect().catch((err) => (isNotFound(err) ? undefined : Promise.reject(err)));
    if (!existing) return `network ${this.networkName} already gone`;
    const attached = await this.opts.docker.listContainers({ all: true, filters: { network: [this.networkName] } });
    if (attached.length > 0) return `network ${this.networkName} kept: ${attached.length} container(s) attached`;
    try {
      await network.remove();
    } catch (err) {
      if (isNotFound(err)) return `network ${this.networkName} already gone`;
      if (/active endpoints/i.test((err as Error).message)) return `network ${this.networkName} kept: a container attached meanwhile`;
      throw err;
    }
    return `removed network ${this.networkName}`;
  }

  /**
   * The LAN last made sure of, on disk: `up` re-creates it when a teardown removed it after the
   * network step, even in a worker restarted in between.
   */
  private get lanFile(): string {
    return path.join(this.projectDir, 'lan.json');
  }

  private rememberLan(spec: LanNetworkSpec): Promise<void> {
    return this.writeJsonFile(this.lanFile, spec);
  }

  /** A driver change's swap of the LAN network while it runs (replaceLanNetwork). */
  private get swapFile(): string {
    return path.join(this.projectDir, 'lan-swap.json');
  }

  /** The swap a killed process left, if any. */
  private async interruptedSwap(): Promise<LanSwap | undefined> {
    const text = await fs.readFile(this.swapFile, 'utf8').catch(() => undefined);
    if (text === undefined) return undefined;
    const parsed = LanSwapSchema.safeParse(parseJson(text));
    if (parsed.success) return parsed.data;
    // Unreadable (a power cut can tear it; a kill cannot, it is renamed into place): a decky it
    // leaves off the LAN is drift's to find and heal, and moves go on.
    await fs.rm(this.swapFile, { force: true });
    return undefined;
  }

  /** Written whole or not at all (rename), so a kill never leaves half a file. */
  private async writeJsonFile(file: string, value: unknown): Promise<void> {
    await fs.mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await fs.writeFile(tmp, JSON.stringify(value));
    await fs.rename(tmp, file);
  }

  private async rememberedLan(): Promise<LanNetworkSpec | undefined> {
    const text = await fs.readFile(this.lanFile, 'utf8').catch(() => undefined);
    return text === undefined ? undefined : LanNetworkSpecSchema.parse(JSON.parse(text));
  }

  private async lanNetworkExists(): Promise<boolean> {
    return this.opts.docker
      .getNetwork(this.networkName)
      .inspect()
      .then(
        () => true,
        (err) => (isNotFound(err) ? false : Promise.reject(err)),
      );
  }

  /** True once our network is listed; a parallel creator's network may take a moment to appear. */
  private async awaitOwnNetwork(timeoutMs = 3000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const exists = await this.opts.docker
        .getNetwork(this.networkName)
        .inspect()
        .then(
          () => true,
          () => false,
        );
      if (exists || Date.now() >= deadline) return exists;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  private async networkHoldingSubnet(subnet: string): Promise<string | undefined> {
    const networks = await this.opts.docker.listNetworks();
    return networks.find((n) => n.Name !== this.networkName && n.IPAM?.Config?.some((c) => c.Subnet === subnet))?.Name;
  }

  /** Every image the decky needs must already be on the engine: no registry is used to pull. */
  async checkImages(decky: DeckySpec): Promise<void> {
    const images = [decky.base_image, ...decky.services.map((s) => serviceImage(decky, s, this.opts.catalogue))];
    for (const image of images) {
      await this.opts.docker
        .getImage(image)
        .inspect()
        .catch((err) => Promise.reject(isNotFound(err) ? missingImage(image) : err));
    }
  }

  /**
   * `compose up -d` of the decky's own file (in one invocation with the other deckies coming up at
   * the same moment): creates what is missing, leaves running containers alone.
   */
  async up(decky: DeckySpec, driver: 'macvlan' | 'ipvlan', signal?: AbortSignal): Promise<string> {
    // Before the file is rewritten: an earlier attempt's compose process may still be reading it.
    const waited = await this.composeProcesses.settled(decky.name, signal);
    const file = await this.writeComposeFile(decky);
    const failure = (result: CommandResult) => classifyComposeFailure(result.stderr, driver);
    await this.removeServicesOutsideBase(decky.name);
    await this.reattachBaseToLan(decky);
    try {
      await this.upBatches.up(decky.name, file, { signal, failure });
      return `compose up ${path.basename(file)}${waited ? ` (${waited})` : ''}`;
    } catch (err) {
      // The last teardown on this engine may have removed the LAN network after our network step.
      if (signal?.aborted || (await this.lanNetworkExists())) throw err;
      const lan = await this.rememberedLan();
      if (!lan)
        throw new RuntimeError(
          'LanNetworkGone',
          `network ${this.networkName} was removed by a teardown after the network step, and no LAN was ever made sure of here to re-create it`,
          false,
        );
      const recreated = await this.ensureLanNetwork(lan);
      await this.upBatches.up(decky.name, file, { signal, failure });
      return `compose up ${path.basename(file)} (${recreated} again: a teardown had removed it)`;
    }
  }

  /**
   * Remove every container of the decky, base included, found by label, whether or not its
   * compose file still exists. Done with the engine API rather than `compose down`: compose v1
   * lists the whole project and trips over containers that a parallel teardown just removed.
   */
  async down(deckyName: string): Promise<string> {
    // A cancelled deploy's compose process may still be creating this decky's containers, in this
    // process or left running by a killed one.
    await this.upBatches.settled(deckyName);
    await this.composeProcesses.settled(deckyName);
    const containers = await this.deckyContainers(deckyName);
    // Services first: they live in the base container's network namespace.
    const ordered = [...containers].sort((a, b) => Number(a.Labels[LABELS.role] === ROLES.base) - Number(b.Labels[LABELS.role] === ROLES.base));
    for (const c of ordered) await this.removeContainer(c.Id);
    await fs.rm(this.composeFile(deckyName), { force: true });
    return `removed ${containers.length} container(s)`;
  }

  /**
   * Before a mutation's `compose up`: remove the service containers that the decky no longer
   * runs (their ports may clash with the new ones), never the base. Returns what ran before.
   */
  async removeStaleServices(decky: DeckySpec): Promise<{ running: string[]; removed: string[] }> {
    const services = (await this.deckyContainers(decky.name)).filter((c) => c.Labels[LABELS.role] === ROLES.service);
    const stale = services.filter((c) => !decky.services.includes(c.Labels[LABELS.service]));
    for (const c of stale) await this.removeContainer(c.Id);
    return { running: services.map((c) => c.Labels[LABELS.service]), removed: stale.map((c) => c.Labels[LABELS.service]) };
  }

  /**
   * Service containers joined to a base container that is gone (removed, replaced) cannot be
   * started again: compose would refer to the old base. Removed, compose creates them in the
   * current base's network namespace.
   */
  private async removeServicesOutsideBase(deckyName: string): Promise<void> {
    const containers = await this.deckyContainers(deckyName);
    const base = containers.find((c) => c.Labels[LABELS.role] === ROLES.base);
    for (const c of containers) {
      if (c.Labels[LABELS.role] === ROLES.service && namespaceOwner(c) !== base?.Id) await this.removeContainer(c.Id);
    }
  }

  /**
   * A base container that runs but left the LAN (disconnected behind our back) is attached again
   * with the decky's IP: compose sees nothing to do for it, and replacing it would also replace
   * every service in its network namespace.
   */
  private async reattachBaseToLan(decky: DeckySpec): Promise<void> {
    const base = (await this.deckyContainers(decky.name)).find((c) => c.Labels[LABELS.role] === ROLES.base);
    if (!base || base.State !== 'running' || base.NetworkSettings?.Networks?.[this.networkName]) return;
    await this.opts.docker.getNetwork(this.networkName).connect({ Container: base.Id, EndpointConfig: { IPAMConfig: { IPv4Address: decky.ip } } });
  }

  private async removeContainer(id: string): Promise<void> {
    const container = this.opts.docker.getContainer(id);
    const gone = (err: unknown) => (isNotFound(err) || (err as { statusCode?: number }).statusCode === 304 ? undefined : Promise.reject(err));
    await container.stop({ t: 5 }).catch(gone);
    await container.remove({ force: true }).catch(gone);
  }

  async deckyContainers(deckyName: string): Promise<Docker.ContainerInfo[]> {
    return this.opts.docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.project}=${this.opts.project}`, `${LABELS.decky}=${deckyName}`] },
    });
  }

  /** Every decky of this compose project with its containers' runtime state (an agent's status). */
  async projectDeckies(): Promise<DeckyRuntimeState[]> {
    return deckyRuntimeStates(await this.observe());
  }

  /**
   * What the engine runs for drift detection: every decky's containers (keyed by decky name) and
   * the LAN network's driver and address holders (any container on it, ours or not).
   */
  async observe(): Promise<ObservedEngine> {
    const [containers, network] = await Promise.all([
      this.opts.docker.listContainers({ all: true, filters: { label: [`${LABELS.project}=${this.opts.project}`] } }),
      this.inspectLan(),
    ]);
    const deckies: Record<string, ObservedContainer[]> = {};
    for (const c of containers) {
      const decky = c.Labels[LABELS.decky];
      if (!decky) continue;
      (deckies[decky] ??= []).push({
        role: c.Labels[LABELS.role] === ROLES.base ? ROLES.base : (c.Labels[LABELS.service] ?? ''),
        name: (c.Names[0] ?? c.Id).replace(/^\//, ''),
        state: c.State,
        status: c.Status,
        id: c.Id,
        lanIp: c.NetworkSettings?.Networks?.[this.networkName]?.IPAddress || undefined,
        namespaceOwner: namespaceOwner(c),
      });
    }
    const holders: Record<string, string> = {};
    for (const attached of Object.values(network?.Containers ?? {})) {
      const ip = attached.IPv4Address?.split('/')[0];
      if (ip) holders[ip] = attached.Name;
    }
    return { deckies, lan: { driver: network?.Driver, holders } };
  }

  /**
   * The decky is healthy when verify finds nothing wrong; otherwise a retryable VerifyFailed
   * (containers may still be settling). Returns a one-line description of what runs.
   */
  async verifyHealthy(decky: DeckySpec): Promise<string> {
    const report = await this.verify(decky);
    const problems = [
      ...report.missing.map((s) => `${s} missing`),
      ...report.notRunning,
      ...(report.baseIp && report.baseIp !== decky.ip ? [`base holds ${report.baseIp}, expected ${decky.ip}`] : []),
    ];
    if (problems.length > 0) throw new RuntimeError('VerifyFailed', `decky ${decky.name} is not healthy: ${problems.join('; ')}`, false);
    return `${report.running.length} container(s) running, base on ${report.baseIp}`;
  }

  /** Inspect what really runs: the base and every service container up, the base holding the decky's IP. */
  async verify(decky: DeckySpec): Promise<VerifyReport> {
    const containers = await this.deckyContainers(decky.name);
    const key = (c: Docker.ContainerInfo) => (c.Labels[LABELS.role] === ROLES.base ? ROLES.base : (c.Labels[LABELS.service] ?? ''));
    const byService = new Map(containers.map((c) => [key(c), c]));
    const expected = [ROLES.base, ...decky.services];
    const report: VerifyReport = { running: [], missing: [], notRunning: [] };
    for (const svc of expected) {
      const c = byService.get(svc);
      if (!c) report.missing.push(svc);
      else if (c.State !== 'running') report.notRunning.push(`${svc} (${c.State}: ${c.Status})`);
      else report.running.push(svc);
    }
    const base = byService.get(ROLES.base);
    if (base) {
      const info = await this.opts.docker.getContainer(base.Id).inspect();
      report.baseIp = info.NetworkSettings.Networks[this.networkName]?.IPAddress || undefined;
    }
    return report;
  }
}
