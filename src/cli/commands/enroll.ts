/** `decnet enroll <name> [--ipvlan] [--master-host H] [--agent-port P] [--reinstall]`: POST /swarm/enroll-bundle. */
import type { Command } from 'commander';
import { DEFAULT_AGENT_PORT, type EnrollBundleResponse } from '../../domain/swarm-schemas';
import { UsageError, createApiClient } from '../api-client';
import { action, printJson, processIo, type Io } from '../output';

export interface EnrollOptions {
  ipvlan?: boolean;
  masterHost?: string;
  agentPort?: string;
  reinstall?: boolean;
  json?: boolean;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

/** A port option: a whole number 1–65535, else a usage error. */
export function parsePortOption(raw: string, flag: string): number {
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < 1 || Number(raw) > 65535) throw new UsageError(`${flag} must be a port number 1–65535, got "${raw}"`);
  return Number(raw);
}

/** `--master-host`, else the host of the API URL the CLI talks to. */
export function defaultMasterHost(apiUrl: string): string {
  return new URL(apiUrl).hostname.replace(/^\[(.*)\]$/, '$1');
}

export function formatEnrollment(name: string, answer: EnrollBundleResponse, reinstall = false): string {
  return [
    reinstall
      ? `a new install command for host "${name}" (${answer.host_uuid}): it installs this master's agent over the one there, keeping its jobs and deckies`
      : `enrolled host "${name}" (${answer.host_uuid}); it stays "enrolled" until its agent's first heartbeat`,
    `run this as root on the agent host before ${answer.expires_at} (the bundle can be downloaded once):`,
    '',
    `  ${answer.command}`,
    '',
  ].join('\n');
}

export async function runEnroll(name: string, opts: EnrollOptions, io: Io = processIo()): Promise<number> {
  const agentPort = opts.agentPort === undefined ? undefined : parsePortOption(opts.agentPort, '--agent-port');
  const client = createApiClient();
  const masterHost = opts.masterHost ?? defaultMasterHost(client.settings.apiUrl);
  if (!opts.masterHost && LOOPBACK.has(masterHost)) {
    io.stderr.write(
      `note: the master host defaults to ${masterHost} (from the API URL); agents on other machines need --master-host <address they reach the master at>\n`,
    );
  }
  const answer = await client.enroll({
    agent_name: name,
    master_host: masterHost,
    use_ipvlan: opts.ipvlan === true,
    ...(agentPort === undefined ? {} : { agent_port: agentPort }),
    ...(opts.reinstall ? { reinstall: true } : {}),
  });
  if (opts.json) printJson(io, answer);
  else io.stdout.write(formatEnrollment(name, answer, opts.reinstall === true));
  return 0;
}

export function registerEnrollCommand(program: Command): Command {
  return program
    .command('enroll')
    .description('enroll a swarm agent host: prints the one-line install command to run on it (valid 5 minutes)')
    .argument('<name>', 'the host name (lower-case letters, digits, dashes)')
    .option('--ipvlan', 'the host runs its deckies on ipvlan instead of macvlan (Wi-Fi bridged VMs need it)')
    .option('--master-host <host>', 'the name or address under which the agent reaches this master (default: the API URL host)')
    .option('--agent-port <port>', `the agent's HTTPS port (default ${DEFAULT_AGENT_PORT})`)
    .option('--reinstall', 'a new install command for a host already enrolled: upgrades its agent in place (its uuid, settings, deckies and jobs stay)')
    .option('--json', "print the API's answer as JSON")
    .action(action((name: string, opts: EnrollOptions) => runEnroll(name, opts)));
}
