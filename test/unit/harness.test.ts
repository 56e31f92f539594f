import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import Docker from 'dockerode';
import { Client } from 'pg';
import { createDatabase } from '../../src/infra/embedded-postgres';
import { SEARCH_ATTRIBUTES } from '../../src/domain/workflow-ids';
import { createVethParent, deleteVethParent } from '../support/veth';

const execFileAsync = promisify(execFile);

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is unset: did jest's global setup run?`);
  return value;
}

describe('test harness', () => {
  it('creates a database of its own on the shared PostgreSQL', async () => {
    const adminUrl = requiredEnv('TEST_DATABASE_ADMIN_URL');
    const url = await createDatabase(adminUrl, 'harness_test');
    expect(await createDatabase(adminUrl, 'harness_test')).toBe(url);
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ db: string }>('SELECT current_database() AS db');
      expect(rows[0]?.db).toBe('harness_test');
    } finally {
      await client.end();
    }
  });

  it('has the search attributes registered on Temporal', async () => {
    const connection = await Connection.connect({ address: requiredEnv('TEMPORAL_ADDRESS') });
    try {
      const { customAttributes } = await connection.operatorService.listSearchAttributes({
        namespace: process.env.TEMPORAL_NAMESPACE ?? 'default',
      });
      expect(Object.keys(customAttributes ?? {})).toEqual(expect.arrayContaining(Object.keys(SEARCH_ATTRIBUTES)));
    } finally {
      await connection.close();
    }
  });

  it('has the fixture image of every service', async () => {
    const name = `${requiredEnv('TEST_IMAGE_REGISTRY')}/ssh:${requiredEnv('TEST_IMAGE_TAG')}`;
    const info = await new Docker().getImage(name).inspect();
    expect(info.Config.Cmd).toEqual(['/bin/sleep', 'infinity']);
  });

  it('creates and deletes veth parents idempotently', async () => {
    const name = 'dnharness0';
    await createVethParent(name);
    await createVethParent(name);
    const { stdout } = await execFileAsync('ip', ['-o', 'link', 'show', `${name}p`]);
    expect(stdout).toContain('state UP');
    await deleteVethParent(name);
    await deleteVethParent(name);
    await expect(execFileAsync('ip', ['link', 'show', name])).rejects.toThrow();
  });
});
