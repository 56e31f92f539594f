/** `decnet heal <name>`: POST /deckies/{name}/heal, then wait for it like deploy. */
import type { Command } from 'commander';
import { createApiClient } from '../api-client';
import { action, processIo } from '../output';
import { followOperation } from '../wait';

export interface HealOptions {
  wait: boolean;
  json?: boolean;
}

export async function runHeal(name: string, opts: HealOptions): Promise<number> {
  const client = createApiClient();
  const accepted = await client.heal(name);
  return followOperation(client, accepted, { wait: opts.wait, json: opts.json === true, io: processIo() });
}

export function registerHealCommand(program: Command): Command {
  return program
    .command('heal')
    .description("bring a decky's containers back to its desired state (the base and its IP kept when it runs) and wait for it")
    .argument('<name>', 'the decky')
    .option('--no-wait', 'return once the API accepted the heal')
    .option('--json', 'print one JSON document: the API answer, plus the final lifecycle row when waiting')
    .action(action((name: string, opts: HealOptions) => runHeal(name, opts)));
}
