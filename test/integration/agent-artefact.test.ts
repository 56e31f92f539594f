/**
 * The agent artefact (issue 15): built by scripts/build-agent.ts, served by the master beside its
 * sha256 to the holder of a live enrollment token, and run with `node` alone from a directory with
 * no checkout and no node_modules, with a PATH without `decnet`: the agent heartbeats over mTLS,
 * reports its version (the host row shows it), takes the master's deploy and its decky runs.
 * Decommissioned, the installed agent removes itself; `decnet-agent agent uninstall` removes an
 * install (a recording `systemctl` stands in for systemd, which these machines lack).
 */
import { execFile, spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { extract } from 'tar';
import { buildAgentArtefact, type BuiltArtefact } from '../../scripts/build-agent';
import { LABELS } from '../../src/domain/compose-render';
import { DECNET_VERSION } from '../../src/domain/version';
import { EnrollmentToken } from '../../src/entities';
import { hashEnrollmentToken } from '../../src/swarm/enrollment';
import { fingerprintOf } from '../../src/swarm/pki';
import { agentRequest, curlPinned, masterCreds, parseEnrollCommand, removeComposeProject, type Creds } from '../support/agents';
import { apiClient, waitFor, waitForTerminal, type ApiClient } from '../support/http';
import { createTestStack, freePort, type TestStack } from '../support/master';
import { stop, type DecnetProcess } from '../support/process';

const execFileAsync = promisify(execFile);
const SLOT = 74;
const HEARTBEAT_MS = 2000;
/** Where docker lives here, and nothing of this checkout. */
const PLAIN_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

let stack: TestStack;
let api: ApiClient;
let dir: string;
let built: BuiltArtefact;
let master: Creds;
const running: DecnetProcess[] = [];
const projects: string[] = [];

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'decnet-artefact-test-'));
  built = await buildAgentArtefact(path.join(dir, 'build', 'decnet-agent.cjs'));
  stack = await createTestStack('agentartefact', SLOT, { DECNET_HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_MS), DECNET_AGENT_ARTEFACT: built.path });
  await stack.startMaster();
  api = apiClient(stack.api, stack.adminToken);
  master = await masterCreds(stack);
});

afterAll(async () => {
  for (const p of running) await stop(p);
  for (const project of projects) await removeComposeProject(stack.docker, project);
  await stack?.cleanup();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

/** An agent host's file system under `root`: the install layout and the overrides the install script honours. */
function hostLayout(root: string) {
  return {
    root,
    configDir: path.join(root, 'etc', 'decnet'),
    systemdDir: path.join(root, 'etc', 'systemd', 'system'),
    installDir: path.join(root, 'usr', 'local', 'lib', 'decnet-agent'),
    binLink: path.join(root, 'usr', 'local', 'bin', 'decnet-agent'),
    systemctl: path.join(root, 'systemctl'),
    systemctlCalls: path.join(root, 'systemctl.calls'),
  };
}
type HostLayout = ReturnType<typeof hostLayout>;

/** A stand-in for systemctl that records its arguments, one call a line. */
async function fakeSystemctl(layout: HostLayout) {
  await fs.writeFile(layout.systemctl, `#!/bin/sh\necho "$*" >> '${layout.systemctlCalls}'\n`, { mode: 0o755 });
}
const systemctlCalls = async (layout: HostLayout) => (await fs.readFile(layout.systemctlCalls, 'utf8').catch(() => '')).split('\n').filter(Boolean);

/** Only what a fresh agent host has: node by absolute path, a system PATH, the layout overrides. */
function hostEnv(layout: HostLayout, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: PLAIN_PATH,
    HOME: layout.root,
    DECNET_AGENT_DIR: layout.configDir,
    DECNET_SYSTEMD_DIR: layout.systemdDir,
    DECNET_SYSTEMCTL: layout.systemctl,
    DECNET_AGENT_INSTALL_DIR: layout.installDir,
    DECNET_AGENT_BIN_LINK: layout.binLink,
    ...extra,
  };
}

async function runArtefact(file: string, args: string[], env: NodeJS.ProcessEnv, cwd: string) {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [file, ...args], { env, cwd, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}

async function enroll(name: string, agentPort: number) {
  const res = await api.post('/swarm/enroll-bundle', { agent_name: name, master_host: '127.0.0.1', use_ipvlan: false, agent_port: agentPort });
  expect(res.status).toBe(201);
  return res.body as Enrollment;
}

interface Enrollment {
  token: string;
  host_uuid: string;
  command: string;
}

/**
 * GET …/{token}/{file} on the enrollment port, by curl with the master's key pinned as the printed
 * command does (`token` replaces the enrollment's, for refusals).
 */
async function download(e: Enrollment, file: string, token = e.token) {
  const { pin, scriptUrl } = parseEnrollCommand(e.command);
  const url = scriptUrl.replace(`${e.token}.sh`, `${token}/${file}`);
  const out = path.join(dir, `download-${randomUUID()}`);
  const { stdout } = await execFileAsync('curl', ['-sS', '--insecure', '--pinnedpubkey', pin, '-o', out, '-D', `${out}.headers`, '-w', '%{http_code}', url]);
  const body = await fs.readFile(out);
  const headers = new Map(
    (await fs.readFile(`${out}.headers`, 'utf8'))
      .split('\r\n')
      .filter((l) => l.includes(':'))
      .map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()] as const),
  );
  return { status: Number(stdout), headers, body, text: () => body.toString('utf8'), json: () => JSON.parse(body.toString('utf8')) };
}

