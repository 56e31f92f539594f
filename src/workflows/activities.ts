/**
 * Activity proxies with explicit timeouts and retry policies, one per kind of work.
 * Types only from the activities: the workflow bundle must not see Node I/O modules.
 */
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { DbActivities } from '../activities/db';
import type { ComposeActivities } from '../activities/compose';
import type { TemporalActivities } from '../activities/temporal';
import type { AgentActivities } from '../activities/agent';

export const db = proxyActivities<DbActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 30 },
});

/**
 * The same database steps as local activities: they run in the worker that runs the workflow, with
 * no round trip through the server's task queues per step (two history events instead of five).
 * scheduleToClose bounds the whole retry series, as the 30 attempts above do (a PostgreSQL outage).
 */
export const localDb = proxyLocalActivities<DbActivities>({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '15m',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s' },
});

/** The database steps of one workflow run: `db` or `localDb`, chosen once per run. */
export type DbSteps = typeof db;

/**
 * Docker work: heartbeats every 3 s (withHeartbeat), so a killed worker's activity is retried
 * 10 s later at most, by the restarted master or another worker.
 */
export const compose = proxyActivities<ComposeActivities>({
  startToCloseTimeout: '10m',
  heartbeatTimeout: '10s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 5 },
});

/** Containers may take a moment to settle after compose returns. */
export const verify = proxyActivities<Pick<ComposeActivities, 'verifyDecky'>>({
  startToCloseTimeout: '1m',
  heartbeatTimeout: '10s',
  retry: { initialInterval: '1s', backoffCoefficient: 1.5, maximumInterval: '5s', maximumAttempts: 8 },
});

/** Waiting for a superseded workflow may take as long as that workflow's docker work. */
export const temporal = proxyActivities<Pick<TemporalActivities, 'awaitWorkflowClosed'>>({
  startToCloseTimeout: '15m',
  heartbeatTimeout: '10s',
  retry: { initialInterval: '1s', maximumInterval: '10s' },
});

/** One call to the Temporal frontend each: a worker killed during it is noticed after 10 s. */
export const schedules = proxyActivities<Pick<TemporalActivities, 'scheduleMutation' | 'unscheduleMutation'>>({
  startToCloseTimeout: '10s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 20 },
});

/** The dispatch retries an unreachable agent itself, within its budget, heartbeating all along. */
export const agentDispatch = proxyActivities<Pick<AgentActivities, 'dispatchToAgent'>>({
  startToCloseTimeout: '1h',
  heartbeatTimeout: '15s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 3 },
});

/** Short reads: the host row, an agent's job status. */
export const agent = proxyActivities<Pick<AgentActivities, 'describeAgentHost' | 'pollAgentJob'>>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 10 },
});
