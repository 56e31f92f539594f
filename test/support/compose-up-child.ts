/**
 * A stand-in for a worker's composeUp activity, as its own process so a test can SIGKILL it while
 * its compose child runs: `node --import tsx compose-up-child.ts '<json>'` with the runtime's
 * options and the decky, then `ComposeRuntime.up` as the activity runs it.
 */
import Docker from 'dockerode';
import { ComposeRuntime } from '../../src/compose/runtime';
import { loadCatalogue } from '../../src/domain/catalog';
import type { DeckySpec } from '../../src/domain/schemas';

interface ChildInput {
  project: string;
  workDir: string;
  registry: string;
  tag: string;
  decky: DeckySpec;
}

async function main(): Promise<void> {
  const input = JSON.parse(process.argv[2] ?? '') as ChildInput;
  const runtime = new ComposeRuntime({
    docker: new Docker(),
    project: input.project,
    workDir: input.workDir,
    catalogue: loadCatalogue({ registry: input.registry, tag: input.tag }),
  });
  process.stdout.write(`${await runtime.up(input.decky, 'macvlan')}\n`);
}

main().catch((err) => {
  process.stderr.write(`${String(err)}\n`);
  process.exitCode = 1;
});