async function hostRow(uuid: string) {
  const res = await api.get('/swarm/hosts');
  return (res.body.hosts as any[]).find((h) => h.uuid === uuid);
}

const exists = (p: string) =>
  fs.lstat(p).then(
    () => true,
    () => false,
  );

test('the build writes the artefact and its sha256 (sha256sum -c agrees); it runs with node alone from an empty directory', async () => {
  const content = await fs.readFile(built.path);
  expect(built).toMatchObject({ version: DECNET_VERSION, bytes: content.length, sha256: createHash('sha256').update(content).digest('hex') });
  expect(await fs.readFile(`${built.path}.sha256`, 'utf8')).toBe(`${built.sha256}  decnet-agent.cjs\n`);
  const check = await execFileAsync('sha256sum', ['-c', 'decnet-agent.cjs.sha256'], { cwd: path.dirname(built.path) });
  expect(check.stdout.trim()).toBe('decnet-agent.cjs: OK');

  const empty = await fs.mkdtemp(path.join(dir, 'empty-'));
  await fs.copyFile(built.path, path.join(empty, 'decnet-agent.cjs'));
  const env = { PATH: PLAIN_PATH };
  expect((await execFileAsync('sh', ['-c', 'command -v decnet || echo none'], { env })).stdout.trim()).toBe('none');
  expect(await runArtefact('decnet-agent.cjs', ['agent', '--version'], env, empty)).toEqual({ code: 0, stdout: `${DECNET_VERSION}\n`, stderr: '' });
  expect(await runArtefact('decnet-agent.cjs', ['--version'], env, empty)).toMatchObject({ code: 0, stdout: `${DECNET_VERSION}\n` });
  const noConfig = await runArtefact('decnet-agent.cjs', ['agent', '--config', path.join(empty, 'missing.ini')], env, empty);
  expect(noConfig).toMatchObject({ code: 1, stderr: expect.stringContaining('missing.ini') });
});

