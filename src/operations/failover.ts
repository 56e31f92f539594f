/**
 * Host failover (architecture.md §8): the deckies of a swarm host silent past the failover delay are
 * re-homed at once, not at the next deploy: in one transaction each gets its next host (the live
 * hosts round-robin, or the master when none is live), the next generation (fencing) and a
 * pending `deploy` row with trigger `failover`; the workflows start after the commit, and the
 * reconciler starts any a crash left behind.
 */
import { Decky, DeckyLifecycle, SwarmHost } from '../entities';
import { assignHostsRoundRobin } from '../domain/host-assignment';
import { IN_FLIGHT_STATUSES } from '../domain/schemas';
import type { OperationsContext } from './context';
import { liveSwarmHosts } from './deployment-mode';
import { assignDeckyHost, createPendingLifecycle } from './lifecycle-rows';
import { lockFleet } from './locks';
import { startLifecycleWorkflowsInBackground } from './workflow-start';

export interface FailoverReport {
  rehomed: Array<{ decky: string; from_host: string; to_host: string | null; generation: number; lifecycle_id: string }>;
}

/**
 * Re-homes the deckies of every `unreachable` host whose last heartbeat is older than
 * `silentBefore`. A decky with an operation in flight keeps its host until that operation ends
 * (a dispatch to the silent host fails within its budget); the next pass moves it.
 */
export async function failOverSilentHosts(ctx: OperationsContext, silentBefore: Date): Promise<FailoverReport> {
  const now = new Date();
  const { report, rows } = await ctx.orm.em.fork().transactional(async (tx) => {
    const empty = { report: { rehomed: [] } as FailoverReport, rows: [] as DeckyLifecycle[] };
    const silentHosts = () => tx.find(SwarmHost, { status: 'unreachable', lastHeartbeat: { $lt: silentBefore } });
    if ((await silentHosts()).length === 0) return empty;
    // Under the fleet lock, as deploys place deckies (no deploy sees half a failover); the hosts
    // are read again under it: one that heartbeated meanwhile keeps its deckies.
    await lockFleet(tx);
    const silent = await silentHosts();
    if (silent.length === 0) return empty;
    const stranded = await tx.find(Decky, { hostUuid: { $in: silent.map((h) => h.uuid) }, state: { $ne: 'torn_down' } }, { orderBy: { name: 'asc' } });
    const busy = new Set(
      (
        await tx.find(DeckyLifecycle, { deckyName: { $in: stranded.map((d) => d.name) }, status: { $in: [...IN_FLIGHT_STATUSES] } }, { fields: ['deckyName'] })
      ).map((r) => r.deckyName),
    );
    const moving = stranded.filter((d) => !busy.has(d.name));
    if (moving.length === 0) return empty;
    // With no live host the master takes them (the mode rule: no live host, it deploys locally).
    const live = ctx.role === 'agent' ? [] : (await liveSwarmHosts(tx)).map((h) => h.uuid);
    const placement = assignHostsRoundRobin(
      moving.map((d) => ({ name: d.name, hostUuid: null })),
      live,
    );
    const result = { report: { rehomed: [] } as FailoverReport, rows: [] as DeckyLifecycle[] };
    for (const decky of moving) {
      const from = decky.hostUuid!;
      const to = placement.get(decky.name) ?? null;
      assignDeckyHost(decky, to);
      Object.assign(decky, { state: 'pending', lastError: null });
      const row = createPendingLifecycle(tx, { deckyName: decky.name, operation: 'deploy', trigger: 'failover', hostUuid: to, now });
      result.rows.push(row);
      result.report.rehomed.push({ decky: decky.name, from_host: from, to_host: to, generation: decky.generation, lifecycle_id: row.id });
    }
    await tx.flush();
    return result;
  });
  for (const r of report.rehomed) {
    ctx.logger.warn({ ...r, to_host: r.to_host ?? 'master' }, 'failover: decky re-homed away from a silent swarm host');
  }
  startLifecycleWorkflowsInBackground(ctx, rows);
  return report;
}
