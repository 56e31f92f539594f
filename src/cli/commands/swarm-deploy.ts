/**
 * `decnet swarm-deploy -f fleet.ini`: deploy a fleet across the swarm. The deploy goes through the
 * API like `decnet deploy` (so every decky has its lifecycle row and durable workflow); this
 * command insists on swarm mode, and prints the placement the API answers (host and driver of
 * each decky) before following the rows; `--dry-run` prints it alone.
 */
import type { Command } from 'commander';
import type { DeploymentMode } from '../../domain/schemas';
import { createApiClient } from '../api-client';
import { EXIT_FAILED } from '../exit-codes';
import { action, printJson, processIo, type Io } from '../output';
import { formatPlan } from '../plan';
import { followOperation } from '../wait';
import { printDryRun, readFleetFile, type DeployOptions } from './deploy';

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
  if (opts.dryRun) return printDryRun(client, body, opts, io);
  const accepted = await client.deploy(body, { idempotencyKey: opts.idempotencyKey });
  if (!opts.json) io.stdout.write(formatPlan(accepted.plan));
  return followOperation(client, accepted, { wait: opts.wait, json: opts.json === true, io });
}

export function registerSwarmDeployCommand(program: Command): Command {
  return program
    .command('swarm-deploy')
    .description('deploy a fleet file across the swarm hosts (round-robin, ipvlan where a host needs it) and wait with live progress')
    .requiredOption('-f, --file <path>', 'the fleet definition: .ini (DECNET format) or .json; - reads stdin')
    .option('--no-wait', 'return once the API accepted the deploy (prints the lifecycle ids)')
    .option('--json', 'print one JSON document: the API answer, plus the final lifecycle rows when waiting')
    .option('--idempotency-key <key>', 'repeat-safe submission: the same key answers with the same lifecycle ids')
    .option('--dry-run', 'print the plan (hosts round-robin, ipvlan where a host needs it) and deploy nothing')
    .action(action((opts: Omit<DeployOptions, 'replaceFleet'>) => runSwarmDeploy(opts)));
}
