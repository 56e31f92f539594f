/** Running one lifecycle row's job on its swarm host: dispatch, then wait for the agent's result. */
import { ApplicationFailure, condition, setHandler } from '@temporalio/workflow';
import type { AgentJobRequest } from '../swarm/dispatch';
import type { AgentHostPlan } from '../activities/agent';
import { agent, agentDispatch } from './activities';
import type { StepRunner } from './lifecycle';
import { agentResultSignal } from './signals';

const seconds = (ms: number) => `${Math.round(ms / 1000)} s`;

/**
 * Steps `dispatch` and `agent_result`. The result arrives as a signal; between signals the
 * workflow polls the agent's GET /jobs/{id}, so a lost callback never leaves the row running.
 * Fails naming the host when the agent refuses, fails, stays unreachable past the budget, or
 * takes longer than the result timeout.
 */
export async function runOnAgent(step: StepRunner, lifecycleId: string, hostUuid: string, request: AgentJobRequest, known?: AgentHostPlan): Promise<void> {
  let result: { ok: boolean; error?: string } | undefined;
  setHandler(agentResultSignal, (r) => {
    if (r.job_id === lifecycleId) result ??= r;
  });
  const host = known ?? (await agent.describeAgentHost(hostUuid));
  await step('dispatch', () => agentDispatch.dispatchToAgent({ lifecycleId, hostUuid, request }));
  await step('agent_result', async () => {
    const deadline = Date.now() + host.resultTimeoutMs;
    let unreachableSince: number | undefined;
    while (!result) {
      if (await condition(() => result !== undefined, host.pollIntervalMs)) break;
      const polled = await agent.pollAgentJob({ hostUuid, jobId: lifecycleId });
      if (polled.state === 'finished') {
        result = polled;
        break;
      }
      if (polled.state === 'unknown') {
        throw ApplicationFailure.nonRetryable(`swarm host "${host.name}" no longer knows job ${lifecycleId} (its job store was lost)`, 'AgentJobLost');
      }
      if (polled.state === 'unreachable') {
        unreachableSince ??= Date.now();
        if (Date.now() - unreachableSince >= host.budgetMs) {
          throw ApplicationFailure.nonRetryable(
            `swarm host "${host.name}" unreachable for ${seconds(Date.now() - unreachableSince)} while running job ${lifecycleId}: ${polled.error}`,
            'AgentUnreachable',
          );
        }
      } else {
        unreachableSince = undefined;
      }
      if (Date.now() >= deadline) {
        throw ApplicationFailure.nonRetryable(
          `swarm host "${host.name}" did not finish job ${lifecycleId} within ${seconds(host.resultTimeoutMs)}`,
          'AgentTimeout',
        );
      }
    }
    const outcome = result as { ok: boolean; error?: string }; // the loop only ends with a result
    if (!outcome.ok) throw ApplicationFailure.nonRetryable(`swarm host "${host.name}": ${outcome.error ?? 'the job failed'}`, 'AgentJobFailed');
    return `host "${host.name}" reported success`;
  });
}
