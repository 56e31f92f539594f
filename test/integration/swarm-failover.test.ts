/**
 * Host failover with fencing (architecture.md §8), with real `decnet agent` processes over mTLS on this
 * machine's dockerd, sharing one LAN network as hosts on one LAN do. Agent a runs two deckies and
 * goes silent (SIGSTOP); past the failover delay its deckies are re-homed to b by `failover` rows
 * and run there; on SIGCONT agent a removes its stale deckies before the master hears it as live
 * again. Throughout, no LAN IP is held by two running containers.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LABELS, ROLES } from '../../src/domain/compose-render';
import { openOrm } from '../../src/db/orm';
import { Decky, DeckyLifecycle } from '../../src/entities';
import { createTestStack, type TestStack } from '../support/master';
import { apiClient, waitFor, waitForTerminal, type ApiClient } from '../support/http';
import { stop } from '../support/process';
import { agentContainers, enrollAgent, masterCreds, removeAgentContainers, startAgent, waitForActive, type Creds, type TestAgent } from '../support/agents';

const SLOT = 81;
const HEARTBEAT_MS = 2000;
const FAILOVER_DELAY_MS = 4000;

let stack: TestStack;
let api: ApiClient;
let dir: string;
let master: Creds;
const agents: Record<string, TestAgent> = {};

const lanName = () => `${stack.config.composeProject}_lan`;
const agentProjects = () => ['a', 'b'].map((n) => `${stack.config.composeProject}-${n}`);

beforeAll(async () => {
  stack = await createTestStack('failover', SLOT, {
    DECNET_HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_MS),
    DECNET_FAILOVER_DELAY_MS: String(FAILOVER_DELAY_MS),
    DECNET_AGENT_RETRY_BUDGET_MS: '20000',
    DECNET_AGENT_POLL_INTERVAL_MS: '1000',
  });
  api = apiClient(stack.api, stack.adminToken);
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'decnet-failover-'));
  for (const p of agentProjects()) await removeProject(p);
  await stack.startMaster();
  master = await masterCreds(stack);
});

afterAll(async () => {
  for (const a of Object.values(agents)) if (a.proc?.child.exitCode === null) process.kill(a.proc.child.pid!, 'SIGCONT');
  for (const a of Object.values(agents)) if (a.proc) await stop(a.proc);
  for (const p of agentProjects()) await removeProject(p);
  await stack?.cleanup();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

const removeProject = (project: string) => removeAgentContainers(stack.docker, project);

async function addAgent(name: string): Promise<TestAgent> {
  const agent = await enrollAgent(stack, api, dir, {
    name,
    project: `${stack.config.composeProject}-${name}`,
    useIpvlan: false,
    env: { DECNET_LAN_NETWORK: lanName() },
  });
  agents[name] = agent;
  await startAgent(agent, master);
  await waitForActive(api, agent);
  return agent;
}

const projectContainers = (agent: TestAgent) => agentContainers(stack.docker, agent);

/**
 * Polls the engine every 100 ms: every running container's address on the LAN network. Records
 * each moment an address is held by two running containers.
 */
function watchLanAddresses() {
  const doubles: string[] = [];
  let polls = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const containers = await stack.docker.listContainers({ filters: { status: ['running'] } });
      const holders = new Map<string, string[]>();
      for (const c of containers) {
        const ip = c.NetworkSettings?.Networks?.[lanName()]?.IPAddress;
        if (ip) holders.set(ip, [...(holders.get(ip) ?? []), c.Names[0]]);
      }
      for (const [ip, names] of holders) if (names.length > 1) doubles.push(`${ip}: ${names.join(', ')}`);
      polls++;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { doubles, polls };
    },
  };
}