test('served with an enrollment token: the bytes the build hashed and their sha256; no token, a bad file name, an expired token or a missing build are refused', async () => {
  const e = await enroll('artefact-dl', await freePort());
  const res = await download(e, 'decnet-agent.cjs');
  expect([res.status, res.headers.get('x-decnet-agent-version'), res.headers.get('cache-control')]).toEqual([200, DECNET_VERSION, 'no-store']);
  expect(createHash('sha256').update(res.body).digest('hex')).toBe(built.sha256);
  const sha = await download(e, 'decnet-agent.cjs.sha256');
  expect([sha.status, sha.text()]).toEqual([200, `${built.sha256}  decnet-agent.cjs\n`]);

  expect((await download(e, 'decnet-agent.cjs', 'x'.repeat(43))).status).toBe(404);
  const wrongFile = await download(e, 'decnet.js');
  expect([wrongFile.status, wrongFile.json().error.message]).toEqual([404, expect.stringContaining('decnet-agent.cjs')]);

  // A build missing on the master, or changed after its sha256 was written: 503 saying what to do.
  await fs.rename(built.path, `${built.path}.aside`);
  const missing = await download(e, 'decnet-agent.cjs');
  expect([missing.status, missing.json().error]).toEqual([
    503,
    { code: 'agent_artefact_unavailable', message: expect.stringContaining('npm run build:agent') },
  ]);
  await fs.copyFile(`${built.path}.aside`, built.path);
  await fs.appendFile(built.path, '\n// one more line\n');
  const tampered = await download(e, 'decnet-agent.cjs');
  expect([tampered.status, tampered.json().error.message]).toEqual([503, expect.stringContaining('does not match')]);
  await fs.rename(`${built.path}.aside`, built.path);
  expect((await download(e, 'decnet-agent.cjs.sha256')).status).toBe(200);

  await stack.master!.orm.em.fork().nativeUpdate(EnrollmentToken, { tokenHash: hashEnrollmentToken(e.token) }, { expiresAt: new Date(Date.now() - 1000) });
  expect((await download(e, 'decnet-agent.cjs')).status).toBe(410);
});

