/**
 * Waiting for lifecycle rows, shared by deploy, teardown and mutate: polls GET
 * /deckies/lifecycle every second and shows one progress bar per decky (cli-progress) on a
 * terminal, or plain status-change lines when the output is not a terminal. Ends with one
 * `[OK] name` / `[FAIL] name: error` line per decky.
 */
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import type { LifecycleRow, Operation } from '../domain/schemas';
import { ApiError, ApiUnreachableError, type LifecycleSource } from './api-client';
import { EXIT_FAILED, EXIT_OK } from './exit-codes';
import { printJson, type Io } from './output';

export const POLL_INTERVAL_MS = 1000;
/** Consecutive failed polls (API unreachable or 503) tolerated before giving up. */
const MAX_POLL_FAILURES = 60;
/** Polls an id may stay unknown to the API before it counts as an error (rows exist before the 202). */
const MAX_MISSING_POLLS = 10;

/** How many steps each operation usually records, so a bar has a sensible length before it ends. */
const EXPECTED_STEPS: Partial<Record<Operation, number>> = { deploy: 4, mutate: 4, teardown: 2, move: 3 };

export const isTerminal = (row: LifecycleRow) => row.status === 'succeeded' || row.status === 'failed';

/** Where progress goes: bars on a terminal stream, plain lines, or nothing (`--json` off a terminal). */
export type Display = { kind: 'bars'; stream: NodeJS.WritableStream } | { kind: 'lines'; stream: NodeJS.WritableStream } | { kind: 'none' };

/** Bars when the stream is a terminal, lines otherwise. */
export function displayFor(stream: NodeJS.WritableStream & { isTTY?: boolean }): Display {
  return stream.isTTY ? { kind: 'bars', stream } : { kind: 'lines', stream };
}

interface ProgressView {
  update(rows: LifecycleRow[]): void;
  note(message: string): void;
  stop(): void;
}

export interface WaitOptions {
  display: Display;
  /** Warnings (failed polls) when there is no progress view to carry them. */
  stderr: NodeJS.WritableStream;
  intervalMs?: number;
  /** Stop the view and exit 130 on Ctrl-C (the operations go on on the master). Default true. */
  handleSigint?: boolean;
}

