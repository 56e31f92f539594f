/**
 * POST /deckies/deploy?dry_run=true against the real stack (API and worker in process, real
 * Temporal, PostgreSQL and Docker): the plan is the deploy's own (same IPs and hosts, same
 * refusals), nothing is written and no workflow starts; `decnet deploy --dry-run` prints it. Swarm
 * placement with hosts enrolled through the real bundle flow: round-robin, ipvlan forced for a
 * use_ipvlan host, orphans re-homed.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { createTestStack, type TestStack } from '../support/master';
import { apiClient, waitForTerminal, type ApiClient } from '../support/http';
import { cliEnvFor, runDecnet } from '../support/process';
import { enrollAgent, heartbeatAs } from '../support/agents';
import { createApiToken } from '../../src/operations/tokens';
import { FLEET_LOCK } from '../../src/operations/locks';
import { Decky, SwarmHost } from '../../src/entities';

let stack: TestStack;
/** A pattern for any address of the test's /24. */
const lanIp = () => `${stack.lan.subnet.replace(/\.0\/24$/, '').replace(/\./g, '\\.')}\\.\\d+`;
let api: ApiClient;
let dir: string;

beforeAll(async () => {
  stack = await createTestStack('dryrun', 43);
  await stack.startMaster();
  api = apiClient(stack.api, stack.adminToken);
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'decnet-dry-run-'));
});

