/**
 * Swarm hosts after enrollment (architecture.md §8): the operators' list/patch/decommission, the agents'
 * heartbeat, and the sweep that marks silent hosts `unreachable`.
 * The heartbeat also carries agents' job results (signalled to the workflows) and their deckies'
 * runtime state (`degraded`).
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import pLimit from 'p-limit';
import { z } from 'zod';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Decky, DeckyLifecycle, DeploymentSettings, EnrollmentToken, SwarmHost, loadDeploymentSettings } from '../entities';
import type {
  AgentJobResult,
  AgentStatus,
  HeartbeatRequest,
  HeartbeatResponse,
  StaleDecky,
  SwarmHostDecommissionResponse,
  SwarmHostDriverMove,
  SwarmHostPatch,
  SwarmHostView,
} from '../domain/swarm-schemas';
import { isOutdatedAgent } from '../domain/version';
import type { NetworkDriver } from '../domain/schemas';
import { AgentClient } from './agent-client';
import { agentResultSignal } from '../workflows/signals';
import { ConflictError, ForbiddenError, NotFoundError } from '../operations/errors';
import { lockFleet } from '../operations/locks';
import { applyDrift } from '../operations/drift';
import { driftReason, type ObservedEngine } from '../domain/drift';
import type { OperationsContext } from '../operations/context';
import { failOverSilentHosts, type FailoverReport } from '../operations/failover';
import { assertNoMoveUnderWay, namedDeckies, planDriverMoves } from '../operations/driver-change';
import { startLifecycleWorkflowsInBackground } from '../operations/workflow-start';
import { networkForHost } from '../domain/host-assignment';
import { nowOf, type SwarmContext } from './context';

/** A host silent for this many heartbeat intervals is `unreachable`. */
export const MISSED_HEARTBEATS = 3;

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function hostToView(h: SwarmHost): SwarmHostView {
  return {
    uuid: h.uuid,
    name: h.name,
    address: h.address,
    agent_port: h.agentPort,
    status: h.status,
    last_heartbeat: iso(h.lastHeartbeat),
    client_cert_fingerprint: h.clientCertFingerprint,
    use_ipvlan: h.useIpvlan,
    network_drivers: h.networkDrivers,
    enrolled_at: h.enrolledAt.toISOString(),
    notes: h.notes,
    agent_version: h.agentVersion,
    agent_outdated: agentOutdated(h),
  };
}

/** Older than this master; an agent that heartbeats without a version predates version reporting. */
function agentOutdated(h: SwarmHost): boolean | null {
  if (h.agentVersion) return isOutdatedAgent(h.agentVersion);
  return h.lastHeartbeat ? true : null;
}

/** Every host, decommissioned ones included, oldest enrollment first. */
export async function listHosts(ctx: SwarmContext): Promise<SwarmHostView[]> {
  const hosts = await ctx.orm.em.fork().find(SwarmHost, {}, { orderBy: { enrolledAt: 'asc', name: 'asc' } });
  return hosts.map(hostToView);
}

async function requireHost(em: ReturnType<SwarmContext['orm']['em']['fork']>, uuid: string): Promise<SwarmHost> {
  const host = await em.findOne(SwarmHost, { uuid });
  if (!host) throw new NotFoundError(`swarm host ${uuid} does not exist`);
  return host;
}

/**
 * PATCH: `use_ipvlan` and `notes`. A driver change that the host's deckies would feel (the LAN's
 * driver is not ipvlan anyway) is refused (409) when the host's agent reports a kernel without
 * that driver, unless `force`; with running or degraded deckies on the host it moves them (one
 * `move` row each, answered 202 with their ids) and `use_ipvlan` changes once a move succeeded;
 * without, it changes at once. Under the fleet lock, so no deploy places a decky meanwhile.
 */
