/**
 * A host's LAN driver changes without cutting deckies off (issue 11 §4), with real agents on this
 * machine's Docker engine, whose kernel has macvlan and no ipvlan: the agents' probe reports
 * `macvlan` only; switching a host with running deckies to ipvlan is refused and they keep their
 * LAN addresses and `running`; a deploy needing the other driver on the same engine fails its job
 * without detaching anyone; the master's LAN driver is not changed under swarm deckies that follow
 * it. (The moves themselves: driver-move-master.test.ts and driver-move-swarm.test.ts.)
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LABELS, ROLES } from '../../src/domain/compose-render';
import { createTestStack, type TestStack } from '../support/master';
import { apiClient, waitForTerminal, type ApiClient } from '../support/http';
import { stop } from '../support/process';
import { agentRequest, enrollAgent, masterCreds, startAgent, waitForActive, type Creds, type TestAgent } from '../support/agents';

const SLOT = 83;
const HEARTBEAT_MS = 2000;

let stack: TestStack;
let api: ApiClient;
let dir: string;
let master: Creds;
const agents: TestAgent[] = [];

beforeAll(async () => {
  stack = await createTestStack('driverchange', SLOT, {
    DECNET_HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_MS),
    // A decky sent to a stopped agent fails soon (the last test waits for it).
    DECNET_AGENT_RETRY_BUDGET_MS: '6000',
  });
  await stack.startMaster();
  api = apiClient(stack.api, stack.adminToken);
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'decnet-driver-change-'));
  master = await masterCreds(stack);
});

afterAll(async () => {
  for (const a of agents) if (a.proc) await stop(a.proc);
  for (const a of agents) await removeProject(a.project);
  await stack?.cleanup();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

async function removeProject(project: string) {
  const containers = await stack.docker.listContainers({ all: true, filters: { label: [`${LABELS.project}=${project}`] } });
  await Promise.all(
    containers.map((c) =>
      stack.docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined),
    ),
  );
}

const lanNetwork = () => `${stack.config.composeProject}_lan`;

async function addAgent(name: string, useIpvlan: boolean): Promise<TestAgent> {
  const agent = await enrollAgent(stack, api, dir, {
    name,
    project: `${stack.config.composeProject}-${name}`,
    useIpvlan,
    // Both agents on this one engine join the same LAN network, as hosts on one LAN would.
    env: { DECNET_LAN_NETWORK: lanNetwork() },
  });
  agents.push(agent);
  await removeProject(agent.project);
  await startAgent(agent, master);
  await waitForActive(api, agent);
  return agent;
}

const hostView = async (uuid: string) => ((await api.get('/swarm/hosts')).body.hosts as any[]).find((h) => h.uuid === uuid);

/** Each running base container of the agent's project by decky, with its address on the LAN network as `docker inspect` shows it. */
async function lanAddresses(agent: TestAgent): Promise<Record<string, { ip: string | undefined; state: string }>> {
  const bases = await stack.docker.listContainers({ all: true, filters: { label: [`${LABELS.project}=${agent.project}`, `${LABELS.role}=${ROLES.base}`] } });
  const out: Record<string, { ip: string | undefined; state: string }> = {};
  for (const c of bases) {
    const info = await stack.docker.getContainer(c.Id).inspect();
    out[c.Labels[LABELS.decky]] = { ip: info.NetworkSettings.Networks[lanNetwork()]?.IPAddress || undefined, state: info.State.Status };
  }
  return out;
}

const deckyStates = async (names: string[]) => Promise.all(names.map(async (n) => [n, (await api.get(`/deckies/${n}`)).body.state]));

