/**
 * `decnet teardown <name>`: DELETE /deckies/{name}, then wait for it like deploy. `decnet teardown
 * --all`: the whole fleet, confirmed with the fleet size the API reports just before.
 */
import type { Command } from 'commander';
import { createApiClient, UsageError } from '../api-client';
import { action, processIo } from '../output';
import { followOperation } from '../wait';

export interface TeardownOptions {
  wait: boolean;
  json?: boolean;
  all?: boolean;
}

export async function runTeardown(name: string | undefined, opts: TeardownOptions): Promise<number> {
  if (opts.all && name) throw new UsageError('give a decky name or --all, not both');
  if (!opts.all && !name) throw new UsageError('give the decky to tear down, or --all for the whole fleet');
  const client = createApiClient();
  const follow = { wait: opts.wait, json: opts.json === true, io: processIo() };
  if (!name) {
    // Asked and sent at once: the API still refuses (409) if the fleet changes in between.
    const { deckies_used: fleetSize } = await client.limits();
    return followOperation(client, await client.teardownFleet(fleetSize), follow);
  }
  return followOperation(client, await client.teardown(name), follow);
}

export function registerTeardownCommand(program: Command): Command {
  return program
    .command('teardown')
    .description('remove a decky (its containers and IP), or with --all the whole fleet, and wait for it')
    .argument('[name]', 'the decky')
    .option('--all', 'tear down every decky of the fleet (no prompt)')
    .option('--no-wait', 'return once the API accepted the teardown')
    .option('--json', 'print one JSON document: the API answer, plus the final lifecycle rows when waiting')
    .action(action((name: string | undefined, opts: TeardownOptions) => runTeardown(name, opts)));
}
