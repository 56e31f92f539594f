/** `decnet mutate <name> [--services a,b]`: POST /deckies/{name}/mutate, then wait for it like deploy. */
import type { Command } from 'commander';
import { createApiClient, UsageError } from '../api-client';
import { action, parseList, processIo } from '../output';
import { followOperation } from '../wait';

export interface MutateOptions {
  services?: string;
  wait: boolean;
  json?: boolean;
}

export async function runMutate(name: string, opts: MutateOptions): Promise<number> {
  const services = opts.services === undefined ? undefined : parseList(opts.services);
  if (services && services.length === 0) throw new UsageError('--services needs at least one service name, e.g. --services ssh,http');
  const client = createApiClient();
  const accepted = await client.mutate(name, services);
  return followOperation(client, accepted, { wait: opts.wait, json: opts.json === true, io: processIo() });
}

export function registerMutateCommand(program: Command): Command {
  return program
    .command('mutate')
    .description("replace a decky's services (new ones picked for it unless --services) and wait for it")
    .argument('<name>', 'the decky')
    .option('--services <list>', 'comma-separated catalogue services to run instead, e.g. ssh,http')
    .option('--no-wait', 'return once the API accepted the mutation')
    .option('--json', 'print one JSON document: the API answer, plus the final lifecycle row when waiting')
    .action(action((name: string, opts: MutateOptions) => runMutate(name, opts)));
}
