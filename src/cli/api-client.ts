/**
 * The operator commands' HTTP client for the master API (`/api/v1`). Settings come from
 * DECNET_API_URL / DECNET_API_TOKEN, else `~/.config/decnet/cli.json` `{api_url, api_token}`.
 * A refusal becomes an ApiError carrying the API's own `error.message`, printed as worded.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fetch } from 'undici';
import { z } from 'zod';
import { DEFAULT_API_PORT } from '../config';
import {
  ApiTokenViewSchema,
  ApiTokensResponseSchema,
  DeployPlanSchema,
  FleetTeardownResponseSchema,
  LifecycleRowSchema,
  SystemLimitsSchema,
  type ApiTokenView,
  type DeckySpec,
  type DeployPlan,
  type FleetTeardownResponse,
  type LifecycleRow,
  type SystemLimits,
} from '../domain/schemas';
import { EnrollBundleResponseSchema, SwarmHostsResponseSchema, type EnrollBundleResponse, type SwarmHostsResponse } from '../domain/swarm-schemas';
import {
  ConfiguredLanSchema,
  LanDriverMoveSchema,
  SystemNetworkSchema,
  type ConfiguredLan,
  type LanDriverMove,
  type LanRequest,
  type SystemNetwork,
} from '../domain/lan';

export const DEFAULT_API_URL = `http://127.0.0.1:${DEFAULT_API_PORT}`;
/** The lifecycle endpoint takes at most this many ids per request. */
export const LIFECYCLE_IDS_PER_REQUEST = 200;
const REQUEST_TIMEOUT_MS = 60_000;

/** Bad command-line input or configuration: exit code 2. */
export class UsageError extends Error {}

/** The API answered with an error status; `message` is the API's `error.message`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** No HTTP answer at all (connection refused, timeout). */
export class ApiUnreachableError extends Error {}

export interface CliSettings {
  apiUrl: string;
  apiToken?: string;
  /** The config file consulted (it may not exist). */
  configPath: string;
}

const CliConfigFileSchema = z.object({
  api_url: z.string().min(1).optional(),
  api_token: z.string().min(1).optional(),
});

/** `$XDG_CONFIG_HOME/decnet/cli.json`, i.e. `~/.config/decnet/cli.json` by default. */
export function cliConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const configHome = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), '.config');
  return path.join(configHome, 'decnet', 'cli.json');
}

