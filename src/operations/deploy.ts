/**
 * Submitting a deploy: validate, allocate, commit desired state and one pending lifecycle row per
 * decky in one transaction, then start the workflows. Nothing here waits on Docker. A dry run is
 * the same transaction rolled back: its plan, nothing written, nothing started.
 */
import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Decky, DeckyLifecycle, DeploymentSettings, IdempotencyKey, SwarmHost, loadDeploymentSettings } from '../entities';
import { specToDeckyFields } from '../entities/mappers';
import { readFleetDefinition, requestedDeckyCount, resolveFleet, seededRng } from '../domain/fleet';
import { FleetConflictError, FleetInputError } from '../domain/errors';
import {
  IN_FLIGHT_STATUSES,
  type DeckyRequest,
  type DeployPlan,
  type DeployRequest,
  type PlannedDecky,
  type DeployResponseBody,
  type FleetDefinition,
  type Network,
  type Trigger,
} from '../domain/schemas';
import { ConflictError } from './errors';
import type { OperationsContext } from './context';
import { startLifecycleWorkflowsInBackground } from './workflow-start';
import { assignDeckyHost, createPendingLifecycle } from './lifecycle-rows';
import { deploymentMode } from './deployment-mode';
import { assignHostsRoundRobin, networkForHost } from '../domain/host-assignment';
import { lockFleet } from './locks';
import { assertLanMayChange, changedLanFields } from './network';
import { LanRequestSchema } from '../domain/lan';

export type DeployResponse = DeployResponseBody;

interface DeployOptions {
  trigger: Trigger;
  idempotencyKey?: string;
}

export async function submitDeploy(ctx: OperationsContext, request: DeployRequest, opts: DeployOptions): Promise<DeployResponse> {
  const planned = await deployTransaction(ctx, request, opts, 'commit');

  // A replayed Idempotency-Key starts nothing, so it re-homes nothing either.
  if (planned.toStart.length > 0) {
    for (const r of planned.response.plan.rehomed) {
      ctx.logger.info({ decky: r.name, from_host: r.from_host.uuid, to_host: r.to_host.uuid }, 're-homing an orphaned decky');
    }
  }
  // Answer once committed; a crash before the starts leaves pending rows the reconciler starts.
  startLifecycleWorkflowsInBackground(ctx, planned.toStart);
  return planned.response;
}

/**
 * POST /deckies/deploy?dry_run=true: the deploy's own transaction (its lock, validation,
 * allocation and placement, every refusal), rolled back; the plan instead of workflows.
 */
export async function previewDeploy(ctx: OperationsContext, request: DeployRequest, opts: DeployOptions): Promise<DeployPlan> {
  return (await deployTransaction(ctx, request, opts, 'rollback')).response.plan;
}

/** Thrown out of the transaction to roll it back, carrying what it planned. */
class DryRunRollback extends Error {
  constructor(readonly planned: Planned) {
    super('dry run: rolled back');
  }
}

interface Planned {
  response: DeployResponse;
  toStart: DeckyLifecycle[];
}

interface PlanInput {
  definition: FleetDefinition;
  warnings: string[];
  replaceFleet: boolean;
  opts: DeployOptions;
  requestHash: string;
}

async function deployTransaction(ctx: OperationsContext, request: DeployRequest, opts: DeployOptions, outcome: 'commit' | 'rollback'): Promise<Planned> {
  // Read before the lock (in a context of its own, so the transaction reads the settings afresh)
  // to bound the request before it is expanded; the fleet is checked against it under the lock.
  const { deploymentLimit } = await loadDeploymentSettings(ctx.orm.em.fork());
  const { definition, warnings } = readFleetDefinition(request, deploymentLimit);
  const requestHash = createHash('sha256').update(JSON.stringify(request)).digest('hex');

  const em = ctx.orm.em.fork();
  try {
    return await em.transactional(async (tx) => {
      await lockFleet(tx);
      const planned = await replayOrPlan(ctx, tx, { definition, warnings, replaceFleet: request.replace_fleet, opts, requestHash });
      if (outcome === 'rollback') throw new DryRunRollback(planned);
      return planned;
    });
  } catch (err) {
    if (err instanceof DryRunRollback) return err.planned;
    throw err;
  }
}

/** A repeated Idempotency-Key answers what it answered the first time; anything else is planned. */
async function replayOrPlan(ctx: OperationsContext, tx: EntityManager, input: PlanInput): Promise<Planned> {
  const { opts, requestHash } = input;
  if (opts.idempotencyKey) {
    const seen = await tx.findOne(IdempotencyKey, { key: opts.idempotencyKey });
    if (seen) {
      if (seen.requestHash !== requestHash) {
        throw new ConflictError('idempotency_key_reused', `Idempotency-Key "${opts.idempotencyKey}" was already used for a different request`);
      }
      return { response: seen.response as unknown as DeployResponse, toStart: [] };
    }
  }
  return planDeploy(ctx, tx, input);
}

