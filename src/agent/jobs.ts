/**
 * The agent's job store (architecture.md §8): one JSON file per job under `<dataDir>/jobs/`, written
 * atomically (temp file + rename), so a restarted agent still answers GET /jobs/{id}, resumes
 * jobs that were `pending`/`running`, and keeps retrying results the master has not acknowledged.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { AgentDeckyResult, AgentJobKind, AgentJobStatus, AgentJobView } from '../domain/swarm-schemas';

export interface AgentJob {
  job_id: string;
  kind: AgentJobKind;
  lifecycle_id?: string;
  status: AgentJobStatus;
  results: AgentDeckyResult[];
  /** What the agent decided on its own, e.g. "network driver macvlan forced to ipvlan (ipvlan=true in decnet.ini)". */
  notes: string[];
  created_at: string;
  updated_at: string;
  /** The validated request body, kept so a restarted agent can resume the job. */
  request: unknown;
  /** `unacknowledged` from the moment a finished job's result must reach the master until it acknowledges. */
  report: 'none' | 'unacknowledged' | 'acknowledged';
}

/** What GET /jobs/{id} shows, as the master parses it (AgentJobViewSchema). */
export function publicJob(job: AgentJob): AgentJobView {
  return {
    job_id: job.job_id,
    kind: job.kind,
    status: job.status,
    results: job.results,
    notes: job.notes,
    ...(job.lifecycle_id ? { lifecycle_id: job.lifecycle_id } : {}),
    created_at: job.created_at,
    updated_at: job.updated_at,
    result_acknowledged: job.report === 'acknowledged',
  };
}

export class JobStore {
  private readonly jobs = new Map<string, AgentJob>();
  /** Writes of one job are chained so an older snapshot never lands after a newer one. */
  private readonly writes = new Map<string, Promise<void>>();

  private constructor(readonly dir: string) {}

  static async open(dataDir: string): Promise<JobStore> {
    const store = new JobStore(path.join(dataDir, 'jobs'));
    await fs.mkdir(store.dir, { recursive: true, mode: 0o700 });
    for (const name of await fs.readdir(store.dir)) {
      if (!name.endsWith('.json')) {
        if (name.includes('.tmp-')) await fs.rm(path.join(store.dir, name), { force: true });
        continue;
      }
      try {
        const job = JSON.parse(await fs.readFile(path.join(store.dir, name), 'utf8')) as AgentJob;
        if (typeof job.job_id === 'string') store.jobs.set(job.job_id, job);
      } catch {
        // An unreadable file cannot be a half-written one (rename is atomic): leave it for the operator.
      }
    }
    return store;
  }

  get(id: string): AgentJob | undefined {
    return this.jobs.get(id);
  }

  all(): AgentJob[] {
    return [...this.jobs.values()];
  }

  /** Registers a new job, or returns the existing one with that id (a repeated id is a no-op). */
  async create(job: Omit<AgentJob, 'status' | 'results' | 'notes' | 'created_at' | 'updated_at' | 'report'>): Promise<{ job: AgentJob; created: boolean }> {
    const existing = this.jobs.get(job.job_id);
    if (existing) return { job: existing, created: false };
    const now = new Date().toISOString();
    const full: AgentJob = { ...job, status: 'pending', results: [], notes: [], created_at: now, updated_at: now, report: 'none' };
    this.jobs.set(job.job_id, full);
    await this.save(full);
    return { job: full, created: true };
  }

  async update(job: AgentJob, patch: Partial<AgentJob>): Promise<AgentJob> {
    Object.assign(job, patch, { updated_at: new Date().toISOString() });
    await this.save(job);
    return job;
  }

  private save(job: AgentJob): Promise<void> {
    const snapshot = JSON.stringify(job, null, 2);
    const file = path.join(this.dir, `${job.job_id}.json`);
    const previous = this.writes.get(job.job_id) ?? Promise.resolve();
    const next = previous.then(async () => {
      const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
      await fs.writeFile(tmp, snapshot, { mode: 0o600 });
      await fs.rename(tmp, file);
    });
    this.writes.set(
      job.job_id,
      next.catch(() => undefined),
    );
    return next;
  }
}
