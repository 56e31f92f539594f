/**
 * Tearing down many deckies at once: the whole fleet (guarded by the fleet size the operator saw)
 * or every decky of one swarm host. One transaction writes every row, then the workflows start,
 * as a deploy does.
 */
import { Decky, DeckyLifecycle, SwarmHost } from '../entities';
import type { FleetTeardownResponse, Trigger } from '../domain/schemas';
import { ConflictError, NotFoundError } from './errors';
import type { OperationsContext } from './context';
import { lockFleet } from './locks';
import { startLifecycleWorkflow } from './workflow-start';
import { createPendingLifecycle } from './lifecycle-rows';

export type TeardownScope = { kind: 'fleet'; confirm?: number } | { kind: 'host'; hostUuid: string };

export async function submitBulkTeardown(ctx: OperationsContext, scope: TeardownScope, trigger: Trigger): Promise<FleetTeardownResponse> {
  const em = ctx.orm.em.fork();
  const planned = await em.transactional(async (tx) => {
    // Under the deploy lock the fleet cannot grow between the count and the rows.
    await lockFleet(tx);
    if (scope.kind === 'host' && !(await tx.findOne(SwarmHost, { uuid: scope.hostUuid }))) {
      throw new NotFoundError(`swarm host ${scope.hostUuid} does not exist`);
    }
    const deckies = await tx.find(Decky, scope.kind === 'host' ? { hostUuid: scope.hostUuid } : {}, {
      orderBy: { name: 'asc' },
      lockMode: 4 /* PESSIMISTIC_WRITE */,
    });
    if (scope.kind === 'fleet' && scope.confirm !== deckies.length) {
      const said = scope.confirm === undefined ? 'no confirm was given' : `confirm=${scope.confirm} was given`;
      throw new ConflictError('fleet_size_mismatch', `the fleet has ${deckies.length} decky(ies) and ${said}; send confirm=${deckies.length} to tear them all down`, {
        fleet_size: deckies.length,
      });
    }
    const inFlight = await tx.find(DeckyLifecycle, { deckyName: { $in: deckies.map((d) => d.name) }, status: { $in: ['pending', 'running'] } });
    // A teardown already under way is answered with its row; any other operation must finish first
    // (superseding many at once would cancel work nobody looked at).
    const busy = inFlight.filter((r) => r.operation !== 'teardown');
    if (busy.length > 0) {
      throw new ConflictError(
        'operation_in_flight',
        `an operation is in flight on ${busy.map((r) => `${r.deckyName} (${r.operation})`).join(', ')}; wait for it, or tear those deckies down one by one`,
        { deckies: busy.map((r) => r.deckyName) },
      );
    }
    const running = new Map(inFlight.map((r) => [r.deckyName, r]));
    const now = new Date();
    const rows = deckies.map(
      (d) => running.get(d.name) ?? createPendingLifecycle(tx, { deckyName: d.name, operation: 'teardown', trigger, hostUuid: d.hostUuid, now }),
    );
    return { rows, fresh: rows.filter((r) => !running.has(r.deckyName)) };
  });

  await Promise.all(
    planned.fresh.map((row) =>
      startLifecycleWorkflow(ctx, row).catch((err) =>
        ctx.logger.warn({ err, lifecycle_id: row.id, decky: row.deckyName }, 'workflow start failed; the reconciler retries it'),
      ),
    ),
  );
  const where = scope.kind === 'host' ? ` of swarm host ${scope.hostUuid}` : '';
  return {
    message: `accepted ${planned.rows.length} decky(ies)${where} for teardown`,
    lifecycle_ids: planned.rows.map((r) => r.id),
    deckies: planned.rows.map((r) => r.deckyName),
  };
}