async function planDeploy(ctx: OperationsContext, tx: EntityManager, { definition, warnings, replaceFleet, opts, requestHash }: PlanInput): Promise<Planned> {
  const settings = await loadDeploymentSettings(tx);
  const fleet = await tx.find(Decky, {}, { orderBy: { name: 'asc' } });
  // replace_fleet: deckies absent from the new definition go; same-named ones are redeployed with it.
  const replaced = replaceFleet ? fleet : [];
  const kept = replaceFleet ? [] : fleet;

  checkDeploymentLimit(definition.deckies, kept.length, settings.deploymentLimit);
  const network = applyNetwork(
    settings,
    definition.network,
    kept.map((d) => d.name),
  );
  const resolve = (holding: Decky[]) =>
    resolveFleet(definition.deckies, {
      catalogue: ctx.catalogue,
      network: { subnet: network.subnet, gateway: network.gateway, ip_range: network.ip_range },
      existing: new Map(holding.map((d) => [d.name, d.ip])),
      // Seeded by the request: the services and distros a dry run shows are the ones its deploy picks.
      rng: seededRng(Number.parseInt(requestHash.slice(0, 8), 16)),
      customServices: definition.custom_services,
    });
  let specs = resolve(kept);
  // replace_fleet: the deckies it drops run until their teardown ends, so their IPs stay taken.
  const dropped = replaced.filter((d) => !specs.some((s) => s.name === d.name));
  if (dropped.length > 0) specs = resolve(dropped);

  // Deckies with an operation in flight: a replace must wait for them, and they are never re-homed.
  const busy = new Set(
    (await tx.find(DeckyLifecycle, { deckyName: { $in: fleet.map((d) => d.name) }, status: { $in: [...IN_FLIGHT_STATUSES] } })).map((r) => r.deckyName),
  );
  const replacedBusy = replaced.filter((d) => busy.has(d.name));
  if (replacedBusy.length > 0) {
    throw new ConflictError(
      'operation_in_flight',
      `an operation is in flight on ${replacedBusy.map((d) => d.name).join(', ')}; wait for it before replacing the fleet`,
    );
  }

  const now = new Date();
  const newRow = (deckyName: string, operation: 'deploy' | 'teardown', hostUuid: string | null) =>
    createPendingLifecycle(tx, { deckyName, operation, trigger: opts.trigger, hostUuid, now });

  // Swarm placement (architecture.md §8): orphans of hosts that are no longer live are re-homed along with
  // the new deckies; deckies on live hosts (and on the master) stay where they are.
  const mode = await deploymentMode(tx, ctx.role);
  const liveUuids = mode.hosts.map((h) => h.uuid);
  const orphans = mode.mode === 'swarm' ? kept.filter((d) => d.hostUuid && !liveUuids.includes(d.hostUuid) && !busy.has(d.name)) : [];
  const byName = new Map(replaced.map((d) => [d.name, d]));
  const placement = assignHostsRoundRobin(
    [...orphans.map((d) => ({ name: d.name, hostUuid: null })), ...specs.map((s) => ({ name: s.name, hostUuid: byName.get(s.name)?.hostUuid ?? null }))],
    liveUuids,
  );
  // The hosts the plan names: the live ones, and those the orphans leave.
  const hosts = new Map<string, SwarmHost>(mode.hosts.map((h) => [h.uuid, h]));
  if (orphans.length > 0) {
    for (const h of await tx.find(SwarmHost, { uuid: { $in: orphans.map((d) => d.hostUuid!) } })) hosts.set(h.uuid, h);
  }
  const planHost = (uuid: string) => ({ uuid, name: hosts.get(uuid)?.name ?? uuid });

  const expandedNames = new Set(specs.map((s) => s.name));
  const teardowns = replaced.filter((d) => !expandedNames.has(d.name)).map((d) => newRow(d.name, 'teardown', d.hostUuid));
  const rehomed = orphans.map((decky) => {
    const hostUuid = placement.get(decky.name) ?? null;
    const moved = { name: decky.name, from_host: planHost(decky.hostUuid!), to_host: planHost(hostUuid!) };
    assignDeckyHost(decky, hostUuid);
    Object.assign(decky, { state: 'pending', lastError: null });
    return { moved, row: newRow(decky.name, 'deploy', hostUuid) };
  });
  const lan: { driver: PlannedDecky['driver'] } = { driver: network.ipvlan ? 'ipvlan' : 'macvlan' };
  const deploys = specs.map((spec) => {
    const hostUuid = placement.get(spec.name) ?? null;
    const decky = byName.get(spec.name) ?? tx.create(Decky, { ...specToDeckyFields(spec), createdAt: now, updatedAt: now } as Decky);
    Object.assign(decky, specToDeckyFields(spec), { state: 'pending', lastError: null });
    assignDeckyHost(decky, hostUuid);
    const host = hostUuid ? hosts.get(hostUuid) : undefined;
    const { network: hostLan, forcedIpvlan } = host ? networkForHost(lan, host) : { network: lan, forcedIpvlan: false };
    const planned: PlannedDecky = {
      name: spec.name,
      ip: spec.ip,
      services: spec.services,
      distro: spec.distro,
      archetype: spec.archetype,
      hostname: spec.hostname,
      host: hostUuid ? planHost(hostUuid) : null,
      driver: hostLan.driver,
      ipvlan_forced: forcedIpvlan,
    };
    return { planned, row: newRow(spec.name, 'deploy', hostUuid) };
  });
  // A replaced decky that keeps its name frees its old IP only within this same transaction.
  await tx.flush();

  const started = [...deploys.map((d) => d.row), ...rehomed.map((r) => r.row)];
  const plan: DeployPlan = {
    mode: mode.mode,
    message: `${deploys.length} decky(ies) to deploy${rehomed.length ? `, ${rehomed.length} orphan(s) to re-home` : ''}${teardowns.length ? `, ${teardowns.length} to tear down` : ''}; ${mode.message}`,
    network,
    deckies: deploys.map((d) => d.planned),
    rehomed: rehomed.map((r) => r.moved),
    teardowns: teardowns.map((r) => r.deckyName),
    warnings,
  };
  const response: DeployResponse = {
    message: `accepted ${deploys.length} decky(ies) for deploy${rehomed.length ? `, ${rehomed.length} orphan(s) re-homed` : ''}${teardowns.length ? ` and ${teardowns.length} for teardown` : ''}; ${mode.message}`,
    mode: mode.mode,
    lifecycle_ids: started.map((r) => r.id),
    deckies: started.map((r) => r.deckyName),
    teardown_lifecycle_ids: teardowns.map((r) => r.id),
    plan,
  };
  if (opts.idempotencyKey) {
    tx.create(IdempotencyKey, { key: opts.idempotencyKey, requestHash, response: response as unknown as Record<string, unknown>, createdAt: now });
  }
  return { response, toStart: [...teardowns, ...started] };
}

