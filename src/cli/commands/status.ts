/** `decnet status [name]`: the fleet table, or one decky with its recent lifecycle rows. */
import type { Command } from 'commander';
import type { LifecycleRow } from '../../domain/schemas';
import { createApiClient, type DeckyDetail, type DeckyView } from '../api-client';
import { action, formatTable, printJson, processIo } from '../output';

export interface StatusOptions {
  json?: boolean;
}

/** "deploy succeeded", "mutate running", "deploy failed: MissingImage: …". */
export function describeLifecycle(row: LifecycleRow | null): string {
  if (!row) return '-';
  return `${row.operation} ${row.status}${row.status === 'failed' && row.error ? `: ${row.error}` : ''}`;
}

const intervalText = (minutes: number | null) => (minutes === null ? '-' : `${minutes} min`);

export function formatFleet(deckies: DeckyView[]): string {
  if (deckies.length === 0) return 'no deckies\n';
  return formatTable(
    ['NAME', 'STATE', 'IP', 'SERVICES', 'LAST OPERATION'],
    deckies.map((d) => [
      d.name,
      d.state === 'degraded' && d.last_error ? `degraded: ${d.last_error}` : d.state,
      d.ip,
      d.services.join(','),
      describeLifecycle(d.last_lifecycle),
    ]),
  );
}

export function formatDecky(d: DeckyDetail): string {
  const fields: Array<[string, string]> = [
    ['name', d.name],
    ['state', d.state],
    ['ip', d.ip],
    ['host', d.host_uuid ?? 'local'],
    ['services', d.services.join(', ')],
    ['archetype', d.archetype ?? '-'],
    ['hostname', d.hostname],
    ['distro', d.distro],
    ['mutate interval', intervalText(d.mutate_interval)],
    ['last mutated', d.last_mutated ?? '-'],
    ['last error', d.last_error ?? '-'],
    ['created', d.created_at],
  ];
  const width = Math.max(...fields.map(([k]) => k.length)) + 1;
  const head = fields.map(([k, v]) => `${`${k}:`.padEnd(width)} ${v}\n`).join('');
  const rows = d.lifecycle ?? [];
  if (rows.length === 0) return `${head}\nno lifecycle rows\n`;
  return `${head}\nrecent operations:\n${formatTable(
    ['STARTED', 'OPERATION', 'TRIGGER', 'STATUS', 'LIFECYCLE ID', 'ERROR'],
    rows.map((r) => [r.started_at, r.operation, r.trigger, r.status, r.id, r.error ?? '']),
  )}`;
}

export async function runStatus(name: string | undefined, opts: StatusOptions): Promise<number> {
  const io = processIo();
  const client = createApiClient();
  if (name === undefined) {
    const deckies = await client.deckies();
    if (opts.json) printJson(io, { deckies });
    else io.stdout.write(formatFleet(deckies));
  } else {
    const decky = await client.decky(name);
    if (opts.json) printJson(io, decky);
    else io.stdout.write(formatDecky(decky));
  }
  return 0;
}

export function registerStatusCommand(program: Command): Command {
  return program
    .command('status')
    .description('the fleet (name, state, IP, services, last operation), or one decky with its recent operations')
    .argument('[name]', 'one decky')
    .option('--json', "print the API's answer as JSON")
    .action(action((name: string | undefined, opts: StatusOptions) => runStatus(name, opts)));
}
