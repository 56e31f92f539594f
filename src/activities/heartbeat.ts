import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { RuntimeError } from '../compose/errors';

const HEARTBEAT_EVERY_MS = 3_000;

/**
 * Run a long activity body while heartbeating, so a dead worker is noticed within the heartbeat
 * timeout and the activity's cancellation reaches the child process through the abort signal.
 */
export async function withHeartbeat<T>(body: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ctx = Context.current();
  ctx.heartbeat();
  const timer = setInterval(() => ctx.heartbeat(), HEARTBEAT_EVERY_MS);
  try {
    return await body(ctx.cancellationSignal);
  } catch (err) {
    throw toActivityFailure(err);
  } finally {
    clearInterval(timer);
  }
}

/** Runtime errors keep their type; permanent ones must not be retried. */
export function toActivityFailure(err: unknown): unknown {
  if (err instanceof RuntimeError) {
    return ApplicationFailure.create({ type: err.type, message: err.message, nonRetryable: err.permanent });
  }
  return err;
}
