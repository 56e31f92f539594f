/**
 * A stand-in for a worker's move_network activity, as its own process so a test can SIGKILL it in
 * the middle of the swap: `node --import tsx move-child.ts '<json>'` with the runtime's options,
 * the network spec to move to, a decky and where to stop, then `ComposeRuntime.moveLanNetwork` as
 * the master's activity runs it, under the fleet's LAN-move lock on the stack's database. At its
 * stop the process holds (the engine never sees the held request) and prints `held`: the moment a
 * process killed there leaves the LAN mid-swap.
 * - `{ at: 'create' }`: its request for the new network;
 * - `{ at: 'join', call, when }`: before or after its `call`-th request to connect a container
 *   (to the new network first, then, when that is refused, to the old one put back).
 */
import Docker from 'dockerode';
import { ComposeRuntime } from '../../src/compose/runtime';
import { EXCLUSIVE_LOCKS, runExclusively } from '../../src/db/exclusive';
import { openOrm } from '../../src/db/orm';
import { loadCatalogue } from '../../src/domain/catalog';
import type { DeckySpec, LanNetworkSpec } from '../../src/domain/schemas';

export type MoveHold = { at: 'create' } | { at: 'join'; call: number; when: 'before' | 'after' };

export interface MoveChildInput {
  project: string;
  workDir: string;
  databaseUrl: string;
  registry: string;
  tag: string;
  network: LanNetworkSpec;
  decky: DeckySpec;
  changeId: string;
  hold: MoveHold;
}

const holdForever = (): Promise<never> => {
  process.stdout.write('held\n');
  // A pending promise alone would let the process end here: a timer keeps it running.
  setInterval(() => undefined, 60_000);
  return new Promise(() => undefined);
};

async function main(): Promise<void> {
  const input = JSON.parse(process.argv[2] ?? '') as MoveChildInput;
  const { hold } = input;
  const orm = await openOrm(input.databaseUrl, 1);
  const docker = new Docker();
  if (hold.at === 'create') {
    docker.createNetwork = holdForever as Docker['createNetwork'];
  } else {
    let calls = 0;
    const getNetwork = docker.getNetwork.bind(docker);
    docker.getNetwork = (id: string) => {
      const network = getNetwork(id);
      const connect = network.connect.bind(network);
      network.connect = (async (options: object) => {
        const call = ++calls;
        if (call === hold.call && hold.when === 'before') return holdForever();
        const result = await connect(options);
        if (call === hold.call) return holdForever();
        return result;
      }) as typeof network.connect;
      return network;
    };
  }
  const runtime = new ComposeRuntime({
    docker,
    project: input.project,
    workDir: input.workDir,
    catalogue: loadCatalogue({ registry: input.registry, tag: input.tag }),
    moveExclusively: (move) => runExclusively(orm, EXCLUSIVE_LOCKS.lanMove, move),
  });
  await runtime.moveLanNetwork(input.network, input.decky, input.changeId);
}

main().catch((err) => {
  process.stderr.write(`${String(err)}\n`);
  process.exitCode = 1;
});
