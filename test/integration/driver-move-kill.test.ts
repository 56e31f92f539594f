/**
 * A driver change whose process is killed mid-swap: the old LAN network removed, every container
 * off it, the new one not yet created. The move's retry (or the next move on this engine) finds
 * the swap on disk and finishes it: real Docker, a real process killed with SIGKILL.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ComposeRuntime } from '../../src/compose/runtime';
import { loadCatalogue } from '../../src/domain/catalog';
import { LABELS, ROLES } from '../../src/domain/compose-render';
import type { DeckySpec, LanNetworkSpec } from '../../src/domain/schemas';
import { createTestStack, requireEnv, type TestStack } from '../support/master';

const REPO = path.join(__dirname, '..', '..');
let stack: TestStack;
let runtime: ComposeRuntime;
let workDir: string;
let macvlan: LanNetworkSpec;

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
  runtime = new ComposeRuntime({
    docker: stack.docker,
    project: stack.config.composeProject,
    workDir,
    catalogue: loadCatalogue({ registry: requireEnv('TEST_IMAGE_REGISTRY'), tag: requireEnv('TEST_IMAGE_TAG') }),
  });
  macvlan = { driver: 'macvlan', parent: stack.lan.parent, subnet: stack.lan.subnet, gateway: stack.lan.gateway };
  await runtime.ensureLanNetwork(macvlan);
});

afterAll(async () => {
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

/** Runs a move to `network` in a process of its own and SIGKILLs it once its old network is gone and the new one is being asked for. */
async function killMidSwap(network: LanNetworkSpec, changeId: string): Promise<void> {
  const input = {
    project: stack.config.composeProject,
    workDir,
    registry: requireEnv('TEST_IMAGE_REGISTRY'),
    tag: requireEnv('TEST_IMAGE_TAG'),
    network,
    decky: decky('mk-1', 21),
    changeId,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'test/support/move-child.ts'), JSON.stringify(input)], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('creating\n')) resolve();
    });
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    void exited.then(() => reject(new Error(`the move process ended before it asked for the new network: ${output}`)));
  });
  child.kill('SIGKILL');
  await exited;
}

test('a move killed mid-swap is finished by its retry: refused here, every container is back on the old network at its address', async () => {
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
  const ipvlan = { ...macvlan, driver: 'ipvlan' as const };

  await killMidSwap(ipvlan, 'change-1');
  // What the kill left: no LAN network at all, the deckies running off it.
  await expect(stack.docker.getNetwork(lanName()).inspect()).rejects.toMatchObject({ statusCode: 404 });
  expect(await bases()).toEqual({ 'mk-1': { ...before['mk-1'], ip: undefined }, 'mk-2': { ...before['mk-2'], ip: undefined } });

  // The activity's retry asks the engine for ipvlan for real; this kernel refuses it, so the
  // network the killed process removed is put back with both containers it had taken off.
  await expect(runtime.moveLanNetwork(ipvlan, decky('mk-1', 21), 'change-1')).rejects.toMatchObject({
    type: 'IpvlanUnsupported',
    message: expect.stringContaining(`Nothing moved: network ${lanName()} is macvlan again and its 2 container(s) rejoined it with their addresses`),
  });
  expect(await bases()).toEqual(before);
  const network = await stack.docker.getNetwork(lanName()).inspect();
  expect([network.Driver, network.IPAM?.Config?.[0]]).toEqual(['macvlan', { Subnet: stack.lan.subnet, Gateway: stack.lan.gateway }]);

  // Nothing is left over from the swap: the next change is an ordinary move of a whole network.
  await expect(runtime.moveLanNetwork(ipvlan, decky('mk-2', 22), 'change-2')).rejects.toMatchObject({
    message: expect.stringMatching(
      /^this host's kernel does not support ipvlan.*Nothing moved: network \S+ is macvlan again and its 2 container\(s\) rejoined/s,
    ),
  });
  expect(await bases()).toEqual(before);
});

test('a newer change finishes the swap a killed one left, with the containers that still exist', async () => {
  const before = await bases();
  await killMidSwap({ ...macvlan, driver: 'ipvlan' }, 'change-3');
  // A teardown meanwhile: its base is gone, and so is its place on the LAN.
  expect(await runtime.down('mk-2')).toBe('removed 2 container(s)');

  expect(await runtime.moveLanNetwork(macvlan, decky('mk-1', 21), 'change-4')).toBe(
    `finished the move of network ${lanName()} from macvlan to macvlan that a killed process left midway: 1 container(s) rejoined it with their addresses`,
  );
  expect(await bases()).toEqual({ 'mk-1': before['mk-1'] });
  // And done: the network is already what the next move of this change asks for.
  expect(await runtime.moveLanNetwork(macvlan, decky('mk-1', 21), 'change-5')).toBe(`network ${lanName()} already macvlan (an earlier move took it there)`);
});
