/**
 * `decnet network show` and `decnet network set --interface X --subnet C --gateway G [--ip-range R]
 * [--ipvlan]`: the LAN the deckies join (GET/PUT /system/network). The API validates; its
 * message is printed as worded.
 */
import type { Command } from 'commander';
import type { ConfiguredLan, SystemNetwork } from '../../domain/lan';
import { createApiClient } from '../api-client';
import { action, printJson, processIo, type Io } from '../output';
import { followOperation } from '../wait';

export interface NetworkSetOptions {
  interface: string;
  subnet: string;
  gateway: string;
  ipRange?: string;
  ipvlan?: boolean;
  json?: boolean;
  /** A driver change that moves deckies: false returns once the API accepted it. */
  wait?: boolean;
}

function formatLan(lan: ConfiguredLan): string {
  return [
    `interface:  ${lan.interface}`,
    `subnet:     ${lan.subnet}`,
    `gateway:    ${lan.gateway}`,
    `ip range:   ${lan.ip_range ?? 'the whole subnet'}`,
    `driver:     ${lan.driver}`,
    '',
  ].join('\n');
}

export function formatNetwork(network: SystemNetwork): string {
  if (network.configured) return formatLan(network);
  const lines = ['LAN: not configured (deploys are refused until it is set)'];
  if (network.suggestion) {
    const s = network.suggestion;
    lines.push(
      `detected on this host: interface ${s.interface}, subnet ${s.subnet}, gateway ${s.gateway}`,
      `to use it: decnet network set --interface ${s.interface} --subnet ${s.subnet} --gateway ${s.gateway}`,
    );
  } else {
    lines.push('nothing detected (no default route with an IPv4 subnet); give: decnet network set --interface X --subnet C --gateway G');
  }
  return `${lines.join('\n')}\n`;
}

export async function runNetworkShow(opts: { json?: boolean }, io: Io = processIo()): Promise<number> {
  const network = await createApiClient().network();
  if (opts.json) printJson(io, network);
  else io.stdout.write(formatNetwork(network));
  return 0;
}

export async function runNetworkSet(opts: NetworkSetOptions, io: Io = processIo()): Promise<number> {
  const client = createApiClient();
  const lan = await client.setNetwork({
    interface: opts.interface,
    subnet: opts.subnet,
    gateway: opts.gateway,
    ...(opts.ipRange === undefined ? {} : { ip_range: opts.ipRange }),
    driver: opts.ipvlan ? 'ipvlan' : 'macvlan',
  });
  if (!('lifecycle_ids' in lan)) {
    if (opts.json) printJson(io, lan);
    else io.stdout.write(`LAN set:\n${formatLan(lan)}`);
    return 0;
  }
  const message = `moving ${lan.lifecycle_ids.length} decky(ies) to ${lan.moving_to}, base containers and IPs kept; the LAN's driver becomes ${lan.moving_to} once a move succeeded (a refused driver leaves them on ${lan.driver})`;
  return followOperation(client, { ...lan, message }, { wait: opts.wait !== false, json: opts.json === true, io });
}

export function registerNetworkCommand(program: Command): Command {
  const network = program.command('network').description('the LAN the deckies join');
  network
    .command('show')
    .description('the LAN in use, or "not configured" and what this host suggests')
    .option('--json', "print the API's answer as JSON")
    .action(action((opts: { json?: boolean }) => runNetworkShow(opts)));
  network
    .command('set')
    .description("set the LAN (refused while deckies are deployed on another one; the driver alone changed moves the master's deckies to it)")
    .requiredOption('--interface <name>', 'the parent interface on the master host')
    .requiredOption('--subnet <cidr>', 'the LAN as its network address, e.g. 192.168.1.0/24')
    .requiredOption('--gateway <ip>', "the LAN's router, inside the subnet")
    .option('--ip-range <cidr>', 'hand out decky addresses only from this network inside the subnet')
    .option('--ipvlan', "ipvlan instead of macvlan (deckies share the parent's MAC; Wi-Fi bridged VMs need it)")
    .option('--no-wait', 'a driver change that moves deckies: return once the API accepted it')
    .option('--json', "print the API's answer as JSON")
    .action(action((opts: NetworkSetOptions) => runNetworkSet(opts)));
  return network;
}