export async function patchHost(
  ctx: SwarmContext,
  operations: OperationsContext,
  uuid: string,
  patch: SwarmHostPatch,
): Promise<SwarmHostView | SwarmHostDriverMove> {
  const { view, moves, wanted } = await ctx.orm.em.fork().transactional(async (em) => {
    await lockFleet(em);
    const host = await requireHost(em, uuid);
    let moves: DeckyLifecycle[] = [];
    const settings = await loadDeploymentSettings(em);
    const wanted = effectiveDriver(settings, patch.use_ipvlan ?? host.useIpvlan);
    if (patch.use_ipvlan !== undefined) {
      const scope = { hostUuid: host.uuid, label: `swarm host "${host.name}"` };
      // Even the driver it has now: the moves under way would change it afterwards.
      await assertNoMoveUnderWay(em, scope);
      if (wanted !== effectiveDriver(settings, host.useIpvlan)) moves = await moveHostDeckies(ctx, em, host, wanted, patch.force === true);
      if (moves.length === 0) host.useIpvlan = patch.use_ipvlan;
    }
    if (patch.notes !== undefined) host.notes = patch.notes;
    return { view: hostToView(host), moves, wanted };
  });
  if (moves.length === 0) return view;
  ctx.logger.info({ host: view.name, host_uuid: uuid, moving_to: wanted, deckies: moves.map((r) => r.deckyName) }, "driver change: moving the host's deckies");
  startLifecycleWorkflowsInBackground(operations, moves);
  return { ...view, lifecycle_ids: moves.map((r) => r.id), moving_to: wanted };
}

/** The driver a host's deckies get: ipvlan when the host or the LAN says so (networkForHost). */
function effectiveDriver(settings: DeploymentSettings, useIpvlan: boolean): NetworkDriver {
  return networkForHost<{ driver: NetworkDriver }>({ driver: settings.ipvlan ? 'ipvlan' : 'macvlan' }, { useIpvlan }).network.driver;
}

async function moveHostDeckies(ctx: SwarmContext, em: EntityManager, host: SwarmHost, wanted: NetworkDriver, force: boolean): Promise<DeckyLifecycle[]> {
  if (host.networkDrivers && !host.networkDrivers.includes(wanted)) {
    if (force)
      ctx.logger.warn({ host: host.name, host_uuid: host.uuid, wanted, supported: host.networkDrivers }, "driver change forced past the agent's kernel probe");
    else {
      const deckies = (
        await em.find(Decky, { hostUuid: host.uuid, state: { $nin: ['failed', 'torn_down'] } }, { fields: ['name'], orderBy: { name: 'asc' } })
      ).map((d) => d.name);
      const current = wanted === 'ipvlan' ? 'macvlan' : 'ipvlan';
      const staying = deckies.length > 0 ? ` Its ${deckies.length} decky(ies) (${namedDeckies(deckies)}) stay on the ${current} network and keep running.` : '';
      throw new ConflictError(
        'driver_unsupported',
        `swarm host "${host.name}" cannot use ${wanted}: its agent reports that its kernel supports only ${host.networkDrivers.join(', ') || 'no LAN driver'}.${staying}`,
        { host: host.name, wanted, supported: host.networkDrivers, deckies },
      );
    }
  }
  return planDriverMoves(em, { hostUuid: host.uuid, label: `swarm host "${host.name}"` }, wanted);
}

/** How long the master waits for an agent to clean up before it decommissions the host without it. */
export const DECOMMISSION_AGENT_TIMEOUT_MS = 60_000;

/**
 * DELETE: first the host's agent, if it answers within DECOMMISSION_AGENT_TIMEOUT_MS, removes its
 * deckies and LAN network and stops taking jobs; then the host is `decommissioned` (its
 * certificate is refused by the heartbeat from now on) and any bundle it has not fetched yet is
 * void. Its deckies keep their host_uuid: they are the orphans the next deploy re-homes.
 * Decommissioning twice answers the same, without calling the agent again.
 */
export async function decommissionHost(ctx: SwarmContext, uuid: string): Promise<SwarmHostDecommissionResponse> {
  const now = nowOf(ctx);
  // Under the fleet lock no deploy places a decky on the host while its agent cleans up (it would
  // be sent to an agent that refuses jobs); deploys wait at most DECOMMISSION_AGENT_TIMEOUT_MS.
  return ctx.orm.em.fork().transactional(async (em) => {
    await lockFleet(em);
    const host = await requireHost(em, uuid);
    if (host.status === 'decommissioned') return { ...hostToView(host), agent_cleanup: null };
    const agentCleanup = await cleanUpAgent(ctx, host);
    host.status = 'decommissioned';
    await em.nativeUpdate(EnrollmentToken, { hostUuid: uuid, expiresAt: { $gt: now } }, { expiresAt: now, keyPem: null });
    if (agentCleanup.removed_deckies.length > 0) {
      // They run nowhere now: the fleet says so until the next deploy re-homes them.
      await em.nativeUpdate(
        Decky,
        { name: { $in: agentCleanup.removed_deckies }, hostUuid: uuid },
        {
          state: 'degraded',
          lastError: `swarm host "${host.name}" was decommissioned and its agent removed the decky; the next deploy re-homes it`,
          updatedAt: now,
        },
      );
    }
    ctx.logger.info({ host: host.name, host_uuid: uuid, agent_reached: agentCleanup.reached }, 'swarm host decommissioned');
    return { ...hostToView(host), agent_cleanup: agentCleanup };
  });
}

