/**
 * The swarm end to end: a `decnet up` master (a real process, so it can be SIGKILLed) and real
 * `decnet agent` processes enrolled through the API bundle flow, over real mTLS, sharing this
 * machine's dockerd under one compose project each and one LAN network (as hosts on one LAN).
 * Placement a,b,a,b,a; mutate and teardown through the agent; an agent or the master killed
 * mid-operation; orphans re-homed; ipvlan forced per host on the API and CLI paths; an agent
 * that never comes back.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LABELS, ROLES } from '../../src/domain/compose-render';
import { openOrm } from '../../src/db/orm';
import { DeckyLifecycle } from '../../src/entities';
import { createTestStack, type TestStack } from '../support/master';
import { apiClient, waitFor, waitForTerminal, type ApiClient } from '../support/http';
import { cliEnvFor, runDecnet, sigkill, spawnDecnet, stop, waitForServing, type DecnetProcess } from '../support/process';
import { recordHistories } from '../support/histories';
import { openEventStream } from '../support/fleet';
import { agentRequest, enrollAgent, masterCreds, removeAgentContainers, startAgent, waitForActive, type Creds, type TestAgent } from '../support/agents';

const RETRY_BUDGET_MS = 25_000;

let stack: TestStack;
let api: ApiClient;
let dir: string;
let master: Creds;
let masterProc: DecnetProcess | undefined;
const agents: Record<string, TestAgent> = {};
/** Workflows whose histories RECORD_HISTORIES=<change> saves for the replay test, by file name. */
const toRecord = new Map<string, string>();

beforeAll(async () => {
  stack = await createTestStack('swarmdispatch', 34, {
    // A stopped agent stays live for 3 intervals (15 s): long enough for the tests that stop it and
    // deploy at once to know where the deckies go.
    DECNET_HEARTBEAT_INTERVAL_MS: '5000',
    DECNET_AGENT_RETRY_BUDGET_MS: String(RETRY_BUDGET_MS),
    DECNET_AGENT_POLL_INTERVAL_MS: '2000',
    // Agents here stay stopped for minutes to show dispatch and the next deploy's re-homing;
    // failover (test/integration/swarm-failover.test.ts) would move their deckies meanwhile.
    DECNET_FAILOVER: 'off',
  });
  api = apiClient(stack.api, stack.adminToken);
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'decnet-swarm-dispatch-'));
  await startMasterProcess();
  master = await masterCreds(stack);
  for (const p of agentProjects()) await removeProject(p);
});

