/**
 * Swarm dispatch (architecture.md §8): send jobs to an agent host with retries and backoff until the agent
 * takes them. The decky workflows send through it (one job per lifecycle row, keyed by the row's
 * id), with the network `networkForHost` (src/domain/host-assignment.ts) gives that host: the rule
 * the deploy plan shows.
 */
import type { AgentJobAccepted, AgentJobKind, AgentJobRequestOf } from '../domain/swarm-schemas';
import { AgentCallError, type AgentClient } from './agent-client';

/** A job as a workflow asks for it: its kind and body; dispatch adds the ids (job, row, generation). */
export type AgentJobRequest = {
  [K in AgentJobKind]: { kind: K; body: Omit<AgentJobRequestOf<K>, 'job_id' | 'lifecycle_id' | 'generation'> };
}[AgentJobKind];

export interface SendOptions {
  /** How long to keep trying an agent that cannot be reached before giving up. */
  budgetMs: number;
  /** Called between attempts (activities heartbeat here). */
  onRetry?: (attempt: number, err: Error) => void;
  signal?: AbortSignal;
  now?: () => number;
}

/** A job the agent would not take within the budget (or refused outright); the message names the host. */
export class DispatchFailedError extends Error {
  name = 'DispatchFailedError';
}

/**
 * Send one job to a host: retried with exponential backoff (1 s doubling to 15 s) until the agent
 * answers 202 or the budget runs out. The job id makes every retry (and a retried activity) the
 * same job on the agent.
 */
export async function sendAgentJob(
  client: AgentClient,
  jobId: string,
  request: AgentJobRequest,
  opts: SendOptions & { lifecycleId?: string; generation?: number },
): Promise<AgentJobAccepted> {
  const now = opts.now ?? Date.now;
  const deadline = now() + opts.budgetMs;
  const host = client.target;
  let delay = 1000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await client.submitJob(request.kind, {
        job_id: jobId,
        ...(opts.lifecycleId ? { lifecycle_id: opts.lifecycleId } : {}),
        ...(opts.generation !== undefined ? { generation: opts.generation } : {}),
        ...request.body,
      });
    } catch (err) {
      if (!(err instanceof AgentCallError)) throw err;
      if (err.permanent) throw new DispatchFailedError(err.message);
      if (now() + delay > deadline) {
        throw new DispatchFailedError(
          `gave up on swarm host "${host.name}" after ${attempt} attempt(s) in ${Math.round(opts.budgetMs / 1000)} s: ${err.message}`,
        );
      }
      opts.onRetry?.(attempt, err);
      await sleep(delay, opts.signal);
      delay = Math.min(delay * 2, 15_000);
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}
