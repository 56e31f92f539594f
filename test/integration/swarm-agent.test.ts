/**
 * The real `decnet agent` process against an in-process master: enrolled through the API bundle
 * flow (the .tgz fetched and unpacked), started from the unpacked decnet.ini, driven over mTLS
 * with the master's swarm certificate. Deploy/teardown jobs on the shared Docker engine under the
 * agent's own compose project, idempotent job ids, jobs that survive a SIGKILL, results that
 * reach the master, certificate pinning, and an ipvlan host that never creates a macvlan network.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { LABELS } from '../../src/domain/compose-render';
import { CertificateAuthority } from '../../src/swarm/pki';
import { AgentClient } from '../../src/swarm/agent-client';
import { AgentJobViewSchema } from '../../src/domain/swarm-schemas';
import { createTestStack, type TestStack } from '../support/master';
import { apiClient, type ApiClient } from '../support/http';
import { sigkill, stop, type DecnetProcess } from '../support/process';
import {
  agentRequest,
  enrollAgent as enrollTestAgent,
  masterCreds,
  startAgent as startTestAgent,
  type Creds,
  type TestAgent as Agent,
} from '../support/agents';
import { createVethParent, deleteVethParent } from '../support/veth';

const HEARTBEAT_MS = 2000;
const SLOT = 32;
/** The ipvlan agent gets a LAN of its own: Docker refuses two networks with overlapping pools. */
const IPVLAN_SLOT = 33;
const IPVLAN_PARENT = `dnvagentb${IPVLAN_SLOT}`;

let stack: TestStack;
let api: ApiClient;
let dir: string;
const docker = new Docker();
const running: DecnetProcess[] = [];
const projects = ['tagenta', 'tagentb'];

let master: Creds;

beforeAll(async () => {
  stack = await createTestStack('swarmagent', SLOT, { DECNET_HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_MS) });
  await stack.startMaster({ runWorker: false });
  api = apiClient(stack.api, stack.adminToken);
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'decnet-agent-test-'));
  master = await masterCreds(stack);
  for (const p of projects) await removeProject(p);
  await createVethParent(IPVLAN_PARENT);
});

afterAll(async () => {
  for (const p of running) await stop(p);
  for (const p of projects) await removeProject(p);
  await deleteVethParent(IPVLAN_PARENT).catch(() => undefined);
  await stack?.cleanup();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

async function removeProject(project: string) {
  const containers = await docker.listContainers({ all: true, filters: { label: [`${LABELS.project}=${project}`] } });
  await Promise.all(
    containers.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined),
    ),
  );
  await docker
    .getNetwork(`${project}_lan`)
    .remove()
    .catch(() => undefined);
}

const enrollAgent = (name: string, project: string, useIpvlan: boolean) => enrollTestAgent(stack, api, dir, { name, project, useIpvlan });

async function startAgent(agent: Agent, opts?: { awaitFence?: boolean }) {
  running.push(await startTestAgent(agent, master, opts));
}