describe('driver changes on a kernel without ipvlan', () => {
  let wired: TestAgent;
  let expected: Record<string, { ip: string; state: string }>;

  beforeAll(async () => {
    wired = await addAgent('wired', false);
    const res = await api.post('/deckies/deploy', {
      network: { subnet: stack.lan.subnet, gateway: stack.lan.gateway, interface: stack.lan.parent },
      deckies: [
        { name: 'dc-1', services: ['ssh'] },
        { name: 'dc-2', services: ['ssh'] },
      ],
    });
    expect([res.status, res.body.error]).toEqual([202, undefined]);
    const rows = await waitForTerminal(api, res.body.lifecycle_ids);
    expect(rows.map((r) => [r.decky_name, r.status, r.error, r.host_uuid])).toEqual([
      ['dc-1', 'succeeded', null, wired.hostUuid],
      ['dc-2', 'succeeded', null, wired.hostUuid],
    ]);
    expected = {
      'dc-1': { ip: (await api.get('/deckies/dc-1')).body.ip, state: 'running' },
      'dc-2': { ip: (await api.get('/deckies/dc-2')).body.ip, state: 'running' },
    };
    expect(await lanAddresses(wired)).toEqual(expected);
  });

  test("the agent's kernel probe reports macvlan only: on its health, in its heartbeat, on the host row", async () => {
    const health = await agentRequest(wired, master, 'GET', '/health');
    expect(health.body.network_drivers).toEqual(['macvlan']);
    expect(await hostView(wired.hostUuid)).toMatchObject({ status: 'active', use_ipvlan: false, network_drivers: ['macvlan'] });
    // The probe leaves no interface behind.
    const links = await fs.readdir('/sys/class/net');
    expect(links.filter((l) => /^dnp[0-9a-f]{8}/.test(l))).toEqual([]);
  });

  test('switching the host to ipvlan is refused up front; its deckies stay on the macvlan LAN and running', async () => {
    const res = await api.patch(`/swarm/hosts/${wired.hostUuid}`, { use_ipvlan: true });
    expect([res.status, res.body.error.code]).toEqual([409, 'driver_unsupported']);
    expect(res.body.error.message).toBe(
      'swarm host "wired" cannot use ipvlan: its agent reports that its kernel supports only macvlan. Its 2 decky(ies) (dc-1, dc-2) stay on the macvlan network and keep running.',
    );
    expect(await hostView(wired.hostUuid)).toMatchObject({ use_ipvlan: false });
    // Notes alone still change; use_ipvlan false (no change) is accepted alongside.
    const notes = await api.patch(`/swarm/hosts/${wired.hostUuid}`, { use_ipvlan: false, notes: 'rack 1' });
    expect([notes.status, notes.body.notes, notes.body.use_ipvlan]).toEqual([200, 'rack 1', false]);

    // Two heartbeats later the master still says running, and the engine agrees.
    await new Promise((r) => setTimeout(r, 2 * HEARTBEAT_MS + 500));
    expect(await lanAddresses(wired)).toEqual(expected);
    expect(await deckyStates(['dc-1', 'dc-2'])).toEqual([
      ['dc-1', 'running'],
      ['dc-2', 'running'],
    ]);
    expect((await stack.docker.getNetwork(lanNetwork()).inspect()).Driver).toBe('macvlan');
  });

  test('a deploy that needs ipvlan on the same engine fails its job clearly and detaches no one', async () => {
    // An ipvlan host (decnet.ini ipvlan=true) sharing the engine and LAN network of the macvlan one.
    const wifi = await addAgent('wifi', true);
    const decky = {
      name: 'dc-wifi',
      ip: stack.lan.ip(200),
      services: ['ssh'],
      archetype: null,
      distro: 'debian',
      base_image: `${process.env.TEST_IMAGE_REGISTRY}/base:${process.env.TEST_IMAGE_TAG}`,
      hostname: 'dc-wifi',
      nmap_os: 'linux',
      service_config: {},
      mutate_interval: null,
    };
    const network = { driver: 'macvlan', parent: stack.lan.parent, subnet: stack.lan.subnet, gateway: stack.lan.gateway };
    const submitted = await agentRequest(wifi, master, 'POST', '/deploy', { job_id: 'job-dc-wifi', config: { network, deckies: [decky] } });
    expect(submitted.status).toBe(202);
    let job: any;
    for (const deadline = Date.now() + 60_000; ;) {
      job = (await agentRequest(wifi, master, 'GET', '/jobs/job-dc-wifi')).body;
      if (job.status === 'succeeded' || job.status === 'failed') break;
      if (Date.now() > deadline) throw new Error(`job still ${job.status}`);
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(job.status).toBe('failed');
    expect(job.results).toEqual([
      {
        decky: 'dc-wifi',
        ok: false,
        error: expect.stringMatching(
          new RegExp(`^NetworkDriverMismatch: network ${lanNetwork()} is macvlan with 2 attached container\\(s\\); this deploy needs ipvlan\\.`),
        ),
      },
    ]);
    expect((await stack.docker.getNetwork(lanNetwork()).inspect()).Driver).toBe('macvlan');
    expect(await lanAddresses(wired)).toEqual(expected);
    expect(await deckyStates(['dc-1', 'dc-2'])).toEqual([
      ['dc-1', 'running'],
      ['dc-2', 'running'],
    ]);
  });

  test("the master's own LAN driver is not changed under deployed deckies, and the refusal says why", async () => {
    const lan = (await api.get('/system/network')).body;
    const res = await api.put('/system/network', { interface: lan.interface, subnet: lan.subnet, gateway: lan.gateway, driver: 'ipvlan' });
    expect([res.status, res.body.error.code, res.body.error.details.changed]).toEqual([409, 'network_mismatch', ['driver']]);
    expect(res.body.error.message).toContain("They run on swarm hosts that follow the LAN's driver, whose networks the master does not move");
    expect((await api.get('/system/network')).body.driver).toBe('macvlan');
  });

  test('with its deckies torn down the host may switch (the kernel probe still refuses ipvlan; macvlan back is fine)', async () => {
    const res = await api.post(`/swarm/hosts/${wired.hostUuid}/teardown`, {});
    expect(res.status).toBe(202);
    const rows = await waitForTerminal(api, res.body.lifecycle_ids);
    expect(rows.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
    const refused = await api.patch(`/swarm/hosts/${wired.hostUuid}`, { use_ipvlan: true });
    expect([refused.status, refused.body.error.message]).toEqual([
      409,
      'swarm host "wired" cannot use ipvlan: its agent reports that its kernel supports only macvlan.',
    ]);
  });

  test('a host with a decky still on its way keeps its driver; a failed decky does not hold it', async () => {
    const wifi = agents.find((a) => a.name === 'wifi')!;
    // Stopped but still live for 3 heartbeat intervals: its decky waits in dispatch meanwhile.
    await stop(wifi.proc!);
    const res = await api.post('/deckies/deploy', {
      deckies: [
        { name: 'dc-3', services: ['ssh'] },
        { name: 'dc-4', services: ['ssh'] },
      ],
    });
    expect([res.status, res.body.error]).toEqual([202, undefined]);
    expect((await api.get('/deckies/dc-4')).body.host_uuid).toBe(wifi.hostUuid);
    const held = await api.patch(`/swarm/hosts/${wifi.hostUuid}`, { use_ipvlan: false });
    expect([held.status, held.body.error.code, held.body.error.message]).toEqual([
      409,
      'operation_in_flight',
      'swarm host "wifi" has 1 decky(ies) with an operation in flight: dc-4 (deploy); change its driver when they have finished. Nothing was changed.',
    ]);
    const rows = await waitForTerminal(api, res.body.lifecycle_ids);
    expect(rows.map((r) => [r.decky_name, r.status, r.host_uuid])).toEqual([
      ['dc-3', 'succeeded', wired.hostUuid],
      ['dc-4', 'failed', wifi.hostUuid],
    ]);
    const switched = await api.patch(`/swarm/hosts/${wifi.hostUuid}`, { use_ipvlan: false });
    expect([switched.status, switched.body.use_ipvlan, switched.body.network_drivers]).toEqual([200, false, ['macvlan']]);
  });
});
