/**
 * The pid files of compose processes, with real processes standing in for compose: a node process
 * whose command line names the decky's compose file, as `compose -f <file> up` does.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ComposeProcessFiles } from '../../src/compose/process-files';
import { isProcessAlive } from '../../src/infra/pid';

let dir: string;
const started: number[] = [];

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'decnet-process-files-'));
});

afterEach(async () => {
  for (const pid of started.splice(0)) if (isProcessAlive(pid)) process.kill(pid, 'SIGKILL');
  await fs.rm(dir, { recursive: true, force: true });
});

/** A process that lives `ms` and whose argv holds `arg`. */
function processNaming(arg: string, ms: number): number {
  const child = spawn(process.execPath, ['-e', `setTimeout(() => {}, ${ms})`, arg], { stdio: 'ignore', detached: true });
  child.unref();
  started.push(child.pid!);
  return child.pid!;
}

const pidFile = (decky: string) => path.join(dir, `${decky}.pid`);

test('waits for the live compose process of the decky, then forgets it', async () => {
  const files = new ComposeProcessFiles(dir, 60_000);
  const pid = processNaming(path.join(dir, 'web.yml'), 1_500);
  await files.record(['web', 'db'], pid);
  const before = Date.now();
  expect(await files.settled('web')).toBe(`waited for compose process ${pid} of an earlier attempt`);
  expect(Date.now() - before).toBeGreaterThan(800);
  expect(isProcessAlive(pid)).toBe(false);
  await expect(fs.stat(pidFile('web'))).rejects.toMatchObject({ code: 'ENOENT' });
  // The batch's other decky: the process is gone, nothing to wait for.
  expect(await files.settled('db')).toBeUndefined();
});

test('a pid now used by another program is not waited for', async () => {
  const files = new ComposeProcessFiles(dir, 60_000);
  const pid = processNaming(path.join(dir, 'other.yml'), 30_000);
  await files.record(['web'], pid);
  expect(await files.settled('web')).toBeUndefined();
  expect(isProcessAlive(pid)).toBe(true);
  await expect(fs.stat(pidFile('web'))).rejects.toMatchObject({ code: 'ENOENT' });
});

test('a compose process that outlived the compose timeout is stopped', async () => {
  const files = new ComposeProcessFiles(dir, 500);
  const pid = processNaming(path.join(dir, 'web.yml'), 60_000);
  await files.record(['web'], pid);
  const before = Date.now();
  await files.settled('web');
  expect(Date.now() - before).toBeLessThan(15_000);
  expect(isProcessAlive(pid)).toBe(false);
});

test("waiting stops with the activity's cancellation", async () => {
  const files = new ComposeProcessFiles(dir, 60_000);
  const pid = processNaming(path.join(dir, 'web.yml'), 30_000);
  await files.record(['web'], pid);
  await expect(files.settled('web', AbortSignal.timeout(600))).rejects.toMatchObject({ name: expect.stringMatching(/AbortError|TimeoutError/) });
  expect(isProcessAlive(pid)).toBe(true);
});

test("clear leaves a later process's record alone; a torn file counts as none", async () => {
  const files = new ComposeProcessFiles(dir, 60_000);
  await files.record(['web'], 111);
  await files.record(['web'], 222);
  await files.clear(['web'], 111);
  expect(JSON.parse(await fs.readFile(pidFile('web'), 'utf8'))).toMatchObject({ pid: 222 });
  await fs.writeFile(pidFile('db'), '{"pid": 3');
  expect(await files.settled('db')).toBeUndefined();
});
