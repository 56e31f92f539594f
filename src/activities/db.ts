/** Activities that read and write the product's state in PostgreSQL, then tell the bus. */
import { LockMode } from '@mikro-orm/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { ApplicationFailure } from '@temporalio/common';
import { Decky, DeckyLifecycle, DeploymentSettings, SwarmHost, loadDeploymentSettings } from '../entities';
import { networkForHost } from '../domain/host-assignment';
import { deckyToSpec } from '../entities/mappers';
import { IN_FLIGHT_STATUSES, type DeckySpec, type NetworkDriver, type Step } from '../domain/schemas';
import type { LanNetworkSpec } from '../domain/schemas';
import type { Bus } from '../bus/bus';
import { deckyTopic } from '../domain/topics';
import { recordOperationFinished } from '../metrics';
import type { Catalogue } from '../domain/catalog';
import { planMutation } from '../operations/mutate';
import { ConflictError, NotFoundError } from '../operations/errors';

/** How a row ended, as its workflow reports it to Temporal. */
export interface LifecycleEnd {
  status: 'succeeded' | 'failed';
  error: string | null;
}

export interface LifecycleStart {
  terminal: boolean;
  deckyName: string;
  /** Set when the row was already terminal. */
  end?: LifecycleEnd;
}

export interface DeployPlan {
  decky: DeckySpec;
  network: LanNetworkSpec;
  /** A swarm decky's host; its network is already the one that host is sent (ipvlan forced). */
  host?: { uuid: string; name: string; forcedIpvlan: boolean };
}

export interface LifecycleOutcome {
  ok: boolean;
  error?: string;
  steps: Step[];
  /** A mutation's before and after, for the `decky.<name>.mutation` event. */
  mutation?: { old_services: string[]; new_services: string[] };
}

export interface ScheduledMutation {
  lifecycleId: string;
  /** The decky's swarm host, when it runs on one. */
  hostUuid?: string;
  workflowId: string;
  previousServices: string[];
}

const MAX_ERROR_CHARS = 2000;

/**
 * A decky moved to `driver`: its engine's LAN network is on it now, so its host (the master's
 * LAN for the master's own deckies) says so. The driver change itself wrote nothing: until a
 * move succeeds the deckies are on the old driver, and the host reports that truthfully.
 */
async function recordMovedDriver(tx: EntityManager, hostUuid: string | null, driver: NetworkDriver): Promise<void> {
  const ipvlan = driver === 'ipvlan';
  if (hostUuid) await tx.nativeUpdate(SwarmHost, { uuid: hostUuid }, { useIpvlan: ipvlan });
  else await tx.nativeUpdate(DeploymentSettings, { id: 1 }, { ipvlan });
}

