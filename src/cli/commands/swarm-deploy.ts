/**
 * `decnet swarm-deploy -f fleet.ini`: deploy a fleet across the swarm. The deploy goes through the
 * API like `decnet deploy` (so every decky has its lifecycle row and durable workflow); this
 * command insists on swarm mode, and prints the shard plan of the dispatch module, the one the
 * workflows send with, before following the rows.
 */
import type { Command } from 'commander';
import type { LanNetworkSpec } from '../../compose/runtime';
import { parseFleetIni } from '../../domain/ini';
import type { DeploymentMode, Network } from '../../domain/schemas';
import type { DispatchHost, Shard } from '../../swarm/dispatch';
import { createApiClient, type DeckyView, type DeployBody } from '../api-client';
import { action, EXIT_FAILED, printJson, processIo, type Io } from '../output';
import { followOperation } from '../wait';
import { readFleetFile, type DeployOptions } from './deploy';

export function formatShardPlan(shards: Shard<{ name: string }>[]): string[] {
  return shards.map(
    (s) =>
      `  swarm host "${s.host.name}" (${s.host.address}:${s.host.port}): ${s.deckies.map((d) => d.name).join(', ')} — ${s.network.driver}` +
      (s.forcedIpvlan ? ' (forced: the host uses ipvlan)' : ''),
  );
}

export async function runSwarmDeploy(opts: Omit<DeployOptions, 'replaceFleet'>, io: Io = processIo()): Promise<number> {
  const body = readFleetFile(opts.file);
  const client = createApiClient();
  const mode = (await client.request('GET', '/system/deployment-mode')) as DeploymentMode;
  if (mode.mode !== 'swarm') {
    const message = `no live swarm host: the master ${mode.message}. Enroll a host (decnet enroll <name>) or use decnet deploy`;
    io.stderr.write(`error: ${message}\n`);
    if (opts.json) printJson(io, { error: { code: 'not_swarm', message } });
    return EXIT_FAILED;
  }
  const accepted = await client.deploy(body, { idempotencyKey: opts.idempotencyKey });
  if (!opts.json) {
    const [deckies, hosts] = await Promise.all([client.deckies(), client.hosts()]);
    const mine = new Set(accepted.deckies);
    const targets: DispatchHost[] = hosts
      .filter((h) => h.address)
      .map((h) => ({ uuid: h.uuid, name: h.name, address: h.address!, port: h.agent_port, fingerprint: h.client_cert_fingerprint, useIpvlan: h.use_ipvlan }));
    // Loaded here, not with the CLI: the dispatch module brings the X.509 library along.
    const { shardByHost } = await import('../../swarm/dispatch');
    const shards = shardByHost(
      deckies.filter((d: DeckyView) => mine.has(d.name)),
      targets,
      fleetLan(body),
    );
    io.stdout.write(`shards:\n${formatShardPlan(shards).join('\n')}\n`);
  }
  return followOperation(client, accepted, { wait: opts.wait, json: opts.json === true, io });
}

/** The LAN as the fleet file gives it (for the plan's driver; the master fills in the rest). */
function fleetLan(body: DeployBody): LanNetworkSpec {
  const network = typeof body.ini_content === 'string' ? parseFleetIni(body.ini_content).definition.network : (body.network as Partial<Network> | undefined);
  return {
    driver: network?.ipvlan ? 'ipvlan' : 'macvlan',
    parent: network?.interface ?? '',
    subnet: network?.subnet ?? '',
    gateway: network?.gateway ?? '',
  };
}

export function registerSwarmDeployCommand(program: Command): Command {
  return program
    .command('swarm-deploy')
    .description('deploy a fleet file across the swarm hosts (round-robin, ipvlan where a host needs it) and wait with live progress')
    .requiredOption('-f, --file <path>', 'the fleet definition: .ini (DECNET format) or .json; - reads stdin')
    .option('--no-wait', 'return once the API accepted the deploy (prints the lifecycle ids)')
    .option('--json', 'print one JSON document: the API answer, plus the final lifecycle rows when waiting')
    .option('--idempotency-key <key>', 'repeat-safe submission: the same key answers with the same lifecycle ids')
    .action(action((opts: Omit<DeployOptions, 'replaceFleet'>) => runSwarmDeploy(opts)));
}
