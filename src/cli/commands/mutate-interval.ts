/** `decnet mutate-interval <name> <interval|off>`: PUT /deckies/{name}/mutate-interval. */
import type { Command } from 'commander';
import { createApiClient } from '../api-client';
import { action, printJson, processIo } from '../output';

export interface MutateIntervalOptions {
  json?: boolean;
}

/** "off" → null (no mutation), whole minutes → a number, anything else ("30m", "2d") as the API reads it. */
export function parseIntervalArgument(raw: string): number | string | null {
  const value = raw.trim();
  if (/^(off|none|never)$/i.test(value)) return null;
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}

export async function runMutateInterval(name: string, interval: string, opts: MutateIntervalOptions): Promise<number> {
  const io = processIo();
  const value = parseIntervalArgument(interval);
  const answer = await createApiClient().setMutateInterval(name, value);
  if (opts.json) {
    printJson(io, answer);
  } else {
    const stored = 'mutate_interval' in answer ? answer.mutate_interval : value;
    io.stdout.write(stored === null ? `${name}: mutation off\n` : `${name}: mutates every ${typeof stored === 'number' ? `${stored} min` : String(stored)}\n`);
  }
  return 0;
}

export function registerMutateIntervalCommand(program: Command): Command {
  return program
    .command('mutate-interval')
    .description("set how often a decky's services are mutated (its Temporal Schedule), or switch it off")
    .argument('<name>', 'the decky')
    .argument('<interval>', 'minutes, a duration like 30m, 2h, 2d, 1w, or "off"')
    .option('--json', "print the API's answer as JSON")
    .action(action((name: string, interval: string, opts: MutateIntervalOptions) => runMutateInterval(name, interval, opts)));
}
