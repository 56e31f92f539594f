import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isProcessAlive, terminatePid } from '../../src/infra/pid';

// What global setup started, recorded by pid for global teardown and for the next run's global
// setup, which stops whatever a killed run left behind.
export const TEST_DATA_DIR = path.resolve(__dirname, '../../.test-data');
const PIDS_FILE = path.join(TEST_DATA_DIR, 'pids.json');
const LOCK_FILE = path.join(TEST_DATA_DIR, 'run.lock');

/** The binary's name: the CLI's dev server (`temporal`) or the real server (test/support/temporal-cluster.ts). */
export type ServiceKind = 'postgres' | 'temporal' | 'temporal-server';

interface RecordedService {
  kind: ServiceKind;
  pid: number;
}

async function readRecorded(): Promise<RecordedService[]> {
  const text = await fs.readFile(PIDS_FILE, 'utf8').catch(() => '[]');
  return JSON.parse(text) as RecordedService[];
}

export async function recordService(kind: ServiceKind, pid: number): Promise<void> {
  const recorded = await readRecorded();
  recorded.push({ kind, pid });
  await fs.mkdir(TEST_DATA_DIR, { recursive: true });
  await fs.writeFile(PIDS_FILE, JSON.stringify(recorded));
}

/**
 * Stops exactly the recorded pids, newest first, then forgets them: this run's servers at
 * teardown, or at setup those of a run that died before its teardown.
 */
export async function stopRecordedServices(): Promise<void> {
  for (const { kind, pid } of (await readRecorded()).reverse()) {
    // SIGINT is PostgreSQL's fast shutdown (SIGTERM would wait for every client to leave).
    if (await runsBinary(pid, kind)) await terminatePid(pid, kind === 'postgres' ? 'SIGINT' : 'SIGTERM', 10_000);
  }
  await fs.rm(PIDS_FILE, { force: true });
}

/** Guards against a recycled pid: it must still run the binary we started. */
async function runsBinary(pid: number, kind: ServiceKind): Promise<boolean> {
  const exe = await fs.readlink(`/proc/${pid}/exe`).catch(() => '');
  return path.basename(exe) === kind;
}

/**
 * Several engineers may share one work tree, and a second jest run would take the same ports
 * and wipe the first one's data: wait while another live jest run holds the lock (a dead
 * holder's lock is taken over).
 */
export async function acquireRunLock(timeoutMs = 30 * 60_000): Promise<void> {
  await fs.mkdir(TEST_DATA_DIR, { recursive: true });
  // link() is atomic and the linked file already holds our pid: no half-written lock is seen.
  const mine = `${LOCK_FILE}.${process.pid}`;
  await fs.writeFile(mine, String(process.pid));
  const deadline = Date.now() + timeoutMs;
  let announced = false;
  try {
    for (;;) {
      try {
        await fs.link(mine, LOCK_FILE);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = Number(await fs.readFile(LOCK_FILE, 'utf8').catch(() => '0'));
      if (!(await isJestRun(holder))) {
        await fs.rm(LOCK_FILE, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`another test run (pid ${holder}) still holds ${LOCK_FILE}`);
      if (!announced) {
        process.stderr.write(`[global-setup] waiting for the test run of pid ${holder} to finish\n`);
        announced = true;
      }
      await sleep(1_000);
    }
  } finally {
    await fs.rm(mine, { force: true });
  }
}

export async function releaseRunLock(): Promise<void> {
  const holder = Number(await fs.readFile(LOCK_FILE, 'utf8').catch(() => '0'));
  if (holder === process.pid) await fs.rm(LOCK_FILE, { force: true });
}

async function isJestRun(pid: number): Promise<boolean> {
  if (!pid || !isProcessAlive(pid)) return false;
  const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.includes('jest');
}
