/**
 * Healing a decky: bring its containers back to its desired state (a lifecycle row and a
 * workflow like a deploy's, keeping the base container and its IP when it still runs), started by
 * an operator or, for a degraded decky with auto-heal on, by the master itself under a back-off.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { Decky, DeckyLifecycle, DeploymentSettings, SwarmHost, loadDeploymentSettings } from '../entities';
import { gaveUpNote, healDecision, type HealPolicy } from '../domain/heal';
import type { DeckyAutoHeal, DeckyState, SystemHealing, Trigger } from '../domain/schemas';
import { ConflictError, NotFoundError } from './errors';
import type { OperationsContext } from './context';
import { createPendingLifecycle, withIdleDecky } from './lifecycle-rows';
import { startOrLeaveToReconciler } from './workflow-start';

/** A decky being deployed or torn down is its operation's business, not a heal's. */
const HEALABLE: DeckyState[] = ['running', 'degraded', 'failed'];

/**
 * `autoHeal`: the master's own heals, judged again once this transaction holds the decky. Their
 * pass read it before: a heal that ended meanwhile may have fixed it (a second heal would hold the
 * decky through the next fault without judging it), or failed, which restarts the back-off.
 */
export async function submitHeal(
  ctx: OperationsContext,
  deckyName: string,
  trigger: Trigger,
  opts: { autoHeal?: HealPolicy } = {},
): Promise<{ lifecycle_ids: string[] }> {
  const row = await withIdleDecky(ctx.orm.em.fork(), deckyName, async (tx, decky) => {
    if (opts.autoHeal && decky.state !== 'degraded') {
      throw new ConflictError('not_degraded', `decky "${deckyName}" is ${decky.state} again; no heal is needed`, { state: decky.state });
    }
    if (opts.autoHeal && healDecision(await healHistory(tx, deckyName), new Date(), opts.autoHeal).kind !== 'heal') {
      throw new ConflictError('heal_backing_off', `decky "${deckyName}": its last heal failed; auto-heal waits before the next`);
    }
    if (!HEALABLE.includes(decky.state)) {
      throw new ConflictError('not_healable', `decky "${deckyName}" is ${decky.state}; only a running, degraded or failed decky can be healed`, {
        state: decky.state,
      });
    }
    return createPendingLifecycle(tx, { deckyName, operation: 'heal', trigger, hostUuid: decky.hostUuid });
  });
  await startOrLeaveToReconciler(ctx, row);
  return { lifecycle_ids: [row.id] };
}

/** How many of a decky's latest terminal rows the back-off looks at: enough to count every failed heal. */
const HISTORY_ROWS = 50;

/** A decky's terminal lifecycle rows, newest first: what healDecision judges. */
function healHistory(em: EntityManager, deckyName: string) {
  return em.find(
    DeckyLifecycle,
    { deckyName, status: { $in: ['succeeded', 'failed'] } },
    { orderBy: { startedAt: 'desc' }, limit: HISTORY_ROWS, fields: ['operation', 'status', 'error', 'completedAt'] },
  );
}

export interface AutoHealReport {
  started: string[];
  waiting: string[];
  gaveUp: string[];
}

/**
 * One pass over the degraded deckies whose auto-heal is on: heal those whose back-off allows it,
 * and make those it gave up on say so.
 */
export async function autoHeal(ctx: OperationsContext, policy: HealPolicy, now = new Date()): Promise<AutoHealReport> {
  const em = ctx.orm.em.fork();
  const settings = await loadDeploymentSettings(em);
  // A decky on a host that is not live waits for its host (or a redeploy that re-homes it).
  const liveHosts = (await em.find(SwarmHost, { status: 'active' }, { fields: ['uuid'] })).map((h) => h.uuid);
  const deckies = await em.find(Decky, {
    state: 'degraded',
    $and: [
      // null follows the fleet (SQL's `!= false` would drop the nulls).
      settings.autoHeal ? { $or: [{ autoHeal: null }, { autoHeal: true }] } : { autoHeal: true },
      { $or: [{ hostUuid: null }, { hostUuid: { $in: liveHosts } }] },
    ],
  });
  const report: AutoHealReport = { started: [], waiting: [], gaveUp: [] };
  for (const decky of deckies) {
    const decision = healDecision(await healHistory(em, decky.name), now, policy);
    if (decision.kind === 'wait') report.waiting.push(decky.name);
    else if (decision.kind === 'give_up') {
      report.gaveUp.push(decky.name);
      const note = gaveUpNote(decky.name, decision.failures, decision.lastError);
      if (!decky.lastError?.endsWith(note)) {
        await em.nativeUpdate(Decky, { name: decky.name, state: 'degraded' }, { lastError: decky.lastError ? `${decky.lastError}; ${note}` : note });
      }
    } else {
      try {
        await submitHeal(ctx, decky.name, 'reconciler', { autoHeal: policy });
        report.started.push(decky.name);
      } catch (err) {
        // An operation started meanwhile (it settles the decky's state), or one that ended fixed it or restarted the back-off.
        if (!(err instanceof ConflictError)) throw err;
      }
    }
  }
  if (report.started.length || report.gaveUp.length) ctx.logger.info(report, 'auto-heal');
  return report;
}

export async function readHealing(ctx: OperationsContext): Promise<SystemHealing> {
  const settings = await loadDeploymentSettings(ctx.orm.em.fork());
  return { auto_heal: settings.autoHeal };
}

export async function setHealing(ctx: OperationsContext, healing: SystemHealing): Promise<SystemHealing> {
  await ctx.orm.em.fork().nativeUpdate(DeploymentSettings, { id: 1 }, { autoHeal: healing.auto_heal });
  ctx.logger.info(healing, 'fleet-wide auto-heal set');
  return healing;
}

export async function setDeckyAutoHeal(ctx: OperationsContext, deckyName: string, autoHeal: boolean | null): Promise<DeckyAutoHeal> {
  const em = ctx.orm.em.fork();
  const decky = await em.findOne(Decky, { name: deckyName });
  if (!decky) throw new NotFoundError(`decky "${deckyName}" does not exist`);
  decky.autoHeal = autoHeal;
  await em.flush();
  const settings = await loadDeploymentSettings(em);
  return { name: deckyName, auto_heal: autoHeal, effective: autoHeal ?? settings.autoHeal };
}