afterAll(async () => {
  if (masterProc) await recordHistories(toRecord);
  for (const a of Object.values(agents)) if (a.proc) await stop(a.proc);
  if (masterProc) await stop(masterProc);
  for (const p of agentProjects()) await removeProject(p);
  await stack?.cleanup();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

const agentProjects = () => ['a', 'b', 'c'].map((n) => `${stack.config.composeProject}-${n}`);

async function startMasterProcess() {
  masterProc = spawnDecnet(['up'], stack.env, path.join(stack.config.dataDir, 'up.log'));
  await waitForServing(masterProc, `${stack.api}/readyz`);
}

const removeProject = (project: string) => removeAgentContainers(stack.docker, project);

async function addAgent(name: string, useIpvlan: boolean): Promise<TestAgent> {
  const agent = await enrollAgent(stack, api, dir, {
    name,
    project: `${stack.config.composeProject}-${name}`,
    useIpvlan,
    // Every agent on this one engine joins the same LAN network, as hosts on one LAN would.
    env: { DECNET_LAN_NETWORK: `${stack.config.composeProject}_lan` },
  });
  agents[name] = agent;
  await startAgent(agent, master);
  // Live (deckies placed on it) from its first heartbeat, not from its download.
  await waitForActive(api, agent);
  return agent;
}

const projectContainers = (agent: TestAgent, decky?: string) =>
  stack.docker.listContainers({
    all: true,
    filters: { label: [`${LABELS.project}=${agent.project}`, ...(decky ? [`${LABELS.decky}=${decky}`] : [])] },
  });

const network = () => ({ subnet: stack.lan.subnet, gateway: stack.lan.gateway, interface: stack.lan.parent });
const stepNames = (row: any) => row.steps.map((s: { name: string }) => s.name);

async function deploy(deckies: Array<{ name: string; services: string[] }>) {
  const res = await api.post('/deckies/deploy', { network: network(), deckies });
  expect([res.status, res.body.error]).toEqual([202, undefined]);
  return res.body;
}

async function hostOf(name: string): Promise<string | null> {
  return (await api.get(`/deckies/${name}`)).body.host_uuid;
}

async function teardown(names: string[]) {
  const ids: string[] = [];
  for (const name of names) {
    const res = await api.delete(`/deckies/${name}`);
    expect(res.status).toBe(202);
    ids.push(...res.body.lifecycle_ids);
  }
  const rows = await waitForTerminal(api, ids);
  expect(rows.map((r) => [r.decky_name, r.status, r.error])).toEqual(rows.map((r) => [r.decky_name, 'succeeded', null]));
  return rows;
}

test('with no live host the master deploys locally', async () => {
  const res = await api.get('/system/deployment-mode');
  expect(res.body).toEqual({ mode: 'unihost', role: 'master', swarm_host_count: 0, message: 'will deploy locally' });
});

test('two agents enrolled from their bundles: the mode says swarm, "will shard across 2 hosts"', async () => {
  const a = await addAgent('a', false);
  await addAgent('b', false);
  const res = await api.get('/system/deployment-mode');
  expect(res.body).toEqual({ mode: 'swarm', role: 'master', swarm_host_count: 2, message: 'will shard across 2 hosts' });
  const hosts = (await api.get('/swarm/hosts')).body.hosts;
  expect(hosts.map((h: any) => [h.name, h.address])).toEqual([
    ['a', '127.0.0.1'],
    ['b', '127.0.0.1'],
  ]);
  expect(a.hostUuid).toBe(hosts[0].uuid);
});

test('5 deckies go a,b,a,b,a; every row succeeds through dispatch and agent_result; containers run under each agent', async () => {
  const ini = `[general]\nnet=${stack.lan.subnet}\ngw=${stack.lan.gateway}\ninterface=${stack.lan.parent}\n\n[sw]\nservices=ssh\namount=5\n`;
  const res = await api.post('/deckies/deploy', { ini_content: ini });
  expect(res.status).toBe(202);
  expect(res.body).toMatchObject({ mode: 'swarm', message: expect.stringContaining('will shard across 2 hosts') });
  const rows = await waitForTerminal(api, res.body.lifecycle_ids);
  expect(rows.map((r) => [r.decky_name, r.status, r.error])).toEqual(rows.map((r) => [r.decky_name, 'succeeded', null]));
  for (const row of rows) expect(stepNames(row)).toEqual(['render', 'dispatch', 'agent_result', 'schedule']);
  toRecord.set('swarm-deploy-succeeded', rows[0].workflow_id);

  const { a, b } = agents;
  const expected = [a, b, a, b, a];
  for (let i = 1; i <= 5; i++) {
    const name = `sw-0${i}`;
    const host = expected[i - 1];
    const view = (await api.get(`/deckies/${name}`)).body;
    expect([name, view.host_uuid, view.state]).toEqual([name, host.hostUuid, 'running']);
    const containers = await projectContainers(host, name);
    expect(containers.map((c) => c.State)).toEqual(['running', 'running']);
    const base = containers.find((c) => c.Labels[LABELS.role] === ROLES.base)!;
    expect(base.NetworkSettings.Networks[`${stack.config.composeProject}_lan`]?.IPAddress).toBe(view.ip);
  }
  expect((await projectContainers(a)).length).toBe(6);
  expect((await projectContainers(b)).length).toBe(4);
});

test('a decky whose containers its agent reports not running is degraded with the reason, and running again once they are, on the event stream too', async () => {
  // Only the agent's report here: no auto-heal restarting the container meanwhile (heal.test.ts heals).
  expect((await api.put('/deckies/sw-03/auto-heal', { auto_heal: false })).status).toBe(200);
  const stream = await openEventStream(stack.api, stack.adminToken, 'decky.sw-03.state');
  const service = (await projectContainers(agents.a, 'sw-03')).find((c) => c.Labels[LABELS.role] === ROLES.service)!;
  await stack.docker.getContainer(service.Id).stop({ t: 1 });
  const degraded = await waitFor(
    'sw-03 degraded',
    async () => {
      const view = (await api.get('/deckies/sw-03')).body;
      return view.state === 'degraded' ? view : undefined;
    },
    30_000,
  );
  expect(degraded.last_error).toMatch(new RegExp(`^container ${service.Labels[LABELS.service]} exited \\(\\d+\\)$`));
  await stack.docker.getContainer(service.Id).start();
  await waitFor('sw-03 running', async () => ((await api.get('/deckies/sw-03')).body.state === 'running' ? true : undefined), 30_000);
  // The heartbeat handler that wrote both verdicts publishes nothing: PostgreSQL announced them.
  await waitFor('the running event', async () => (stream.events.some((e) => e.data.state === 'running') ? true : undefined), 10_000);
  await stream.close();
  expect(stream.events.map((e) => [e.topic, e.data])).toEqual([
    ['decky.sw-03.state', { name: 'sw-03', state: 'degraded', reason: degraded.last_error }],
    ['decky.sw-03.state', { name: 'sw-03', state: 'running', reason: null }],
  ]);
  expect((await api.put('/deckies/sw-03/auto-heal', { auto_heal: null })).status).toBe(200);
});

test('mutate of a swarm decky goes through its agent: new services, same base container', async () => {
  const { b } = agents;
  const before = (await projectContainers(b, 'sw-02')).find((c) => c.Labels[LABELS.role] === ROLES.base)!;
  const res = await api.post('/deckies/sw-02/mutate', { services: ['ftp', 'telnet'] });
  expect(res.status).toBe(202);
  const [row] = await waitForTerminal(api, res.body.lifecycle_ids);
  expect([row.status, row.error, stepNames(row)]).toEqual(['succeeded', null, ['render', 'dispatch', 'agent_result']]);
  toRecord.set('swarm-mutate-succeeded', row.workflow_id);
  const after = await projectContainers(b, 'sw-02');
  expect(after.find((c) => c.Labels[LABELS.role] === ROLES.base)!.Id).toBe(before.Id);
  expect(
    after
      .filter((c) => c.Labels[LABELS.role] === ROLES.service)
      .map((c) => c.Labels[LABELS.service])
      .sort(),
  ).toEqual(['ftp', 'telnet']);
  expect((await api.get('/deckies/sw-02')).body.services).toEqual(['ftp', 'telnet']);
});

test('teardown of a swarm decky goes through its agent', async () => {
  toRecord.set('swarm-teardown-succeeded', (await teardown(['sw-05']))[0].workflow_id);
  expect(await projectContainers(agents.a, 'sw-05')).toEqual([]);
  expect((await api.get('/deckies/sw-05')).status).toBe(404);
});

test("a decky's custom service reaches its agent through dispatch and runs there with its argv; a mutation through the agent keeps it", async () => {
  const argv = ['/bin/sh', '-c', 'exec sleep "$0"', '3600'];
  const image = `${process.env.TEST_IMAGE_REGISTRY}/base:${process.env.TEST_IMAGE_TAG}`;
  const res = await api.post('/deckies/deploy', {
    network: network(),
    deckies: [{ name: 'byo', services: ['ssh', 'tarpit'] }],
    custom_services: { tarpit: { image, exec: argv } },
  });
  expect(res.status).toBe(202);
  const [row] = await waitForTerminal(api, res.body.lifecycle_ids);
  expect([row.status, row.error, stepNames(row)]).toEqual(['succeeded', null, ['render', 'dispatch', 'agent_result', 'schedule']]);
  const host = Object.values(agents).find((a) => a.hostUuid === row.host_uuid)!;
  const runsArgv = async () => {
    const containers = await projectContainers(host, 'byo');
    const base = containers.find((c) => c.Labels[LABELS.role] === ROLES.base)!;
    const tarpit = await stack.docker.getContainer(containers.find((c) => c.Labels[LABELS.service] === 'tarpit')!.Id).inspect();
    expect([tarpit.State.Running, tarpit.Config.Cmd, tarpit.HostConfig.NetworkMode]).toEqual([true, argv, `container:${base.Id}`]);
    return tarpit.Id;
  };
  const before = await runsArgv();

  const mutated = await api.post('/deckies/byo/mutate', {});
  const [mutation] = await waitForTerminal(api, mutated.body.lifecycle_ids);
  expect([mutation.status, mutation.error]).toEqual(['succeeded', null]);
  expect((await api.get('/deckies/byo')).body.services[0]).toBe('tarpit');
  expect(await runsArgv()).toBe(before);
  await teardown(['byo']);
});

test('an agent SIGKILLed mid-deploy and started again finishes its rows', async () => {
  const { a, b } = agents;
  const body = await deploy([
    { name: 'sw-06', services: ['ssh', 'http'] },
    { name: 'sw-07', services: ['ssh'] },
  ]);
  const [onA] = body.lifecycle_ids;
  // Kill as soon as agent a holds the job on disk.
  await waitFor('agent a to take the job', () => fs.access(path.join(a.bundleDir, 'data', 'jobs', `${onA}.json`)).then(() => true), 60_000);
  await sigkill(a.proc!);
  await startAgent(a, master);
  const rows = await waitForTerminal(api, body.lifecycle_ids);
  expect(rows.map((r) => [r.decky_name, r.status, r.error])).toEqual([
    ['sw-06', 'succeeded', null],
    ['sw-07', 'succeeded', null],
  ]);
  expect([await hostOf('sw-06'), await hostOf('sw-07')]).toEqual([a.hostUuid, b.hostUuid]);
  expect((await projectContainers(a, 'sw-06')).length).toBe(3);
});

test('the master SIGKILLed mid swarm deploy: the agent finishes meanwhile, the restarted master ends the row succeeded', async () => {
  const { a } = agents;
  const body = await deploy([{ name: 'sw-08', services: ['ssh'] }]);
  const [id] = body.lifecycle_ids;
  await waitFor('the dispatch step', async () => {
    const [row] = (await api.get(`/deckies/lifecycle?ids=${id}`)).body.rows;
    return row.steps.some((s: any) => s.name === 'dispatch') ? row : undefined;
  });
  await sigkill(masterProc!);
  // The agent finishes while nobody can hear it; its result waits, unacknowledged.
  const job = await waitFor('the agent to finish sw-08', async () => {
    const res = await agentRequest(a, master, 'GET', `/jobs/${id}`);
    return res.body.status === 'succeeded' ? res.body : undefined;
  });
  expect(job.result_acknowledged).toBe(false);
  await startMasterProcess();
  const [row] = await waitForTerminal(api, [id]);
  expect([row.status, row.error, stepNames(row)]).toEqual(['succeeded', null, ['render', 'dispatch', 'agent_result', 'schedule']]);
  toRecord.set('swarm-deploy-master-killed', row.workflow_id);
  await waitFor('the result to be acknowledged', async () =>
    (await agentRequest(a, master, 'GET', `/jobs/${id}`)).body.result_acknowledged ? true : undefined,
  );
});

test('deckies of a decommissioned host are re-homed to a live host by the next deploy and run there', async () => {
  const { a, b } = agents;
  expect((await api.delete(`/swarm/hosts/${b.hostUuid}`)).status).toBe(200);
  // The host is gone: its agent and containers with it.
  await stop(b.proc!);
  await removeProject(b.project);
  const body = await deploy([{ name: 'sw-09', services: ['ssh'] }]);
  expect(body.message).toContain('3 orphan(s) re-homed');
  expect(body.message).toContain('will shard across 1 host');
  expect(body.deckies).toEqual(['sw-09', 'sw-02', 'sw-04', 'sw-07']);
  const rows = await waitForTerminal(api, body.lifecycle_ids);
  expect(rows.map((r) => [r.decky_name, r.status, r.error, r.host_uuid])).toEqual(rows.map((r) => [r.decky_name, 'succeeded', null, a.hostUuid]));
  for (const name of ['sw-02', 'sw-04', 'sw-07', 'sw-09']) {
    expect(await hostOf(name)).toBe(a.hostUuid);
    expect((await projectContainers(a, name)).every((c) => c.State === 'running')).toBe(true);
  }
  expect((await projectContainers(a, 'sw-02')).map((c) => c.Labels[LABELS.service] ?? 'base').sort()).toEqual(['base', 'ftp', 'telnet']);
});

test('a use_ipvlan host gets ipvlan in its shard and network request (the kernel refuses it, the row says so, naming the host); the other host stays macvlan', async () => {
  await teardown(['sw-01', 'sw-02', 'sw-03', 'sw-04', 'sw-06', 'sw-07', 'sw-08', 'sw-09']);
  const { a } = agents;
  const c = await addAgent('c', true);
  // Agent a is down: its decky waits in dispatch (retried) while c's ipvlan attempt plays out alone.
  await stop(a.proc!);
  const body = await deploy([
    { name: 'x1', services: ['ssh'] },
    { name: 'x2', services: ['ssh'] },
  ]);
  expect([await hostOf('x1'), await hostOf('x2')]).toEqual([a.hostUuid, c.hostUuid]);
  const [x2] = await waitForTerminal(api, [body.lifecycle_ids[1]], 120_000);
  expect(x2.status).toBe('failed');
  expect(x2.error).toMatch(/^AgentJobFailed: swarm host "c": x2: IpvlanUnsupported: this host's kernel does not support ipvlan/);
  expect(x2.error).toMatch(/operation not supported/);
  expect(x2.steps[0].detail).toMatch(/ipvlan on \S+ \(forced: the host uses ipvlan\); on swarm host "c"/);
  const job = (await agentRequest(c, master, 'GET', `/jobs/${x2.id}`)).body;
  expect(job.notes).toEqual([]); // the master already sent ipvlan: nothing for the agent to upgrade

  await startAgent(a, master);
  const [x1] = await waitForTerminal(api, [body.lifecycle_ids[0]], 120_000);
  expect([x1.status, x1.error]).toEqual(['succeeded', null]);
  expect(x1.steps[0].detail).toMatch(/^services ssh; macvlan on \S+; on swarm host "a"$/);
  expect((await stack.docker.getNetwork(`${stack.config.composeProject}_lan`).inspect()).Driver).toBe('macvlan');
});

test('decnet swarm-deploy: the same shards (ipvlan forced on c, macvlan on a), the same outcome, exit 1', async () => {
  await teardown(['x1', 'x2']);
  const { a } = agents;
  await stop(a.proc!);
  const fleet = path.join(dir, 'fleet.ini');
  await fs.writeFile(
    fleet,
    `[general]\nnet=${stack.lan.subnet}\ngw=${stack.lan.gateway}\ninterface=${stack.lan.parent}\n\n[y1]\nservices=ssh\n\n[y2]\nservices=ssh\n`,
  );
  const cli = runDecnet(['swarm-deploy', '-f', fleet], cliEnvFor(stack, dir));
  await waitFor('y2 to fail on c', async () => ((await api.get('/deckies/y2')).body.last_lifecycle?.status === 'failed' ? true : undefined), 120_000);
  await startAgent(a, master);
  const run = await cli;
  expect(run.code).toBe(1);
  // The placement the API answered: one row per decky (NAME IP SERVICES DISTRO HOST DRIVER).
  expect(run.stdout).toMatch(/^y1 +198\.18\.34\.\d+ +ssh +\S+ +a +macvlan$/m);
  expect(run.stdout).toMatch(/^y2 +198\.18\.34\.\d+ +ssh +\S+ +c +ipvlan \(forced: the host uses ipvlan\)$/m);
  const y1 = (await api.get('/deckies/y1')).body.last_lifecycle;
  const y2 = (await api.get('/deckies/y2')).body.last_lifecycle;
  expect([y1.status, y1.trigger]).toEqual(['succeeded', 'cli']);
  expect(y2.error).toMatch(/^AgentJobFailed: swarm host "c": y2: IpvlanUnsupported/);
});

test('an agent killed after taking its job that never comes back: polling fails the row within the budget, naming the host', async () => {
  const { a } = agents;
  const body = await deploy([{ name: 'z0', services: ['ssh', 'http', 'ftp'] }]);
  const [id] = body.lifecycle_ids;
  await waitFor('agent a to take the job', () => fs.access(path.join(a.bundleDir, 'data', 'jobs', `${id}.json`)).then(() => true), 60_000);
  await sigkill(a.proc!);
  const [row] = await waitForTerminal(api, [id], RETRY_BUDGET_MS + 60_000);
  expect(row.status).toBe('failed');
  expect(row.error).toMatch(/^AgentUnreachable: swarm host "a" unreachable for \d+ s while running job /);
  expect(stepNames(row)).toEqual(['render', 'dispatch', 'agent_result']);
});

test('an agent that never comes back: its row fails within the retry budget naming the host; no row stays running', async () => {
  const { a } = agents;
  // Back for a moment (it turns active again), then gone for good right after.
  await startAgent(a, master);
  await waitForActive(api, a);
  await stop(a.proc!);
  const started = Date.now();
  const body = await deploy([{ name: 'z1', services: ['ssh'] }]);
  expect(await hostOf('z1')).toBe(a.hostUuid);
  const [row] = await waitForTerminal(api, body.lifecycle_ids, RETRY_BUDGET_MS + 60_000);
  expect(Date.now() - started).toBeLessThan(RETRY_BUDGET_MS + 30_000);
  expect(row.status).toBe('failed');
  expect(row.error).toMatch(/^AgentUnreachable: gave up on swarm host "a" after \d+ attempt\(s\)/);
  expect(stepNames(row)).toEqual(['render', 'dispatch']);
  toRecord.set('swarm-deploy-agent-unreachable', row.workflow_id);
  const orm = await openOrm(stack.databaseUrl);
  expect(await orm.em.fork().count(DeckyLifecycle, { status: { $in: ['pending', 'running'] } })).toBe(0);
  await orm.close(true);
});
