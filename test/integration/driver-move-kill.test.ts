/**
 * A driver change whose process is killed mid-swap (the old LAN network removed with every
 * container off it, the new one not created yet; or while containers rejoin): the move's retry, or
 * the next move on this engine, finds the swap on disk and finishes it. While the process making
 * it runs, another process's move waits for the fleet's LAN-move lock, which the kill releases.
 * Real Docker, real PostgreSQL, a real process killed with SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { LABELS, ROLES } from '../../src/domain/compose-render';
import type { DeckySpec, LanNetworkSpec } from '../../src/domain/schemas';
import type { MikroORM } from '@mikro-orm/postgresql';
import { EXCLUSIVE_LOCKS, runExclusively } from '../../src/db/exclusive';
import { openOrm } from '../../src/db/orm';
import type { ComposeRuntime } from '../../src/compose/runtime';
import { createTestStack, macvlanLan, requireEnv, stackRuntime, type TestStack } from '../support/master';
import type { MoveChildInput, MoveHold } from '../support/move-child';

const REPO = path.join(__dirname, '..', '..');
let stack: TestStack;
let runtime: ComposeRuntime;
let workDir: string;
let macvlan: LanNetworkSpec;
let orm: MikroORM;

const decky = (name: string, host: number): DeckySpec => ({
  name,
  ip: stack.lan.ip(host),
  services: ['ssh'],
  archetype: null,
  distro: 'debian',
  base_image: `${requireEnv('TEST_IMAGE_REGISTRY')}/base:${requireEnv('TEST_IMAGE_TAG')}`,
  hostname: name,
  nmap_os: 'linux' as const,
  service_config: {},
  mutate_interval: null,
  custom_services: {},
});

beforeAll(async () => {
  stack = await createTestStack('movekill', 93);
  workDir = path.join(stack.config.dataDir, 'compose');
  orm = await openOrm(stack.databaseUrl, 2);
  // As the master builds it: moves under the fleet's LAN-move lock.
  runtime = stackRuntime(stack, workDir, { moveExclusively: (move) => runExclusively(orm, EXCLUSIVE_LOCKS.lanMove, move) });
  macvlan = macvlanLan(stack.lan);
  await runtime.ensureLanNetwork(macvlan);
});

afterAll(async () => {
  await orm?.close(true);
  await stack?.cleanup();
});

const lanName = () => runtime.networkName;

/** Each base container's id, state and address on the LAN network, by decky. */
async function bases(): Promise<Record<string, { id: string; state: string; ip: string | undefined }>> {
  const all = await stack.docker.listContainers({
    all: true,
    filters: { label: [`${LABELS.project}=${stack.config.composeProject}`, `${LABELS.role}=${ROLES.base}`] },
  });
  const out: Record<string, { id: string; state: string; ip: string | undefined }> = {};
  for (const c of all) {
    const info = await stack.docker.getContainer(c.Id).inspect();
    out[c.Labels[LABELS.decky]] = { id: c.Id, state: info.State.Status, ip: info.NetworkSettings.Networks[lanName()]?.IPAddress || undefined };
  }
  return out;
}

/** A move to `network` in a process of its own, resolved once it holds at `hold`. */
async function moveHeldAt(network: LanNetworkSpec, changeId: string, hold: MoveHold): Promise<{ child: ChildProcess; exited: Promise<void> }> {
  const input: MoveChildInput = {
    project: stack.config.composeProject,
    workDir,
    databaseUrl: stack.databaseUrl,
    registry: requireEnv('TEST_IMAGE_REGISTRY'),
    tag: requireEnv('TEST_IMAGE_TAG'),
    network,
    decky: decky('mk-1', 21),
    changeId,
    hold,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'test/support/move-child.ts'), JSON.stringify(input)], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('held\n')) resolve();
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    void exited.then(() => reject(new Error(`the move process ended before it held: ${output}`)));
  });
  return { child, exited };
}

async function killMidSwap(network: LanNetworkSpec, changeId: string, hold: MoveHold): Promise<void> {
  const { child, exited } = await moveHeldAt(network, changeId, hold);
  child.kill('SIGKILL');
  await exited;
}

const swapFile = () => path.join(workDir, stack.config.composeProject, 'lan-swap.json');
const swapLeft = () =>
  fs.stat(swapFile()).then(
    () => true,
    () => false,
  );
const ipvlan = () => ({ ...macvlan, driver: 'ipvlan' as const });
/** This kernel's refusal of ipvlan, after which the macvlan network is back with `n` container(s). */
const refusedAndPutBack = (n: number) => ({
  type: 'IpvlanUnsupported',
  message: expect.stringContaining(`Nothing moved: network ${lanName()} is macvlan again and its ${n} container(s) rejoined it with their addresses`),
});