async function cleanUpAgent(ctx: SwarmContext, host: SwarmHost): Promise<NonNullable<SwarmHostDecommissionResponse['agent_cleanup']>> {
  if (!host.address) return { reached: false, message: 'the host never fetched its bundle: there is no agent to clean up', removed_deckies: [] };
  const client = new AgentClient(
    ctx.pki,
    { uuid: host.uuid, name: host.name, address: host.address, port: host.agentPort, fingerprint: host.clientCertFingerprint },
    DECOMMISSION_AGENT_TIMEOUT_MS,
  );
  try {
    const answer = await client.decommission({ host_uuid: host.uuid });
    const failed = answer.failed.map((f) => `${f.decky}: ${f.error}`).join('; ');
    return {
      reached: true,
      message: `the agent removed ${answer.removed_deckies.length} decky(ies)${failed ? ` (not removed: ${failed})` : ''}; ${answer.network}; it takes no more jobs`,
      removed_deckies: answer.removed_deckies,
    };
  } catch (err) {
    ctx.logger.warn({ err: (err as Error).message, host: host.name, host_uuid: host.uuid }, 'agent did not clean up before its decommission');
    return {
      reached: false,
      message: `the agent did not answer its cleanup (${(err as Error).message}); decommissioned without it: an agent still at work may finish, otherwise its containers stay until removed on that machine`,
      removed_deckies: [],
    };
  } finally {
    await client.close();
  }
}

export interface HeartbeatCaller {
  /** SHA-256 of the DER of the client certificate the TLS handshake verified. */
  certFingerprint: string;
  remoteAddress: string;
}

/**
 * POST /api/v1/swarm/heartbeat on the swarm port. Unknown host 404; decommissioned 403; a
 * certificate that is not the host's 403; else the host is `active` with a fresh last_heartbeat,
 * its results reach their workflows and its deckies' states are updated.
 */
export async function recordHeartbeat(ctx: SwarmContext, body: HeartbeatRequest, caller: HeartbeatCaller): Promise<HeartbeatResponse> {
  const now = nowOf(ctx);
  const em = ctx.orm.em.fork();
  const host = await em.findOne(SwarmHost, { uuid: body.host_uuid });
  if (!host) throw new NotFoundError(`swarm host ${body.host_uuid} is not enrolled`);
  if (host.status === 'decommissioned') throw new ForbiddenError('host_decommissioned', `swarm host "${host.name}" was decommissioned; enroll it again`);
  if (caller.certFingerprint !== host.clientCertFingerprint) {
    ctx.logger.warn(
      { host: host.name, host_uuid: host.uuid, presented: caller.certFingerprint, from: caller.remoteAddress },
      "heartbeat with another certificate than the host's",
    );
    throw new ForbiddenError('certificate_mismatch', `the client certificate is not the one issued to swarm host "${host.name}"`);
  }
  const remove = await staleDeckies(ctx, host, body.status?.deckies ?? []);
  if (body.fencing) {
    // A returning agent: it removes these before it reports or takes work; the host stays as it
    // is (not live) until its next, ordinary heartbeat.
    ctx.logger.info({ host: host.name, host_uuid: host.uuid, remove: remove.map((d) => d.name) }, 'returning agent fenced');
    return { ack: true, remove };
  }
  // One conditional update: a decommission that commits meanwhile is never undone by this.
  const updated = await em.nativeUpdate(
    SwarmHost,
    { uuid: host.uuid, status: { $ne: 'decommissioned' }, clientCertFingerprint: caller.certFingerprint },
    {
      status: 'active',
      lastHeartbeat: now,
      ...(host.address ? {} : { address: caller.remoteAddress }),
      ...(body.agent_version ? { agentVersion: body.agent_version } : {}),
      ...(body.status?.network_drivers ? { networkDrivers: body.status.network_drivers } : {}),
    },
  );
  if (updated === 0) throw new ForbiddenError('host_decommissioned', `swarm host "${host.name}" was decommissioned; enroll it again`);
  if (host.status !== 'active')
    ctx.logger.info({ host: host.name, host_uuid: host.uuid, was: host.status, agent_version: body.agent_version }, 'swarm host active');
  else if (body.agent_version && body.agent_version !== host.agentVersion) {
    ctx.logger.info(
      { host: host.name, host_uuid: host.uuid, agent_version: body.agent_version, was: host.agentVersion },
      'swarm host runs another agent version',
    );
  }
  if (body.results?.length) await applyAgentResults(ctx, host, body.results);
  if (body.status?.observed) await applyAgentObservation(ctx, host, body.status.observed);
  else if (body.status?.deckies) await applyAgentStatus(ctx, host, body.status.deckies);
  return remove.length ? { ack: true, remove } : { ack: true };
}

