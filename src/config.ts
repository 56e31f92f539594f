/** Every setting is an environment variable (SPEC §15); this is the one place that reads them. */
import path from 'node:path';

export interface Config {
  dataDir: string;
  apiHost: string;
  apiPort: number;
  adminToken?: string;
  databaseUrl?: string;
  pgPort: number;
  temporalAddress?: string;
  temporalNamespace: string;
  temporalPort: number;
  temporalUiPort: number;
  temporalUiUrl: string;
  taskQueue: string;
  mode: 'master' | 'agent';
  imageRegistry: string;
  imageTag: string;
  composeProject: string;
  reconcileIntervalMs: number;
  logLevel: string;
  /** The master's TLS-only listener for agents (SPEC §8). */
  swarmHost: string;
  swarmPort: number;
  /** How often agents heartbeat; a host silent for 3 intervals becomes `unreachable`. */
  heartbeatIntervalMs: number;
  /** Swarm dispatch: how long an unreachable agent is retried before the operation fails. */
  agentRetryBudgetMs: number;
  /** The longest an agent may take to finish one job. */
  agentResultTimeoutMs: number;
  /** How often a workflow waiting for an agent's result polls GET /jobs/{id} (the lost-callback fallback). */
  agentPollIntervalMs: number;
  /** DECNET_AGENT_ARTEFACT: the agent artefact served to agent hosts; default dist/agent/decnet-agent.cjs of the checkout. */
  agentArtefactPath?: string;
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return value;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const mode = env.DECNET_MODE ?? 'master';
  if (mode !== 'master' && mode !== 'agent') throw new Error(`DECNET_MODE must be master or agent, got "${mode}"`);
  const composeProject = env.DECNET_COMPOSE_PROJECT || 'decnet';
  const temporalUiPort = int(env, 'DECNET_TEMPORAL_UI_PORT', 8233);
  return {
    dataDir: path.resolve(env.DECNET_DATA_DIR || '.decnet'),
    apiHost: env.DECNET_API_HOST || '127.0.0.1',
    apiPort: int(env, 'DECNET_API_PORT', 8080),
    adminToken: env.DECNET_ADMIN_TOKEN || undefined,
    databaseUrl: env.DATABASE_URL || undefined,
    pgPort: int(env, 'DECNET_PG_PORT', 54329),
    temporalAddress: env.TEMPORAL_ADDRESS || undefined,
    temporalNamespace: env.TEMPORAL_NAMESPACE || 'default',
    temporalPort: int(env, 'DECNET_TEMPORAL_PORT', 7233),
    temporalUiPort,
    temporalUiUrl: env.DECNET_TEMPORAL_UI_URL || `http://127.0.0.1:${temporalUiPort}`,
    // One task queue per compose scope keeps several masters on one Temporal apart (tests rely on it).
    taskQueue: env.DECNET_TASK_QUEUE || `${composeProject}-master`,
    mode,
    imageRegistry: env.DECNET_IMAGE_REGISTRY || 'decnet',
    imageTag: env.DECNET_IMAGE_TAG || 'latest',
    composeProject,
    reconcileIntervalMs: int(env, 'DECNET_RECONCILE_INTERVAL_MS', 30_000),
    logLevel: env.DECNET_LOG_LEVEL || 'info',
    swarmHost: env.DECNET_SWARM_HOST || '0.0.0.0',
    swarmPort: int(env, 'DECNET_SWARM_PORT', 8770),
    heartbeatIntervalMs: int(env, 'DECNET_HEARTBEAT_INTERVAL_MS', 30_000),
    agentRetryBudgetMs: int(env, 'DECNET_AGENT_RETRY_BUDGET_MS', 120_000),
    agentResultTimeoutMs: int(env, 'DECNET_AGENT_RESULT_TIMEOUT_MS', 15 * 60_000),
    agentPollIntervalMs: int(env, 'DECNET_AGENT_POLL_INTERVAL_MS', 10_000),
    agentArtefactPath: env.DECNET_AGENT_ARTEFACT ? path.resolve(env.DECNET_AGENT_ARTEFACT) : undefined,
  };
}
