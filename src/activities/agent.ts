/** Activities that talk to swarm agents over mTLS, through the dispatch module. */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { MikroORM } from '@mikro-orm/postgresql';
import { Decky, SwarmHost } from '../entities';
import { AgentCallError, AgentClientPool, type AgentTarget } from '../swarm/agent-client';
import { DispatchFailedError, sendAgentJob, type AgentJobRequest } from '../swarm/dispatch';
import type { SwarmPki } from '../swarm/pki';
import { withHeartbeat } from './heartbeat';

export interface AgentActivityDeps {
  orm: MikroORM;
  pki: Pick<SwarmPki, 'ca' | 'master'>;
  /** How long an unreachable agent is retried before its operation fails (DECNET_AGENT_RETRY_BUDGET_MS). */
  dispatchBudgetMs: number;
  /** The longest an agent may take to finish a job (DECNET_AGENT_RESULT_TIMEOUT_MS). */
  resultTimeoutMs: number;
  /** How often a workflow waiting for a result asks the agent itself (DECNET_AGENT_POLL_INTERVAL_MS). */
  pollIntervalMs: number;
}

/** A decky's host as its workflow needs it, with the waiting rules of the moment. */
export interface AgentHostPlan {
  name: string;
  status: string;
  budgetMs: number;
  resultTimeoutMs: number;
  pollIntervalMs: number;
}

export interface DispatchInput {
  lifecycleId: string;
  hostUuid: string;
  request: AgentJobRequest;
}

/** What polling an agent's job found; `unreachable` is not an outcome, only a reason to keep waiting. */
export type AgentJobPoll =
  { state: 'finished'; ok: boolean; error?: string } | { state: 'waiting'; status: string } | { state: 'unknown' } | { state: 'unreachable'; error: string };

export function createAgentActivities(deps: AgentActivityDeps) {
  const clients = new AgentClientPool(deps.pki);
  async function targetOf(hostUuid: string): Promise<AgentTarget> {
    const host = await deps.orm.em.fork().findOne(SwarmHost, { uuid: hostUuid });
    if (!host) throw ApplicationFailure.nonRetryable(`swarm host ${hostUuid} does not exist`, 'UnknownHost');
    if (host.status === 'decommissioned') throw ApplicationFailure.nonRetryable(`swarm host "${host.name}" was decommissioned`, 'HostDecommissioned');
    if (!host.address) throw ApplicationFailure.nonRetryable(`swarm host "${host.name}" has no address yet (its bundle was never fetched)`, 'HostUnreachable');
    return { uuid: host.uuid, name: host.name, address: host.address, port: host.agentPort, fingerprint: host.clientCertFingerprint };
  }

  /**
   * Fencing (architecture.md §8): the generation a deploy or mutate job carries, read as it is sent. A decky
   * re-homed since its row was written is another host's now: the job would be stale, so none is sent.
   */
  async function assignmentGeneration(input: DispatchInput): Promise<number | undefined> {
    const { request } = input;
    if (request.kind === 'teardown') return undefined;
    const names = request.kind === 'deploy' ? request.body.config.deckies.map((d) => d.name) : [request.body.decky.name];
    const deckies = await deps.orm.em.fork().find(Decky, { name: { $in: names } }, { fields: ['name', 'hostUuid', 'generation'] });
    const moved = deckies.find((d) => d.hostUuid !== input.hostUuid);
    if (moved) {
      throw ApplicationFailure.nonRetryable(
        `decky "${moved.name}" was re-homed ${moved.hostUuid ? `to swarm host ${moved.hostUuid}` : 'to the master'} (generation ${moved.generation}); this job is stale and was not sent`,
        'DeckyRehomed',
      );
    }
    return Math.max(0, ...deckies.map((d) => d.generation));
  }

  return {
    async describeAgentHost(hostUuid: string): Promise<AgentHostPlan> {
      const host = await deps.orm.em.fork().findOne(SwarmHost, { uuid: hostUuid });
      return {
        name: host?.name ?? hostUuid,
        status: host?.status ?? 'decommissioned',
        budgetMs: deps.dispatchBudgetMs,
        resultTimeoutMs: deps.resultTimeoutMs,
        pollIntervalMs: deps.pollIntervalMs,
      };
    },

    /**
     * POST the job to the decky's agent, keyed by the lifecycle id, retrying an unreachable agent
     * with backoff within the budget while heartbeating. A repeated call is the same job.
     */
    async dispatchToAgent(input: DispatchInput): Promise<string> {
      const host = await targetOf(input.hostUuid);
      const generation = await assignmentGeneration(input);
      const { log } = Context.current();
      return withHeartbeat(async (signal) => {
        try {
          const job = await sendAgentJob(clients.clientFor(host), input.lifecycleId, input.request, {
            lifecycleId: input.lifecycleId,
            generation,
            budgetMs: deps.dispatchBudgetMs,
            signal,
            onRetry: (attempt, err) => log.warn('agent not reachable yet; retrying', { host: host.name, attempt, error: err.message }),
          });
          return `${input.request.kind} job ${job.job_id} taken by host "${host.name}" (${job.status})`;
        } catch (err) {
          if (err instanceof DispatchFailedError) throw ApplicationFailure.nonRetryable(err.message, 'AgentUnreachable');
          throw err;
        }
      });
    },

    /** GET /jobs/{id} on the decky's agent: the fallback when its result callback is late or lost. */
    async pollAgentJob(input: { hostUuid: string; jobId: string }): Promise<AgentJobPoll> {
      const host = await targetOf(input.hostUuid);
      try {
        const job = await clients.clientFor(host).job(input.jobId);
        if (!job) return { state: 'unknown' };
        if (job.status === 'succeeded' || job.status === 'failed') {
          const failed = job.results.filter((r) => !r.ok).map((r) => `${r.decky}: ${r.error ?? 'failed'}`);
          return { state: 'finished', ok: job.status === 'succeeded', ...(failed.length ? { error: failed.join('; ') } : {}) };
        }
        return { state: 'waiting', status: job.status };
      } catch (err) {
        if (err instanceof AgentCallError) return { state: 'unreachable', error: err.message };
        throw err;
      }
    },
  };
}

export type AgentActivities = ReturnType<typeof createAgentActivities>;
