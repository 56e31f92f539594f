/**
 * A stand-in for a worker's move_network activity, as its own process so a test can SIGKILL it in
 * the middle of the swap: `node --import tsx move-child.ts '<json>'` with the runtime's options,
 * the network spec to move to and a decky, then `ComposeRuntime.moveLanNetwork` as the activity
 * runs it. Its request for the new network is held (the engine never sees it) and it prints
 * `creating` then: the moment a process killed there would leave every container off the LAN.
 */
import Docker from 'dockerode';
import { ComposeRuntime } from '../../src/compose/runtime';
import { loadCatalogue } from '../../src/domain/catalog';
import type { DeckySpec, LanNetworkSpec } from '../../src/domain/schemas';

interface ChildInput {
  project: string;
  workDir: string;
  registry: string;
  tag: string;
  network: LanNetworkSpec;
  decky: DeckySpec;
  changeId: string;
}

async function main(): Promise<void> {
  const input = JSON.parse(process.argv[2] ?? '') as ChildInput;
  const docker = new Docker();
  docker.createNetwork = (() => {
    process.stdout.write('creating\n');
    return new Promise(() => undefined);
  }) as Docker['createNetwork'];
  const runtime = new ComposeRuntime({
    docker,
    project: input.project,
    workDir: input.workDir,
    catalogue: loadCatalogue({ registry: input.registry, tag: input.tag }),
  });
  await runtime.moveLanNetwork(input.network, input.decky, input.changeId);
}

main().catch((err) => {
  process.stderr.write(`${String(err)}\n`);
  process.exitCode = 1;
});