async function waitForJob(agent: Agent, jobId: string, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await agentRequest(agent, master, 'GET', `/jobs/${jobId}`);
    expect(res.status).toBe(200);
    if (res.body.status === 'succeeded' || res.body.status === 'failed') return res.body;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${res.body.status}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

const registry = () => process.env.TEST_IMAGE_REGISTRY!;
const tag = () => process.env.TEST_IMAGE_TAG!;

function decky(name: string, ip: string) {
  return {
    name,
    ip,
    services: ['ssh'],
    archetype: null,
    distro: 'debian',
    base_image: `${registry()}/base:${tag()}`,
    hostname: name,
    nmap_os: 'linux',
    service_config: {},
    mutate_interval: null,
  };
}

const projectContainers = (project: string, deckyName: string) =>
  docker.listContainers({ all: true, filters: { label: [`${LABELS.project}=${project}`, `${LABELS.decky}=${deckyName}`] } });

describe('decnet agent', () => {
  let a: Agent;
  let b: Agent;
  const deployA = () => ({
    job_id: 'job-deploy-a1',
    config: {
      network: { driver: 'macvlan', parent: stack.lan.parent, subnet: stack.lan.subnet, gateway: stack.lan.gateway },
      deckies: [decky('web1', stack.lan.ip(21))],
    },
  });

  beforeAll(async () => {
    a = await enrollAgent('agent-a', 'tagenta', false);
    b = await enrollAgent('agent-b', 'tagentb', true);
    await Promise.all([startAgent(a), startAgent(b)]);
  });

  test('GET /health with the master certificate; a bad body is 400 with the error shape', async () => {
    const health = await agentRequest(a, master, 'GET', '/health');
    expect(health).toEqual({ status: 200, body: expect.objectContaining({ status: 'ok', host_uuid: a.hostUuid, project: 'tagenta', ipvlan: false }) });
    const bad = await agentRequest(a, master, 'POST', '/deploy', { job_id: 'x', config: { network: { driver: 'bridge' }, deckies: [] } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'invalid_input', message: expect.any(String), details: expect.any(Array) });
    expect((await agentRequest(a, master, 'GET', '/jobs/nope')).status).toBe(404);
  });

  test('POST /deploy → 202, the job succeeds, the containers run under the agent project with the IP', async () => {
    const res = await agentRequest(a, master, 'POST', '/deploy', deployA());
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ job_id: 'job-deploy-a1', status: expect.stringMatching(/^(pending|running)$/) });
    const job = await waitForJob(a, 'job-deploy-a1');
    expect(job).toMatchObject({ job_id: 'job-deploy-a1', kind: 'deploy', status: 'succeeded', results: [{ decky: 'web1', ok: true }] });
    expect(job.updated_at).toEqual(expect.any(String));
    const containers = await projectContainers('tagenta', 'web1');
    expect(containers.map((c) => c.State).sort()).toEqual(['running', 'running']);
    const base = containers.find((c) => c.Labels[LABELS.role] === 'base')!;
    expect(base.NetworkSettings.Networks['tagenta_lan']?.IPAddress).toBe(stack.lan.ip(21));
    expect((await docker.getNetwork('tagenta_lan').inspect()).Driver).toBe('macvlan');

    const status = await agentRequest(a, master, 'GET', '/status');
    expect(status.status).toBe(200);
    expect(status.body.deckies).toEqual([expect.objectContaining({ name: 'web1', running: true, ip: stack.lan.ip(21) })]);
  });

  test('the same job id again is a no-op that returns the same job', async () => {
    const before = (await projectContainers('tagenta', 'web1')).map((c) => c.Id).sort();
    const again = await agentRequest(a, master, 'POST', '/deploy', deployA());
    expect(again).toEqual({ status: 202, body: { job_id: 'job-deploy-a1', kind: 'deploy', status: 'succeeded' } });
    await new Promise((r) => setTimeout(r, 1000));
    const job = await waitForJob(a, 'job-deploy-a1');
    expect(job.status).toBe('succeeded');
    expect((await projectContainers('tagenta', 'web1')).map((c) => c.Id).sort()).toEqual(before);
  });

  test('the host turns active on the master and the result is acknowledged', async () => {
    const deadline = Date.now() + 30_000;
    let host: any;
    let job: any;
    for (;;) {
      host = ((await api.get('/swarm/hosts')).body.hosts as any[]).find((h) => h.uuid === a.hostUuid);
      job = (await agentRequest(a, master, 'GET', '/jobs/job-deploy-a1')).body;
      if ((host?.status === 'active' && job.result_acknowledged) || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(host).toMatchObject({ status: 'active', last_heartbeat: expect.any(String) });
    expect(job.result_acknowledged).toBe(true);
  });

  test("the master's AgentClient parses the real agent's replies with the protocol schemas", async () => {
    const client = new AgentClient(stack.master!.pki, { uuid: a.hostUuid, name: a.name, address: '127.0.0.1', port: a.port, fingerprint: a.fingerprint });
    try {
      const raw = (await agentRequest(a, master, 'GET', '/jobs/job-deploy-a1')).body;
      const job = await client.job('job-deploy-a1');
      expect(job).toEqual(raw);
      expect(AgentJobViewSchema.parse(raw)).toEqual(raw);
      expect(await client.job('no-such-job')).toBeUndefined();
      expect(await client.submitJob('deploy', deployA())).toEqual({ job_id: 'job-deploy-a1', kind: 'deploy', status: 'succeeded' });
    } finally {
      await client.close();
    }
  });

  test('SIGKILL the agent and start it again: GET /jobs/{id} still answers', async () => {
    await sigkill(a.proc!);
    await startAgent(a);
    const job = await waitForJob(a, 'job-deploy-a1');
    expect(job).toMatchObject({ status: 'succeeded', results: [{ decky: 'web1', ok: true }], result_acknowledged: true });
  });

  test("a client certificate other than the master's is refused", async () => {
    const own: Creds = {
      key: await fs.readFile(path.join(a.bundleDir, 'agent-key.pem'), 'utf8'),
      cert: await fs.readFile(path.join(a.bundleDir, 'agent.pem'), 'utf8'),
      ca: master.ca,
    };
    const res = await agentRequest(a, own, 'GET', '/health');
    expect([res.status, res.body.error?.code]).toEqual([403, 'forbidden']);
    const foreignCa = await CertificateAuthority.loadOrCreate(path.join(dir, 'foreign-ca'));
    const foreign = await foreignCa.issueCertificate({ commonName: 'decnet-master', usage: ['clientAuth'] });
    await expect(agentRequest(a, { key: foreign.keyPem, cert: foreign.certPem, ca: master.ca }, 'GET', '/health')).rejects.toThrow();
    await expect(agentRequest(a, { ca: master.ca }, 'GET', '/health')).rejects.toThrow();
  });

  test('an ipvlan=true agent given a macvlan deploy requests an ipvlan network and fails with the ipvlan message', async () => {
    const lan = { parent: IPVLAN_PARENT, subnet: `198.18.${IPVLAN_SLOT}.0/24`, gateway: `198.18.${IPVLAN_SLOT}.1` };
    const res = await agentRequest(b, master, 'POST', '/deploy', {
      job_id: 'job-deploy-b1',
      config: { network: { driver: 'macvlan', ...lan }, deckies: [decky('wifi1', `198.18.${IPVLAN_SLOT}.21`)] },
    });
    expect(res.status).toBe(202);
    const job = await waitForJob(b, 'job-deploy-b1');
    const net = await docker.getNetwork('tagentb_lan').inspect();
    expect(net.Driver).toBe('ipvlan');
    expect(net.Options).toEqual({ parent: IPVLAN_PARENT, ipvlan_mode: 'l2' });
    expect(job.notes).toEqual([expect.stringContaining('macvlan forced to ipvlan')]);
    // This kernel runs no ipvlan containers ("operation not supported"): the job says so clearly.
    expect(job.status).toBe('failed');
    expect(job.results).toEqual([
      { decky: 'wifi1', ok: false, error: expect.stringMatching(/^IpvlanUnsupported: this host's kernel does not support ipvlan/) },
    ]);
    expect(job.results[0].error).toMatch(/operation not supported/);
    // No macvlan network was created for this project at any point.
    const macvlans = (await docker.listNetworks()).filter((n) => n.Name === 'tagentb_lan' && n.Driver === 'macvlan');
    expect(macvlans).toEqual([]);
  });

  test('results finished while the master is down survive an agent SIGKILL and reach the master when it is back', async () => {
    await stack.stopMaster();
    const res = await agentRequest(a, master, 'POST', '/deploy', {
      job_id: 'job-deploy-a2',
      config: {
        network: { driver: 'macvlan', parent: stack.lan.parent, subnet: stack.lan.subnet, gateway: stack.lan.gateway },
        deckies: [decky('web2', stack.lan.ip(22))],
      },
    });
    expect(res.status).toBe(202);
    const job = await waitForJob(a, 'job-deploy-a2');
    expect(job).toMatchObject({ status: 'succeeded', result_acknowledged: false });
    const file = JSON.parse(await fs.readFile(path.join(a.bundleDir, 'data', 'jobs', 'job-deploy-a2.json'), 'utf8'));
    expect(file.report).toBe('unacknowledged');
    await sigkill(a.proc!);
    // No master to fence against: it answers /health, and takes no job until the master is back.
    await startAgent(a, { awaitFence: false });
    expect((await waitForJob(a, 'job-deploy-a2')).result_acknowledged).toBe(false);
    await stack.startMaster({ runWorker: false });
    const deadline = Date.now() + 60_000;
    let acknowledged = false;
    while (!acknowledged && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      acknowledged = (await waitForJob(a, 'job-deploy-a2')).result_acknowledged;
    }
    expect(acknowledged).toBe(true);
    expect(JSON.parse(await fs.readFile(path.join(a.bundleDir, 'data', 'jobs', 'job-deploy-a2.json'), 'utf8')).report).toBe('acknowledged');
  });

  test("a deploy job runs the decky's custom services as the master would: their image, their argv, in the decky's namespace", async () => {
    const argv = ['/bin/sh', '-c', 'exec sleep "$0"', '3600'];
    const byo = {
      ...decky('byo1', stack.lan.ip(23)),
      services: ['ssh', 'tarpit'],
      custom_services: { tarpit: { image: `${registry()}/base:${tag()}`, exec: argv, ports: [2222] } },
    };
    const network = { driver: 'macvlan', parent: stack.lan.parent, subnet: stack.lan.subnet, gateway: stack.lan.gateway };
    expect((await agentRequest(a, master, 'POST', '/deploy', { job_id: 'job-deploy-byo1', config: { network, deckies: [byo] } })).status).toBe(202);
    expect(await waitForJob(a, 'job-deploy-byo1')).toMatchObject({ status: 'succeeded', results: [{ decky: 'byo1', ok: true }] });
    const containers = await projectContainers('tagenta', 'byo1');
    const base = containers.find((c) => c.Labels[LABELS.role] === 'base')!;
    const tarpit = await docker.getContainer(containers.find((c) => c.Labels[LABELS.service] === 'tarpit')!.Id).inspect();
    expect([tarpit.State.Running, tarpit.Config.Cmd, tarpit.HostConfig.NetworkMode]).toEqual([true, argv, `container:${base.Id}`]);

    expect((await agentRequest(a, master, 'POST', '/teardown', { job_id: 'job-teardown-byo1', decky: 'byo1' })).status).toBe(202);
    expect((await waitForJob(a, 'job-teardown-byo1')).status).toBe('succeeded');
  });

  test('a teardown job removes the containers', async () => {
    const res = await agentRequest(a, master, 'POST', '/teardown', { job_id: 'job-teardown-a1', decky: 'web1' });
    expect(res.status).toBe(202);
    const job = await waitForJob(a, 'job-teardown-a1');
    expect(job).toMatchObject({ kind: 'teardown', status: 'succeeded', results: [{ decky: 'web1', ok: true }] });
    expect(await projectContainers('tagenta', 'web1')).toEqual([]);
  });
});
