/**
 * temporal-dev.yml: Compose itself accepts it (`docker compose config`, or `docker-compose config`
 * where only v1 exists), and what it resolves to is Temporal on PostgreSQL set up the current way.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { SEARCH_ATTRIBUTES } from '../../src/domain/workflow-ids';

const execFileAsync = promisify(execFile);
const FILE = path.resolve(__dirname, '../../temporal-dev.yml');

async function composeConfig(): Promise<{ tool: string; stdout: string }> {
  const env = { ...process.env, COMPOSE_PROJECT_NAME: 'decnet-temporal-dev-check' };
  try {
    await execFileAsync('docker', ['compose', 'version'], { env });
    return { tool: 'docker compose', stdout: (await execFileAsync('docker', ['compose', '-f', FILE, 'config'], { env })).stdout };
  } catch (err) {
    // No v2 plugin: Debian's docker-compose v1 (scripts/setup.sh installs it).
    if ((err as { cmd?: string }).cmd?.includes('config')) throw err;
    return { tool: 'docker-compose', stdout: (await execFileAsync('docker-compose', ['-f', FILE, 'config'], { env })).stdout };
  }
}

test('temporal-dev.yml validates with compose and sets Temporal up on PostgreSQL without auto-setup', async () => {
  const { tool, stdout } = await composeConfig();
  const config = parse(stdout) as { services: Record<string, any>; volumes?: Record<string, unknown> };
  const services = config.services;
  expect([tool, Object.keys(services).sort()]).toEqual([tool, ['postgresql', 'temporal', 'temporal-schema', 'temporal-setup', 'temporal-ui']]);

  const image = (name: string) => String(services[name].image).split(':')[0];
  expect(image('temporal')).toBe('temporalio/server');
  expect(image('temporal-schema')).toBe('temporalio/admin-tools');
  expect(image('temporal-setup')).toBe('temporalio/admin-tools');
  expect(image('temporal-ui')).toBe('temporalio/ui');
  expect(stdout).not.toContain('auto-setup');

  // The schema one-shot creates and migrates both databases before the server starts.
  const schema = [services['temporal-schema'].entrypoint, services['temporal-schema'].command].flat().join(' ');
  for (const needle of [
    'temporal-sql-tool',
    '--plugin postgres12',
    'create',
    'setup-schema',
    'update-schema',
    'temporal_visibility',
    '/etc/temporal/schema/postgresql/v12/',
  ]) {
    expect([needle, schema.includes(needle)]).toEqual([needle, true]);
  }
  expect(services.temporal.depends_on['temporal-schema'].condition).toBe('service_completed_successfully');
  expect(services.temporal.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql', VISIBILITY_DBNAME: 'temporal_visibility' });
  expect(services['temporal-schema'].depends_on.postgresql.condition).toBe('service_healthy');

  // The product's search attributes are registered once the server answers.
  const setup = [services['temporal-setup'].command].flat().join(' ');
  expect(setup).toContain(`for attr in ${Object.keys(SEARCH_ATTRIBUTES).join(' ')}; do`);
  expect(setup).toContain('search-attribute create');
  expect(services['temporal-setup'].depends_on.temporal.condition).toBe('service_healthy');

  // Published on loopback only; the UI where the dev server's is, away from the API's 8080.
  const ports = Object.values(services).flatMap((s: any) => s.ports ?? []);
  expect(ports.length).toBe(2);
  for (const port of ports) {
    const hostIp = typeof port === 'string' ? port.split(':')[0] : port.host_ip;
    expect(hostIp).toBe('127.0.0.1');
  }
  expect(JSON.stringify(services['temporal-ui'].ports)).toMatch(/8233/);
  expect(Object.keys(config.volumes ?? {})).toContain('temporal-postgres');
});
