/** `decnet teardown <name>`: DELETE /deckies/{name}, then wait for it like deploy. */
import type { Command } from 'commander';
import { createApiClient } from '../api-client';
import { action, processIo } from '../output';
import { followOperation } from '../wait';

export interface TeardownOptions {
  wait: boolean;
  json?: boolean;
}

export async function runTeardown(name: string, opts: TeardownOptions): Promise<number> {
  const client = createApiClient();
  const accepted = await client.teardown(name);
  return followOperation(client, accepted, { wait: opts.wait, json: opts.json === true, io: processIo() });
}

export function registerTeardownCommand(program: Command): Command {
  return program
    .command('teardown')
    .description('remove a decky (its containers and IP) and wait for it')
    .argument('<name>', 'the decky')
    .option('--no-wait', 'return once the API accepted the teardown')
    .option('--json', 'print one JSON document: the API answer, plus the final lifecycle row when waiting')
    .action(action((name: string, opts: TeardownOptions) => runTeardown(name, opts)));
}