export function createDbActivities(orm: MikroORM, bus: Bus, catalogue: Catalogue) {
  return {
    /**
     * pending → running, recording the run that drives the row. Idempotent: a retry or a replay
     * after a crash changes nothing twice.
     */
    async startLifecycle(lifecycleId: string, runId: string): Promise<LifecycleStart> {
      const em = orm.em.fork();
      const row = await em.findOne(DeckyLifecycle, { id: lifecycleId });
      if (!row) throw ApplicationFailure.nonRetryable(`lifecycle ${lifecycleId} does not exist`, 'UnknownLifecycle');
      if (row.status === 'succeeded' || row.status === 'failed')
        return { terminal: true, deckyName: row.deckyName, end: { status: row.status, error: row.error } };
      row.runId ??= runId;
      const starting = row.status === 'pending';
      if (starting) {
        row.status = 'running';
        row.updatedAt = new Date();
        if (row.operation === 'teardown') await em.nativeUpdate(Decky, { name: row.deckyName }, { state: 'tearing_down' });
      }
      await em.flush();
      return { terminal: false, deckyName: row.deckyName };
    },

    /**
     * A Schedule's run: plan a mutation like an operator's, or skip when the decky is busy or gone.
     * Keyed by the run (`scheduleRun`), a retry after the commit returns the row it planned.
     */
    async submitScheduledMutation(deckyName: string, scheduleRun?: string): Promise<ScheduledMutation | null> {
      try {
        const row = await planMutation(orm.em.fork(), catalogue, deckyName, {}, 'scheduled', scheduleRun);
        return {
          lifecycleId: row.id,
          ...(row.hostUuid ? { hostUuid: row.hostUuid } : {}),
          workflowId: row.workflowId,
          previousServices: row.previousServices ?? [],
        };
      } catch (err) {
        if (err instanceof ConflictError || err instanceof NotFoundError) return null;
        throw err;
      }
    },

    async saveLifecycleSteps(lifecycleId: string, steps: Step[]): Promise<void> {
      const em = orm.em.fork();
      await em.nativeUpdate(DeckyLifecycle, { id: lifecycleId, status: { $in: [...IN_FLIGHT_STATUSES] } }, { steps, updatedAt: new Date() });
    },

    /** The decky's desired state and LAN network; with `hostUuid`, the network as that swarm host gets it. */
    async loadDeployPlan(deckyName: string, hostUuid?: string): Promise<DeployPlan> {
      const em = orm.em.fork();
      const decky = await em.findOne(Decky, { name: deckyName });
      if (!decky) throw ApplicationFailure.nonRetryable(`decky ${deckyName} no longer exists`, 'UnknownDecky');
      const settings = await loadDeploymentSettings(em);
      if (!settings.interface || !settings.subnet || !settings.gateway) {
        throw ApplicationFailure.nonRetryable('the LAN network (interface, subnet, gateway) is not configured', 'NetworkNotConfigured');
      }
      const network: LanNetworkSpec = {
        driver: settings.ipvlan ? 'ipvlan' : 'macvlan',
        parent: settings.interface,
        subnet: settings.subnet,
        gateway: settings.gateway,
        ipRange: settings.ipRange,
      };
      if (!hostUuid) return { decky: deckyToSpec(decky), network };
      const host = await em.findOne(SwarmHost, { uuid: hostUuid });
      if (!host) throw ApplicationFailure.nonRetryable(`swarm host ${hostUuid} does not exist`, 'UnknownHost');
      const forced = networkForHost(network, host);
      return { decky: deckyToSpec(decky), network: forced.network, host: { uuid: host.uuid, name: host.name, forcedIpvlan: forced.forcedIpvlan } };
    },

    /**
     * running → succeeded|failed, and the decky's state with it, in one transaction; then the bus.
     * Returns how the row ended, which differs from `outcome` when it had ended before (a teardown
     * failed it as superseded); null when the row does not exist.
     */
    async finishLifecycle(lifecycleId: string, outcome: LifecycleOutcome): Promise<LifecycleEnd | null> {
      const em = orm.em.fork();
      const finished = await em.transactional(async (tx): Promise<DeckyLifecycle | LifecycleEnd | null> => {
        const row = await tx.findOne(DeckyLifecycle, { id: lifecycleId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
        if (!row) return null;
        if (row.status === 'succeeded' || row.status === 'failed') return { status: row.status, error: row.error }; // terminal rows never change
        const now = new Date();
        row.status = outcome.ok ? 'succeeded' : 'failed';
        row.error = outcome.ok ? null : (outcome.error ?? 'failed').slice(0, MAX_ERROR_CHARS);
        row.steps = outcome.steps;
        row.updatedAt = now;
        row.completedAt = now;
        const decky = await tx.findOne(Decky, { name: row.deckyName });
        if (decky) {
          if (row.operation === 'teardown' && outcome.ok)
            tx.remove(decky); // frees the name and the IP
          else if (outcome.ok)
            Object.assign(decky, { state: 'running', lastError: null, lastSeen: now, ...(row.operation === 'mutate' ? { lastMutated: now } : {}) });
          // A failed move left the decky on its network as it was: it keeps its state and says why it did not move.
          else if (row.operation === 'move') decky.lastError = row.error;
          // A failed heal leaves a decky that ran degraded (it may still partly run), a failed one failed.
          else Object.assign(decky, { state: row.operation === 'heal' && decky.state !== 'failed' ? 'degraded' : 'failed', lastError: row.error });
        }
        if (row.operation === 'move' && outcome.ok && row.networkDriver) await recordMovedDriver(tx, row.hostUuid, row.networkDriver);
        return row;
      });
      if (!(finished instanceof DeckyLifecycle)) return finished;
      const row = finished;
      recordOperationFinished(row); // decnet_operations_total and the duration histogram, once per row
      if (row.operation === 'mutate' && outcome.ok && outcome.mutation) {
        bus.publish(deckyTopic(row.deckyName, 'mutation'), { ...outcome.mutation, trigger: row.trigger, lifecycle_id: row.id });
      }
      return { status: outcome.ok ? 'succeeded' : 'failed', error: row.error };
    },
  };
}

export type DbActivities = ReturnType<typeof createDbActivities>;
