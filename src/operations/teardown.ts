/**
 * Submitting teardowns: of one decky, of the whole fleet (guarded by the fleet size the operator
 * saw) or of every decky of one swarm host. Each cancels whatever runs on its decky, then removes
 * it; all rows are written in one transaction, then the workflows start, as a deploy's do.
 */
import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Decky, DeckyLifecycle, SwarmHost } from '../entities';
import { IN_FLIGHT_STATUSES, type FleetTeardownResponse, type Trigger } from '../domain/schemas';
import { ConflictError, NotFoundError } from './errors';
import type { OperationsContext } from './context';
import { lockFleet } from './locks';
import { inStartQueue, startOrLeaveToReconciler } from './workflow-start';
import { createPendingLifecycle } from './lifecycle-rows';
import { CANCELLED_ERROR_PREFIX } from '../domain/workflow-ids';

export type TeardownScope = { kind: 'decky'; name: string } | { kind: 'fleet'; confirm?: number } | { kind: 'host'; hostUuid: string };

interface PlannedTeardown {
  row: DeckyLifecycle;
  /** The workflow of the operation this teardown cancels. */
  superseded?: string;
  /** False when a teardown was already under way: its row is the answer, nothing starts. */
  fresh: boolean;
}

export async function submitTeardown(ctx: OperationsContext, scope: TeardownScope, trigger: Trigger): Promise<FleetTeardownResponse> {
  const planned = await ctx.orm.em.fork().transactional(async (tx) => planTeardowns(tx, await deckiesInScope(tx, scope), trigger));
  startTeardowns(ctx, planned);
  const where = scope.kind === 'host' ? ` of swarm host ${scope.hostUuid}` : '';
  return {
    message: `accepted ${planned.length} decky(ies)${where} for teardown`,
    lifecycle_ids: planned.map((p) => p.row.id),
    deckies: planned.map((p) => p.row.deckyName),
  };
}

/** The deckies of the scope, locked; the fleet's count must be the one the operator confirmed. */
async function deckiesInScope(tx: EntityManager, scope: TeardownScope): Promise<Decky[]> {
  const lock = { lockMode: LockMode.PESSIMISTIC_WRITE } as const;
  if (scope.kind === 'decky') {
    const decky = await tx.findOne(Decky, { name: scope.name }, lock);
    if (!decky) throw new NotFoundError(`decky "${scope.name}" does not exist`);
    return [decky];
  }
  // Under the fleet lock no deploy adds deckies between the count and the rows.
  await lockFleet(tx);
  if (scope.kind === 'host' && !(await tx.findOne(SwarmHost, { uuid: scope.hostUuid }))) {
    throw new NotFoundError(`swarm host ${scope.hostUuid} does not exist`);
  }
  const deckies = await tx.find(Decky, scope.kind === 'host' ? { hostUuid: scope.hostUuid } : {}, { ...lock, orderBy: { name: 'asc' } });
  if (scope.kind === 'fleet' && scope.confirm !== deckies.length) {
    const said = scope.confirm === undefined ? 'no confirm was given' : `confirm=${scope.confirm} was given`;
    throw new ConflictError(
      'fleet_size_mismatch',
      `the fleet has ${deckies.length} decky(ies) and ${said}; send confirm=${deckies.length} to tear them all down`,
      {
        fleet_size: deckies.length,
      },
    );
  }
  return deckies;
}

/**
 * One teardown row per decky. A teardown already under way is answered with its row; any other
 * operation in flight is superseded: its row fails as cancelled and its workflow is cancelled.
 */
async function planTeardowns(tx: EntityManager, deckies: Decky[], trigger: Trigger): Promise<PlannedTeardown[]> {
  const inFlight = new Map(
    (await tx.find(DeckyLifecycle, { deckyName: { $in: deckies.map((d) => d.name) }, status: { $in: [...IN_FLIGHT_STATUSES] } })).map((r) => [r.deckyName, r]),
  );
  const now = new Date();
  const superseded = [...inFlight.values()].filter((r) => r.operation !== 'teardown');
  for (const row of superseded) {
    Object.assign(row, { status: 'failed', error: `${CANCELLED_ERROR_PREFIX}superseded by a teardown of the decky`, updatedAt: now, completedAt: now });
  }
  // The one-in-flight index: superseded rows must leave it before the teardown rows enter, and a
  // flush writes inserts before updates.
  if (superseded.length > 0) await tx.flush();
  return deckies.map((decky) => {
    const current = inFlight.get(decky.name);
    if (current?.operation === 'teardown') return { row: current, fresh: false };
    const row = createPendingLifecycle(tx, { deckyName: decky.name, operation: 'teardown', trigger, hostUuid: decky.hostUuid, now });
    return { row, superseded: current?.workflowId, fresh: true };
  });
}

/**
 * After the commit, in the background start queue: cancel what each teardown supersedes, then
 * start it. A crash first leaves pending rows, which the reconciler starts (the teardown workflow
 * waits for the superseded one to close whether or not the cancel went out).
 */
function startTeardowns(ctx: OperationsContext, planned: PlannedTeardown[]): void {
  for (const { row, superseded } of planned.filter((p) => p.fresh)) {
    void inStartQueue(async () => {
      if (superseded) {
        await ctx.client.workflow
          .getHandle(superseded)
          .cancel()
          .catch((err) => ctx.logger.info({ err, workflow_id: superseded }, 'superseded workflow was not running'));
      }
      await startOrLeaveToReconciler(ctx, row, superseded ? { supersedesWorkflowId: superseded } : {});
    });
  }
}