/**
 * Fencing (architecture.md §8): the reported deckies this host must remove: gone from the fleet, assigned to
 * another host (or the master), or held at an older generation than the decky's assignment.
 */
async function staleDeckies(ctx: SwarmContext, host: SwarmHost, reported: NonNullable<AgentStatus['deckies']>): Promise<StaleDecky[]> {
  if (reported.length === 0) return [];
  const em = ctx.orm.em.fork();
  const rows = await em.find(Decky, { name: { $in: reported.map((d) => d.name) } }, { fields: ['name', 'hostUuid', 'generation'] });
  const byName = new Map(rows.map((d) => [d.name, d]));
  const stale: StaleDecky[] = [];
  for (const d of reported) {
    const held = d.generation ?? 0;
    const row = byName.get(d.name);
    let reason: string | undefined;
    // A decky held without a generation was not placed by this master's dispatch (an agent from
    // before fencing, or jobs sent by hand): only a row giving it to another host removes it.
    if (!row) reason = d.generation !== undefined ? `decky "${d.name}" is no longer in the fleet` : undefined;
    else if (row.hostUuid !== host.uuid)
      reason = `decky "${d.name}" was re-homed ${row.hostUuid ? `to swarm host ${row.hostUuid}` : 'to the master'} (generation ${row.generation})`;
    else if (d.generation !== undefined && held < row.generation)
      reason = `decky "${d.name}" is held at generation ${held}; its assignment is at generation ${row.generation}`;
    if (reason) stale.push({ name: d.name, generation: held, reason });
  }
  return stale;
}

const LifecycleIdSchema = z.uuid();
const SIGNALS_IN_FLIGHT = 16;

/**
 * Each finished job of this host reaches its lifecycle row's workflow as the `agentResult` signal.
 * A result whose workflow is closed or gone (a repeat after a lost ack) changes nothing; a signal
 * that cannot be sent now is left to the workflow's own polling of the agent, so the agent is
 * acknowledged either way and nothing is lost.
 */
async function applyAgentResults(ctx: SwarmContext, host: SwarmHost, results: AgentJobResult[]): Promise<void> {
  const ids = results.map((r) => r.lifecycle_id ?? r.job_id).filter((id) => LifecycleIdSchema.safeParse(id).success);
  const rows = ids.length ? await ctx.orm.em.fork().find(DeckyLifecycle, { id: { $in: ids }, hostUuid: host.uuid }) : [];
  const byId = new Map(rows.map((r) => [r.id, r]));
  // In parallel, a few at a time: an agent reports up to hundreds of results in one post, and
  // each signal is a round trip to Temporal the agent's acknowledgement waits for.
  const signalling = pLimit(SIGNALS_IN_FLIGHT);
  await Promise.all(
    results.map((result) =>
      signalling(async () => {
        const row = byId.get(result.lifecycle_id ?? result.job_id);
        if (!row) {
          ctx.logger.debug({ host: host.name, job_id: result.job_id }, 'agent result for no lifecycle row of this host; acknowledged');
          return;
        }
        if (row.status === 'succeeded' || row.status === 'failed' || !ctx.client) return;
        try {
          await ctx.client.workflow.getHandle(row.workflowId).signal(agentResultSignal, result);
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) {
            ctx.logger.warn(
              { err, host: host.name, lifecycle_id: row.id, workflow_id: row.workflowId },
              'agent result not signalled; the workflow polls the agent instead',
            );
          }
        }
      }),
    ),
  );
}

