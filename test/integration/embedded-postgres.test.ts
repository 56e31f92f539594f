/**
 * The embedded PostgreSQL's password: random per cluster, in a 0600 file beside it; a cluster
 * from an earlier version (superuser password `password`, no file) is moved to a random one.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { passwordFileOf } from '../../src/infra/embedded-postgres';
import { freePort } from '../support/master';
import { startPostgresProcess, tryPassword, type PostgresProcess } from '../support/postgres';

let dir: string;
let running: PostgresProcess | undefined;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'decnet-embedded-pg-'));
});

afterAll(async () => {
  await running?.stop();
  await fs.rm(dir, { recursive: true, force: true });
});

const start = (dataDir: string, port: number) => startPostgresProcess(dataDir, port, path.join(dir, 'postgres.log'));

async function setPassword(url: string, password: string): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  await client.query(`ALTER USER postgres PASSWORD '${password}'`);
  await client.end();
}

test('two clusters get different passwords, each in a 0600 file that the URL uses', async () => {
  const port = await freePort();
  const first = await start(path.join(dir, 'a'), port);
  const firstPassword = (await fs.readFile(passwordFileOf(path.join(dir, 'a')), 'utf8')).trim();
  await first.stop();
  running = await start(path.join(dir, 'b'), port);
  const file = passwordFileOf(path.join(dir, 'b'));
  expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
  const password = (await fs.readFile(file, 'utf8')).trim();
  expect(password).not.toBe(firstPassword);
  expect(decodeURIComponent(new URL(running.url).password)).toBe(password);
  expect(await tryPassword(port, password)).toBe('ok');
  expect(await tryPassword(port, 'password')).toBe('28P01');
  await running.stop();
  running = undefined;
}, 120_000);

test('a cluster of an earlier version (password `password`, no file) keeps working with a new random password', async () => {
  const port = await freePort();
  const dataDir = path.join(dir, 'legacy');
  // The state an earlier version left: the fixed password and no password file.
  const created = await start(dataDir, port);
  await setPassword(created.url, 'password');
  await created.stop();
  await fs.rm(passwordFileOf(dataDir));

  running = await start(dataDir, port);
  const password = (await fs.readFile(passwordFileOf(dataDir), 'utf8')).trim();
  expect((await fs.stat(passwordFileOf(dataDir))).mode & 0o777).toBe(0o600);
  expect(password).not.toBe('password');
  expect(await tryPassword(port, password)).toBe('ok');
  expect(await tryPassword(port, 'password')).toBe('28P01');
  expect(
    await fs.access(`${passwordFileOf(dataDir)}.pending`).then(
      () => true,
      () => false,
    ),
  ).toBe(false);

  // A start that crashed between writing the new password and renaming its file: the pending
  // password is already the server's, and the next start finishes the move.
  const pending = 'pendingpasswordfromacrashedstart';
  await setPassword(running.url, pending);
  await running.stop();
  await fs.rename(passwordFileOf(dataDir), `${passwordFileOf(dataDir)}.pending`);
  await fs.writeFile(`${passwordFileOf(dataDir)}.pending`, `${pending}\n`, { mode: 0o600 });
  running = await start(dataDir, port);
  expect((await fs.readFile(passwordFileOf(dataDir), 'utf8')).trim()).toBe(pending);
  expect(await tryPassword(port, pending)).toBe('ok');
}, 120_000);
