import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';

/**
 * `<dataDir>/pids.json`, written by `decnet up` at start and after every restart of a part: the
 * pids of the master and of the embedded servers it runs (absent when an external one is used).
 * A stable interface for operators and fault-injection tests; the next `up` finds orphans by it.
 */
export const UpPidsSchema = z.object({
  master: z.number().int().positive(),
  postgres: z.number().int().positive().optional(),
  temporal: z.number().int().positive().optional(),
});
export type UpPids = z.infer<typeof UpPidsSchema>;

export function pidsFileOf(dataDir: string): string {
  return path.join(dataDir, 'pids.json');
}

/** The recorded pids, or undefined when there is no (valid) file. */
export async function readUpPids(dataDir: string): Promise<UpPids | undefined> {
  const json: unknown = await fs
    .readFile(pidsFileOf(dataDir), 'utf8')
    .then(JSON.parse, () => undefined)
    .catch(() => undefined);
  const parsed = UpPidsSchema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

/** Replaces the file atomically: a reader never sees half of it. */
export async function writeUpPids(dataDir: string, pids: UpPids): Promise<void> {
  const file = pidsFileOf(dataDir);
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, `${JSON.stringify(pids)}\n`);
  await fs.rename(tmp, file);
}

/** True while `pid` runs. A zombie counts as gone: it has exited, only its reaping is pending. */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM means it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // /proc/<pid>/stat is "pid (comm) STATE ..."; comm may hold spaces, so read after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Settles once `pid` has exited, for a process this one cannot wait on (not its child, or one a
 * library spawned and keeps to itself). Polls; the timer never keeps this process alive.
 */
export async function pidExited(pid: number, intervalMs = 250): Promise<void> {
  while (isProcessAlive(pid)) await sleep(intervalMs, undefined, { ref: false });
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isProcessAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(100);
  }
  return true;
}

/**
 * Stops one process by pid: `signal` first, SIGKILL once `graceMs` has passed, and resolves
 * when it is gone. Works for our own children and for orphans left by a SIGKILLed parent alike.
 */
export async function terminatePid(pid: number, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (!isProcessAlive(pid)) return;
  process.kill(pid, signal);
  if (await waitForExit(pid, graceMs)) return;
  process.kill(pid, 'SIGKILL');
  await waitForExit(pid, 5_000);
}
