/**
 * Submitting a deploy: validate, allocate, commit desired state and one pending lifecycle row per
 * decky in one transaction, then start the workflows. Nothing here waits on Docker.
 */
import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Decky, DeckyLifecycle, DeploymentSettings, IdempotencyKey } from '../entities';
import { specToDeckyFields } from '../entities/mappers';
import { readFleetDefinition, resolveFleet } from '../domain/fleet';
import { FleetConflictError, FleetInputError } from '../domain/errors';
import type { DeckyRequest, DeployRequest, FleetDefinition, Network, Trigger } from '../domain/schemas';
import { ConflictError } from './errors';
import type { OperationsContext } from './context';
import { startLifecycleWorkflowsInBackground } from './workflow-start';
import { createPendingLifecycle } from './lifecycle-rows';
import { deploymentMode } from './deployment-mode';
import { assignHostsRoundRobin } from '../domain/host-assignment';
import { lockFleet } from './locks';
import { assertLanMayChange } from './network';

export interface DeployResponse {
  message: string;
  mode: 'swarm' | 'unihost';
  lifecycle_ids: string[];
  deckies: string[];
  teardown_lifecycle_ids: string[];
  warnings: string[];
}

export async function submitDeploy(
  ctx: OperationsContext,
  request: DeployRequest,
  opts: { trigger: Trigger; idempotencyKey?: string },
): Promise<DeployResponse> {
  const { definition, warnings } = readFleetDefinition(request);
  const requestHash = createHash('sha256').update(JSON.stringify(request)).digest('hex');

  const em = ctx.orm.em.fork();
  const planned = await em.transactional(async (tx) => {
    await lockFleet(tx);
    if (opts.idempotencyKey) {
      const seen = await tx.findOne(IdempotencyKey, { key: opts.idempotencyKey });
      if (seen) {
        if (seen.requestHash !== requestHash) {
          throw new ConflictError('idempotency_key_reused', `Idempotency-Key "${opts.idempotencyKey}" was already used for a different request`);
        }
        return { response: seen.response as unknown as DeployResponse, toStart: [] as DeckyLifecycle[] };
      }
    }
    return planDeploy(ctx, tx, definition, warnings, request.replace_fleet, opts, requestHash);
  });

  // Answer once committed; a crash before the starts leaves pending rows the reconciler starts.
  startLifecycleWorkflowsInBackground(ctx, planned.toStart);
  return planned.response;
}