/**
 * The agent's view of its deckies: a running decky whose containers are not all running is
 * `degraded`; a degraded one that runs again is `running`.
 */
async function applyAgentStatus(ctx: SwarmContext, host: SwarmHost, deckies: NonNullable<AgentStatus['deckies']>): Promise<void> {
  const em = ctx.orm.em.fork();
  const notRunning = deckies.filter((d) => d.running === false).map((d) => d.name);
  const running = deckies.filter((d) => d.running === true).map((d) => d.name);
  const degraded = notRunning.length
    ? await em.nativeUpdate(Decky, { hostUuid: host.uuid, name: { $in: notRunning }, state: 'running' }, { state: 'degraded', updatedAt: nowOf(ctx) })
    : 0;
  const recovered = running.length
    ? await em.nativeUpdate(
        Decky,
        { hostUuid: host.uuid, name: { $in: running }, state: 'degraded' },
        { state: 'running', lastSeen: nowOf(ctx), updatedAt: nowOf(ctx) },
      )
    : 0;
  if (degraded || recovered) ctx.logger.info({ host: host.name, degraded, recovered }, 'decky states from the agent status');
}

/**
 * What the agent's engine runs, judged against the desired state of the host's deckies like the
 * master's own (src/operations/drift.ts): `degraded` with the reason, `running` once fixed.
 */
async function applyAgentObservation(ctx: SwarmContext, host: SwarmHost, observed: ObservedEngine): Promise<void> {
  const changes = await applyDrift(
    ctx.orm.em.fork(),
    { hostUuid: host.uuid },
    async () => (decky) => driftReason(decky, observed.deckies[decky.name] ?? [], observed.lan),
  );
  for (const change of changes)
    ctx.logger[change.state === 'degraded' ? 'warn' : 'info']({ host: host.name, decky: change.name, reason: change.reason }, `decky ${change.state}`);
}

export interface SweepReport {
  unreachable: Array<{ uuid: string; name: string }>;
  wipedKeys: number;
}

/**
 * Marks `active` hosts whose last heartbeat is older than 3 intervals `unreachable` (a later
 * heartbeat makes them active again), and wipes the stored agent keys of expired, unused tokens.
 */
export async function sweepHosts(ctx: SwarmContext): Promise<SweepReport> {
  const now = nowOf(ctx);
  const cutoff = new Date(now.getTime() - MISSED_HEARTBEATS * ctx.heartbeatIntervalMs);
  const conn = ctx.orm.em.fork().getConnection();
  const unreachable: Array<{ uuid: string; name: string }> = await conn.execute(
    `update "swarm_host" set "status" = 'unreachable' where "status" = 'active' and "last_heartbeat" < ? returning "uuid", "name"`,
    [cutoff],
  );
  const wiped: unknown[] = await conn.execute(
    `update "enrollment_token" set "key_pem" = null where "key_pem" is not null and "expires_at" <= ? returning "token_hash"`,
    [now],
  );
  for (const h of unreachable)
    ctx.logger.warn({ host: h.name, host_uuid: h.uuid, silent_for_ms: MISSED_HEARTBEATS * ctx.heartbeatIntervalMs }, 'swarm host unreachable: no heartbeat');
  return { unreachable, wipedKeys: wiped.length };
}

/** DECNET_FAILOVER on: how the sweeper re-homes the deckies of silent hosts. */
export interface FailoverSettings {
  operations: OperationsContext;
  /** DECNET_FAILOVER_DELAY_MS: how long a host stays `unreachable` before its deckies are re-homed. */
  delayMs: number;
}

/** Hosts `unreachable` for longer than the failover delay (silent for 3 intervals plus it) lose their deckies to live hosts. */
export function failOver(ctx: SwarmContext, failover: FailoverSettings): Promise<FailoverReport> {
  const silentBefore = new Date(nowOf(ctx).getTime() - MISSED_HEARTBEATS * ctx.heartbeatIntervalMs - failover.delayMs);
  return failOverSilentHosts(failover.operations, silentBefore);
}