/** Environment variables win over the config file; a missing file is fine, a broken one is a usage error. */
export function loadCliSettings(env: NodeJS.ProcessEnv = process.env): CliSettings {
  const configPath = cliConfigPath(env);
  let file: z.infer<typeof CliConfigFileSchema> = {};
  let raw: string | undefined;
  try {
    raw = fs.readFileSync(configPath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new UsageError(`cannot read ${configPath}: ${(err as Error).message}`);
  }
  if (raw !== undefined) {
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (err) {
      throw new UsageError(`${configPath} is not valid JSON: ${(err as Error).message}`);
    }
    const parsed = CliConfigFileSchema.safeParse(json);
    if (!parsed.success) {
      throw new UsageError(
        `${configPath} must be {"api_url": "...", "api_token": "..."}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
      );
    }
    file = parsed.data;
  }
  const apiUrl = normaliseApiUrl(env.DECNET_API_URL || file.api_url || DEFAULT_API_URL);
  return { apiUrl, apiToken: env.DECNET_API_TOKEN || file.api_token || undefined, configPath };
}

/** `http://host:port`, tolerating a trailing slash or `/api/v1`. */
function normaliseApiUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`the API URL "${raw}" is not a URL (expected something like ${DEFAULT_API_URL})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`the API URL "${raw}" must be http:// or https://`);
  return url
    .toString()
    .replace(/\/+$/, '')
    .replace(/\/api\/v1$/, '');
}

export interface DeployAccepted {
  message: string;
  mode: 'swarm' | 'unihost';
  lifecycle_ids: string[];
  /** The decky of each lifecycle id, in the same order. */
  deckies: string[];
  /** Where the deckies go: the dry run's plan, as the deploy carried it out. */
  plan: DeployPlan;
  [key: string]: unknown;
}

export interface LifecycleIdsAccepted {
  lifecycle_ids: string[];
  [key: string]: unknown;
}

/** GET /deckies entries (the API's deckyToView). */
export interface DeckyView extends DeckySpec {
  host_uuid: string | null;
  state: string;
  last_error: string | null;
  last_mutated: string | null;
  last_seen: string | null;
  created_at: string;
  last_lifecycle: LifecycleRow | null;
}

export interface DeckyDetail extends DeckyView {
  lifecycle: LifecycleRow[];
}

/** A JSON fleet file's object, or `{ini_content}`; `replace_fleet` is added by the deploy command. */
export type DeployBody = Record<string, unknown>;

/** What the waiting code needs: the lifecycle rows of some ids. */
export interface LifecycleSource {
  lifecycle(ids: string[]): Promise<LifecycleRow[]>;
}

const LifecycleResponseSchema = z.object({ rows: z.array(LifecycleRowSchema) });
const LifecycleIdsSchema = z.looseObject({ lifecycle_ids: z.array(z.string()) });
const DeployAcceptedSchema = LifecycleIdsSchema.extend({
  message: z.string(),
  mode: z.enum(['swarm', 'unihost']),
  deckies: z.array(z.string()),
  plan: DeployPlanSchema,
});

export class DecnetApiClient implements LifecycleSource {
  constructor(readonly settings: CliSettings) {}

  /** POST /deckies/deploy → 202 `{message, mode, lifecycle_ids, …}`. */
  async deploy(body: DeployBody, opts: { idempotencyKey?: string } = {}): Promise<DeployAccepted> {
    const headers = opts.idempotencyKey ? { 'Idempotency-Key': opts.idempotencyKey } : undefined;
    return this.parse(DeployAcceptedSchema, await this.request('POST', '/deckies/deploy', body, headers), 'deploy') as DeployAccepted;
  }

  /** POST /deckies/deploy?dry_run=true → 200, the plan; nothing is deployed. */
  async deployPlan(body: DeployBody, opts: { idempotencyKey?: string } = {}): Promise<DeployPlan> {
    const headers = opts.idempotencyKey ? { 'Idempotency-Key': opts.idempotencyKey } : undefined;
    return this.parse(DeployPlanSchema, await this.request('POST', '/deckies/deploy?dry_run=true', body, headers), 'dry run');
  }

  /** The rows of `ids` (any number: asked in chunks of 200); unknown ids are left out. */
  async lifecycle(ids: string[]): Promise<LifecycleRow[]> {
    const rows: LifecycleRow[] = [];
    for (let i = 0; i < ids.length; i += LIFECYCLE_IDS_PER_REQUEST) {
      const chunk = ids.slice(i, i + LIFECYCLE_IDS_PER_REQUEST);
      const answer = await this.request('GET', `/deckies/lifecycle?ids=${chunk.map(encodeURIComponent).join(',')}`);
      rows.push(...this.parse(LifecycleResponseSchema, answer, 'lifecycle').rows);
    }
    return rows;
  }

  async deckies(): Promise<DeckyView[]> {
    return ((await this.request('GET', '/deckies')) as { deckies: DeckyView[] }).deckies;
  }

  async decky(name: string): Promise<DeckyDetail> {
    return (await this.request('GET', `/deckies/${encodeURIComponent(name)}`)) as DeckyDetail;
  }

  /** DELETE /deckies/{name} → 202 `{lifecycle_ids}`. */
  async teardown(name: string): Promise<LifecycleIdsAccepted> {
    return this.parse(LifecycleIdsSchema, await this.request('DELETE', `/deckies/${encodeURIComponent(name)}`), 'teardown');
  }

  /** DELETE /deckies?confirm=<fleet size> → 202 `{message, lifecycle_ids, deckies}`. */
  async teardownFleet(confirm: number): Promise<FleetTeardownResponse> {
    return this.parse(FleetTeardownResponseSchema, await this.request('DELETE', `/deckies?confirm=${confirm}`), 'fleet teardown');
  }

  /** GET /system/limits → `{deployment_limit, deckies_used}`. */
  async limits(): Promise<SystemLimits> {
    return this.parse(SystemLimitsSchema, await this.request('GET', '/system/limits'), 'limits');
  }

  /** POST /deckies/{name}/mutate → 202 `{lifecycle_ids}`; without services the API picks new ones. */
  async mutate(name: string, services?: string[]): Promise<LifecycleIdsAccepted> {
    const body = services ? { services } : {};
    return this.parse(LifecycleIdsSchema, await this.request('POST', `/deckies/${encodeURIComponent(name)}/mutate`, body), 'mutate');
  }

  async heal(name: string): Promise<LifecycleIdsAccepted> {
    return this.parse(LifecycleIdsSchema, await this.request('POST', `/deckies/${encodeURIComponent(name)}/heal`, {}), 'heal');
  }

  /** PUT /deckies/{name}/mutate-interval; null switches mutation off. */
  async setMutateInterval(name: string, interval: number | string | null): Promise<Record<string, unknown>> {
    const answer = await this.request('PUT', `/deckies/${encodeURIComponent(name)}/mutate-interval`, { mutate_interval: interval });
    return answer && typeof answer === 'object' ? (answer as Record<string, unknown>) : {};
  }

  /** POST /swarm/enroll-bundle → 201 `{token, command, expires_at, host_uuid}`. */
  async enroll(body: {
    agent_name: string;
    master_host: string;
    use_ipvlan?: boolean;
    agent_port?: number;
    reinstall?: boolean;
  }): Promise<EnrollBundleResponse> {
    return this.parse(EnrollBundleResponseSchema, await this.request('POST', '/swarm/enroll-bundle', body), 'enroll');
  }

  /** GET /swarm/hosts. */
  async hosts(): Promise<SwarmHostsResponse> {
    return this.parse(SwarmHostsResponseSchema, await this.request('GET', '/swarm/hosts'), 'hosts');
  }

  /** GET /system/network: the LAN, or `configured: false` with the host's suggestion. */
  async network(): Promise<SystemNetwork> {
    return this.parse(SystemNetworkSchema, await this.request('GET', '/system/network'), 'network');
  }

  /** PUT /system/network → the LAN now in use, or (the driver alone changed under the master's deckies) the moves under way. */
  async setNetwork(body: LanRequest): Promise<ConfiguredLan | LanDriverMove> {
    return this.parse(z.union([LanDriverMoveSchema, ConfiguredLanSchema]), await this.request('PUT', '/system/network', body), 'network');
  }

  /** GET /tokens: every API token, without its secret. */
  async tokens(): Promise<ApiTokenView[]> {
    return this.parse(ApiTokensResponseSchema, await this.request('GET', '/tokens'), 'tokens').tokens;
  }

  /** DELETE /tokens/{id} → the token, revoked. */
  async revokeToken(id: string): Promise<ApiTokenView> {
    return this.parse(ApiTokenViewSchema, await this.request('DELETE', `/tokens/${encodeURIComponent(id)}`), 'token revoke');
  }

  /** One call: JSON in and out, the bearer token, and `X-Decnet-Trigger: cli` on anything that changes state. */
  async request(method: string, apiPath: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<unknown> {
    const url = `${this.settings.apiUrl}/api/v1${apiPath}`;
    const headers: Record<string, string> = { accept: 'application/json', ...extraHeaders };
    if (this.settings.apiToken) headers.authorization = `Bearer ${this.settings.apiToken}`;
    if (method !== 'GET') headers['x-decnet-trigger'] = 'cli';
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res;
    try {
      res = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      throw new ApiUnreachableError(`cannot reach the API at ${this.settings.apiUrl}: ${describeFetchFailure(err)}`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const error = (json as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)?.error;
      if (error && typeof error.message === 'string') {
        throw new ApiError(res.status, typeof error.code === 'string' ? error.code : `http_${res.status}`, error.message, error.details);
      }
      const snippet = text.trim().slice(0, 200);
      throw new ApiError(res.status, `http_${res.status}`, `the API answered ${res.status} ${res.statusText}${snippet ? `: ${snippet}` : ''}`);
    }
    if (text && json === undefined)
      throw new ApiError(res.status, 'invalid_response', `${method} ${apiPath} answered ${res.status} with a body that is not JSON`);
    return json;
  }

  private parse<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw new ApiError(200, 'invalid_response', `unexpected ${what} answer from the API: ${JSON.stringify(value)?.slice(0, 300)}`);
    return parsed.data;
  }
}

/** undici says "fetch failed"; the cause says why (ECONNREFUSED, a timeout, a DNS failure). */
function describeFetchFailure(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`;
  return e?.cause?.message || e?.cause?.code || e?.message || String(err);
}

/** The client the commands use: settings from the environment and the config file, a token required. */
export function createApiClient(env: NodeJS.ProcessEnv = process.env): DecnetApiClient {
  const settings = loadCliSettings(env);
  if (!settings.apiToken) {
    throw new UsageError(
      `no API token: set DECNET_API_TOKEN or "api_token" in ${settings.configPath} (create one with \`decnet token create --name <who> --role admin\`)`,
    );
  }
  return new DecnetApiClient(settings);
}