describe('an agent host with nothing but node', () => {
  let layout: HostLayout;
  let hostUuid: string;
  let agentPort: number;
  let proc: DecnetProcess;
  let fingerprint: string;
  const project = `tartefact${SLOT}`;
  const agent = () => ({ name: 'artefact-a', port: agentPort, fingerprint });

  beforeAll(async () => {
    projects.push(project);
    layout = hostLayout(await fs.mkdtemp(path.join(dir, 'host-')));
    await fakeSystemctl(layout);
    agentPort = await freePort();
    const e = await enroll('artefact-a', agentPort);
    hostUuid = e.host_uuid;

    // What the install script does, with the overrides: artefact (checked) into the install dir
    // with its command link, bundle into the configuration directory, unit into the systemd dir.
    const artefact = (await download(e, 'decnet-agent.cjs')).body;
    const published = (await download(e, 'decnet-agent.cjs.sha256')).text().split(' ')[0];
    expect(createHash('sha256').update(artefact).digest('hex')).toBe(published);
    await fs.mkdir(layout.installDir, { recursive: true });
    await fs.writeFile(path.join(layout.installDir, 'decnet-agent.cjs'), artefact, { mode: 0o755 });
    await fs.mkdir(path.dirname(layout.binLink), { recursive: true });
    await fs.symlink(path.join(layout.installDir, 'decnet-agent.cjs'), layout.binLink);
    const command = parseEnrollCommand(e.command);
    await curlPinned(command.bundleUrl, command.pin, path.join(layout.root, 'bundle.tgz'));
    await fs.mkdir(layout.configDir, { recursive: true });
    await extract({ file: path.join(layout.root, 'bundle.tgz'), cwd: layout.configDir });
    await fs.mkdir(layout.systemdDir, { recursive: true });
    await fs.copyFile(path.join(layout.configDir, 'decnet-agent.service'), path.join(layout.systemdDir, 'decnet-agent.service'));
    fingerprint = fingerprintOf(await fs.readFile(path.join(layout.configDir, 'agent.pem'), 'utf8'));

    // No node_modules anywhere above the artefact: it cannot borrow this checkout's.
    for (let d = layout.installDir; d !== path.dirname(d); d = path.dirname(d)) expect([d, await exists(path.join(d, 'node_modules'))]).toEqual([d, false]);

    const logFile = path.join(layout.root, 'agent.log');
    const log = await fs.open(logFile, 'a');
    const env = hostEnv(layout, {
      DECNET_COMPOSE_PROJECT: project,
      DECNET_IMAGE_REGISTRY: stack.env.DECNET_IMAGE_REGISTRY,
      DECNET_IMAGE_TAG: stack.env.DECNET_IMAGE_TAG,
      DECNET_HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_MS),
    });
    // Started through the command link, from the host's root directory, as the unit would.
    const child = spawn(process.execPath, [layout.binLink, 'agent', '--config', path.join(layout.configDir, 'decnet.ini')], {
      cwd: layout.root,
      env,
      stdio: ['ignore', log.fd, log.fd],
    });
    proc = { child, exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))), logFile };
    running.push(proc);
    await log.close();
    await waitFor('the agent to answer /health', async () => ((await agentRequest(agent(), master, 'GET', '/health')).status === 200 ? true : undefined));
  });

  const agentLog = () => fs.readFile(path.join(layout.root, 'agent.log'), 'utf8');

  test('its /health and its heartbeats carry its version; the host row shows it, not outdated', async () => {
    expect((await agentRequest(agent(), master, 'GET', '/health')).body).toMatchObject({ status: 'ok', host_uuid: hostUuid, version: DECNET_VERSION });
    const row = await waitFor('the first heartbeat', async () => {
      const h = await hostRow(hostUuid);
      return h?.status === 'active' ? h : undefined;
    });
    expect(row).toMatchObject({ agent_version: DECNET_VERSION, agent_outdated: false });
  });

  test("the master's deploy reaches it and the decky runs there", async () => {
    const res = await api.post('/deckies/deploy', {
      network: { subnet: stack.lan.subnet, gateway: stack.lan.gateway, interface: stack.lan.parent },
      deckies: [{ name: 'art-01', services: ['ssh'] }],
    });
    expect([res.status, res.body.error]).toEqual([202, undefined]);
    const [row] = await waitForTerminal(api, res.body.lifecycle_ids);
    expect([row.status, row.error, row.host_uuid]).toEqual(['succeeded', null, hostUuid]);
    const containers = await stack.docker.listContainers({ all: true, filters: { label: [`${LABELS.project}=${project}`, `${LABELS.decky}=art-01`] } });
    expect(containers.map((c) => c.State)).toEqual(['running', 'running']);
    expect((await api.get('/deckies/art-01')).body).toMatchObject({ state: 'running', host_uuid: hostUuid });
  });

  test('decommissioned, the installed agent removes its decky, then its unit, itself and its configuration, and exits 0', async () => {
    const res = await api.delete(`/swarm/hosts/${hostUuid}`);
    expect(res.status).toBe(200);
    expect(res.body.agent_cleanup).toMatchObject({ reached: true, removed_deckies: ['art-01'] });
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([proc.exited, new Promise((r) => (timer = setTimeout(() => r('still running'), 30_000)))]);
    clearTimeout(timer);
    expect([code, code === 0 ? '' : await agentLog()]).toEqual([0, '']);
    // Only disabled: stopping its own unit would have killed it half-way.
    expect(await systemctlCalls(layout)).toEqual(['disable decnet-agent.service', 'daemon-reload']);
    for (const gone of [path.join(layout.systemdDir, 'decnet-agent.service'), layout.binLink, layout.installDir, layout.configDir]) {
      expect([gone, await exists(gone)]).toEqual([gone, false]);
    }
    expect(await agentLog()).toContain('agent uninstalled, exiting');
  });
});

