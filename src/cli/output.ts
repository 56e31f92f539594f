/** What the operator commands share besides HTTP: error reporting (exit codes: ./exit-codes), plain tables. */
import { ApiError, ApiUnreachableError, UsageError } from './api-client';
import { EXIT_FAILED, EXIT_USAGE } from './exit-codes';

export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export const processIo = (): Io => ({ stdout: process.stdout, stderr: process.stderr });

export function printJson(io: Io, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Reports a failed command and returns its exit code. The API's `error.message` goes to stderr
 * as worded; with --json, stdout still carries one document: `{status, error}`.
 */
export function reportError(io: Io, err: unknown, json: boolean): number {
  if (err instanceof UsageError) {
    io.stderr.write(`error: ${err.message}\n`);
    return EXIT_USAGE;
  }
  if (err instanceof ApiError) {
    io.stderr.write(`error: ${err.message}\n`);
    if (json)
      printJson(io, { status: err.status, error: { code: err.code, message: err.message, ...(err.details === undefined ? {} : { details: err.details }) } });
    return EXIT_FAILED;
  }
  const message = err instanceof Error ? err.message : String(err);
  io.stderr.write(`error: ${message}\n`);
  if (json) printJson(io, { error: { code: err instanceof ApiUnreachableError ? 'unreachable' : 'failed', message } });
  return EXIT_FAILED;
}

/**
 * A commander action that returns its exit code; errors are reported, never thrown. The code is
 * set on `process.exitCode` so buffered output drains before the process ends.
 */
export function action<A extends unknown[]>(run: (...args: A) => Promise<number>, io: Io = processIo()): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const json = args.some((a) => typeof a === 'object' && a !== null && (a as { json?: unknown }).json === true);
    try {
      process.exitCode = await run(...args);
    } catch (err) {
      process.exitCode = reportError(io, err, json);
    }
  };
}

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** Comma-separated list option: `a,b , c` → ['a', 'b', 'c']. */
export function parseList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
