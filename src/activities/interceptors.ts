/**
 * One activity interceptor for all activities: a pino child logger per execution carrying
 * workflow_id, activity, attempt and, where they apply, lifecycle_id and decky; one log line per
 * failed attempt; the retry counter. Registered by the worker (worker.ts).
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { Logger } from 'pino';
import { parseDeckyWorkflowId } from '../domain/workflow-ids';
import { activityRetries } from '../metrics';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface ActivityLogFields {
  workflow_id?: string;
  lifecycle_id?: string;
  decky?: string;
}

/**
 * The lifecycle id and decky an activity works for: from its workflow's id when it is a decky
 * workflow, else from its arguments (a lifecycle uuid, `{lifecycleId, deckyName}`, a DeckySpec).
 */
export function activityLogFields(workflowId: string | undefined, args: unknown[]): ActivityLogFields {
  const fields: ActivityLogFields = workflowId ? { workflow_id: workflowId } : {};
  const decky = workflowId ? parseDeckyWorkflowId(workflowId) : null;
  if (decky) {
    fields.decky = decky.deckyName;
    fields.lifecycle_id = decky.lifecycleId;
  }
  for (const arg of args) {
    if (typeof arg === 'string' && UUID.test(arg)) fields.lifecycle_id ??= arg;
    if (arg && typeof arg === 'object') {
      const o = arg as Record<string, unknown>;
      if (typeof o.lifecycleId === 'string') fields.lifecycle_id ??= o.lifecycleId;
      if (typeof o.deckyName === 'string') fields.decky ??= o.deckyName;
      // A DeckySpec, or a plan holding one.
      const spec = (typeof o.decky === 'object' && o.decky ? o.decky : o) as Record<string, unknown>;
      if (typeof spec.name === 'string' && typeof spec.ip === 'string') fields.decky ??= spec.name;
    }
  }
  return fields;
}

const loggers = new WeakMap<Context, Logger>();
let fallback: Logger | undefined;

/** The logger of the running activity (its fields included); the worker's logger outside one. */
export function activityLogger(): Logger {
  let ctx: Context | undefined;
  try {
    ctx = Context.current();
  } catch {
    ctx = undefined;
  }
  const logger = (ctx && loggers.get(ctx)) ?? fallback;
  if (!logger) throw new Error('activityLogger() called before the worker registered its interceptors');
  return logger;
}

function isCancellation(err: unknown): boolean {
  return err instanceof CancelledFailure || (err instanceof Error && err.name === 'AbortError');
}

export function activityInterceptors(logger: Logger): ActivityInterceptorsFactory {
  fallback ??= logger;
  return (ctx) => {
    const info = ctx.info;
    let fields: ActivityLogFields = {};
    return {
      inbound: {
        async execute(input, next) {
          fields = activityLogFields(info.workflowExecution?.workflowId, input.args);
          const log = logger.child({ ...fields, activity: info.activityType, attempt: info.attempt });
          loggers.set(ctx, log);
          if (info.attempt > 1) activityRetries.labels(info.activityType).inc();
          const started = performance.now();
          try {
            const result = await next(input);
            log.debug({ duration_ms: Math.round(performance.now() - started) }, 'activity completed');
            return result;
          } catch (err) {
            const duration_ms = Math.round(performance.now() - started);
            if (isCancellation(err) && ctx.cancellationSignal.aborted) {
              log.info({ duration_ms }, 'activity cancelled');
            } else {
              const nonRetryable = err instanceof ApplicationFailure && err.nonRetryable;
              log.warn({ err, duration_ms, non_retryable: nonRetryable }, 'activity failed');
            }
            throw err;
          }
        },
      },
      outbound: {
        // The SDK's own activity log lines (Context.log) carry the same product fields.
        getLogAttributes: (attributes, next) => next({ ...attributes, ...fields }),
      },
    };
  };
}