test('a move killed mid-swap is finished by its retry, which waited for the killed process: refused here, every container is back on the old network at its address', async () => {
  for (const [name, host] of [
    ['mk-1', 21],
    ['mk-2', 22],
  ] as const)
    await runtime.up(decky(name, host), 'macvlan');
  const before = await bases();
  expect(before).toEqual({
    'mk-1': { id: expect.any(String), state: 'running', ip: stack.lan.ip(21) },
    'mk-2': { id: expect.any(String), state: 'running', ip: stack.lan.ip(22) },
  });

  const moving = await moveHeldAt(ipvlan(), 'change-1', { at: 'create' });
  // What it has done so far: no LAN network at all, the deckies running off it.
  await expect(stack.docker.getNetwork(lanName()).inspect()).rejects.toMatchObject({ statusCode: 404 });
  expect(await bases()).toEqual({ 'mk-1': { ...before['mk-1'], ip: undefined }, 'mk-2': { ...before['mk-2'], ip: undefined } });
  // The activity's retry in another process waits while the first one holds the lock, touching nothing.
  const retry = runtime.moveLanNetwork(ipvlan(), decky('mk-1', 21), 'change-1');
  const outcome = retry.then(
    () => 'resolved',
    () => 'rejected',
  );
  await new Promise((r) => setTimeout(r, 1_500));
  expect(await Promise.race([outcome, 'waiting'])).toBe('waiting');
  await expect(stack.docker.getNetwork(lanName()).inspect()).rejects.toMatchObject({ statusCode: 404 });

  // Killed: its connection, and the lock, go. The retry asks the engine for ipvlan for real; this
  // kernel refuses it, so the network the killed process removed is put back with both containers.
  moving.child.kill('SIGKILL');
  await moving.exited;
  await expect(retry).rejects.toMatchObject(refusedAndPutBack(2));
  expect(await bases()).toEqual(before);
  const network = await stack.docker.getNetwork(lanName()).inspect();
  expect([network.Driver, network.IPAM?.Config?.[0]]).toEqual(['macvlan', { Subnet: stack.lan.subnet, Gateway: stack.lan.gateway }]);
  expect(await swapLeft()).toBe(false);
});

test('killed while the old network is put back, between two containers: the retry brings both back', async () => {
  const before = await bases();
  // Connect 1 is refused by the kernel (ipvlan); 2 and 3 put the two containers back on macvlan.
  await killMidSwap(ipvlan(), 'change-2', { at: 'join', call: 3, when: 'before' });
  const half = await bases();
  expect([half['mk-1'].ip, half['mk-2'].ip].filter(Boolean)).toHaveLength(1);
  expect(await swapLeft()).toBe(true);

  await expect(runtime.moveLanNetwork(ipvlan(), decky('mk-2', 22), 'change-2')).rejects.toMatchObject(refusedAndPutBack(2));
  expect(await bases()).toEqual(before);
  expect(await swapLeft()).toBe(false);
});

test('killed after the last container rejoined, before it said so: the next move is an ordinary one', async () => {
  const before = await bases();
  await killMidSwap(ipvlan(), 'change-3', { at: 'join', call: 3, when: 'after' });
  expect(await bases()).toEqual(before);
  expect(await swapLeft()).toBe(true);

  // The network is already what this move asks for, every container on it: nothing is taken down.
  const networkId = (await stack.docker.getNetwork(lanName()).inspect()).Id;
  expect(await runtime.moveLanNetwork(macvlan, decky('mk-1', 21), 'change-4')).toBe(`network ${lanName()} already macvlan (an earlier move took it there)`);
  expect((await stack.docker.getNetwork(lanName()).inspect()).Id).toBe(networkId);
  expect(await swapLeft()).toBe(false);
});

test('a newer change finishes the swap a killed one left, with the containers that still exist', async () => {
  const before = await bases();
  await killMidSwap(ipvlan(), 'change-5', { at: 'create' });
  // A teardown meanwhile: its base is gone, and so is its place on the LAN.
  expect(await runtime.down('mk-2')).toBe('removed 2 container(s)');

  expect(await runtime.moveLanNetwork(macvlan, decky('mk-1', 21), 'change-6')).toBe(
    `finished the move of network ${lanName()} from macvlan to macvlan that a killed process left midway: 1 container(s) rejoined it with their addresses`,
  );
  expect(await bases()).toEqual({ 'mk-1': before['mk-1'] });
  expect(await swapLeft()).toBe(false);
});
