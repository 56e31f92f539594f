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

/** How long a command may run before it is stopped (SIGTERM). */
export const COMMAND_TIMEOUT_MS = 600_000;

/**
 * Run a command without a shell; never throws for a non-zero exit (callers classify stderr).
 * `onSpawn` learns the child's pid as soon as it runs; the command's end waits for it too.
 */
export async function run(
  argv: string[],
  opts: { signal?: AbortSignal; timeoutMs?: number; onSpawn?: (pid: number) => Promise<void> } = {},
): Promise<CommandResult> {
  const running = execFileAsync(argv[0], argv.slice(1), {
    signal: opts.signal,
    timeout: opts.timeoutMs ?? COMMAND_TIMEOUT_MS,
    maxBuffer: 16 * 1024 * 1024,
  });
  const pid = running.child.pid;
  const [result, spawned] = await Promise.allSettled([running, pid !== undefined && opts.onSpawn ? opts.onSpawn(pid) : undefined]);
  if (spawned.status === 'rejected') throw spawned.reason;
  if (result.status === 'fulfilled') return { code: 0, stdout: result.value.stdout, stderr: result.value.stderr };
  const e = result.reason as { code?: number | string; stdout?: string; stderr?: string; message: string };
  if (typeof e.code !== 'number') throw result.reason; // spawn failure, abort or timeout
  return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr || e.message };
}
