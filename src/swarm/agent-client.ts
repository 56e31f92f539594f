/**
 * The master's client for an agent's HTTPS API (architecture.md §8): the master's certificate as client
 * certificate, the agent's chain verified against the CA and its certificate pinned by the
 * fingerprint recorded at enrollment (agent certificates carry no address to check a name against).
 * Every reply is read up to SWARM_REPLY_MAX_BYTES and parsed with the schema of what it answers.
 */
import type { z } from 'zod';
import { Agent, request, type Dispatcher } from 'undici';
import { pinnedCertificate } from '../http/mtls';
import {
  AGENT_PATHS,
  AgentDecommissionResponseSchema,
  AgentJobAcceptedSchema,
  AgentJobViewSchema,
  type AgentDecommissionRequest,
  type AgentDecommissionResponse,
  type AgentJobAccepted,
  type AgentJobKind,
  type AgentJobView,
} from '../domain/swarm-schemas';
import type { SwarmPki } from './pki';
import { readReply } from './reply';

export interface AgentTarget {
  uuid: string;
  name: string;
  address: string;
  port: number;
  /** SHA-256 of the agent certificate's DER (SwarmHost.client_cert_fingerprint). */
  fingerprint: string;
}

/** The agent could not be reached or answered something other than what the API promises. */
export class AgentCallError extends Error {
  constructor(
    message: string,
    /** 4xx: the agent refused the request itself; sending it again cannot help. */
    readonly permanent = false,
  ) {
    super(message);
    this.name = 'AgentCallError';
  }
}

const CONNECTIONS_PER_AGENT = 8;

export class AgentClient {
  private readonly dispatcher: Agent;

  constructor(
    pki: Pick<SwarmPki, 'ca' | 'master'>,
    readonly target: AgentTarget,
    timeoutMs = 15_000,
  ) {
    this.dispatcher = new Agent({
      // Kept-alive TLS connections are reused by the next request; a few per host keep the
      // handshakes (CPU on both sides) few when hundreds of jobs go to one agent at once.
      connections: CONNECTIONS_PER_AGENT,
      connect: {
        key: pki.master.keyPem,
        cert: pki.master.certPem,
        ca: [pki.ca.certPem],
        timeout: timeoutMs,
        checkServerIdentity: pinnedCertificate(
          target.fingerprint,
          `agent "${target.name}" presented a certificate other than the one issued to it at enrollment`,
        ),
      },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
  }

  get url(): string {
    const host = this.target.address.includes(':') ? `[${this.target.address}]` : this.target.address;
    return `https://${host}:${this.target.port}`;
  }

  /** POST /<kind> → 202 with the job (a repeated job id returns the same job). */
  submitJob(kind: AgentJobKind, body: Record<string, unknown>): Promise<AgentJobAccepted> {
    return this.answer('POST', AGENT_PATHS.job(kind), body, 202, AgentJobAcceptedSchema);
  }

  /** GET /jobs/{id}; undefined when the agent does not know the job. */
  async job(jobId: string): Promise<AgentJobView | undefined> {
    const path = AGENT_PATHS.jobView(jobId);
    const res = await this.send('GET', path, undefined, [200, 404]);
    if (res.statusCode === 404) {
      await res.body.dump();
      return undefined;
    }
    return this.parse(res, AgentJobViewSchema, 'GET', path);
  }

  /** POST /decommission → 200 once the agent's deckies and LAN network are gone; it refuses jobs from then on. */
  decommission(body: AgentDecommissionRequest): Promise<AgentDecommissionResponse> {
    return this.answer('POST', AGENT_PATHS.decommission, body, 200, AgentDecommissionResponseSchema);
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  private get where(): string {
    return `agent "${this.target.name}" at ${this.url}`;
  }

  private async answer<S extends z.ZodType>(method: 'GET' | 'POST', path: string, body: unknown, status: number, schema: S): Promise<z.infer<S>> {
    return this.parse(await this.send(method, path, body, [status]), schema, method, path);
  }

  /** The response when its status is one of `ok`; else an AgentCallError quoting the (capped) body. */
  private async send(method: 'GET' | 'POST', path: string, body: unknown, ok: number[]): Promise<Dispatcher.ResponseData> {
    let res: Dispatcher.ResponseData;
    try {
      res = await request(`${this.url}${path}`, {
        method,
        dispatcher: this.dispatcher,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      const cause = (err as { cause?: Error }).cause;
      throw new AgentCallError(`${this.where} unreachable: ${(err as Error).message}${cause ? ` (${cause.message})` : ''}`);
    }
    if (ok.includes(res.statusCode)) return res;
    const text = await readReply(res.body, res.headers['content-length']).catch((err: Error) => err.message);
    const permanent = res.statusCode >= 400 && res.statusCode < 500 && res.statusCode !== 404 && res.statusCode !== 429;
    throw new AgentCallError(`${this.where} answered ${res.statusCode} to ${method} ${path}: ${text.slice(0, 500)}`, permanent);
  }

  /**
   * The body read up to SWARM_REPLY_MAX_BYTES and parsed with `schema`. A reply over the cap, not
   * JSON or not of the schema is a permanent AgentCallError: asking again brings the same answer.
   */
  private async parse<S extends z.ZodType>(res: Dispatcher.ResponseData, schema: S, method: string, path: string): Promise<z.infer<S>> {
    const refuse = (what: string) => new AgentCallError(`${this.where} answered ${method} ${path} with ${what}`, true);
    let text: string;
    try {
      text = await readReply(res.body, res.headers['content-length']);
    } catch (err) {
      throw refuse((err as Error).message);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw refuse(`a reply that is not JSON: ${text.slice(0, 200)}`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`);
      throw refuse(`a reply that is not what the agent API promises (${issues.join('; ')})`);
    }
    return parsed.data;
  }
}

/**
 * One AgentClient per agent host, kept for the life of the process: the worker's dispatches and
 * polls reuse its keep-alive connections instead of a TLS handshake per call. A host whose
 * address, port or certificate changed (re-enrolled) gets a new client; its old one is closed.
 */
export class AgentClientPool {
  private readonly clients = new Map<string, AgentClient>();

  constructor(private readonly pki: Pick<SwarmPki, 'ca' | 'master'>) {}

  clientFor(target: AgentTarget): AgentClient {
    const current = this.clients.get(target.uuid);
    const t = current?.target;
    if (current && t!.address === target.address && t!.port === target.port && t!.fingerprint === target.fingerprint && t!.name === target.name) return current;
    void current?.close().catch(() => undefined);
    const client = new AgentClient(this.pki, target);
    this.clients.set(target.uuid, client);
    return client;
  }
}