test('a host silent past the failover delay: its deckies are re-homed and run elsewhere; back, its agent removes its stale deckies before it is live again; no IP twice on the LAN', async () => {
  const a = await addAgent('a');
  const network = { subnet: stack.lan.subnet, gateway: stack.lan.gateway, interface: stack.lan.parent };
  const deployed = await api.post('/deckies/deploy', {
    network,
    deckies: [
      { name: 'fo-1', services: ['ssh'] },
      { name: 'fo-2', services: ['ssh', 'http'] },
    ],
  });
  expect(deployed.status).toBe(202);
  const first = await waitForTerminal(api, deployed.body.lifecycle_ids);
  expect(first.map((r) => [r.decky_name, r.status, r.host_uuid])).toEqual([
    ['fo-1', 'succeeded', a.hostUuid],
    ['fo-2', 'succeeded', a.hostUuid],
  ]);
  const b = await addAgent('b');
  const ips = Object.fromEntries(await Promise.all(['fo-1', 'fo-2'].map(async (n) => [n, (await api.get(`/deckies/${n}`)).body.ip as string])));

  const lan = watchLanAddresses();
  try {
    // Host a goes silent: its agent is frozen and its link to the LAN goes down with it (on one
    // engine the LAN's addresses are shared, so a's containers must let go of theirs for b to take
    // them, as two machines on one LAN would not have to).
    process.kill(a.proc!.child.pid!, 'SIGSTOP');
    const frozenAt = Date.now();
    for (const c of await projectContainers(a)) {
      if (c.Labels[LABELS.role] === ROLES.base) await stack.docker.getNetwork(lanName()).disconnect({ Container: c.Id, Force: true });
    }
    expect((await projectContainers(a)).filter((c) => c.State === 'running')).toHaveLength(5);

    // Past 3 silent intervals and the failover delay: one `failover` row per decky, on b.
    const rows = await waitFor('failover rows for fo-1 and fo-2', async () => {
      const last = await Promise.all(['fo-1', 'fo-2'].map(async (n) => (await api.get(`/deckies/${n}`)).body.last_lifecycle));
      return last.every((r) => r?.trigger === 'failover') ? last : undefined;
    });
    const failedOverAfter = Date.now() - frozenAt;
    expect(failedOverAfter).toBeGreaterThanOrEqual(3 * HEARTBEAT_MS + FAILOVER_DELAY_MS - HEARTBEAT_MS);
    const done = await waitForTerminal(
      api,
      rows.map((r) => r.id),
    );
    expect(done.map((r) => [r.decky_name, r.operation, r.trigger, r.status, r.error, r.host_uuid])).toEqual([
      ['fo-1', 'deploy', 'failover', 'succeeded', null, b.hostUuid],
      ['fo-2', 'deploy', 'failover', 'succeeded', null, b.hostUuid],
    ]);
    for (const name of ['fo-1', 'fo-2']) {
      const view = (await api.get(`/deckies/${name}`)).body;
      expect([view.host_uuid, view.state, view.ip]).toEqual([b.hostUuid, 'running', ips[name]]);
    }
    const onB = await projectContainers(b);
    expect(onB.filter((c) => c.State === 'running')).toHaveLength(5);
    expect(
      onB
        .filter((c) => c.Labels[LABELS.role] === ROLES.base)
        .map((c) => c.NetworkSettings.Networks[lanName()]?.IPAddress)
        .sort(),
    ).toEqual([ips['fo-1'], ips['fo-2']].sort());
    const orm = await openOrm(stack.databaseUrl);
    try {
      // Deployed to a at generation 1, re-homed to b at generation 2; the jobs b took carry it.
      expect((await orm.em.fork().find(Decky, {}, { orderBy: { name: 'asc' } })).map((d) => [d.name, d.generation])).toEqual([
        ['fo-1', 2],
        ['fo-2', 2],
      ]);
    } finally {
      await orm.close(true);
    }
    const jobs = await Promise.all(done.map(async (r) => JSON.parse(await fs.readFile(path.join(b.bundleDir, 'data', 'jobs', `${r.id}.json`), 'utf8'))));
    expect(jobs.map((j) => j.request.generation)).toEqual([2, 2]);

    // Host a returns. Until its stale deckies are gone the master does not take it for live.
    process.kill(a.proc!.child.pid!, 'SIGCONT');
    const liveTooEarly: string[] = [];
    await waitFor('agent a to remove its stale deckies and be active again', async () => {
      const host = (await api.get('/swarm/hosts')).body.hosts.find((h: { uuid: string }) => h.uuid === a.hostUuid);
      const left = await projectContainers(a);
      if (host.status === 'active' && left.length > 0) liveTooEarly.push(`${left.length} container(s) left while active`);
      return host.status === 'active' && left.length === 0 ? true : undefined;
    });
    expect(liveTooEarly).toEqual([]);
    const log = await fs.readFile(a.logFile, 'utf8');
    expect(log).toMatch(/fencing: stale decky removed/);
    expect(log.indexOf('fencing: stale decky removed')).toBeLessThan(log.lastIndexOf('fence complete'));

    // b still runs them; nothing was sent to a for them since.
    expect((await projectContainers(b)).filter((c) => c.State === 'running')).toHaveLength(5);
    const orm2 = await openOrm(stack.databaseUrl);
    try {
      const onA = await orm2.em.fork().find(DeckyLifecycle, { hostUuid: a.hostUuid }, { orderBy: { deckyName: 'asc' } });
      expect(onA.map((r) => [r.deckyName, r.trigger])).toEqual([
        ['fo-1', 'operator'],
        ['fo-2', 'operator'],
      ]);
    } finally {
      await orm2.close(true);
    }
  } finally {
    const { doubles, polls } = await lan.stop();
    expect(polls).toBeGreaterThan(50);
    expect(doubles).toEqual([]);
  }

  // Fenced, host a takes work again: a new deploy places a decky on it and it runs there.
  const next = await api.post('/deckies/deploy', {
    deckies: [
      { name: 'fo-3', services: ['ssh'] },
      { name: 'fo-4', services: ['ssh'] },
    ],
  });
  expect(next.status).toBe(202);
  const after = await waitForTerminal(api, next.body.lifecycle_ids);
  expect(after.map((r) => [r.status, r.error])).toEqual([
    ['succeeded', null],
    ['succeeded', null],
  ]);
  expect(after.map((r) => r.host_uuid).sort()).toEqual([a.hostUuid, b.hostUuid].sort());
});

