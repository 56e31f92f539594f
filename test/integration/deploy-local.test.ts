/**
 * Local deploy end to end: real Temporal dev server, PostgreSQL and Docker engine; macvlan on a
 * veth parent this file creates.
 */
import { randomUUID } from 'node:crypto';
import { DeckyLifecycle, Decky, DeploymentSettings } from '../../src/entities';
import { createApiToken } from '../../src/operations/tokens';
import { workflowIdFor } from '../../src/domain/workflow-ids';
import { reconcileLifecycles } from '../../src/operations/reconcile';
import { LABELS, ROLES } from '../../src/domain/compose-render';
import { createTestStack, freePort, requireEnv, type TestStack } from '../support/master';
import { createApp, temporalProbe } from '../../src/api/app';
import { createLogger } from '../../src/logger';
import { apiClient, waitForTerminal, type ApiClient } from '../support/http';
import { recordHistories } from '../support/histories';

let stack: TestStack;
let api: ApiClient;

beforeAll(async () => {
  stack = await createTestStack('deploy', 11);
  await stack.startMaster();
  api = apiClient(stack.api, stack.adminToken);
});

/** Workflows whose histories RECORD_HISTORIES=<change> saves for the replay test, by file name. */
const toRecord = new Map<string, string>();

afterAll(async () => {
  try {
    if (stack?.master) await recordHistories(toRecord);
  } finally {
    await stack?.cleanup();
  }
});

const general = () => `[general]\nnet=${stack.lan.subnet}\ngw=${stack.lan.gateway}\ninterface=${stack.lan.parent}\n`;

async function containersOf(decky: string) {
  return stack.docker.listContainers({
    all: true,
    filters: { label: [`${LABELS.project}=${stack.config.composeProject}`, `${LABELS.decky}=${decky}`] },
  });
}

async function inspectBase(decky: string) {
  const base = (await containersOf(decky)).find((c) => c.Labels[LABELS.role] === ROLES.base);
  if (!base) throw new Error(`no base container for ${decky}`);
  return stack.docker.getContainer(base.Id).inspect();
}

/**
 * The workflow ids a visibility query finds among this file's (other files share the dev server),
 * once the eventually consistent listing shows any.
 */
