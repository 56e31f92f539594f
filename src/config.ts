/**
 * Every setting is an environment variable (architecture.md §15); this is the one place that reads
 * the master's and the agent's. Two readers stay apart: the CLI's client (DECNET_API_URL,
 * DECNET_API_TOKEN, in src/cli/api-client.ts) and where the Temporal CLI is (TEMPORAL_CLI_PATH,
 * src/infra/temporal-cli.ts).
 */
import path from 'node:path';
import type { HealPolicy } from './domain/heal';
import { AGENT_BIN_LINK, AGENT_CONFIG_DIR, AGENT_INSTALL_DIR, DEFAULT_SWARM_PORT } from './domain/swarm-schemas';

/** The operators' API; the CLI's default API URL points at it. */
export const DEFAULT_API_PORT = 8080;

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
  /** A process without the API (`decnet worker`) serves GET /metrics on this port (the API's own port otherwise). */
  metricsHost: string;
  metricsPort: number;
  /** Leader election (reconciler, host sweeper, drift watcher): how often a standby tries the lock and a leader checks its connection. */
  leaderRetryMs: number;
  /** `decnet up`: how long an embedded part that exited may stay down, restarts included, before `up` exits non-zero. */
  embeddedRestartLimitMs: number;
  logLevel: string;
  /** The master's TLS-only listener for agents (architecture.md §8). */
  swarmHost: string;
  swarmPort: number;
  /** The master's HTTPS listener for enrollment downloads (on swarmHost; the master's certificate, pinned by the printed command). */
  enrollPort: number;
  /** DECNET_ENROLL_PLAIN_HTTP: the downloads also on the API port over plain HTTP, and the printed command uses that (opt-in, unprotected). */
  enrollPlainHttp: boolean;
  /** How often agents heartbeat; a host silent for 3 intervals becomes `unreachable`. */
  heartbeatIntervalMs: number;
  /** DECNET_FAILOVER (default on): the deckies of a host silent past the failover delay are re-homed; off, the next deploy does it. */
  failover: boolean;
  /** How long a host stays `unreachable` before failover re-homes its deckies (default 3 heartbeat intervals). */
  failoverDelayMs: number;
  /** Swarm dispatch: how long an unreachable agent is retried before the operation fails. */
  agentRetryBudgetMs: number;
  /** The longest an agent may take to finish one job. */
  agentResultTimeoutMs: number;
  /** How often a workflow waiting for an agent's result polls GET /jobs/{id} (the lost-callback fallback). */
  agentPollIntervalMs: number;
  /** The period of the full drift comparison; Docker's event stream triggers one sooner. */
  driftIntervalMs: number;
  /** Auto-heal: failed heals in a row before it gives up, and the first back-off (it doubles, up to 10 min). */
  healPolicy: HealPolicy;
  /** GET /events: open streams per API token; unset, the API's default. */
  sseMaxStreamsPerToken?: number;
  /** GET /events: unsent bytes a stream may hold before its client counts as too slow; unset, the API's default. */
  sseMaxBufferedBytes?: number;
  /** DECNET_AGENT_ARTEFACT: the agent artefact served to agent hosts; default dist/agent/decnet-agent.cjs of the checkout. */
  agentArtefactPath?: string;
}

/** DECNET_ADMIN_TOKEN is a long-lived admin credential: short ones are refused (`decnet token create` makes 35 characters). */
export const ADMIN_TOKEN_MIN_LENGTH = 24;

function adminToken(env: NodeJS.ProcessEnv): string | undefined {
  const token = env.DECNET_ADMIN_TOKEN || undefined;
  if (token !== undefined && token.length < ADMIN_TOKEN_MIN_LENGTH) {
    throw new Error(
      `DECNET_ADMIN_TOKEN must be at least ${ADMIN_TOKEN_MIN_LENGTH} characters (it has ${token.length}); generate one with \`openssl rand -base64 32\``,
    );
  }
  return token;
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number): number;
function int(env: NodeJS.ProcessEnv, name: string, fallback?: number): number | undefined;
function int(env: NodeJS.ProcessEnv, name: string, fallback?: number): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return value;
}

function onOff(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = (env[name] ?? '').trim().toLowerCase();
  if (raw === '') return fallback;
  if (['on', '1', 'true'].includes(raw)) return true;
  if (['off', '0', 'false'].includes(raw)) return false;
  throw new Error(`${name} must be on or off, got "${env[name]}"`);
}

function flag(env: NodeJS.ProcessEnv, name: string): boolean {
  const raw = (env[name] ?? '').trim().toLowerCase();
  if (raw === '' || raw === '0' || raw === 'false') return false;
  if (raw === '1' || raw === 'true') return true;
  throw new Error(`${name} must be 1 or 0 (true or false), got "${env[name]}"`);
}

/** The settings the master and the agent both read, with the same defaults. */
type SharedConfig = Pick<Config, 'composeProject' | 'imageRegistry' | 'imageTag' | 'heartbeatIntervalMs' | 'logLevel'>;

