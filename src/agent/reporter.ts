/**
 * The agent's side of the master's swarm port: results of finished jobs, retried with backoff
 * until the master acknowledges (the job file says `unacknowledged` until then, so a restarted
 * agent keeps trying), and a status heartbeat every interval; every post names the agent's
 * version. An agent returning from a silence (started, or its heartbeats went unanswered for 2
 * intervals) first fences itself: one heartbeat reports what it runs with generations, it removes
 * what the master names stale, and only then does it report status or results again and take jobs
 * (architecture.md §8). TLS: the agent's certificate as client certificate, the master's verified against the
 * CA and pinned by `master-fingerprint`.
 */
import https from 'node:https';
import type pino from 'pino';
import { deckyRuntimeStates, type ObservedEngine } from '../domain/drift';
import type { NetworkDriver } from '../domain/schemas';
import { HEARTBEAT_PATH, HeartbeatResponseSchema, type HeartbeatRequest, type HeartbeatResponse, type StaleDecky } from '../domain/swarm-schemas';
import { DECNET_VERSION } from '../domain/version';
import { pinnedCertificate } from '../http/mtls';
import { readReply } from '../swarm/reply';
import type { JobStore } from './jobs';
import type { AgentSettings } from './agent';

const MAX_BACKOFF_MS = 30_000;
/** Heartbeats unanswered for this many intervals make the agent a returning one: it fences again. */
const SILENCE_INTERVALS = 2;

/** What the reporter needs from the agent: its deckies with generations, and their removal. */
export interface ReporterAgent {
  /** What the engine runs (for the master's drift judgement), and each decky's generation there. */
  observe(): Promise<{ observed: ObservedEngine; generations: ReadonlyMap<string, number> }>;
  removeStale(stale: StaleDecky[]): Promise<void>;
  /** What the kernel probe at start found; absent when the probe could not run. */
  networkDrivers?: NetworkDriver[];
  /** Called once, after the first post the master acknowledged. */
  onFirstAck(): Promise<void>;
}

export class MasterReporter {
  private flushTimer?: NodeJS.Timeout;
  private heartbeatTimer?: NodeJS.Timeout;
  private flushing = false;
  private again = false;
  private backoffMs = 1000;
  private stopped = false;
  private beating = false;
  /** When the last heartbeat the master answered (and whose removals are done) was sent; unset until the first. */
  private answeredAt?: number;

  constructor(
    private readonly settings: AgentSettings,
    private readonly store: JobStore,
    private readonly logger: pino.Logger,
    private readonly agent: ReporterAgent,
  ) {}

  private acknowledged = false;

  /** Started, or silent for a while: the master may have re-homed its deckies since. */
  returning(): boolean {
    return this.answeredAt === undefined || Date.now() - this.answeredAt > SILENCE_INTERVALS * this.settings.heartbeatIntervalMs;
  }

