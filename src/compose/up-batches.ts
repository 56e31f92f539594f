/**
 * `compose up` of many deckies as few compose processes. Debian's compose v1 is a Python process
 * that costs about a second of CPU to start, so one process per decky makes the CPU, not the
 * Docker engine, the limit of a deploy. Requests that arrive while a batch runs (or within a short
 * window of the first) go into the next batch, which is one invocation with one `-f` per decky.
 */
import pLimit from 'p-limit';
import type { CommandResult } from './command';

export interface UpBatchOptions {
  /** Runs one compose invocation over these files (`-f` each). */
  runUp(files: string[]): Promise<CommandResult>;
  /** How long the first request of an idle batcher waits for others to join it. */
  windowMs?: number;
  maxBatch?: number;
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

interface PendingUp {
  decky: string;
  file: string;
  /** Turns a failed invocation over this decky alone into its error. */
  failure(result: CommandResult): Error;
  waiters: Waiter[];
}

export class UpBatches {
  private pending = new Map<string, PendingUp>();
  /** The loop that runs batches while requests wait; unset once it found none waiting. */
  private draining: Promise<void> | undefined;
  /** decky → the batch now running it: its teardown waits for that process to end. */
  private running = new Map<string, Promise<void>>();
  /** A failed batch is re-run decky by decky, two at a time, so each error lands on its own row. */
  private readonly singles = pLimit(2);

  constructor(private readonly opts: UpBatchOptions) {}

  /** Resolves once the decky's containers are up; rejects with its own failure. */
  up(decky: string, file: string, opts: { failure(result: CommandResult): Error; signal?: AbortSignal }): Promise<void> {
    const { signal } = opts;
    signal?.throwIfAborted();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject };
      const entry = this.pending.get(decky) ?? { decky, file, failure: opts.failure, waiters: [] };
      entry.waiters.push(waiter);
      this.pending.set(decky, entry);
      // A cancelled operation stops waiting at once; a batch already running it goes on, and
      // the decky's teardown waits for it (settled()).
      signal?.addEventListener(
        'abort',
        () => {
          const queued = this.pending.get(decky);
          if (queued) {
            queued.waiters = queued.waiters.filter((w) => w !== waiter);
            if (queued.waiters.length === 0) this.pending.delete(decky);
          }
          reject(signal.reason);
        },
        { once: true },
      );
      this.draining ??= this.drain();
    });
  }

  /** Resolves when no compose process started for this decky is still running. */
  async settled(decky: string): Promise<void> {
    await this.running.get(decky)?.catch(() => undefined);
  }

  private async drain(): Promise<void> {
    await new Promise((r) => setTimeout(r, this.opts.windowMs ?? 25));
    while (this.pending.size > 0) {
      const batch = [...this.pending.values()].slice(0, this.opts.maxBatch ?? 50);
      for (const entry of batch) this.pending.delete(entry.decky);
      const run = this.runBatch(batch);
      for (const entry of batch) this.running.set(entry.decky, run);
      await run;
      for (const entry of batch) if (this.running.get(entry.decky) === run) this.running.delete(entry.decky);
    }
    // In the same synchronous step as the empty check: a request queued after it starts a new drain.
    this.draining = undefined;
  }

  private async runBatch(batch: PendingUp[]): Promise<void> {
    const settle = (entry: PendingUp, err?: unknown) => entry.waiters.forEach((w) => (err === undefined ? w.resolve() : w.reject(err)));
    try {
      const result = await this.opts.runUp(batch.map((e) => e.file));
      if (result.code === 0) return batch.forEach((entry) => settle(entry));
      if (batch.length === 1) return settle(batch[0], batch[0].failure(result));
      await Promise.all(
        batch.map((entry) =>
          this.singles(async () => {
            const single = await this.opts.runUp([entry.file]);
            settle(entry, single.code === 0 ? undefined : entry.failure(single));
          }).catch((err) => settle(entry, err)),
        ),
      );
    } catch (err) {
      batch.forEach((entry) => settle(entry, err));
    }
  }
}
