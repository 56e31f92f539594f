import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** `docker compose` v2 when the plugin answers, else Debian's `docker-compose` v1. Detected once per process. */
let detected: Promise<string[]> | undefined;
export function composeCommand(): Promise<string[]> {
  detected ??= (async () => {
    try {
      await execFileAsync('docker', ['compose', 'version'], { timeout: 15_000 });
      return ['docker', 'compose'];
    } catch {
      await execFileAsync('docker-compose', ['version'], { timeout: 15_000 }).catch(() => {
        throw new Error('neither `docker compose` (v2) nor `docker-compose` (v1) is installed; run scripts/setup.sh');
      });
      return ['docker-compose'];
    }
  })();
  return detected;
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a command without a shell; never throws for a non-zero exit (callers classify stderr). */
export async function run(argv: string[], opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<CommandResult> {
  try {
    const { stdout, stderr } = await execFileAsync(argv[0], argv.slice(1), {
      signal: opts.signal,
      timeout: opts.timeoutMs ?? 600_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string; message: string };
    if (typeof e.code !== 'number') throw err; // spawn failure, abort or timeout
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr || e.message };
  }
}