afterAll(async () => {
  await stack?.cleanup();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

const general = () => `[general]\nnet=${stack.lan.subnet}\ngw=${stack.lan.gateway}\ninterface=${stack.lan.parent}\n`;
const network = () => ({ subnet: stack.lan.subnet, gateway: stack.lan.gateway, interface: stack.lan.parent });
const dryRun = (body: unknown, headers?: Record<string, string>) => api.post('/deckies/deploy?dry_run=true', body, headers);

/** Everything a deploy writes: the rows of its tables and the LAN settings it may configure. */
async function writtenState() {
  const conn = stack.master!.orm.em.getConnection();
  const count = async (table: string) => Number((await conn.execute(`select count(*) as n from "${table}"`))[0].n);
  return {
    decky: await count('decky'),
    decky_lifecycle: await count('decky_lifecycle'),
    idempotency_key: await count('idempotency_key'),
    deployment_settings: await conn.execute('select * from "deployment_settings"'),
  };
}

/** The workflows of this stack's task queue, optionally narrowed by a visibility query. */
async function workflowIds(narrow?: string): Promise<string[]> {
  const ids: string[] = [];
  const query = `TaskQueue="${stack.config.taskQueue}"${narrow ? ` AND ${narrow}` : ''}`;
  for await (const wf of stack.master!.client.workflow.list({ query })) ids.push(wf.workflowId);
  return ids;
}

/** Visibility is eventually consistent: poll until `count` workflows show (or 10 s pass). */
async function waitForWorkflows(count: number): Promise<string[]> {
  for (let i = 0; ; i++) {
    const ids = await workflowIds();
    if (ids.length >= count || i === 40) return ids;
    await new Promise((r) => setTimeout(r, 250));
  }
}

const placement = (deckies: Array<{ name: string; ip: string; host: { uuid: string } | null; driver: string }>) =>
  deckies.map((d) => [d.name, d.ip, d.host?.uuid ?? null, d.driver]);

describe('local', () => {
  const ini = () => `${general()}\n[web]\nip=${stack.lan.ip(50)}\nservices=http,ftp\n\n[ws]\narchetype=windows-workstation\namount=2\n`;

  test('the dry run answers the plan, writes nothing and starts nothing; the deploy then uses the same IPs, hosts, services and distros', async () => {
    const before = await writtenState();
    const plan = await dryRun({ ini_content: ini() }, { 'Idempotency-Key': 'dry-run-first' });
    expect([plan.status, plan.body.error]).toEqual([200, undefined]);
    expect(plan.body).toMatchObject({
      mode: 'unihost',
      message: '3 decky(ies) to deploy; will deploy locally',
      network: network(),
      rehomed: [],
      teardowns: [],
      warnings: [],
    });
    expect(plan.body.deckies.map((d: any) => [d.name, d.services, d.archetype, d.host, d.driver, d.ipvlan_forced])).toEqual([
      ['web', ['http', 'ftp'], null, null, 'macvlan', false],
      ['ws-01', ['smb', 'rdp'], 'windows-workstation', null, 'macvlan', false],
      ['ws-02', ['smb', 'rdp'], 'windows-workstation', null, 'macvlan', false],
    ]);
    expect(plan.body.deckies[0].ip).toBe(stack.lan.ip(50));
    expect(plan.body.deckies.every((d: any) => d.distro && d.hostname)).toBe(true);

    expect(await writtenState()).toEqual(before);
    await new Promise((r) => setTimeout(r, 1000)); // visibility lag: a started workflow would show by now
    expect(await workflowIds()).toEqual([]);

    // The same request deployed (with the same key: the dry run did not store it).
    const deployed = await api.post('/deckies/deploy', { ini_content: ini() }, { 'Idempotency-Key': 'dry-run-first' });
    expect([deployed.status, deployed.body.error]).toEqual([202, undefined]);
    expect(placement(deployed.body.plan.deckies)).toEqual(placement(plan.body.deckies));
    const fleet = (await api.get('/deckies')).body.deckies;
    // Random picks too (the archetype's distro): the request seeds them, so the plan showed these.
    expect(fleet.map((d: any) => [d.name, d.ip, d.host_uuid, d.services, d.distro, d.hostname])).toEqual(
      plan.body.deckies.map((d: any) => [d.name, d.ip, null, d.services, d.distro, d.hostname]),
    );
    const rows = await waitForTerminal(api, deployed.body.lifecycle_ids);
    expect(rows.map((r) => [r.decky_name, r.status, r.error])).toEqual(rows.map((r) => [r.decky_name, 'succeeded', null]));
    // The list query that found nothing above finds the deploy's workflows.
    expect((await waitForWorkflows(3)).sort()).toEqual(rows.map((r) => r.workflow_id).sort());

    // A dry run of a request already accepted under its key: the deploy would answer that request's plan.
    const replay = await dryRun({ ini_content: ini() }, { 'Idempotency-Key': 'dry-run-first' });
    expect([replay.status, replay.body]).toEqual([200, deployed.body.plan]);
  });

  test("every refusal of the deploy is the dry run's too: bad INI (400), name clash, reused key (409)", async () => {
    const before = await writtenState();
    const cases: Array<[unknown, Record<string, string>?]> = [
      [{ ini_content: `${general()}\n[bad]\nservices=ssh\namount=lots\n` }],
      [{ ini_content: `${general()}\n[web]\nservices=ssh\n` }],
      [{ deckies: [{ name: 'fresh', services: ['ssh'] }], network: network() }, { 'Idempotency-Key': 'dry-run-first' }],
      [{ deckies: [{ name: 'twin', ip: stack.lan.ip(50), services: ['ssh'] }] }],
    ];
    const answers: Array<[number, unknown]> = [];
    for (const [body, headers] of cases) {
      const preview = await dryRun(body, headers);
      const real = await api.post('/deckies/deploy', body, headers);
      expect([preview.status, preview.body]).toEqual([real.status, real.body]);
      answers.push([preview.status, preview.body.error.code]);
    }
    expect(answers).toEqual([
      [400, 'invalid_fleet'],
      [409, 'name_clash'],
      [409, 'idempotency_key_reused'],
      [409, 'ip_clash'],
    ]);
    expect(await writtenState()).toEqual(before);
  });

  test('replace_fleet: the dry run lists the deckies it would tear down', async () => {
    const before = await writtenState();
    const plan = await dryRun({
      deckies: [
        { name: 'web', services: ['ssh'] },
        { name: 'db', services: ['mysql'] },
      ],
      replace_fleet: true,
    });
    expect([plan.status, plan.body.error]).toEqual([200, undefined]);
    expect(plan.body.deckies.map((d: any) => d.name)).toEqual(['web', 'db']);
    expect(plan.body.teardowns).toEqual(['ws-01', 'ws-02']);
    // The deckies torn down keep their IPs until their teardown ends: the new ones get others.
    const fleetIps = (await api.get('/deckies')).body.deckies.filter((d: any) => d.name !== 'web').map((d: any) => d.ip);
    expect(plan.body.deckies.filter((d: any) => fleetIps.includes(d.ip))).toEqual([]);
    expect(plan.body.message).toBe('2 decky(ies) to deploy, 2 to tear down; will deploy locally');
    expect(await writtenState()).toEqual(before);
    expect((await api.get('/deckies/ws-01')).body.state).toBe('running');
  });

  test('a viewer may not dry-run a deploy (403); an unknown dry_run value is a 400', async () => {
    const viewer = apiClient(stack.api, await createApiToken(stack.master!.orm.em.fork(), 'dry-run-viewer', 'viewer'));
    const denied = await viewer.post('/deckies/deploy?dry_run=true', { deckies: [{ name: 'v1', services: ['ssh'] }] });
    expect([denied.status, denied.body.error.code]).toEqual([403, 'forbidden']);
    const unknown = await api.post('/deckies/deploy?dry_run=yes', { deckies: [{ name: 'v1', services: ['ssh'] }] });
    expect([unknown.status, unknown.body.error.code]).toEqual([400, 'invalid_input']);
    expect(unknown.body.error.message).toMatch(/^dry_run: /);
  });

  test('the dry run takes the deploy lock: it answers only once a deploy holding it is done', async () => {
    const holder = new Client({ connectionString: stack.databaseUrl });
    await holder.connect();
    try {
      await holder.query('begin');
      await holder.query(`select pg_advisory_xact_lock(${FLEET_LOCK})`);
      let answered = false;
      const pending = dryRun({ deckies: [{ name: 'locked', services: ['ssh'] }] }).then((res) => {
        answered = true;
        return res;
      });
      await new Promise((r) => setTimeout(r, 1500));
      expect(answered).toBe(false);
      await holder.query('commit');
      expect((await pending).status).toBe(200);
    } finally {
      await holder.end();
    }
  });

  test("decnet deploy --dry-run prints the plan as a table and deploys nothing; its refusals are the deploy's", async () => {
    const home = path.join(dir, 'home');
    await fs.mkdir(home, { recursive: true });
    const file = path.join(dir, 'cli.ini');
    await fs.writeFile(file, `${general()}\n[cli-a]\nservices=ssh\n\n[cli-b]\nip=${stack.lan.ip(60)}\nservices=http\n`);
    const before = await writtenState();
    const run = await runDecnet(['deploy', '-f', file, '--dry-run'], cliEnvFor(stack, home));
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    const lines = run.stdout.split('\n');
    expect(lines[0]).toBe('dry run: 2 decky(ies) to deploy; will deploy locally');
    expect(lines[1]).toBe(`LAN ${stack.lan.subnet} (gateway ${stack.lan.gateway}) on ${stack.lan.parent}`);
    expect(lines[2]).toMatch(/^NAME +IP +SERVICES +DISTRO +HOST +DRIVER$/);
    expect(lines[3]).toMatch(new RegExp(`^cli-a +${lanIp()} +ssh +\\S+ +master +macvlan$`));
    expect(lines[4]).toMatch(new RegExp(`^cli-b +${stack.lan.ip(60).replace(/\./g, '\\.')} +http +\\S+ +master +macvlan$`));
    expect(lines.slice(5)).toEqual(['nothing was deployed', '']);
    expect(await writtenState()).toEqual(before);
    expect(await workflowIds('DeckyName="cli-a"')).toEqual([]);

    const clash = path.join(dir, 'clash.ini');
    await fs.writeFile(clash, `${general()}\n[web]\nservices=ssh\n`);
    const refused = await runDecnet(['deploy', '-f', clash, '--dry-run'], cliEnvFor(stack, home));
    expect([refused.code, refused.stdout, refused.stderr]).toEqual([1, '', 'error: decky "web" already exists\n']);
  });
});

describe('swarm', () => {
  let a: { hostUuid: string };
  let b: { hostUuid: string };

  beforeAll(async () => {
    // Enrolled through the bundle flow (the .tgz fetched records the address) and live after one
    // heartbeat with their certificates. The dry run never reaches an agent, so none is started.
    const enroll = async (name: string, useIpvlan: boolean) => {
      const agent = await enrollAgent(stack, api, dir, { name, project: `${stack.config.composeProject}-${name}`, useIpvlan });
      expect(await heartbeatAs(agent, stack.master!.swarmUrl!)).toBe(200);
      return agent;
    };
    a = await enroll('a', false);
    b = await enroll('b', true);
  });

  test('new deckies go round-robin over the live hosts; the use_ipvlan host gets ipvlan, marked forced', async () => {
    const plan = await dryRun({ deckies: [{ name: 'sw', services: ['ssh'], amount: 3 }], network: network() });
    expect([plan.status, plan.body.error]).toEqual([200, undefined]);
    expect(plan.body).toMatchObject({ mode: 'swarm', message: '3 decky(ies) to deploy; will shard across 2 hosts' });
    expect(plan.body.deckies.map((d: any) => [d.name, d.host, d.driver, d.ipvlan_forced])).toEqual([
      ['sw-01', { uuid: a.hostUuid, name: 'a' }, 'macvlan', false],
      ['sw-02', { uuid: b.hostUuid, name: 'b' }, 'ipvlan', true],
      ['sw-03', { uuid: a.hostUuid, name: 'a' }, 'macvlan', false],
    ]);
  });

  test('a decky of a host gone silent is re-homed to a live one', async () => {
    // A decky that an earlier deploy put on b, whose host then stopped answering.
    const em = stack.master!.orm.em.fork();
    const web = await em.findOneOrFail(Decky, { name: 'web' });
    web.hostUuid = b.hostUuid;
    await em.flush();
    await em.nativeUpdate(SwarmHost, { uuid: b.hostUuid }, { status: 'unreachable' });
    const before = await writtenState();
    const plan = await dryRun({ deckies: [{ name: 'sw', services: ['ssh'] }], network: network() });
    expect([plan.status, plan.body.error]).toEqual([200, undefined]);
    expect(plan.body.message).toBe('1 decky(ies) to deploy, 1 orphan(s) to re-home; will shard across 1 host');
    expect(plan.body.rehomed).toEqual([{ name: 'web', from_host: { uuid: b.hostUuid, name: 'b' }, to_host: { uuid: a.hostUuid, name: 'a' } }]);
    expect(placement(plan.body.deckies)).toEqual([['sw', expect.any(String), a.hostUuid, 'macvlan']]);
    expect(await writtenState()).toEqual(before);
    expect((await api.get('/deckies/web')).body.host_uuid).toBe(b.hostUuid);
  });

  test('decnet swarm-deploy --dry-run prints the hosts and drivers and deploys nothing', async () => {
    await stack.master!.orm.em.fork().nativeUpdate(SwarmHost, { uuid: b.hostUuid }, { status: 'active', lastHeartbeat: new Date() });
    const file = path.join(dir, 'swarm.ini');
    await fs.writeFile(file, `${general()}\n[y1]\nservices=ssh\n\n[y2]\nservices=ssh\n`);
    const home = path.join(dir, 'home');
    const before = await writtenState();
    const run = await runDecnet(['swarm-deploy', '-f', file, '--dry-run'], cliEnvFor(stack, home));
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^dry run: 2 decky\(ies\) to deploy; will shard across 2 hosts$/m);
    expect(run.stdout).toMatch(new RegExp(`^y1 +${lanIp()} +ssh +\\S+ +a +macvlan$`, 'm'));
    expect(run.stdout).toMatch(new RegExp(`^y2 +${lanIp()} +ssh +\\S+ +b +ipvlan \\(forced: the host uses ipvlan\\)$`, 'm'));
    expect(await writtenState()).toEqual(before);
  });
});
