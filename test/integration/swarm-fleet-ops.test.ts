/**
 * Host operations of the swarm with real `decnet agent` processes over mTLS (one compose project
 * each, one shared LAN network, as hosts on one LAN): tearing down every decky of one host,
 * decommissioning a host whose agent answers (it removes its deckies and network and refuses
 * jobs from then on), and one whose agent is stopped (decommissioned all the same).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { LABELS } from '../../src/domain/compose-render';
import { createTestStack, networkExists, type TestStack } from '../support/master';
import { apiClient, waitForTerminal, type ApiClient } from '../support/http';
import { stop } from '../support/process';
import {
  agentContainers,
  agentRequest,
  enrollAgent,
  masterCreds,
  removeAgentContainers,
  startAgent,
  waitForActive,
  type Creds,
  type TestAgent,
} from '../support/agents';

let stack: TestStack;
let api: ApiClient;
let dir: string;
let master: Creds;
const agents: Record<string, TestAgent> = {};

beforeAll(async () => {
  stack = await createTestStack('swarmfleetops', 47, { DECNET_HEARTBEAT_INTERVAL_MS: '2000' });
  await stack.startMaster();
  api = apiClient(stack.api, stack.adminToken);
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'decnet-swarm-fleet-ops-'));
  master = await masterCreds(stack);
  for (const name of ['a', 'b']) await removeProject(projectOf(name));
});

afterAll(async () => {
  for (const a of Object.values(agents)) if (a.proc) await stop(a.proc);
  for (const name of ['a', 'b']) await removeProject(projectOf(name));
  await stack?.cleanup();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

const projectOf = (name: string) => `${stack.config.composeProject}-${name}`;
const lanName = () => `${stack.config.composeProject}_lan`;

const removeProject = (project: string) => removeAgentContainers(stack.docker, project);

const projectContainers = (agent: TestAgent) => agentContainers(stack.docker, agent);
const deckiesOf = async (agent: TestAgent) => [...new Set((await projectContainers(agent)).map((c) => c.Labels[LABELS.decky]))].sort();
const lanExists = () => networkExists(stack.docker, lanName());

async function allSucceed(ids: string[]) {
  const rows = await waitForTerminal(api, ids);
  expect(rows.map((r) => [r.decky_name, r.status, r.error])).toEqual(rows.map((r) => [r.decky_name, 'succeeded', null]));
  return rows;
}

test('two agents, four deckies placed a,b,a,b', async () => {
  for (const name of ['a', 'b']) {
    const agent = await enrollAgent(stack, api, dir, { name, project: projectOf(name), useIpvlan: false, env: { DECNET_LAN_NETWORK: lanName() } });
    agents[name] = agent;
    await startAgent(agent, master);
    await waitForActive(api, agent);
  }
  const ini = `[general]\nnet=${stack.lan.subnet}\ngw=${stack.lan.gateway}\ninterface=${stack.lan.parent}\n\n[hx]\nservices=ssh\namount=4\n`;
  const res = await api.post('/deckies/deploy', { ini_content: ini });
  expect([res.status, res.body.mode]).toEqual([202, 'swarm']);
  await allSucceed(res.body.lifecycle_ids);
  expect(await deckiesOf(agents.a)).toEqual(['hx-01', 'hx-03']);
  expect(await deckiesOf(agents.b)).toEqual(['hx-02', 'hx-04']);
  const onB = (await api.get(`/deckies?host_uuid=${agents.b.hostUuid}`)).body.deckies.map((d: { name: string }) => d.name);
  expect(onB).toEqual(['hx-02', 'hx-04']);
  expect((await api.get('/deckies?host_uuid=master')).body.deckies).toEqual([]);
});

test("tearing down a host removes its deckies through its agent; the other host's stay, and so does the LAN they use", async () => {
  const { a, b } = agents;
  for (const uuid of [randomUUID(), 'not-a-uuid']) {
    const res = await api.post(`/swarm/hosts/${uuid}/teardown`);
    expect([uuid, res.status]).toEqual([uuid, 404]);
  }
  const res = await api.post(`/swarm/hosts/${a.hostUuid}/teardown`);
  expect(res.status).toBe(202);
  expect(res.body.deckies).toEqual(['hx-01', 'hx-03']);
  const rows = await allSucceed(res.body.lifecycle_ids);
  expect(rows.map((r) => [r.operation, r.host_uuid])).toEqual([
    ['teardown', a.hostUuid],
    ['teardown', a.hostUuid],
  ]);
  expect(await deckiesOf(a)).toEqual([]);
  expect(await deckiesOf(b)).toEqual(['hx-02', 'hx-04']);
  expect((await projectContainers(b)).map((c) => c.State)).toEqual(['running', 'running', 'running', 'running']);
  expect((await api.get('/deckies')).body.deckies.map((d: { name: string }) => d.name)).toEqual(['hx-02', 'hx-04']);
  // b's containers are attached: the last teardown on a's side left the network alone.
  expect(await lanExists()).toBe(true);

  const again = await api.post(`/swarm/hosts/${a.hostUuid}/teardown`);
  expect([again.status, again.body.lifecycle_ids]).toEqual([202, []]);
});

test('decommissioning a host whose agent answers: the agent removes its containers and network, then refuses jobs', async () => {
  const { b } = agents;
  const res = await api.delete(`/swarm/hosts/${b.hostUuid}`);
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ uuid: b.hostUuid, status: 'decommissioned', agent_cleanup: { reached: true, removed_deckies: ['hx-02', 'hx-04'] } });
  expect(res.body.agent_cleanup.message).toContain(`removed network ${lanName()}`);
  expect(await projectContainers(b)).toEqual([]);
  expect(await lanExists()).toBe(false);
  // The fleet no longer calls them running: they wait for the next deploy to re-home them.
  const fleet = (await api.get(`/deckies?host_uuid=${b.hostUuid}`)).body.deckies;
  expect(fleet.map((d: { name: string; state: string; last_error: string }) => [d.name, d.state, d.last_error])).toEqual(
    ['hx-02', 'hx-04'].map((name) => [name, 'degraded', 'swarm host "b" was decommissioned and its agent removed the decky; the next deploy re-homes it']),
  );

  const job = {
    job_id: 'after-decommission',
    config: {
      network: { driver: 'macvlan', parent: stack.lan.parent, subnet: stack.lan.subnet, gateway: stack.lan.gateway },
      deckies: [
        {
          name: 'late',
          ip: stack.lan.ip(90),
          services: ['ssh'],
          archetype: null,
          distro: 'debian',
          base_image: `${process.env.TEST_IMAGE_REGISTRY}/base:${process.env.TEST_IMAGE_TAG}`,
          hostname: 'late',
          nmap_os: 'linux',
          service_config: {},
          mutate_interval: null,
        },
      ],
    },
  };
  const refused = await agentRequest(b, master, 'POST', '/deploy', job);
  expect([refused.status, refused.body.error.code]).toEqual([410, 'agent_decommissioned']);
  expect(refused.body.error.message).toContain('takes no more jobs');
  expect((await agentRequest(b, master, 'GET', '/health')).body.decommissioned).toBe(true);

  // The mark outlives the process: started again, the agent still refuses.
  await stop(b.proc!);
  await startAgent(b, master);
  expect((await agentRequest(b, master, 'POST', '/deploy', job)).status).toBe(410);
  expect(await projectContainers(b)).toEqual([]);

  // Asked twice: the same host, without calling the agent again.
  const twice = await api.delete(`/swarm/hosts/${b.hostUuid}`);
  expect([twice.status, twice.body.status, twice.body.agent_cleanup]).toEqual([200, 'decommissioned', null]);
});

test('decommissioning a host whose agent is stopped: decommissioned as before, saying the agent did not answer', async () => {
  const { a } = agents;
  await stop(a.proc!);
  const started = Date.now();
  const res = await api.delete(`/swarm/hosts/${a.hostUuid}`);
  expect(Date.now() - started).toBeLessThan(30_000);
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ uuid: a.hostUuid, status: 'decommissioned', agent_cleanup: { reached: false, removed_deckies: [] } });
  expect(res.body.agent_cleanup.message).toMatch(/the agent did not answer its cleanup \(agent "a" at https:\/\/127\.0\.0\.1:\d+ unreachable/);
  const hosts = (await api.get('/swarm/hosts')).body.hosts;
  expect(hosts.map((h: { name: string; status: string }) => [h.name, h.status])).toEqual([
    ['a', 'decommissioned'],
    ['b', 'decommissioned'],
  ]);
});