/**
 * Before any expansion or IP allocation: the requested deckies (each `amount`, default 1) next to
 * the ones the deploy keeps must fit the deployment limit.
 */
function checkDeploymentLimit(requested: DeckyRequest[], keptCount: number, limit: number): void {
  const asked = requestedDeckyCount(requested);
  if (keptCount + asked > limit) {
    throw new FleetConflictError(
      'deployment_limit',
      `deploying ${asked} decky(ies) next to ${keptCount} existing would exceed the deployment limit of ${limit}`,
      {
        deployment_limit: limit,
        deckies_used: keptCount,
        requested: asked,
      },
    );
  }
}

/**
 * The request's network, if any, configures the LAN; it may only change while no decky is kept on
 * the old one (the rule of PUT /system/network too).
 */
function applyNetwork(settings: DeploymentSettings, requested: Partial<Network> | undefined, keptDeckies: string[]): Network {
  const given = Object.fromEntries(Object.entries(requested ?? {}).filter(([, v]) => v !== undefined)) as Partial<Network>;
  const merged = {
    interface: given.interface ?? settings.interface ?? undefined,
    subnet: given.subnet ?? settings.subnet ?? undefined,
    gateway: given.gateway ?? settings.gateway ?? undefined,
    ip_range: given.ip_range ?? settings.ipRange ?? undefined,
    ipvlan: given.ipvlan ?? settings.ipvlan,
  };
  const changed = changedLanFields(settings, {
    interface: merged.interface ?? null,
    subnet: merged.subnet ?? null,
    gateway: merged.gateway ?? null,
    ipRange: merged.ip_range ?? null,
    ipvlan: merged.ipvlan,
  });
  assertLanMayChange(settings, changed, keptDeckies, 'Tear them down or use replace_fleet.');
  if (!merged.interface || !merged.subnet || !merged.gateway) {
    throw new FleetInputError(
      'no LAN network is configured: set it (PUT /api/v1/system/network, `decnet network set`, or the web wizard), or give [general] net, gw and interface (INI) or network {subnet, gateway, interface} (JSON)',
      {
        key: 'network',
      },
    );
  }
  // A LAN given with the deploy follows the rules of PUT /system/network (its interface is
  // checked where the deckies run: on the master's engine or by each agent).
  if (changed.length > 0) {
    const checked = LanRequestSchema.safeParse({
      interface: merged.interface,
      subnet: merged.subnet,
      gateway: merged.gateway,
      ip_range: merged.ip_range,
      driver: merged.ipvlan ? 'ipvlan' : 'macvlan',
    });
    if (!checked.success) {
      const issue = checked.error.issues[0];
      throw new FleetInputError(`network.${issue.path.join('.')}: ${issue.message}`, { key: 'network', path: ['network', ...issue.path.map(String)] });
    }
  }
  Object.assign(settings, {
    interface: merged.interface,
    subnet: merged.subnet,
    gateway: merged.gateway,
    ipRange: merged.ip_range ?? null,
    ipvlan: merged.ipvlan,
  });
  return { interface: merged.interface, subnet: merged.subnet, gateway: merged.gateway, ip_range: merged.ip_range, ipvlan: merged.ipvlan };
}
