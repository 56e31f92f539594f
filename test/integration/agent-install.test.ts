/**
 * The served install script (issue 15), run as root on an "agent host" that is a temporary
 * directory: no checkout, no node_modules, a PATH without `decnet`, the layout overrides the script
 * documents, and a test supervisor in place of systemctl that records its calls and really starts
 * the unit's ExecStart in the background. The installed agent heartbeats over mTLS, the script
 * says "enrolled and live", the master's deploy runs there. A tampered artefact and a host whose
 * Docker engine does not answer are refused before anything is installed.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import semver from 'semver';
import { buildAgentArtefact, type BuiltArtefact } from '../../scripts/build-agent';
import { LABELS } from '../../src/domain/compose-render';
import { DECNET_VERSION } from '../../src/domain/version';
import { EnrollmentToken } from '../../src/entities';
import { hashEnrollmentToken } from '../../src/swarm/enrollment';
import { curlPinned, parseEnrollCommand, removeComposeProject } from '../support/agents';
import { apiClient, waitForTerminal, type ApiClient } from '../support/http';
import { createTestStack, freePort, type TestStack } from '../support/master';

const execFileAsync = promisify(execFile);
const SLOT = 85;
const HEARTBEAT_MS = 2000;
/** Where docker and node live here, and nothing of this checkout. */
const PLAIN_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const PROJECT = `tinstall${SLOT}`;

let stack: TestStack;
let api: ApiClient;
let dir: string;
let built: BuiltArtefact;
const agentPids: string[] = [];

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('the install script runs as root: run this test as root');
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'decnet-install-test-'));
  built = await buildAgentArtefact(path.join(dir, 'build', 'decnet-agent.cjs'));
  stack = await createTestStack('agentinstall', SLOT, { DECNET_HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_MS), DECNET_AGENT_ARTEFACT: built.path });
  await stack.startMaster();
  api = apiClient(stack.api, stack.adminToken);
});

