/** `decnet hosts`: the swarm hosts (GET /swarm/hosts) as a table. */
import type { Command } from 'commander';
import type { SwarmHostView } from '../../domain/swarm-schemas';
import { createApiClient } from '../api-client';
import { action, formatTable, printJson, processIo, type Io } from '../output';

export interface HostsOptions {
  json?: boolean;
}

export function formatHosts(hosts: SwarmHostView[]): string {
  if (hosts.length === 0) return 'no swarm hosts (enroll one with `decnet enroll <name>`)\n';
  return formatTable(
    ['NAME', 'STATUS', 'ADDRESS', 'AGENT PORT', 'IPVLAN', 'DRIVERS', 'LAST HEARTBEAT', 'UUID'],
    hosts.map((h) => [h.name, h.status, h.address ?? '-', String(h.agent_port), h.use_ipvlan ? 'yes' : 'no', h.network_drivers?.join(',') ?? '-', h.last_heartbeat ?? '-', h.uuid]),
  );
}

export async function runHosts(opts: HostsOptions, io: Io = processIo()): Promise<number> {
  const hosts = await createApiClient().hosts();
  if (opts.json) printJson(io, { hosts });
  else io.stdout.write(formatHosts(hosts));
  return 0;
}

export function registerHostsCommand(program: Command): Command {
  return program
    .command('hosts')
    .description('the swarm hosts: status, address, ipvlan, the drivers their kernel supports, last heartbeat')
    .option('--json', "print the API's answer as JSON")
    .action(action((opts: HostsOptions) => runHosts(opts)));
}