async function planDeploy(
  ctx: OperationsContext,
  tx: EntityManager,
  definition: FleetDefinition,
  warnings: string[],
  replaceFleet: boolean,
  opts: { trigger: Trigger; idempotencyKey?: string },
  requestHash: string,
) {
  const settings = await tx.findOneOrFail(DeploymentSettings, { id: 1 });
  const fleet = await tx.find(Decky, {}, { orderBy: { name: 'asc' } });
  // replace_fleet: deckies absent from the new definition go; same-named ones are redeployed with it.
  const replaced = replaceFleet ? fleet : [];
  const kept = replaceFleet ? [] : fleet;

  checkDeploymentLimit(definition.deckies, kept.length, settings.deploymentLimit);
  const network = applyNetwork(settings, definition.network, kept.map((d) => d.name));
  const specs = resolveFleet(definition.deckies, {
    catalogue: ctx.catalogue,
    network: { subnet: network.subnet, gateway: network.gateway, ip_range: network.ip_range },
    existing: new Map(kept.map((d) => [d.name, d.ip])),
    rng: Math.random,
    customServices: definition.custom_services,
  });

  // Deckies with an operation in flight: a replace must wait for them, and they are never re-homed.
  const busy = new Set(
    (await tx.find(DeckyLifecycle, { deckyName: { $in: fleet.map((d) => d.name) }, status: { $in: ['pending', 'running'] } })).map((r) => r.deckyName),
  );
  const replacedBusy = replaced.filter((d) => busy.has(d.name));
  if (replacedBusy.length > 0) {
    throw new ConflictError('operation_in_flight', `an operation is in flight on ${replacedBusy.map((d) => d.name).join(', ')}; wait for it before replacing the fleet`);
  }

  const now = new Date();
  const newRow = (deckyName: string, operation: 'deploy' | 'teardown', hostUuid: string | null) =>
    createPendingLifecycle(tx, { deckyName, operation, trigger: opts.trigger, hostUuid, now });

  // Swarm placement (SPEC §8): orphans of hosts that are no longer live are re-homed along with
  // the new deckies; deckies on live hosts (and on the master) stay where they are.
  const mode = await deploymentMode(tx, ctx.role);
  const liveUuids = mode.hosts.map((h) => h.uuid);
  const orphans = mode.mode === 'swarm' ? kept.filter((d) => d.hostUuid && !liveUuids.includes(d.hostUuid) && !busy.has(d.name)) : [];
  const byName = new Map(replaced.map((d) => [d.name, d]));
  const placement = assignHostsRoundRobin(
    [...orphans.map((d) => ({ name: d.name, hostUuid: null })), ...specs.map((s) => ({ name: s.name, hostUuid: byName.get(s.name)?.hostUuid ?? null }))],
    liveUuids,
  );

  const expandedNames = new Set(specs.map((s) => s.name));
  const teardowns = replaced.filter((d) => !expandedNames.has(d.name)).map((d) => newRow(d.name, 'teardown', d.hostUuid));
  const rehomed = orphans.map((decky) => {
    const hostUuid = placement.get(decky.name) ?? null;
    ctx.logger.info({ decky: decky.name, from_host: decky.hostUuid, to_host: hostUuid }, 're-homing an orphaned decky');
    Object.assign(decky, { hostUuid, state: 'pending', lastError: null });
    return newRow(decky.name, 'deploy', hostUuid);
  });
  const deploys = specs.map((spec) => {
    const hostUuid = placement.get(spec.name) ?? null;
    const decky = byName.get(spec.name) ?? tx.create(Decky, { ...specToDeckyFields(spec), createdAt: now, updatedAt: now } as Decky);
    Object.assign(decky, specToDeckyFields(spec), { hostUuid, state: 'pending', lastError: null });
    return newRow(spec.name, 'deploy', hostUuid);
  });
  // A replaced decky that keeps its name frees its old IP only within this same transaction.
  await tx.flush();

  const started = [...deploys, ...rehomed];
  const response: DeployResponse = {
    message: `accepted ${deploys.length} decky(ies) for deploy${rehomed.length ? `, ${rehomed.length} orphan(s) re-homed` : ''}${teardowns.length ? ` and ${teardowns.length} for teardown` : ''}; ${mode.message}`,
    mode: mode.mode,
    lifecycle_ids: started.map((r) => r.id),
    deckies: started.map((r) => r.deckyName),
    teardown_lifecycle_ids: teardowns.map((r) => r.id),
    warnings,
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
  const asked = requested.reduce((sum, d) => sum + (d.amount ?? 1), 0);
  if (keptCount + asked > limit) {
    throw new FleetConflictError('deployment_limit', `deploying ${asked} decky(ies) next to ${keptCount} existing would exceed the deployment limit of ${limit}`, {
      deployment_limit: limit,
      deckies_used: keptCount,
      requested: asked,
    });
  }
}

/**
 * The request's network, if any, configures the LAN; it may only change while no decky is kept on
 * the old one (the rule of PUT /system/network too).
 */
function applyNetwork(settings: DeploymentSettings, requested: Partial<Network> | undefined, keptDeckies: string[]): Network {
  const current = {
    interface: settings.interface ?? undefined,
    subnet: settings.subnet ?? undefined,
    gateway: settings.gateway ?? undefined,
    ip_range: settings.ipRange ?? undefined,
    ipvlan: settings.ipvlan,
  };
  const merged = { ...current, ...Object.fromEntries(Object.entries(requested ?? {}).filter(([, v]) => v !== undefined)) };
  const changed = (['interface', 'subnet', 'gateway', 'ip_range', 'ipvlan'] as const).filter(
    (k) => requested?.[k] !== undefined && requested[k] !== current[k],
  );
  assertLanMayChange(settings, changed, keptDeckies, 'Tear them down or use replace_fleet.');
  if (!merged.interface || !merged.subnet || !merged.gateway) {
    throw new FleetInputError('no LAN network is configured: set it (PUT /api/v1/system/network, `decnet network set`, or the web wizard), or give [general] net, gw and interface (INI) or network {subnet, gateway, interface} (JSON)', {
      key: 'network',
    });
  }
  Object.assign(settings, {
    interface: merged.interface,
    subnet: merged.subnet,
    gateway: merged.gateway,
    ipRange: merged.ip_range ?? null,
    ipvlan: merged.ipvlan ?? false,
  });
  return { interface: merged.interface, subnet: merged.subnet, gateway: merged.gateway, ip_range: merged.ip_range, ipvlan: merged.ipvlan };
}
