/**
 * temporal-dev.yml, the containerised Temporal the docs offer operators, is a valid compose file
 * (as the installed compose resolves it) and runs the Temporal version these tests build and run
 * (scripts/setup-cluster.sh): what passes here is what an operator's cluster runs.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { temporalServerBuild, temporalServerVersion } from '../support/temporal-cluster';
import { requireEnv } from '../support/master';

const execFileAsync = promisify(execFile);
const COMPOSE_FILE = path.resolve(__dirname, '../../temporal-dev.yml');

/** `docker compose` (v2 plugin) when it answers, else docker-compose (v1), as scripts/setup.sh installs one or the other. */
async function composeCommand(): Promise<string[]> {
  try {
    await execFileAsync('docker', ['compose', 'version']);
    return ['docker', 'compose'];
  } catch {
    return ['docker-compose'];
  }
}

test('temporal-dev.yml passes `compose config` and names the Temporal server version the tests build', async () => {
  const [command, ...args] = await composeCommand();
  // The file's defaults, not an override from this shell.
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (/^TEMPORAL_.*VERSION$/.test(name)) delete env[name];
  const { stdout } = await execFileAsync(command, [...args, '-f', COMPOSE_FILE, 'config'], { env });
  const resolved = parse(stdout) as { services: Record<string, { image: string }> };
  const images = Object.fromEntries(Object.entries(resolved.services).map(([name, service]) => [name, service.image]));

  const built = await temporalServerVersion(temporalServerBuild(requireEnv('TEMPORAL_SERVER_DIR')));
  expect(images.temporal).toBe(`temporalio/server:${built}`);
  // The schema one-shot's temporal-sql-tool must migrate to the schema this server expects.
  expect(images['temporal-schema']).toBe(`temporalio/admin-tools:${built}`);
  expect(images['temporal-setup']).toBe(`temporalio/admin-tools:${built}`);
});