afterAll(async () => {
  for (const pid of agentPids) {
    try {
      process.kill(Number(pid), 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
  if (stack) await removeComposeProject(stack.docker, PROJECT);
  await stack?.cleanup();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

/** An agent host under `root`: where the script is told to install, and the test supervisor. */
async function agentHost(name: string) {
  const root = await fs.mkdtemp(path.join(dir, `${name}-`));
  const host = {
    root,
    configDir: path.join(root, 'etc', 'decnet'),
    systemdDir: path.join(root, 'etc', 'systemd', 'system'),
    installDir: path.join(root, 'usr', 'local', 'lib', 'decnet-agent'),
    binLink: path.join(root, 'usr', 'local', 'bin', 'decnet-agent'),
    supervisor: path.join(root, 'supervisor'),
    calls: path.join(root, 'supervisor.calls'),
    pidFile: path.join(root, 'agent.pid'),
    log: path.join(root, 'agent.log'),
    cwd: path.join(root, 'cwd'),
  };
  await fs.mkdir(host.cwd);
  // systemctl's part: records each call; `restart` stops the agent it started before and starts
  // the unit's ExecStart in the background, with the settings of this test's stack.
  const unit = path.join(host.systemdDir, 'decnet-agent.service');
  await fs.writeFile(
    host.supervisor,
    `#!/bin/sh
echo "$*" >> '${host.calls}'
[ "$1" = restart ] || exit 0
if [ -s '${host.pidFile}' ]; then
  old="$(cat '${host.pidFile}')"
  kill "$old" 2>/dev/null || true
  while kill -0 "$old" 2>/dev/null; do sleep 0.2; done
fi
command="$(sed -n 's/^ExecStart=//p' '${unit}')"
cd /
env DECNET_COMPOSE_PROJECT='${PROJECT}' DECNET_IMAGE_REGISTRY='${stack.env.DECNET_IMAGE_REGISTRY}' DECNET_IMAGE_TAG='${stack.env.DECNET_IMAGE_TAG}' DECNET_HEARTBEAT_INTERVAL_MS='${HEARTBEAT_MS}' $command >> '${host.log}' 2>&1 < /dev/null &
echo $! > '${host.pidFile}'
`,
    { mode: 0o755 },
  );
  return host;
}
type AgentHost = Awaited<ReturnType<typeof agentHost>>;

const hostEnv = (host: AgentHost, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  PATH: PLAIN_PATH,
  HOME: host.root,
  DECNET_AGENT_DIR: host.configDir,
  DECNET_SYSTEMD_DIR: host.systemdDir,
  DECNET_SYSTEMCTL: host.supervisor,
  DECNET_AGENT_INSTALL_DIR: host.installDir,
  DECNET_AGENT_BIN_LINK: host.binLink,
  ...extra,
});

async function enroll(name: string) {
  const res = await api.post('/swarm/enroll-bundle', { agent_name: name, master_host: '127.0.0.1', use_ipvlan: false, agent_port: await freePort() });
  expect(res.status).toBe(201);
  return res.body as { token: string; host_uuid: string; command: string };
}

/** The printed command's first half (curl with the pin) fetches the script; `sh` runs it as the second half would. */
async function runInstall(host: AgentHost, command: string, extra: NodeJS.ProcessEnv = {}) {
  const { scriptUrl, pin } = parseEnrollCommand(command);
  const script = path.join(host.cwd, 'install.sh');
  await curlPinned(scriptUrl, pin, script);
  try {
    const { stdout, stderr } = await execFileAsync('sh', [script], { cwd: host.cwd, env: hostEnv(host, extra), timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  } finally {
    await fs.rm(script);
  }
}

/** What the host holds apart from the test's own files: what the script installed. */
async function installed(host: AgentHost): Promise<string[]> {
  const own = new Set(['supervisor', 'cwd']);
  return (await fs.readdir(host.root)).filter((f) => !own.has(f));
}

const bundleFetched = async (token: string) =>
  (await stack.master!.orm.em.fork().findOneOrFail(EnrollmentToken, { tokenHash: hashEnrollmentToken(token) })).bundleFetchedAt;

async function hostRow(uuid: string) {
  const res = await api.get('/swarm/hosts');
  return (res.body.hosts as any[]).find((h) => h.uuid === uuid);
}

test('a host whose Docker engine does not answer: the script names it and its fix, installs nothing and leaves the bundle unfetched', async () => {
  const host = await agentHost('no-engine');
  const e = await enroll('inst-no-engine');
  const fakeDocker = path.join(host.root, 'cwd', 'docker-without-engine');
  await fs.writeFile(
    fakeDocker,
    '#!/bin/sh\necho "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2\nexit 1\n',
    { mode: 0o755 },
  );
  const run = await runInstall(host, e.command, { DECNET_DOCKER: fakeDocker });
  expect(run.code).toBe(1);
  expect(run.stderr).toContain(`decnet: missing: a Docker engine that answers (${fakeDocker} info: Cannot connect to the Docker daemon`);
  expect(run.stderr).toContain('  Debian/Ubuntu: systemctl enable --now docker (the engine: apt-get install -y docker.io)');
  expect(run.stderr).toContain('  RHEL family:   systemctl enable --now docker (the engine: dnf install -y moby-engine or docker-ce)');
  expect(run.stderr).toContain('decnet: nothing was installed');
  // Only the engine is missing here (compose v1 answers, node and ip are there).
  expect(run.stderr.match(/decnet: missing:/g)).toHaveLength(1);
  expect(await installed(host)).toEqual([]);
  expect(await fs.readFile(host.calls, 'utf8').catch(() => 'none')).toBe('none');
  expect(await bundleFetched(e.token)).toBeNull();
});

test('a tampered artefact (one byte changed) is refused by the sha256 the script carries, before anything is installed', async () => {
  const host = await agentHost('tampered');
  const e = await enroll('inst-tampered');
  const original = await fs.readFile(built.path);
  const originalSha = await fs.readFile(`${built.path}.sha256`);
  const { scriptUrl, pin } = parseEnrollCommand(e.command);
  const script = path.join(host.cwd, 'install.sh');
  await curlPinned(scriptUrl, pin, script);
  // After the script was served, the master's file changes by one byte (its .sha256 follows, so
  // the master serves it): only the sha256 written in the script catches it.
  const tampered = Buffer.from(original);
  tampered[tampered.length - 2] ^= 0x01;
  const tamperedSha = createHash('sha256').update(tampered).digest('hex');
  await fs.writeFile(built.path, tampered);
  await fs.writeFile(`${built.path}.sha256`, `${tamperedSha}  decnet-agent.cjs\n`);
  try {
    const run = await execFileAsync('sh', [script], { cwd: host.cwd, env: hostEnv(host) }).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => err,
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      `decnet: refused: the downloaded agent's sha256 is ${tamperedSha}, not ${built.sha256} as this script says; nothing was installed`,
    );
  } finally {
    await fs.writeFile(built.path, original);
    await fs.writeFile(`${built.path}.sha256`, originalSha);
  }
  expect(await installed(host)).toEqual([]);
  expect(await bundleFetched(e.token)).toBeNull();
});

describe('a fresh host: the served script installs the agent, which goes live and runs deckies', () => {
  let host: AgentHost;
  let hostUuid: string;
  let run: { code: number; stdout: string; stderr: string };

  beforeAll(async () => {
    host = await agentHost('fresh');
    const e = await enroll('inst-a');
    hostUuid = e.host_uuid;
    expect((await execFileAsync('sh', ['-c', 'command -v decnet || echo none'], { env: { PATH: PLAIN_PATH } })).stdout.trim()).toBe('none');
    run = await runInstall(host, e.command);
    const pid = await fs.readFile(host.pidFile, 'utf8').catch(() => '');
    if (pid) agentPids.push(pid.trim());
  });

  const explain = async () =>
    `exit ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}\nagent log:\n${await fs.readFile(host.log, 'utf8').catch(() => '')}`;

  test('the script installs the artefact, its link, the bundle and the unit, starts it and says "enrolled and live" once the master acknowledged it', async () => {
    expect({ code: run.code, out: run.code === 0 ? '' : await explain() }).toEqual({ code: 0, out: '' });
    expect(run.stdout).toContain(
      `decnet: agent "inst-a" ${DECNET_VERSION} installed: ${host.installDir}/decnet-agent.cjs (command ${host.binLink}), configuration in ${host.configDir}`,
    );
    expect(run.stdout.trimEnd().split('\n').at(-1)).toBe('decnet: agent "inst-a" enrolled and live (the master acknowledged its first heartbeat)');
    expect((await fs.readFile(host.calls, 'utf8')).trim().split('\n')).toEqual([
      'daemon-reload',
      'enable decnet-agent.service',
      'restart decnet-agent.service',
    ]);
    const unit = await fs.readFile(path.join(host.systemdDir, 'decnet-agent.service'), 'utf8');
    expect(unit).toContain(`ExecStart=/usr/bin/node ${host.installDir}/decnet-agent.cjs agent --config ${host.configDir}/decnet.ini\n`);
    expect(
      createHash('sha256')
        .update(await fs.readFile(path.join(host.installDir, 'decnet-agent.cjs')))
        .digest('hex'),
    ).toBe(built.sha256);
    expect(await fs.realpath(host.binLink)).toBe(path.join(host.installDir, 'decnet-agent.cjs'));
    const ack = JSON.parse(await fs.readFile(path.join(host.configDir, 'data', 'master-acknowledged.json'), 'utf8'));
    expect(ack).toMatchObject({ host_uuid: hostUuid, version: DECNET_VERSION, pid: Number(agentPids[0]) });
    expect(await hostRow(hostUuid)).toMatchObject({ status: 'active', agent_version: DECNET_VERSION, agent_outdated: false });
  });

  test("the master's deploy reaches the installed agent and its decky runs", async () => {
    const res = await api.post('/deckies/deploy', {
      network: { subnet: stack.lan.subnet, gateway: stack.lan.gateway, interface: stack.lan.parent },
      deckies: [{ name: 'inst-01', services: ['ssh'] }],
    });
    expect([res.status, res.body.error]).toEqual([202, undefined]);
    const [row] = await waitForTerminal(api, res.body.lifecycle_ids);
    expect([row.status, row.error, row.host_uuid]).toEqual(['succeeded', null, hostUuid]);
    const containers = await stack.docker.listContainers({ all: true, filters: { label: [`${LABELS.project}=${PROJECT}`, `${LABELS.decky}=inst-01`] } });
    expect(containers.map((c) => c.State)).toEqual(['running', 'running']);
    expect((await api.get('/deckies/inst-01')).body).toMatchObject({ state: 'running', host_uuid: hostUuid });
  });

  test('a new install command (reinstall) with a newer build upgrades the agent in place: the decky and the job store survive, the host row shows the new version', async () => {
    const containersBefore = await stack.docker.listContainers({ filters: { label: [`${LABELS.project}=${PROJECT}`, `${LABELS.decky}=inst-01`] } });
    const jobsDir = path.join(host.configDir, 'data', 'jobs');
    const jobsBefore = (await fs.readdir(jobsDir)).sort();
    expect(jobsBefore.length).toBeGreaterThan(0);
    const fingerprintBefore = (await hostRow(hostUuid)).client_cert_fingerprint;

    // The master is rebuilt as a newer version (the file it serves changes, as `npm run build:agent` does).
    const newer = semver.inc(DECNET_VERSION, 'patch')!;
    const rebuilt = await buildAgentArtefact(path.join(dir, 'rebuilt', 'decnet-agent.cjs'), newer);
    await fs.copyFile(`${rebuilt.path}.sha256`, `${built.path}.sha256`);
    await fs.copyFile(rebuilt.path, built.path);

    const res = await api.post('/swarm/enroll-bundle', { agent_name: 'inst-a', master_host: '127.0.0.1', reinstall: true });
    expect([res.status, res.body.host_uuid]).toEqual([201, hostUuid]);
    const previousPid = agentPids[0];
    run = await runInstall(host, res.body.command);
    const pid = (await fs.readFile(host.pidFile, 'utf8')).trim();
    agentPids.push(pid);
    expect({ code: run.code, out: run.code === 0 ? '' : await explain() }).toEqual({ code: 0, out: '' });
    expect(run.stdout).toContain(`decnet: agent "inst-a" ${newer} installed`);
    expect(run.stdout.trimEnd().split('\n').at(-1)).toBe('decnet: agent "inst-a" enrolled and live (the master acknowledged its first heartbeat)');
    expect(pid).not.toBe(previousPid);
    expect(() => process.kill(Number(previousPid), 0)).toThrow();
    expect((await fs.readFile(host.calls, 'utf8')).trim().split('\n').slice(3)).toEqual([
      'daemon-reload',
      'enable decnet-agent.service',
      'restart decnet-agent.service',
    ]);
    expect((await execFileAsync(process.execPath, [host.binLink, 'agent', '--version'], { env: { PATH: PLAIN_PATH } })).stdout.trim()).toBe(newer);

    const row = await hostRow(hostUuid);
    expect(row).toMatchObject({ status: 'active', agent_version: newer, agent_outdated: false });
    expect(row.client_cert_fingerprint).not.toBe(fingerprintBefore);
    // The decky was not touched (the same containers, still running) and the jobs are all there.
    const containersAfter = await stack.docker.listContainers({ filters: { label: [`${LABELS.project}=${PROJECT}`, `${LABELS.decky}=inst-01`] } });
    expect(containersAfter.map((c) => [c.Id, c.State]).sort()).toEqual(containersBefore.map((c) => [c.Id, 'running']).sort());
    expect((await fs.readdir(jobsDir)).sort()).toEqual(expect.arrayContaining(jobsBefore));
    expect((await api.get('/deckies/inst-01')).body).toMatchObject({ state: 'running', host_uuid: hostUuid });
  });
});
