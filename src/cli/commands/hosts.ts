/** `decnet hosts`: the swarm hosts (GET /swarm/hosts) as a table. */
import type { Command } from 'commander';
import type { SwarmHostsResponse, SwarmHostView } from '../../domain/swarm-schemas';
import { createApiClient } from '../api-client';
import { action, formatTable, printJson, processIo, type Io } from '../output';

export interface HostsOptions {
  json?: boolean;
}

/** The version the agent reports; `(outdated)` when older than the master, `unknown` when it heartbeats without one. */
function agentVersionCell(h: SwarmHostView): string {
  const version = h.agent_version ?? (h.agent_outdated === null ? '-' : 'unknown');
  return h.agent_outdated ? `${version} (outdated)` : version;
}

export function formatHosts({ hosts, master_version }: SwarmHostsResponse): string {
  if (hosts.length === 0) return 'no swarm hosts (enroll one with `decnet enroll <name>`)\n';
  const table = formatTable(
    ['NAME', 'STATUS', 'ADDRESS', 'AGENT PORT', 'IPVLAN', 'DRIVERS', 'LAST HEARTBEAT', 'AGENT VERSION', 'UUID'],
    hosts.map((h) => [
      h.name,
      h.status,
      h.address ?? '-',
      String(h.agent_port),
      h.use_ipvlan ? 'yes' : 'no',
      h.network_drivers?.join(',') ?? '-',
      h.last_heartbeat ?? '-',
      agentVersionCell(h),
      h.uuid,
    ]),
  );
  const outdated = hosts.filter((h) => h.agent_outdated && h.status !== 'decommissioned').length;
  return outdated ? `${table}${outdated} agent(s) older than this master (${master_version})\n` : table;
}

export async function runHosts(opts: HostsOptions, io: Io = processIo()): Promise<number> {
  const answer = await createApiClient().hosts();
  if (opts.json) printJson(io, answer);
  else io.stdout.write(formatHosts(answer));
  return 0;
}

export function registerHostsCommand(program: Command): Command {
  return program
    .command('hosts')
    .description('the swarm hosts: status, address, ipvlan, the drivers their kernel supports, last heartbeat, agent version')
    .option('--json', "print the API's answer as JSON")
    .action(action((opts: HostsOptions) => runHosts(opts)));
}
