/** Driving one lifecycle row through its steps; shared by every decky workflow. */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  isCancellation,
  patched,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Step } from '../domain/schemas';
import type { LifecycleEnd, LifecycleOutcome } from '../activities/db';
import type { DeployPlan } from '../activities/db';
import { CANCELLED_ERROR_PREFIX, outcomeSearchAttribute, rowOutcome } from '../domain/workflow-ids';
import { compose, db, localDb, type DbSteps } from './activities';

/** Runs from before this patch keep their database steps as full activities when they replay. */
export const LOCAL_DB_STEPS_PATCH = 'local-db-steps';

/**
 * Runs from before this patch ended `Completed` whatever their row said, without an `Outcome`
 * search attribute; they replay that way.
 */
export const WORKFLOW_OUTCOME_PATCH = 'workflow-outcome';

/**
 * Temporal's view of how the row ended: the `Outcome` search attribute; for a failed row a failed
 * workflow carrying the row's error, so `ExecutionStatus="Failed"` finds it too; a cancelled
 * workflow when a teardown superseded the row and cancelled this run.
 */
function reportOutcome(end: LifecycleEnd, cause?: unknown): void {
  const outcome = rowOutcome(end);
  upsertSearchAttributes(outcomeSearchAttribute(outcome));
  if (outcome === 'succeeded') return;
  if (outcome === 'cancelled' && isCancellation(cause)) throw cause;
  if (outcome === 'cancelled' && CancellationScope.current().consideredCancelled) throw new CancelledFailure(end.error ?? undefined);
  throw ApplicationFailure.create({
    type: 'LifecycleFailed',
    message: end.error ?? 'the operation failed',
    nonRetryable: true,
    ...(cause instanceof Error ? { cause } : {}),
  });
}

export interface DeckyOperationInput {
  lifecycleId: string;
  deckyName: string;
  /** The swarm host that runs the decky; absent = the master's own Docker engine. */
  hostUuid?: string;
}

/** "Type: message" of the failure that ended a step, as the lifecycle row shows it. */
export function describeFailure(err: unknown): string {
  let cause: unknown = err;
  while (cause instanceof ActivityFailure && cause.cause) cause = cause.cause;
  if (cause instanceof ApplicationFailure) return `${cause.type ?? 'Error'}: ${cause.message}`;
  if (isCancellation(err)) return `${CANCELLED_ERROR_PREFIX}the operation was cancelled (superseded by a teardown)`;
  return cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
}

export type StepRunner = <T>(name: string, fn: () => Promise<T>, detail?: (value: T) => string | undefined) => Promise<T>;

/**
 * Runs the operation's steps with timings (workflow time is deterministic: the time of the workflow
 * task), persisting progress after each step, and always ends the row succeeded or failed. Then the
 * workflow ends as the row did: completed, failed (after the row is written) or cancelled.
 */
export async function runLifecycle(
  input: DeckyOperationInput,
  body: (step: StepRunner, store: DbSteps) => Promise<Pick<LifecycleOutcome, 'mutation'> | void>,
): Promise<void> {
  // Decided once, before the first command of the run, and kept for the whole run.
  const store: DbSteps = patched(LOCAL_DB_STEPS_PATCH) ? localDb : db;
  const reportsOutcome = patched(WORKFLOW_OUTCOME_PATCH);
  const begin = () => store.startLifecycle(input.lifecycleId, workflowInfo().runId);
  // A teardown may cancel this run before its first step: the row (failed as superseded) still
  // decides how the run ends.
  const start = reportsOutcome ? await CancellationScope.nonCancellable(begin) : await begin();
  if (start.terminal) {
    if (reportsOutcome && start.end) reportOutcome(start.end);
    return;
  }
  const steps: Step[] = [];
  const step: StepRunner = async <T>(name: string, fn: () => Promise<T>, detail?: (value: T) => string | undefined): Promise<T> => {
    const startedAt = new Date().toISOString();
    try {
      const value = await fn();
      const text = detail ? detail(value) : typeof value === 'string' ? value : undefined;
      steps.push({ name, started_at: startedAt, finished_at: new Date().toISOString(), ok: true, ...(text ? { detail: text } : {}) });
      await store.saveLifecycleSteps(input.lifecycleId, steps);
      return value;
    } catch (err) {
      steps.push({ name, started_at: startedAt, finished_at: new Date().toISOString(), ok: false, detail: describeFailure(err) });
      throw err;
    }
  };
  // A missing row (null) cannot happen past startLifecycle; the workflow then reports what it did.
  let end: LifecycleEnd | null;
  let failure: unknown;
  try {
    const extra = await body(step, store);
    end = (await store.finishLifecycle(input.lifecycleId, { ok: true, steps, ...(extra ?? {}) })) ?? { status: 'succeeded', error: null };
  } catch (err) {
    const error = describeFailure(err);
    // Even a cancelled workflow must leave a terminal row behind.
    end = await CancellationScope.nonCancellable(() => store.finishLifecycle(input.lifecycleId, { ok: false, error, steps }));
    if (!reportsOutcome && isCancellation(err)) throw err;
    end ??= { status: 'failed', error };
    failure = err;
  }
  if (reportsOutcome) reportOutcome(end, failure);
}

/**
 * The `render` step of deploy and mutate: the decky's desired state, written as its compose file
 * on the master, or (for a swarm decky) the shard its host will be sent.
 */
export function renderStep(step: StepRunner, store: DbSteps, input: DeckyOperationInput): Promise<DeployPlan> {
  return step(
    'render',
    async () => {
      const plan = await store.loadDeployPlan(input.deckyName, input.hostUuid);
      if (!plan.host) await compose.renderComposeFile(plan.decky);
      return plan;
    },
    (plan) =>
      `services ${plan.decky.services.join(', ')}; ${plan.network.driver} on ${plan.network.parent}` +
      (plan.host ? `${plan.host.forcedIpvlan ? ' (forced: the host uses ipvlan)' : ''}; on swarm host "${plan.host.name}"` : ''),
  );
}
