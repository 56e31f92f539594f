/**
 * The master's client for an agent's HTTPS API (SPEC §8): the master's certificate as client
 * certificate, the agent's chain verified against the CA and its certificate pinned by the
 * fingerprint recorded at enrollment (agent certificates carry no address to check a name against).
 */
import type { PeerCertificate } from 'node:tls';
import { Agent, request } from 'undici';
import { AgentDecommissionResponseSchema, type AgentDecommissionRequest, type AgentDecommissionResponse } from '../domain/swarm-schemas';
import { fingerprintOfDer, type SwarmPki } from './pki';

export interface AgentTarget {
  uuid: string;
  name: string;
  address: string;
  port: number;
  /** SHA-256 of the agent certificate's DER (SwarmHost.client_cert_fingerprint). */
  fingerprint: string;
}

export interface AgentJobView {
  job_id: string;
  kind: 'deploy' | 'mutate' | 'teardown';
  status: 'pending' | 'running' | 'succeeded' | 'failed';
  results: Array<{ decky: string; ok: boolean; error?: string }>;
  notes: string[];
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

export class AgentClient {
  private readonly dispatcher: Agent;

  constructor(
    pki: Pick<SwarmPki, 'ca' | 'master'>,
    private readonly target: AgentTarget,
    timeoutMs = 15_000,
  ) {
    this.dispatcher = new Agent({
      connect: {
        key: pki.master.keyPem,
        cert: pki.master.certPem,
        ca: [pki.ca.certPem],
        timeout: timeoutMs,
        checkServerIdentity: (_host: string, cert: PeerCertificate) =>
          fingerprintOfDer(cert.raw) === target.fingerprint
            ? undefined
            : new Error(`agent "${target.name}" presented a certificate other than the one issued to it at enrollment`),
      },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
  }

  get url(): string {
    const host = this.target.address.includes(':') ? `[${this.target.address}]` : this.target.address;
    return `https://${host}:${this.target.port}`;
  }

  /** POST /deploy|/mutate|/teardown → 202 with the job (a repeated job id returns the same job). */
  async submitJob(kind: AgentJobView['kind'], body: Record<string, unknown>): Promise<AgentJobView> {
    return (await this.call<AgentJobView>('POST', `/${kind}`, body, [202])).data;
  }

  /** GET /jobs/{id}; undefined when the agent does not know the job. */
  async job(jobId: string): Promise<AgentJobView | undefined> {
    const res = await this.call<AgentJobView>('GET', `/jobs/${encodeURIComponent(jobId)}`, undefined, [200, 404]);
    return res.statusCode === 200 ? res.data : undefined;
  }

  /** POST /decommission → 200 once the agent's deckies and LAN network are gone; it refuses jobs from then on. */
  async decommission(body: AgentDecommissionRequest): Promise<AgentDecommissionResponse> {
    const { data } = await this.call<unknown>('POST', '/decommission', body, [200]);
    const parsed = AgentDecommissionResponseSchema.safeParse(data);
    if (!parsed.success) throw new AgentCallError(`agent "${this.target.name}" at ${this.url} answered POST /decommission with an unexpected body`, true);
    return parsed.data;
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  private async call<T>(method: 'GET' | 'POST', path: string, body: unknown, ok: number[]): Promise<{ statusCode: number; data: T }> {
    const where = `agent "${this.target.name}" at ${this.url}`;
    let res;
    try {
      res = await request(`${this.url}${path}`, {
        method,
        dispatcher: this.dispatcher,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      const cause = (err as { cause?: Error }).cause;
      throw new AgentCallError(`${where} unreachable: ${(err as Error).message}${cause ? ` (${cause.message})` : ''}`);
    }
    const text = await res.body.text();
    if (!ok.includes(res.statusCode)) {
      const permanent = res.statusCode >= 400 && res.statusCode < 500 && res.statusCode !== 404 && res.statusCode !== 429;
      throw new AgentCallError(`${where} answered ${res.statusCode} to ${method} ${path}: ${text.slice(0, 500)}`, permanent);
    }
    return { statusCode: res.statusCode, data: JSON.parse(text) as T };
  }
}