test('with no live host left, failover brings the deckies to the master; both agents, back, remove theirs', async () => {
  const { a, b } = agents;
  const names = ['fo-1', 'fo-2', 'fo-3', 'fo-4'];
  const before = Object.fromEntries(await Promise.all(names.map(async (n) => [n, (await api.get(`/deckies/${n}`)).body])));
  const lan = watchLanAddresses();
  try {
    for (const agent of [a, b]) {
      process.kill(agent.proc!.child.pid!, 'SIGSTOP');
      for (const c of await projectContainers(agent)) {
        if (c.Labels[LABELS.role] === ROLES.base) await stack.docker.getNetwork(lanName()).disconnect({ Container: c.Id, Force: true });
      }
    }
    const rows = await waitFor('failover rows to the master', async () => {
      const last = await Promise.all(names.map(async (n) => (await api.get(`/deckies/${n}`)).body.last_lifecycle));
      return last.every((r) => r?.trigger === 'failover' && r.host_uuid === null) ? last : undefined;
    });
    const done = await waitForTerminal(
      api,
      rows.map((r) => r.id),
    );
    expect(done.map((r) => [r.decky_name, r.trigger, r.status, r.error, r.host_uuid])).toEqual(names.map((n) => [n, 'failover', 'succeeded', null, null]));
    // On the master's own engine, under its compose project, with the same IPs.
    const local = await stack.docker.listContainers({
      filters: { label: [`${LABELS.project}=${stack.config.composeProject}`, `${LABELS.role}=${ROLES.base}`], status: ['running'] },
    });
    expect(local.map((c) => [c.Labels[LABELS.decky], c.NetworkSettings.Networks[lanName()]?.IPAddress]).sort()).toEqual(names.map((n) => [n, before[n].ip]));

    for (const agent of [a, b]) process.kill(agent.proc!.child.pid!, 'SIGCONT');
    for (const agent of [a, b]) {
      await waitFor(`agent ${agent.name} to remove its stale deckies`, async () => ((await projectContainers(agent)).length === 0 ? true : undefined));
      await waitForActive(api, agent);
    }
    for (const n of names) expect((await api.get(`/deckies/${n}`)).body).toMatchObject({ host_uuid: null, state: 'running', ip: before[n].ip });
  } finally {
    const { doubles } = await lan.stop();
    expect(doubles).toEqual([]);
  }
});