async function workflowIdsWhere(query: string): Promise<string[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ids: string[] = [];
    for await (const wf of stack.master!.client.workflow.list({ query: `${query} AND TaskQueue="${stack.config.taskQueue}"` })) ids.push(wf.workflowId);
    if (ids.length > 0 || Date.now() > deadline) return ids;
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function setDeploymentLimit(limit: number) {
  await stack.master!.orm.em.fork().nativeUpdate(DeploymentSettings, { id: 1 }, { deploymentLimit: limit });
}

describe('local deploy', () => {
  let firstIds: string[];
  const firstContainers = new Map<string, { id: string; startedAt: string }>();

  test('deploying 3 deckies answers 202 with 3 ids and every row succeeds', async () => {
    const ini = `${general()}
[web]
ip=${stack.lan.ip(50)}
services=http,ftp
[web.http]
server_header=Apache/2.4.57

[ws]
archetype=windows-workstation
amount=2
`;
    const res = await api.post('/deckies/deploy', { ini_content: ini });
    expect(res.status).toBe(202);
    expect(res.body.mode).toBe('unihost');
    expect(res.body.lifecycle_ids).toHaveLength(3);
    firstIds = res.body.lifecycle_ids;

    const rows = await waitForTerminal(api, firstIds);
    for (const row of rows) {
      expect({ decky: row.decky_name, status: row.status, error: row.error }).toEqual({ decky: row.decky_name, status: 'succeeded', error: null });
      expect(row.steps.map((s: { name: string }) => s.name)).toEqual(['render', 'network', 'compose_up', 'verify', 'schedule']);
      for (const step of row.steps) expect(Date.parse(step.finished_at)).toBeGreaterThanOrEqual(Date.parse(step.started_at));
    }
    expect(rows.map((r) => r.decky_name).sort()).toEqual(['web', 'ws-01', 'ws-02']);
    toRecord.set('deploy-succeeded', rows[0].workflow_id);
  });

  test('containers run with the requested IPs and labels, services share the base network namespace', async () => {
    const fleet = await api.get('/deckies');
    expect(fleet.status).toBe(200);
    const byName = new Map<string, any>(fleet.body.deckies.map((d: any) => [d.name, d]));
    expect(byName.get('web').ip).toBe(stack.lan.ip(50));
    expect(byName.get('ws-01').services).toEqual(['smb', 'rdp']);

    for (const decky of fleet.body.deckies) {
      expect(decky.state).toBe('running');
      const base = await inspectBase(decky.name);
      expect(base.State.Running).toBe(true);
      expect(base.NetworkSettings.Networks[`${stack.config.composeProject}_lan`].IPAddress).toBe(decky.ip);
      expect(base.Config.Labels[LABELS.decky]).toBe(decky.name);
      expect(base.HostConfig.Sysctls?.['net.ipv4.ip_default_ttl']).toBe(decky.nmap_os === 'windows' ? '128' : '64');
      firstContainers.set(decky.name, { id: base.Id, startedAt: base.State.StartedAt });

      const services = (await containersOf(decky.name)).filter((c) => c.Labels[LABELS.role] === ROLES.service);
      expect(services.map((c) => c.Labels[LABELS.service]).sort()).toEqual([...decky.services].sort());
      for (const svc of services) {
        const info = await stack.docker.getContainer(svc.Id).inspect();
        expect(info.State.Running).toBe(true);
        expect(info.HostConfig.NetworkMode).toBe(`container:${base.Id}`);
        expect(info.Config.Labels[LABELS.decky]).toBe(decky.name);
      }
    }
    const web = (await containersOf('web')).find((c) => c.Labels[LABELS.service] === 'http')!;
    const env = (await stack.docker.getContainer(web.Id).inspect()).Config.Env;
    expect(env).toEqual(expect.arrayContaining([expect.stringMatching(/SERVER_HEADER=Apache\/2\.4\.57$/)]));
  });

  test('a second, additive deploy leaves the first deckies untouched', async () => {
    const res = await api.post('/deckies/deploy', { deckies: [{ name: 'db', archetype: 'database-server' }] });
    expect(res.status).toBe(202);
    const [row] = await waitForTerminal(api, res.body.lifecycle_ids);
    expect(row.status).toBe('succeeded');
    for (const [name, before] of firstContainers) {
      const after = await inspectBase(name);
      expect({ name, id: after.Id, startedAt: after.State.StartedAt }).toEqual({ name, ...before });
    }
    const again = await api.get(`/deckies/lifecycle?ids=${firstIds.join(',')}`);
    expect(again.body.rows).toHaveLength(3);
  });

  test('lifecycle polling takes 1–200 ids, repeated or comma-separated', async () => {
    const ids = [...firstIds, ...Array.from({ length: 197 }, () => randomUUID())];
    const repeated = await api.get(`/deckies/lifecycle?${ids.map((id) => `ids=${id}`).join('&')}`);
    expect(repeated.status).toBe(200);
    expect(repeated.body.rows.map((r: { id: string }) => r.id).sort()).toEqual([...firstIds].sort());
    const mixed = await api.get(
      `/deckies/lifecycle?ids=${ids.slice(0, 100).join(',')}&${ids
        .slice(100)
        .map((id) => `ids=${id}`)
        .join('&')}`,
    );
    expect(mixed.body.rows).toHaveLength(3);
    const tooMany = await api.get(`/deckies/lifecycle?${[...ids, randomUUID()].map((id) => `ids=${id}`).join('&')}`);
    expect(tooMany.status).toBe(400);
    expect(JSON.stringify(tooMany.body)).toContain('at most 200 ids');
  });

  test('name clash, IP clash and the deployment limit answer 409', async () => {
    const clash = await api.post('/deckies/deploy', { deckies: [{ name: 'web', services: ['ssh'] }] });
    expect(clash.status).toBe(409);
    expect(clash.body.error.code).toBe('name_clash');
    expect(clash.body.error.message).toContain('web');

    const ipClash = await api.post('/deckies/deploy', { deckies: [{ name: 'other', ip: stack.lan.ip(50), services: ['ssh'] }] });
    expect(ipClash.status).toBe(409);
    expect(ipClash.body.error.code).toBe('ip_clash');
    expect(ipClash.body.error.message).toContain(stack.lan.ip(50));

    const over = await api.post('/deckies/deploy', { deckies: [{ name: 'many', amount: 7, services: ['ssh'] }] });
    expect(over.status).toBe(409);
    expect(over.body.error.code).toBe('deployment_limit');
    expect(await stack.master!.orm.em.fork().count(Decky, { name: { $like: 'many%' } })).toBe(0);
  });

  test('malformed INI names the line, malformed JSON names the field', async () => {
    const ini = await api.post('/deckies/deploy', { ini_content: `${general()}\n[x]\nservices=ssh\nthis is not a key value\n` });
    expect(ini.status).toBe(400);
    expect(ini.body.error.message).toMatch(/line 8/);

    const badKey = await api.post('/deckies/deploy', { ini_content: `${general()}[x]\nservices=ssh\namount=500\n` });
    expect(badKey.status).toBe(400);
    expect(badKey.body.error.message).toMatch(/line 7/);
    expect(badKey.body.error.message).toContain('amount');

    const json = await api.post('/deckies/deploy', { deckies: [{ name: 'Bad_Name', services: ['ssh'] }] });
    expect(json.status).toBe(400);
    expect(json.body.error.message).toContain('deckies.0.name');

    const reserved = await api.post('/deckies/deploy', { deckies: [{ name: 'lifecycle', services: ['ssh'] }] });
    expect(reserved.status).toBe(400);
    expect(reserved.body.error.message).toContain('reserved');

    const unknownService = await api.post('/deckies/deploy', { deckies: [{ name: 'x1', services: ['gopher'] }] });
    expect(unknownService.status).toBe(400);
    expect(unknownService.body.error.message).toContain('gopher');

    const notJson = await api.post('/deckies/deploy', '{"deckies": [', {});
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.code).toBe('invalid_json');
  });

  test('no token is 401, a viewer deploying is 403, a viewer may read', async () => {
    const anonymous = apiClient(stack.api);
    expect((await anonymous.get('/deckies')).status).toBe(401);
    expect((await apiClient(stack.api, 'nope').get('/deckies')).status).toBe(401);
    const viewerToken = await createApiToken(stack.master!.orm.em.fork(), 'viewer', 'viewer');
    const viewer = apiClient(stack.api, viewerToken);
    const denied = await viewer.post('/deckies/deploy', { deckies: [{ name: 'v1', services: ['ssh'] }] });
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('forbidden');
    expect((await viewer.get('/deckies')).status).toBe(200);
    expect((await viewer.get('/system/deployment-mode')).body).toEqual({
      mode: 'unihost',
      role: 'master',
      swarm_host_count: 0,
      message: 'will deploy locally',
    });
  });

  test('a decky with a missing image fails naming the image while the others succeed', async () => {
    const registry = requireEnv('TEST_IMAGE_REGISTRY');
    const tag = requireEnv('TEST_IMAGE_TAG');
    const missing = `${registry}/vnc:${tag}`;
    const keep = await stack.docker.getImage(missing).inspect();
    await stack.docker.getImage(missing).remove({ noprune: true });
    try {
      const res = await api.post('/deckies/deploy', {
        deckies: [
          { name: 'good', services: ['ssh'] },
          { name: 'bad', services: ['ssh', 'vnc'] },
        ],
      });
      expect(res.status).toBe(202);
      const [good, bad] = await waitForTerminal(api, res.body.lifecycle_ids);
      expect(good.status).toBe('succeeded');
      expect(bad.status).toBe('failed');
      expect(bad.error).toContain(missing);
      expect(bad.error).toMatch(/^MissingImage:/);
      // Non-retryable: one attempt, and the failed step says so.
      expect(bad.steps.at(-1)).toMatchObject({ name: 'compose_up', ok: false });
      expect((await api.get('/deckies/bad')).body.state).toBe('failed');
      toRecord.set('deploy-missing-image', bad.workflow_id);

      // Temporal sees it too: the workflow failed with the row's error, its Outcome says so.
      const { client } = stack.master!;
      await expect(client.workflow.getHandle(bad.workflow_id).result()).rejects.toMatchObject({
        cause: { type: 'LifecycleFailed', message: bad.error, nonRetryable: true },
      });
      expect(await workflowIdsWhere(`ExecutionStatus="Failed" AND Outcome="failed" AND DeckyName="bad"`)).toEqual([bad.workflow_id]);
      expect(await workflowIdsWhere(`ExecutionStatus="Completed" AND Outcome="succeeded" AND DeckyName="good"`)).toEqual([good.workflow_id]);
      // A failed workflow over a terminal row is no stuck operation: the reconciler leaves it alone.
      const report = await reconcileLifecycles(stack.master!.operations, { graceMs: 0 });
      expect([...report.started, ...report.failed]).not.toContain(bad.id);
      const runs: string[] = [];
      for await (const wf of client.workflow.list({ query: `WorkflowId="${bad.workflow_id}"` })) runs.push(wf.runId);
      expect(runs).toEqual([bad.run_id]);
    } finally {
      const [repo, t] = [missing.slice(0, missing.lastIndexOf(':')), tag];
      await stack.docker.getImage(keep.Id).tag({ repo, tag: t });
    }
    // Clean up so later tests have room under the limit.
    for (const name of ['bad', 'good', 'db']) {
      const res = await api.delete(`/deckies/${name}`);
      expect(res.status).toBe(202);
      const [row] = await waitForTerminal(api, res.body.lifecycle_ids);
      expect(row.status).toBe('succeeded');
    }
  });

  test('teardown removes every container of the decky, base included, and frees its IP', async () => {
    const webIp = stack.lan.ip(50);
    expect((await containersOf('web')).length).toBe(3);
    const res = await api.delete('/deckies/web');
    expect(res.status).toBe(202);
    expect(res.body.lifecycle_ids).toHaveLength(1);
    const [row] = await waitForTerminal(api, res.body.lifecycle_ids);
    expect(row).toMatchObject({ status: 'succeeded', operation: 'teardown' });
    toRecord.set('teardown-succeeded', row.workflow_id);
    expect(await containersOf('web')).toHaveLength(0);
    expect((await api.get('/deckies/web')).status).toBe(404);
    expect((await api.delete('/deckies/web')).status).toBe(404);

    const reuse = await api.post('/deckies/deploy', { deckies: [{ name: 'web2', ip: webIp, services: ['ssh'] }] });
    expect(reuse.status).toBe(202);
    const [redeployed] = await waitForTerminal(api, reuse.body.lifecycle_ids);
    expect(redeployed.status).toBe('succeeded');
    expect((await inspectBase('web2')).NetworkSettings.Networks[`${stack.config.composeProject}_lan`].IPAddress).toBe(webIp);
  });

  test('while 10 deckies deploy, 50 concurrent lifecycle polls all answer', async () => {
    await setDeploymentLimit(50);
    const res = await api.post('/deckies/deploy', { deckies: [{ name: 'load', amount: 10, services: ['ssh'] }] });
    expect(res.status).toBe(202);
    const ids: string[] = res.body.lifecycle_ids;
    const polls = await Promise.all(Array.from({ length: 50 }, () => api.get(`/deckies/lifecycle?ids=${ids.join(',')}`)));
    expect(polls.map((p) => p.status)).toEqual(Array(50).fill(200));
    for (const p of polls) expect(p.body.rows).toHaveLength(10);
    // The polls happened while work was still in flight.
    expect(polls.some((p) => p.body.rows.some((r: { status: string }) => r.status !== 'succeeded'))).toBe(true);
    const rows = await waitForTerminal(api, ids);
    expect(rows.map((r) => r.status)).toEqual(Array(10).fill('succeeded'));
  });

  test('the same Idempotency-Key returns the same lifecycle ids and starts nothing new', async () => {
    const body = { deckies: [{ name: 'idem', services: ['telnet'] }] };
    const key = { 'Idempotency-Key': `key-${randomUUID()}` };
    const first = await api.post('/deckies/deploy', body, key);
    expect(first.status).toBe(202);
    const rowsBefore = await stack.master!.orm.em.fork().count(DeckyLifecycle, {});
    const second = await api.post('/deckies/deploy', body, key);
    expect(second.status).toBe(202);
    expect(second.body.lifecycle_ids).toEqual(first.body.lifecycle_ids);
    expect(await stack.master!.orm.em.fork().count(DeckyLifecycle, {})).toBe(rowsBefore);
    const reused = await api.post('/deckies/deploy', { deckies: [{ name: 'idem2', services: ['ssh'] }] }, key);
    expect(reused.status).toBe(409);
    expect(reused.body.error.code).toBe('idempotency_key_reused');
    const [row] = await waitForTerminal(api, first.body.lifecycle_ids);
    expect(row.status).toBe('succeeded');
  });

  test('the event stream carries each row write of a deploy, in order', async () => {
    const controller = new AbortController();
    const stream = await fetch(`${stack.api}/events?topic=decky.sse1.`, {
      headers: { authorization: `Bearer ${stack.adminToken}` },
      signal: controller.signal,
    });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    const res = await api.post('/deckies/deploy', { deckies: [{ name: 'sse1', services: ['ssh'] }] });
    const statuses: string[] = [];
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of stream.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      for (const match of buffer.matchAll(/^data: (.*)$/gm)) {
        const event = JSON.parse(match[1]);
        expect(event.topic).toBe('decky.sse1.lifecycle');
        expect(event.data.lifecycle_id).toBe(res.body.lifecycle_ids[0]);
        statuses.push(event.data.status);
      }
      buffer = buffer.slice(buffer.lastIndexOf('\n\n') + 2);
      if (statuses.includes('succeeded') || statuses.includes('failed')) break;
    }
    controller.abort();
    expect(statuses).toEqual(['running', 'succeeded']);
  });

  test('readiness answers when PostgreSQL and Temporal do; with Temporal unreachable a deploy is 503 and commits nothing', async () => {
    expect((await api.get('/readyz')).body).toEqual({ status: 'ready', database: true, temporal: true });
    const { Client, Connection } = await import('@temporalio/client');
    const deadTemporal = Connection.lazy({ address: `127.0.0.1:${await freePort()}` });
    const logger = createLogger('silent');
    const app = createApp({
      operations: { ...stack.master!.operations, client: new Client({ connection: deadTemporal }), logger },
      bus: stack.master!.bus,
      logger,
      role: 'master',
      ensureTemporalReachable: temporalProbe(deadTemporal),
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const degraded = apiClient(`http://127.0.0.1:${(server.address() as { port: number }).port}/api/v1`, stack.adminToken);
      const before = await stack.master!.orm.em.fork().count(DeckyLifecycle, {});
      const res = await degraded.post('/deckies/deploy', { deckies: [{ name: 'nodeploy', services: ['ssh'] }] });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBeTruthy();
      expect(await stack.master!.orm.em.fork().count(DeckyLifecycle, {})).toBe(before);
      expect((await degraded.get('/readyz')).status).toBe(503);
    } finally {
      server.close();
      await deadTemporal.close().catch(() => undefined);
    }
  });

  test('a pending row with no workflow gets one at boot', async () => {
    await stack.stopMaster();
    const em = (await import('../../src/db/orm')).openOrm(stack.databaseUrl);
    const orm = await em;
    const id = randomUUID();
    const now = new Date();
    const fork = orm.em.fork();
    fork.create(Decky, {
      name: 'orphan',
      ip: stack.lan.ip(200),
      services: ['ssh'],
      archetype: null,
      distro: 'debian',
      baseImage: `${requireEnv('TEST_IMAGE_REGISTRY')}/base:${requireEnv('TEST_IMAGE_TAG')}`,
      hostname: 'orphan',
      nmapOs: 'linux',
      serviceConfig: {},
      state: 'pending',
      createdAt: now,
      updatedAt: now,
    } as Decky);
    fork.create(DeckyLifecycle, {
      id,
      deckyName: 'orphan',
      operation: 'deploy',
      trigger: 'operator',
      status: 'pending',
      steps: [],
      workflowId: workflowIdFor('orphan', 'deploy', id),
      startedAt: now,
      updatedAt: now,
    });
    await fork.flush();
    await orm.close(true);

    await stack.startMaster();
    const [row] = await waitForTerminal(api, [id]);
    expect(row.status).toBe('succeeded');
    expect(row.run_id).toBeTruthy();
    expect((await inspectBase('orphan')).State.Running).toBe(true);
  });
});