describe('decnet-agent agent uninstall', () => {
  let layout: HostLayout;
  let artefact: string;

  beforeAll(async () => {
    layout = hostLayout(await fs.mkdtemp(path.join(dir, 'uninstall-')));
    await fakeSystemctl(layout);
    await fs.mkdir(layout.installDir, { recursive: true });
    artefact = path.join(layout.installDir, 'decnet-agent.cjs');
    await fs.copyFile(built.path, artefact);
    await fs.mkdir(path.dirname(layout.binLink), { recursive: true });
    await fs.symlink(artefact, layout.binLink);
    await fs.mkdir(path.join(layout.configDir, 'data', 'jobs'), { recursive: true });
    await fs.writeFile(
      path.join(layout.configDir, 'decnet.ini'),
      '[decnet]\nmode=agent\nipvlan=false\n[agent]\nname=edge-9\nmaster-host=10.0.0.2\nmaster-port=8770\nagent-port=8765\nhost-uuid=6f1c1a52-9a55-4f55-9d43-36b8e02c5f01\n' +
        `master-fingerprint=${'a'.repeat(64)}\nca-cert=ca.pem\ncert=agent.pem\nkey=agent-key.pem\n`,
    );
    await fs.writeFile(path.join(layout.configDir, 'data', 'jobs', 'j.json'), '{}');
    await fs.mkdir(layout.systemdDir, { recursive: true });
    await fs.writeFile(path.join(layout.systemdDir, 'decnet-agent.service'), '[Unit]\n');
  });

  test('stops and disables the unit, removes it, the command link, the artefact and the configuration; again, it finds nothing and succeeds', async () => {
    // Run from a copy elsewhere: the installed one is among what goes.
    const runner = path.join(layout.root, 'runner.cjs');
    await fs.copyFile(built.path, runner);
    const first = await runArtefact(runner, ['agent', 'uninstall'], hostEnv(layout), layout.root);
    expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: '' });
    expect(first.stdout.split('\n')).toEqual(
      expect.arrayContaining([
        'decnet: unit decnet-agent.service: stopped and disabled',
        `decnet: unit ${path.join(layout.systemdDir, 'decnet-agent.service')}: removed`,
        `decnet: command ${layout.binLink}: removed`,
        `decnet: artefact directory ${layout.installDir}: removed`,
        `decnet: configuration directory ${layout.configDir}: removed`,
        expect.stringMatching(/^decnet: the master lists host "edge-9" \(6f1c1a52-9a55-4f55-9d43-36b8e02c5f01\) until it is decommissioned there/),
        'decnet: agent uninstalled',
      ]),
    );
    expect(await systemctlCalls(layout)).toEqual(['disable --now decnet-agent.service', 'daemon-reload']);
    for (const gone of [path.join(layout.systemdDir, 'decnet-agent.service'), layout.binLink, layout.installDir, layout.configDir]) {
      expect([gone, await exists(gone)]).toEqual([gone, false]);
    }

    const again = await runArtefact(runner, ['agent', 'uninstall'], hostEnv(layout), layout.root);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`decnet: unit ${path.join(layout.systemdDir, 'decnet-agent.service')}: not there`);
    expect(again.stdout).toContain(`decnet: configuration directory ${layout.configDir}: not there`);
    expect(again.stdout).toContain('decnet: agent uninstalled');
    expect(await systemctlCalls(layout)).toHaveLength(2);
  });

  test('leaves a directory that is not what the install wrote, and says so; without systemctl it says what to do', async () => {
    const elsewhere = await fs.mkdtemp(path.join(dir, 'not-agent-'));
    await fs.writeFile(path.join(elsewhere, 'keep.txt'), 'mine');
    await fs.mkdir(layout.systemdDir, { recursive: true });
    await fs.writeFile(path.join(layout.systemdDir, 'decnet-agent.service'), '[Unit]\n');
    const run = await runArtefact(
      built.path,
      ['agent', 'uninstall'],
      hostEnv(layout, { DECNET_AGENT_DIR: elsewhere, DECNET_SYSTEMCTL: path.join(layout.root, 'no-systemctl') }),
      layout.root,
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`decnet: configuration directory ${elsewhere}: left in place, it holds no decnet.ini`);
    expect(run.stdout).toMatch(/no-systemctl not found: no systemd here\? stop the agent where it is supervised/);
    expect(await fs.readFile(path.join(elsewhere, 'keep.txt'), 'utf8')).toBe('mine');
    expect(await exists(path.join(layout.systemdDir, 'decnet-agent.service'))).toBe(false);
  });
});