function loadSharedConfig(env: NodeJS.ProcessEnv): SharedConfig {
  return {
    composeProject: env.DECNET_COMPOSE_PROJECT || 'decnet',
    imageRegistry: env.DECNET_IMAGE_REGISTRY || 'decnet',
    imageTag: env.DECNET_IMAGE_TAG || 'latest',
    heartbeatIntervalMs: int(env, 'DECNET_HEARTBEAT_INTERVAL_MS', 30_000),
    logLevel: env.DECNET_LOG_LEVEL || 'info',
  };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const mode = env.DECNET_MODE ?? 'master';
  if (mode !== 'master' && mode !== 'agent') throw new Error(`DECNET_MODE must be master or agent, got "${mode}"`);
  const shared = loadSharedConfig(env);
  const { composeProject, heartbeatIntervalMs } = shared;
  const temporalUiPort = int(env, 'DECNET_TEMPORAL_UI_PORT', 8233);
  return {
    ...shared,
    dataDir: path.resolve(env.DECNET_DATA_DIR || '.decnet'),
    apiHost: env.DECNET_API_HOST || '127.0.0.1',
    apiPort: int(env, 'DECNET_API_PORT', DEFAULT_API_PORT),
    adminToken: adminToken(env),
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
    reconcileIntervalMs: int(env, 'DECNET_RECONCILE_INTERVAL_MS', 30_000),
    metricsHost: env.DECNET_METRICS_HOST || '127.0.0.1',
    metricsPort: int(env, 'DECNET_METRICS_PORT', 9464),
    leaderRetryMs: int(env, 'DECNET_LEADER_RETRY_MS', 5_000),
    embeddedRestartLimitMs: int(env, 'DECNET_EMBEDDED_RESTART_LIMIT_MS', 120_000),
    swarmHost: env.DECNET_SWARM_HOST || '0.0.0.0',
    swarmPort: int(env, 'DECNET_SWARM_PORT', DEFAULT_SWARM_PORT),
    enrollPort: int(env, 'DECNET_ENROLL_PORT', 8771),
    enrollPlainHttp: flag(env, 'DECNET_ENROLL_PLAIN_HTTP'),
    failover: onOff(env, 'DECNET_FAILOVER', true),
    failoverDelayMs: int(env, 'DECNET_FAILOVER_DELAY_MS', 3 * heartbeatIntervalMs),
    agentRetryBudgetMs: int(env, 'DECNET_AGENT_RETRY_BUDGET_MS', 120_000),
    agentResultTimeoutMs: int(env, 'DECNET_AGENT_RESULT_TIMEOUT_MS', 15 * 60_000),
    agentPollIntervalMs: int(env, 'DECNET_AGENT_POLL_INTERVAL_MS', 10_000),
    driftIntervalMs: int(env, 'DECNET_DRIFT_INTERVAL_MS', 30_000),
    healPolicy: {
      maxAttempts: int(env, 'DECNET_HEAL_MAX_ATTEMPTS', 5),
      backoffMs: int(env, 'DECNET_HEAL_BACKOFF_MS', 10_000),
      maxBackoffMs: 10 * 60_000,
    },
    sseMaxStreamsPerToken: int(env, 'DECNET_SSE_MAX_STREAMS_PER_TOKEN'),
    sseMaxBufferedBytes: int(env, 'DECNET_SSE_MAX_BUFFERED_BYTES'),
    agentArtefactPath: env.DECNET_AGENT_ARTEFACT ? path.resolve(env.DECNET_AGENT_ARTEFACT) : undefined,
  };
}

/** `decnet agent`'s environment; its decnet.ini supplies the rest (loadAgentSettings in src/agent/agent.ts). */
export interface AgentConfig extends SharedConfig {
  /** DECNET_AGENT_PORT: instead of decnet.ini's agent-port. */
  agentPort?: number;
  /** DECNET_AGENT_HOST: the address the agent's API listens on. */
  agentHost: string;
  /** DECNET_LAN_NETWORK: the LAN network's Docker name (default `<project>_lan`). */
  lanNetwork?: string;
  /** DECNET_DATA_DIR: jobs, compose files and the decommission mark; unset, `data/` beside decnet.ini. */
  dataDir?: string;
  /** Where the install put things, with the install script's overrides. DECNET_AGENT_DIR: decnet.ini, certificates, key and (by default) data/. */
  configDir: string;
  /** DECNET_SYSTEMD_DIR: where decnet-agent.service is. */
  systemdDir: string;
  /** DECNET_SYSTEMCTL: the service manager's command. */
  systemctl: string;
  /** DECNET_AGENT_INSTALL_DIR: decnet-agent.cjs and its sha256. */
  installDir: string;
  /** DECNET_AGENT_BIN_LINK: the `decnet-agent` command, a symbolic link to the artefact. */
  binLink: string;
}

export function loadAgentConfig(env: NodeJS.ProcessEnv = process.env): AgentConfig {
  // The uninstall removes these directories: the file system root is never one of them.
  const dir = (name: string, fallback: string) => {
    const resolved = path.resolve(env[name] || fallback);
    if (resolved === path.parse(resolved).root) throw new Error(`${name} must not be the file system root`);
    return resolved;
  };
  return {
    ...loadSharedConfig(env),
    agentPort: int(env, 'DECNET_AGENT_PORT'),
    agentHost: env.DECNET_AGENT_HOST || '0.0.0.0',
    lanNetwork: env.DECNET_LAN_NETWORK || undefined,
    dataDir: env.DECNET_DATA_DIR ? path.resolve(env.DECNET_DATA_DIR) : undefined,
    configDir: dir('DECNET_AGENT_DIR', AGENT_CONFIG_DIR),
    systemdDir: dir('DECNET_SYSTEMD_DIR', '/etc/systemd/system'),
    systemctl: env.DECNET_SYSTEMCTL || 'systemctl',
    installDir: dir('DECNET_AGENT_INSTALL_DIR', AGENT_INSTALL_DIR),
    binLink: dir('DECNET_AGENT_BIN_LINK', AGENT_BIN_LINK),
  };
}