/** Polls until every id's row is succeeded or failed; returns the rows in the order of `ids`. */
export async function waitForLifecycle(source: LifecycleSource, ids: string[], opts: WaitOptions): Promise<LifecycleRow[]> {
  const intervalMs = opts.intervalMs ?? POLL_INTERVAL_MS;
  const view = createView(opts.display, opts.stderr);
  const rows = new Map<string, LifecycleRow>();
  const onSigint = () => {
    view.stop();
    opts.stderr.write('\ninterrupted: the operations go on on the master; follow them with `decnet status`\n');
    process.exit(130);
  };
  if (opts.handleSigint !== false) process.once('SIGINT', onSigint);
  try {
    let failures = 0;
    let missingPolls = 0;
    for (;;) {
      const open = ids.filter((id) => !rows.has(id) || !isTerminal(rows.get(id)!));
      if (open.length === 0) break;
      try {
        for (const row of await source.lifecycle(open)) rows.set(row.id, row);
        failures = 0;
      } catch (err) {
        const transient = err instanceof ApiUnreachableError || (err instanceof ApiError && err.status === 503);
        if (!transient || ++failures > MAX_POLL_FAILURES) throw err;
        if (failures === 1) view.note(`warning: ${err.message}; still polling`);
      }
      missingPolls = ids.some((id) => !rows.has(id)) ? missingPolls + 1 : 0;
      if (missingPolls > MAX_MISSING_POLLS) {
        throw new Error(`the API does not know lifecycle id(s) ${ids.filter((id) => !rows.has(id)).join(', ')}`);
      }
      view.update(ids.flatMap((id) => (rows.has(id) ? [rows.get(id)!] : [])));
      if (ids.every((id) => rows.has(id) && isTerminal(rows.get(id)!))) break;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  } finally {
    process.removeListener('SIGINT', onSigint);
    view.stop();
  }
  return ids.map((id) => rows.get(id)!);
}

/** `[OK] name` or `[FAIL] name: error`; the operation is named when one wait mixes several. */
export function summaryLines(rows: LifecycleRow[]): string[] {
  const mixed = new Set(rows.map((r) => r.operation)).size > 1;
  return rows.map((row) => {
    const name = mixed ? `${row.decky_name} (${row.operation})` : row.decky_name;
    return row.status === 'succeeded' ? `[OK] ${name}` : `[FAIL] ${name}: ${row.error ?? row.status}`;
  });
}

export interface Accepted {
  lifecycle_ids: string[];
  /** A replacing deploy also tears down the deckies the new fleet leaves out. */
  teardown_lifecycle_ids?: unknown;
  message?: unknown;
  [key: string]: unknown;
}

/**
 * The tail of deploy, teardown and mutate once the API answered 202: print the ids (--no-wait),
 * or wait with progress and print the summary; `--json` prints one document, the 202 body plus
 * the final rows. Exit 0 when every row succeeded, 1 when any failed.
 */
export async function followOperation(
  source: LifecycleSource,
  accepted: Accepted,
  opts: { wait: boolean; json: boolean; io: Io; intervalMs?: number },
): Promise<number> {
  const { io } = opts;
  const extra = Array.isArray(accepted.teardown_lifecycle_ids) ? accepted.teardown_lifecycle_ids.filter((id): id is string => typeof id === 'string') : [];
  const ids = [...accepted.lifecycle_ids, ...extra.filter((id) => !accepted.lifecycle_ids.includes(id))];
  if (!opts.json && typeof accepted.message === 'string') io.stdout.write(`${accepted.message}\n`);
  if (!opts.wait) {
    if (opts.json) printJson(io, accepted);
    else io.stdout.write(`lifecycle ids:\n${ids.map((id) => `  ${id}\n`).join('')}follow them with \`decnet status\`\n`);
    return EXIT_OK;
  }
  // With --json, stdout carries the document alone: bars go to stderr when it is a terminal.
  const display: Display = opts.json ? (io.stderr.isTTY ? { kind: 'bars', stream: io.stderr } : { kind: 'none' }) : displayFor(io.stdout);
  const rows = ids.length === 0 ? [] : await waitForLifecycle(source, ids, { display, stderr: io.stderr, intervalMs: opts.intervalMs });
  if (opts.json) printJson(io, { ...accepted, rows });
  else for (const line of summaryLines(rows)) io.stdout.write(`${line}\n`);
  return rows.every((r) => r.status === 'succeeded') ? EXIT_OK : EXIT_FAILED;
}

function createView(display: Display, stderr: NodeJS.WritableStream): ProgressView {
  if (display.kind === 'bars') return new BarsView(display.stream);
  if (display.kind === 'lines') return new LinesView(display.stream);
  return { update: () => undefined, note: (m) => void stderr.write(`${m}\n`), stop: () => undefined };
}

const STATUS_WIDTH = 'succeeded'.length;

/** Bar length in steps: the steps recorded, plus what the operation usually still has to do. */
function progressOf(row: LifecycleRow): { value: number; total: number } {
  const done = row.steps.filter((s) => s.ok).length;
  if (row.status === 'succeeded') {
    const total = Math.max(row.steps.length, 1);
    return { value: total, total };
  }
  const total = Math.max(EXPECTED_STEPS[row.operation] ?? 1, row.steps.length + (isTerminal(row) ? 0 : 1), 1);
  return { value: done, total };
}

/** The current step as the row's `steps` tell it: the last one recorded, and how it ended. */
function stepText(row: LifecycleRow): string {
  const last = row.steps.at(-1);
  if (row.status === 'failed') return `${last ? `${last.name} failed: ` : ''}${oneLine(row.error ?? '')}`;
  if (!last) return row.status === 'pending' ? 'queued' : 'starting';
  return row.status === 'succeeded' ? `${last.name} done` : `${last.name} done, working`;
}

const oneLine = (s: string, max = 100) => {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

class BarsView implements ProgressView {
  private readonly multibar: MultiBar;
  private readonly bars = new Map<string, SingleBar>();
  private nameWidth = 0;
  private stopped = false;

  constructor(stream: NodeJS.WritableStream) {
    this.multibar = new MultiBar(
      {
        stream: stream as NodeJS.WritableStream & { isTTY: true },
        format: ' {name} {bar} {status} {step}',
        barsize: 24,
        hideCursor: true,
        clearOnComplete: false,
        autopadding: true,
        fps: 10,
      },
      Presets.shades_classic,
    );
  }

  update(rows: LifecycleRow[]): void {
    if (this.stopped) return;
    this.nameWidth = Math.max(this.nameWidth, ...rows.map((r) => r.decky_name.length));
    for (const row of rows) {
      const { value, total } = progressOf(row);
      const payload = { name: row.decky_name.padEnd(this.nameWidth), status: row.status.padEnd(STATUS_WIDTH), step: stepText(row) };
      const bar = this.bars.get(row.id);
      if (!bar) {
        this.bars.set(row.id, this.multibar.create(total, value, payload));
      } else {
        bar.setTotal(total);
        bar.update(value, payload);
      }
    }
  }

  note(message: string): void {
    if (!this.stopped) this.multibar.log(`${message}\n`);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.multibar.stop();
  }
}

/** Not a terminal: one line per change (first sight, each new step, each status change). */
class LinesView implements ProgressView {
  private readonly seen = new Map<string, { status: string; steps: number }>();

  constructor(private readonly stream: NodeJS.WritableStream) {}

  update(rows: LifecycleRow[]): void {
    for (const row of rows) {
      const before = this.seen.get(row.id);
      const terminal = isTerminal(row);
      const changed = before !== undefined && before.status !== row.status;
      if (!before) this.stream.write(`${row.decky_name}: ${row.operation}${terminal ? '' : ` ${row.status}`}\n`);
      // A row that starts running says so before its steps; one that ended says so after them.
      if (changed && !terminal) this.stream.write(`${row.decky_name}: ${row.status}\n`);
      for (const step of row.steps.slice(before?.steps ?? 0)) {
        this.stream.write(`${row.decky_name}: ${step.name} ${step.ok ? 'ok' : `failed${step.detail ? `: ${oneLine(step.detail, 300)}` : ''}`}\n`);
      }
      if (terminal && (changed || !before)) this.stream.write(`${row.decky_name}: ${row.status}\n`);
      this.seen.set(row.id, { status: row.status, steps: row.steps.length });
    }
  }

  note(message: string): void {
    this.stream.write(`${message}\n`);
  }

  stop(): void {}
}
