/**
 * The operator CLI against a running stack: the real `decnet` binary as a child process (no TTY,
 * so progress comes as plain lines) talking HTTP to an in-process API and worker on real
 * Temporal, PostgreSQL and Docker.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createTestStack, requireEnv, type TestStack } from '../support/master';
import { apiClient, waitForTerminal, type ApiClient } from '../support/http';
import { cliEnvFor, runDecnet, type DecnetRun } from '../support/process';

let stack: TestStack;
let api: ApiClient;
let dir: string;
let home: string;

beforeAll(async () => {
  stack = await createTestStack('cli', 15);
  await stack.startMaster();
  api = apiClient(stack.api, stack.adminToken);
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'decnet-cli-test-'));
  // An empty home: no ~/.config/decnet/cli.json of the machine's user leaks into the tests.
  home = path.join(dir, 'home');
  await fs.mkdir(home);
});

afterAll(async () => {
  await stack?.cleanup();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

const cliEnv = (overrides: NodeJS.ProcessEnv = {}) => cliEnvFor(stack, home, overrides);

const cli = (args: string[], overrides?: NodeJS.ProcessEnv) => runDecnet(args, cliEnv(overrides));
const explain = (run: DecnetRun) => `exit ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`;

async function writeFile(name: string, content: string): Promise<string> {
  const file = path.join(dir, name);
  await fs.writeFile(file, content);
  return file;
}

const general = () => `[general]\nnet=${stack.lan.subnet}\ngw=${stack.lan.gateway}\ninterface=${stack.lan.parent}\n`;

test('deploy -f of a 3-decky INI waits, names each decky in its progress and exits 0', async () => {
  const file = await writeFile(
    'fleet.ini',
    `${general()}
[web]
ip=${stack.lan.ip(50)}
services=http,ftp

[ws]
archetype=windows-workstation
amount=2
`,
  );
  const run = await cli(['deploy', '-f', file]);
  expect({ code: run.code, out: explain(run) }).toEqual({ code: 0, out: expect.any(String) });
  for (const name of ['web', 'ws-01', 'ws-02']) {
    // Progress lines (one per change, not redrawn: stdout is a pipe), then the summary.
    expect(run.stdout).toMatch(new RegExp(`^${name}: deploy`, 'm'));
    expect(run.stdout).toMatch(new RegExp(`^${name}: verify ok$`, 'm'));
    expect(run.stdout).toMatch(new RegExp(`^\\[OK\\] ${name}$`, 'm'));
  }
  expect(run.stdout).not.toContain('\x1b[');
  expect(run.stdout).toMatch(/^accepted 3 decky\(ies\) for deploy/m);

  const web = await api.get('/deckies/web');
  expect(web.body).toMatchObject({ state: 'running', ip: stack.lan.ip(50) });
  // The CLI says who asked: its rows record trigger `cli`.
  expect(web.body.lifecycle[0]).toMatchObject({ operation: 'deploy', trigger: 'cli', status: 'succeeded' });
});

test('status lists the fleet, and one decky with its lifecycle rows', async () => {
  const fleet = await cli(['status']);
  expect(fleet.code).toBe(0);
  const lines = fleet.stdout.trim().split('\n');
  expect(lines[0]).toMatch(/^NAME\s+STATE\s+IP\s+SERVICES\s+LAST OPERATION$/);
  expect(lines.slice(1)).toEqual([
    expect.stringMatching(new RegExp(`^web\\s+running\\s+${stack.lan.ip(50).replace(/\./g, '\\.')}\\s+http,ftp\\s+deploy succeeded$`)),
    expect.stringMatching(/^ws-01\s+running\s+\S+\s+smb,rdp\s+deploy succeeded$/),
    expect.stringMatching(/^ws-02\s+running\s+\S+\s+smb,rdp\s+deploy succeeded$/),
  ]);

  const json = await cli(['status', '--json']);
  expect(json.code).toBe(0);
  expect(JSON.parse(json.stdout).deckies.map((d: any) => d.name)).toEqual(['web', 'ws-01', 'ws-02']);

  const one = await cli(['status', 'ws-01']);
  expect(one.code).toBe(0);
  expect(one.stdout).toMatch(/^state:\s+running$/m);
  expect(one.stdout).toMatch(/^services:\s+smb, rdp$/m);
  expect(one.stdout).toMatch(/^\S+\s+deploy\s+cli\s+succeeded\s+[0-9a-f-]{36}$/m);

  const unknown = await cli(['status', 'nope']);
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toContain('decky "nope" does not exist');
});

test('--json prints one document with the lifecycle ids and the final statuses', async () => {
  const file = await writeFile('fleet.json', JSON.stringify({ deckies: [{ name: 'db', services: ['ssh'] }] }));
  const run = await cli(['deploy', '-f', file, '--json']);
  expect(run.code).toBe(0);
  const doc = JSON.parse(run.stdout);
  expect(doc).toMatchObject({ mode: 'unihost', lifecycle_ids: [expect.any(String)] });
  expect(doc.rows).toEqual([expect.objectContaining({ id: doc.lifecycle_ids[0], decky_name: 'db', status: 'succeeded', trigger: 'cli', error: null })]);
});

test('a failing decky gives exit 1 and its error, the others still [OK]', async () => {
  const registry = requireEnv('TEST_IMAGE_REGISTRY');
  const tag = requireEnv('TEST_IMAGE_TAG');
  const missing = `${registry}/vnc:${tag}`;
  const keep = await stack.docker.getImage(missing).inspect();
  await stack.docker.getImage(missing).remove({ noprune: true });
  let run: DecnetRun;
  try {
    const file = await writeFile('failing.ini', `${general()}\n[good]\nservices=ssh\n\n[bad]\nservices=ssh,vnc\n`);
    run = await cli(['deploy', '-f', file]);
  } finally {
    await stack.docker.getImage(keep.Id).tag({ repo: missing.slice(0, missing.lastIndexOf(':')), tag });
  }
  expect(run.code).toBe(1);
  expect(run.stdout).toMatch(/^\[OK\] good$/m);
  expect(run.stdout).toMatch(new RegExp(`^\\[FAIL\\] bad: MissingImage: .*${missing.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`, 'm'));
  expect(run.stdout).toMatch(/^bad: compose_up failed: /m);
});

test('teardown waits and the decky is gone; --no-wait --json answers at once', async () => {
  const run = await cli(['teardown', 'bad']);
  expect({ code: run.code, out: explain(run) }).toEqual({ code: 0, out: expect.any(String) });
  expect(run.stdout).toMatch(/^bad: teardown/m);
  expect(run.stdout).toMatch(/^\[OK\] bad$/m);
  expect((await api.get('/deckies/bad')).status).toBe(404);

  const noWait = await cli(['teardown', 'good', '--no-wait', '--json']);
  expect(noWait.code).toBe(0);
  const { lifecycle_ids: ids } = JSON.parse(noWait.stdout);
  expect(ids).toHaveLength(1);
  const [row] = await waitForTerminal(api, ids);
  expect(row).toMatchObject({ operation: 'teardown', trigger: 'cli', status: 'succeeded' });
  expect((await api.get('/deckies/good')).status).toBe(404);

  const unknown = await cli(['teardown', 'good']);
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toContain('decky "good" does not exist');
});

test('usage errors exit 2', async () => {
  const noFile = await cli(['deploy']);
  expect(noFile.code).toBe(2);
  expect(noFile.stderr).toContain("required option '-f, --file <path>' not specified");

  const unreadable = await cli(['deploy', '-f', path.join(dir, 'missing.ini')]);
  expect(unreadable.code).toBe(2);
  expect(unreadable.stderr).toContain('cannot read the fleet file');

  const badJson = await cli(['deploy', '-f', await writeFile('bad.json', '{"deckies": [')]);
  expect(badJson.code).toBe(2);
  expect(badJson.stderr).toContain('not valid JSON');

  expect((await cli(['teardown'])).code).toBe(2);
  expect((await cli(['status', '--bogus'])).code).toBe(2);
  expect((await cli(['no-such-command'])).code).toBe(2);
});

test("an API refusal exits 1 and prints the API's message as worded", async () => {
  const ini = `${general()}\n[web]\nservices=ssh\n`;
  const direct = await api.post('/deckies/deploy', { ini_content: ini });
  expect(direct.status).toBe(409);
  const message: string = direct.body.error.message;

  const run = await cli(['deploy', '-f', await writeFile('clash.ini', ini)]);
  expect(run.code).toBe(1);
  expect(run.stderr).toBe(`error: ${message}\n`);
  expect(run.stdout).toBe('');

  const json = await cli(['deploy', '-f', path.join(dir, 'clash.ini'), '--json']);
  expect(json.code).toBe(1);
  expect(JSON.parse(json.stdout)).toEqual({ status: 409, error: expect.objectContaining({ code: direct.body.error.code, message }) });
});

test('swarm-deploy with no live swarm host exits 1 and deploys nothing', async () => {
  const before = (await api.get('/deckies')).body.deckies.length;
  const run = await cli(['swarm-deploy', '-f', await writeFile('swarm.ini', `${general()}\n[lone]\nservices=ssh\n`)]);
  expect(run.code).toBe(1);
  expect(run.stderr).toBe('error: no live swarm host: the master will deploy locally. Enroll a host (decnet enroll <name>) or use decnet deploy\n');
  expect((await api.get('/deckies')).body.deckies.length).toBe(before);
  expect((await cli(['swarm-deploy'])).code).toBe(2);
});

test('settings come from ~/.config/decnet/cli.json; the environment wins over it', async () => {
  const other = path.join(dir, 'other-home');
  await fs.mkdir(path.join(other, '.config', 'decnet'), { recursive: true });
  const configFile = path.join(other, '.config', 'decnet', 'cli.json');
  await fs.writeFile(configFile, JSON.stringify({ api_url: `http://127.0.0.1:${stack.config.apiPort}`, api_token: stack.adminToken }));
  const fromFile = await cli(['status', '--json'], { HOME: other, DECNET_API_URL: undefined, DECNET_API_TOKEN: undefined });
  expect({ code: fromFile.code, out: explain(fromFile) }).toEqual({ code: 0, out: expect.any(String) });
  expect(JSON.parse(fromFile.stdout).deckies.length).toBeGreaterThan(0);

  await fs.writeFile(configFile, JSON.stringify({ api_url: 'http://127.0.0.1:1', api_token: 'wrong' }));
  expect((await cli(['status'], { HOME: other })).code).toBe(0);
  const fileUrl = await cli(['status'], { HOME: other, DECNET_API_URL: undefined, DECNET_API_TOKEN: undefined });
  expect(fileUrl.code).toBe(1);
  expect(fileUrl.stderr).toContain('cannot reach the API at http://127.0.0.1:1');

  const noToken = await cli(['status'], { DECNET_API_TOKEN: undefined });
  expect(noToken.code).toBe(2);
  expect(noToken.stderr).toContain('no API token');
});

test('mutate replaces the services and waits; mutate-interval sets and clears the interval', async () => {
  const run = await cli(['mutate', 'db', '--services', 'ftp,telnet']);
  expect({ code: run.code, out: explain(run) }).toEqual({ code: 0, out: expect.any(String) });
  expect(run.stdout).toMatch(/^db: mutate/m);
  expect(run.stdout).toMatch(/^\[OK\] db$/m);
  const after = await api.get('/deckies/db');
  expect([...after.body.services].sort()).toEqual(['ftp', 'telnet']);
  expect(after.body.lifecycle[0]).toMatchObject({ operation: 'mutate', trigger: 'cli', status: 'succeeded' });

  const picked = await cli(['mutate', 'db', '--json']);
  expect(picked.code).toBe(0);
  expect(JSON.parse(picked.stdout).rows).toEqual([expect.objectContaining({ operation: 'mutate', status: 'succeeded' })]);
  expect([...(await api.get('/deckies/db')).body.services].sort()).not.toEqual(['ftp', 'telnet']);

  const unknownDecky = await cli(['mutate', 'nope']);
  expect(unknownDecky.code).toBe(1);
  expect(unknownDecky.stderr).toContain('decky "nope" does not exist');
  const unknownService = await cli(['mutate', 'db', '--services', 'no-such-service']);
  expect(unknownService.code).toBe(1);
  expect(unknownService.stderr).toContain('no-such-service');

  const every = await cli(['mutate-interval', 'db', '30m', '--json']);
  expect({ code: every.code, out: explain(every) }).toEqual({ code: 0, out: expect.any(String) });
  expect(JSON.parse(every.stdout)).toMatchObject({ mutate_interval: 30 });
  const off = await cli(['mutate-interval', 'db', 'off']);
  expect(off.code).toBe(0);
  expect(off.stdout).toBe('db: mutation off\n');
  const invalid = await cli(['mutate-interval', 'db', 'soon']);
  expect(invalid.code).toBe(1);
  expect(invalid.stderr).toMatch(/^error: .*mutate_interval/);
});