  start(): void {
    this.flushSoon();
    const beat = () => {
      if (this.beating) return;
      this.beating = true;
      this.heartbeat()
        .catch((err) => this.logger.warn({ err: (err as Error).message }, 'status heartbeat failed; next one at the next interval'))
        .finally(() => {
          this.beating = false;
        });
    };
    beat();
    this.heartbeatTimer = setInterval(beat, this.settings.heartbeatIntervalMs);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.flushTimer);
  }

  /** Send the unacknowledged results now (or right after the send in flight). */
  flushSoon(delayMs = 0): void {
    if (this.stopped) return;
    if (this.flushing) {
      this.again = true;
      return;
    }
    clearTimeout(this.flushTimer);
    this.flushTimer = setTimeout(() => void this.flush(), delayMs);
  }

  private async flush(): Promise<void> {
    const pending = this.store.all().filter((j) => j.report === 'unacknowledged');
    // Results wait for the fence: the heartbeat that completes it sends them.
    if (pending.length === 0 || this.returning()) return;
    this.flushing = true;
    try {
      const results = pending.map((j) => {
        const failed = j.results.filter((r) => !r.ok);
        return {
          job_id: j.job_id,
          ...(j.lifecycle_id ? { lifecycle_id: j.lifecycle_id } : {}),
          ok: j.status === 'succeeded',
          ...(failed.length > 0
            ? {
                error: failed
                  .map((r) => `${r.decky}: ${r.error ?? 'failed'}`)
                  .join('; ')
                  .slice(0, 2000),
              }
            : {}),
        };
      });
      await this.post({ results });
      for (const job of pending) await this.store.update(job, { report: 'acknowledged' });
      this.backoffMs = 1000;
      this.logger.info({ jobs: pending.map((j) => j.job_id) }, 'results acknowledged by the master');
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, retry_in_ms: this.backoffMs }, 'results not acknowledged by the master; retrying');
      const delay = this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
      this.flushing = false;
      this.flushSoon(delay);
      return;
    }
    this.flushing = false;
    if (this.again) {
      this.again = false;
      this.flushSoon();
    }
  }

  private async heartbeat(): Promise<void> {
    const fencing = this.returning();
    // The time it is sent: an answer read late (the process was stopped meanwhile) proves nothing newer.
    const sentAt = Date.now();
    const { observed, generations } = await this.agent.observe();
    const answer = await this.post({
      ...(fencing ? { fencing: true } : {}),
      status: {
        deckies: deckyRuntimeStates(observed).map((d) => {
          const generation = generations.get(d.name);
          return { name: d.name, running: d.running, state: d.state, ...(d.ip ? { ip: d.ip } : {}), ...(generation !== undefined ? { generation } : {}) };
        }),
        observed,
        ...(this.agent.networkDrivers ? { network_drivers: this.agent.networkDrivers } : {}),
      },
    });
    if (answer.remove?.length) await this.agent.removeStale(answer.remove);
    this.answeredAt = sentAt;
    if (fencing && !this.stopped) {
      this.logger.info({ removed: answer.remove?.map((d) => d.name) ?? [] }, 'fence complete: reporting and taking jobs again');
      this.flushSoon();
      await this.heartbeat();
    }
  }

  /** The first acknowledgement of this run is announced once; failing to announce it does not fail the post. */
  private async firstAck(): Promise<void> {
    if (this.acknowledged) return;
    this.acknowledged = true;
    await this.agent.onFirstAck().catch((err) => this.logger.warn({ err: (err as Error).message }, "could not record the master's first acknowledgement"));
  }

  /** POST to the master's heartbeat, naming this host and its version; resolves only on 200 `{ack: true}` (HeartbeatResponseSchema), read up to the reply cap. */
  private post(body: Pick<HeartbeatRequest, 'status' | 'results' | 'fencing'>): Promise<HeartbeatResponse> {
    const { ini, certPem, keyPem, caPem } = this.settings;
    const pinned = ini.agent['master-fingerprint'];
    const request: HeartbeatRequest = { host_uuid: ini.agent['host-uuid'], agent_version: DECNET_VERSION, ...body };
    const payload = JSON.stringify(request);
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: ini.agent['master-host'],
          port: ini.agent['master-port'],
          method: 'POST',
          path: HEARTBEAT_PATH,
          key: keyPem,
          cert: certPem,
          ca: [caPem],
          agent: false,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
          timeout: 10_000,
          checkServerIdentity: pinnedCertificate(pinned, `the master's certificate does not match master-fingerprint ${pinned}`),
        },
        (res) => {
          readReply(res, res.headers['content-length']).then(
            (text) => {
              const parsed = res.statusCode === 200 ? HeartbeatResponseSchema.safeParse(parseJson(text)) : undefined;
              if (parsed?.success) void this.firstAck().then(() => resolve(parsed.data));
              else reject(new Error(`master answered ${res.statusCode}: ${text.slice(0, 300)}`));
            },
            (err: Error) => reject(new Error(`master answered ${res.statusCode} with ${err.message}`)),
          );
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout talking to the master')));
      req.on('error', reject);
      req.end(payload);
    });
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
