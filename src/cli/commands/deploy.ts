/**
 * `decnet deploy -f fleet.ini|fleet.json`: POST /deckies/deploy, then wait for every decky with
 * live progress (unless --no-wait). INI files are sent as `{ini_content}`, JSON files as they are.
 * `--dry-run` prints the API's plan and deploys nothing.
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import { createApiClient, UsageError, type DecnetApiClient, type DeployBody } from '../api-client';
import { EXIT_OK } from '../exit-codes';
import { action, printJson, processIo, type Io } from '../output';
import { formatPlan, formatWarnings } from '../plan';
import { followOperation } from '../wait';

export interface DeployOptions {
  file: string;
  replaceFleet?: boolean;
  wait: boolean;
  json?: boolean;
  idempotencyKey?: string;
  dryRun?: boolean;
}

/** Reads the fleet file (`-` is stdin): `.json`, or content starting with `{`, is JSON; anything else INI. */
export function readFleetFile(file: string): DeployBody {
  let content: string;
  try {
    content = fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read the fleet file ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  if (content.trim() === '') throw new UsageError(`the fleet file ${file} is empty`);
  const isJson = /\.json$/i.test(file) || (!/\.ini$/i.test(file) && content.trimStart().startsWith('{'));
  if (!isJson) return { ini_content: content };
  let parsed: unknown;
  try {
    parsed = JSON.parse(content);
  } catch (err) {
    throw new UsageError(`the fleet file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`the fleet file ${file} must hold a JSON object like {"deckies": [{"name": "web", "services": ["http"]}]}`);
  }
  return parsed as DeployBody;
}

export async function runDeploy(opts: DeployOptions): Promise<number> {
  const body = readFleetFile(opts.file);
  if (opts.replaceFleet) body.replace_fleet = true;
  const client = createApiClient();
  if (opts.dryRun) return printDryRun(client, body, opts, processIo());
  const accepted = await client.deploy(body, { idempotencyKey: opts.idempotencyKey });
  const io = processIo();
  // On stderr, so they stay visible next to the progress; --json carries them in its document.
  if (!opts.json) io.stderr.write(formatWarnings(accepted.plan));
  return followOperation(client, accepted, { wait: opts.wait, json: opts.json === true, io });
}

/** --dry-run: the plan the API answers (refusals as for the deploy), nothing deployed. */
export async function printDryRun(client: DecnetApiClient, body: DeployBody, opts: Pick<DeployOptions, 'json' | 'idempotencyKey'>, io: Io): Promise<number> {
  const plan = await client.deployPlan(body, { idempotencyKey: opts.idempotencyKey });
  if (opts.json) printJson(io, plan);
  else io.stdout.write(`dry run: ${plan.message}\n${formatPlan(plan)}nothing was deployed\n`);
  return EXIT_OK;
}

export function registerDeployCommand(program: Command): Command {
  return program
    .command('deploy')
    .description('deploy the deckies of a fleet file (INI or JSON) and wait for them with live progress')
    .requiredOption('-f, --file <path>', 'the fleet definition: .ini (DECNET format) or .json; - reads stdin')
    .option('--replace-fleet', 'tear down the deckies the file does not list (default: additive)')
    .option('--no-wait', 'return once the API accepted the deploy (prints the lifecycle ids)')
    .option('--json', 'print one JSON document: the API answer, plus the final lifecycle rows when waiting')
    .option('--idempotency-key <key>', 'repeat-safe submission: the same key answers with the same lifecycle ids')
    .option('--dry-run', 'print the plan (IPs, hosts, network drivers) and deploy nothing')
    .action(action((opts: DeployOptions) => runDeploy(opts)));
}
