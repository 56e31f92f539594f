/**
 * A worker killed with SIGKILL mid `compose up` leaves its compose process running (re-parented,
 * not killed). The retry of that activity must wait for it, not run a second compose of the same
 * decky beside it: real compose, real Docker, a real process killed.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ComposeRuntime } from '../../src/compose/runtime';
import { composeCommand } from '../../src/compose/command';
import { LABELS, ROLES } from '../../src/domain/compose-render';
import { isProcessAlive } from '../../src/infra/pid';
import { createTestStack, macvlanLan, requireEnv, stackRuntime, type TestStack } from '../support/master';

const REPO = path.join(__dirname, '..', '..');
let stack: TestStack;
let runtime: ComposeRuntime;
let workDir: string;

beforeAll(async () => {
  stack = await createTestStack('orphan', 67);
  workDir = path.join(stack.config.dataDir, 'compose');
  runtime = stackRuntime(stack, workDir);
  await runtime.ensureLanNetwork(macvlanLan(stack.lan));
  // Detected once per process (a second or so for compose v1): a worker that ran compose before
  // retries at once, well within the half second the orphan lives on here.
  await composeCommand();
});

afterAll(async () => {
  await stack?.cleanup();
});

/**
 * The compose runs of this file: the processes whose command line names it, without those whose
 * parent does too (`docker compose` runs its plugin as a child with the same arguments).
 */
async function composeProcessesOf(file: string): Promise<number[]> {
  const pids = (await fs.readdir('/proc')).filter((entry) => /^\d+$/.test(entry)).map(Number);
  const read = (pid: number, what: string) => fs.readFile(`/proc/${pid}/${what}`, 'utf8').catch(() => '');
  const cmdlines = await Promise.all(pids.map((pid) => read(pid, 'cmdline')));
  const matching = pids.filter((pid, i) => isProcessAlive(pid) && cmdlines[i].split('\0').includes(file));
  // /proc/<pid>/stat: "pid (comm) state ppid …"; comm may hold spaces.
  const parents = await Promise.all(matching.map(async (pid) => Number((await read(pid, 'stat')).split(') ')[1]?.split(' ')[1])));
  return matching.filter((_, i) => !matching.includes(parents[i]));
}

test("the retry of a killed worker's compose up waits for the compose process it left running", async () => {
  const decky = {
    name: 'orphaned',
    ip: stack.lan.ip(40),
    services: ['ssh', 'http', 'ftp', 'telnet'],
    archetype: null,
    distro: 'debian',
    base_image: `${requireEnv('TEST_IMAGE_REGISTRY')}/base:${requireEnv('TEST_IMAGE_TAG')}`,
    hostname: 'orphaned',
    nmap_os: 'linux' as const,
    service_config: {},
    mutate_interval: null,
    custom_services: {},
  };
  const file = runtime.composeFile(decky.name);
  const input = { project: stack.config.composeProject, workDir, registry: requireEnv('TEST_IMAGE_REGISTRY'), tag: requireEnv('TEST_IMAGE_TAG'), decky };
  const worker = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'test/support/compose-up-child.ts'), JSON.stringify(input)], {
    cwd: REPO,
    stdio: 'ignore',
  });
  const exited = new Promise((resolve) => worker.once('exit', resolve));

  // SIGKILL the "worker" as soon as its compose process runs: the compose process lives on.
  let orphans: number[] = [];
  const deadline = Date.now() + 60_000;
  while (orphans.length === 0) {
    if (Date.now() > deadline) throw new Error('the child never started compose');
    orphans = await composeProcessesOf(file);
  }
  worker.kill('SIGKILL');
  await exited;
  expect(orphans.every(isProcessAlive)).toBe(true);

  // The activity's retry, here at once (in a real worker, 10 s later at most): never a second
  // compose of this decky while the first one runs.
  let mostAtOnce = 0;
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      mostAtOnce = Math.max(mostAtOnce, (await composeProcessesOf(file)).length);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  let detail: string;
  try {
    detail = await runtime.up(decky, 'macvlan');
  } finally {
    watching = false;
    await watcher;
  }
  expect(mostAtOnce).toBe(1);
  expect(detail).toBe(`compose up orphaned.yml (waited for compose process ${orphans[0]} of an earlier attempt)`);
  expect(orphans.some(isProcessAlive)).toBe(false);
  expect(await runtime.verifyHealthy(decky)).toContain(`base on ${decky.ip}`);
  const containers = await runtime.deckyContainers(decky.name);
  expect(containers.map((c) => (c.Labels[LABELS.role] === ROLES.base ? 'base' : c.Labels[LABELS.service])).sort()).toEqual([
    'base',
    'ftp',
    'http',
    'ssh',
    'telnet',
  ]);
  // The finished process's pid file is gone; a teardown finds nothing to wait for.
  await expect(fs.stat(path.join(path.dirname(file), `${decky.name}.pid`))).rejects.toMatchObject({ code: 'ENOENT' });
  expect(await runtime.down(decky.name)).toBe('removed 5 container(s)');
});
