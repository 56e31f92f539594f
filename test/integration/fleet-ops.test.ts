/**
 * Fleet-wide operations on the master's own engine: the deployment limit (read, set, checked
 * before a deploy expands anything), the fleet filters, tearing the whole fleet down behind its
 * size (no container and no LAN network left), `decnet teardown --all`, and the runtime's LAN
 * network: kept while attached, re-created by a deploy that a teardown raced.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { DeckyLifecycle, DeploymentSettings } from '../../src/entities';
import { LABELS, ROLES } from '../../src/domain/compose-render';
import { SEARCH_ATTRIBUTES } from '../../src/domain/workflow-ids';
import { createApiToken } from '../../src/operations/tokens';
import { createTestStack, macvlanLan, networkExists, requireEnv, stackRuntime, type TestStack } from '../support/master';
import { apiClient, waitForTerminal, type ApiClient } from '../support/http';
import { cliEnvFor, runDecnet } from '../support/process';

let stack: TestStack;
let api: ApiClient;
let home: string;

beforeAll(async () => {
  stack = await createTestStack('fleetops', 46);
  await stack.startMaster();
  api = apiClient(stack.api, stack.adminToken);
  home = await fs.mkdtemp(path.join(os.tmpdir(), 'decnet-fleetops-home-'));
});

afterAll(async () => {
  await stack?.cleanup();
  if (home) await fs.rm(home, { recursive: true, force: true });
});

const network = () => ({ subnet: stack.lan.subnet, gateway: stack.lan.gateway, interface: stack.lan.parent });
const lanName = () => `${stack.config.composeProject}_lan`;
const projectContainers = () => stack.docker.listContainers({ all: true, filters: { label: [`${LABELS.project}=${stack.config.composeProject}`] } });
const lanExists = () => networkExists(stack.docker, lanName());
const lifecycleCount = () => stack.master!.orm.em.fork().count(DeckyLifecycle, {});

async function deploy(names: string[]) {
  const res = await api.post('/deckies/deploy', { network: network(), deckies: names.map((name) => ({ name, services: ['ssh'] })) });
  expect([res.status, res.body.error]).toEqual([202, undefined]);
  return res.body.lifecycle_ids as string[];
}

async function allSucceed(ids: string[]) {
  const rows = await waitForTerminal(api, ids);
  expect(rows.map((r) => [r.decky_name, r.status, r.error])).toEqual(rows.map((r) => [r.decky_name, 'succeeded', null]));
  return rows;
}

describe('deployment limit', () => {
  test('GET shows the limit and the fleet size; PUT sets it (admin), bad values are 400', async () => {
    expect((await api.get('/system/limits')).body).toEqual({ deployment_limit: 10, deckies_used: 0 });
    const viewer = apiClient(stack.api, await createApiToken(stack.master!.orm.em.fork(), 'fleetops-viewer', 'viewer'));
    expect((await viewer.get('/system/limits')).status).toBe(200);
    expect((await viewer.put('/system/limits', { deployment_limit: 5 })).status).toBe(403);

    for (const body of [
      { deployment_limit: 0 },
      { deployment_limit: 501 },
      { deployment_limit: 2.5 },
      { deployment_limit: '3' },
      {},
      { deployment_limit: 3, extra: 1 },
    ]) {
      const res = await api.put('/system/limits', body);
      expect([JSON.stringify(body), res.status]).toEqual([JSON.stringify(body), 400]);
      expect(res.body.error.message).toMatch(/deployment_limit|extra/);
    }
    const set = await api.put('/system/limits', { deployment_limit: 3 });
    expect([set.status, set.body]).toEqual([200, { deployment_limit: 3, deckies_used: 0 }]);
    expect((await api.get('/system/limits')).body.deployment_limit).toBe(3);
  });

  test('a deploy whose amounts sum over the limit is 409 before anything is expanded, allocated or written', async () => {
    // Two addresses in the pool: expanding 4 deckies would fail with pool_exhausted, so the
    // limit's answer shows the check ran first.
    const res = await api.post('/deckies/deploy', {
      network: { ...network(), ip_range: `${stack.lan.ip(200)}/31` },
      deckies: [
        { name: 'one', services: ['ssh'] },
        { name: 'many', amount: 3, services: ['ssh'] },
      ],
    });
    expect([res.status, res.body.error.code]).toEqual([409, 'deployment_limit']);
    expect(res.body.error.message).toBe('the request asks for 4 deckies, over the deployment limit of 3 (GET/PUT /api/v1/system/limits)');
    expect(await lifecycleCount()).toBe(0);
    // The transaction was rolled back: not even the network settings were written.
    expect((await stack.master!.orm.em.fork().findOneOrFail(DeploymentSettings, { id: 1 })).subnet).toBeNull();
  });
});

describe('a fleet of 3', () => {
  beforeAll(async () => {
    await allSucceed(await deploy(['fa', 'fb', 'fc']));
  });

  test('the limit cannot go below the fleet, and one more decky is over it', async () => {
    const below = await api.put('/system/limits', { deployment_limit: 2 });
    expect([below.status, below.body.error.code]).toEqual([409, 'deployment_limit_below_fleet']);
    expect(below.body.error.message).toContain('below the 3 decky(ies) deployed now');
    expect((await api.get('/system/limits')).body).toEqual({ deployment_limit: 3, deckies_used: 3 });

    const before = await lifecycleCount();
    const over = await api.post('/deckies/deploy', { deckies: [{ name: 'fd', services: ['ssh'] }] });
    expect([over.status, over.body.error.code]).toEqual([409, 'deployment_limit']);
    expect(await lifecycleCount()).toBe(before);
    expect((await api.put('/system/limits', { deployment_limit: 10 })).body).toEqual({ deployment_limit: 10, deckies_used: 3 });
  });

  test('GET /deckies filters by host and state; bad values are 400', async () => {
    const names = async (query: string) => {
      const res = await api.get(`/deckies${query}`);
      expect([query, res.status]).toEqual([query, 200]);
      return res.body.deckies.map((d: { name: string }) => d.name);
    };
    expect(await names('')).toEqual(['fa', 'fb', 'fc']);
    expect(await names('?host_uuid=master')).toEqual(['fa', 'fb', 'fc']);
    expect(await names(`?host_uuid=${randomUUID()}`)).toEqual([]);
    expect(await names('?state=running')).toEqual(['fa', 'fb', 'fc']);
    expect(await names('?state=failed')).toEqual([]);
    expect(await names('?host_uuid=master&state=running')).toEqual(['fa', 'fb', 'fc']);

    for (const [query, field] of [
      ['?state=sleeping', 'state'],
      ['?host_uuid=not-a-host', 'host_uuid'],
      ['?state=running&state=failed', 'state'],
      ['?colour=blue', 'colour'],
    ]) {
      const res = await api.get(`/deckies${query}`);
      expect([query, res.status, res.body.error.code]).toEqual([query, 400, 'invalid_input']);
      expect(res.body.error.message).toContain(field);
    }
  });

  test('tearing down the fleet needs its size: missing or wrong is 409 naming it, not a number is 400', async () => {
    const missing = await api.delete('/deckies');
    expect([missing.status, missing.body.error.code, missing.body.error.details]).toEqual([409, 'fleet_size_mismatch', { fleet_size: 3 }]);
    expect(missing.body.error.message).toContain('the fleet has 3 decky(ies) and no confirm was given; send confirm=3');
    const wrong = await api.delete('/deckies?confirm=2');
    expect([wrong.status, wrong.body.error.details]).toEqual([409, { fleet_size: 3 }]);
    expect(wrong.body.error.message).toContain('confirm=2 was given');
    for (const bad of ['three', '-3', '3.0', '']) {
      const res = await api.delete(`/deckies?confirm=${bad}`);
      expect([bad, res.status, res.body.error.code]).toEqual([bad, 400, 'invalid_input']);
      expect(res.body.error.message).toContain('confirm');
    }
    expect((await api.get('/deckies')).body.deckies).toHaveLength(3);
  });

  test('with the right size: 202 with one row per decky, all succeed, no container and no LAN network left', async () => {
    expect(await lanExists()).toBe(true);
    const res = await api.delete('/deckies?confirm=3');
    expect(res.status).toBe(202);
    expect(res.body.deckies).toEqual(['fa', 'fb', 'fc']);
    expect(res.body.lifecycle_ids).toHaveLength(3);
    const rows = await allSucceed(res.body.lifecycle_ids);
    expect(rows.map((r) => r.operation)).toEqual(['teardown', 'teardown', 'teardown']);
    // The one that finished last on this engine removed the network.
    expect(
      rows
        .flatMap((r) => r.steps)
        .filter((s: { name: string; detail?: string }) => s.name === 'compose_down' && s.detail?.includes(`removed network ${lanName()}`)),
    ).toHaveLength(1);
    expect((await api.get('/deckies')).body.deckies).toEqual([]);
    expect(await projectContainers()).toEqual([]);
    expect(await lanExists()).toBe(false);
  });
});

describe('decnet teardown --all', () => {
  const cli = (args: string[]) => runDecnet(args, cliEnvFor(stack, home));

  test("a fleet teardown supersedes the operations in flight, as a decky's own teardown does: they fail as cancelled, nothing is left", async () => {
    const deploys = await deploy(['ca', 'cb']);
    const res = await api.delete('/deckies?confirm=2');
    expect([res.status, res.body.deckies]).toEqual([202, ['ca', 'cb']]);
    const cancelled = await waitForTerminal(api, deploys);
    expect(cancelled.map((r) => [r.decky_name, r.status, r.error])).toEqual([
      ['ca', 'failed', 'Cancelled: superseded by a teardown of the decky'],
      ['cb', 'failed', 'Cancelled: superseded by a teardown of the decky'],
    ]);
    // Temporal says the same: cancelled, not failed, whenever the teardown caught the workflow.
    for (const row of cancelled) {
      const handle = stack.master!.client.workflow.getHandle(row.workflow_id);
      await handle.result().catch(() => undefined);
      expect([row.decky_name, (await handle.describe()).typedSearchAttributes.get(SEARCH_ATTRIBUTES.Outcome)]).toEqual([row.decky_name, 'cancelled']);
    }
    await allSucceed(res.body.lifecycle_ids);
    expect(await projectContainers()).toEqual([]);
    expect(await lanExists()).toBe(false);
  });

  test('reads the fleet size, tears every decky down with progress, and the network is gone again', async () => {
    await allSucceed(await deploy(['ca', 'cb']));
    expect(await lanExists()).toBe(true);
    const run = await cli(['teardown', '--all']);
    const explain = `exit ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
    expect([run.code, explain]).toEqual([0, explain]);
    expect(run.stdout).toContain('accepted 2 decky(ies) for teardown');
    expect(run.stdout).toMatch(/^ca: teardown/m);
    expect(run.stdout).toMatch(/^cb: compose_down ok$/m);
    expect(run.stdout).toMatch(/^\[OK\] ca$/m);
    expect(run.stdout).toMatch(/^\[OK\] cb$/m);
    const rows = (await stack.master!.orm.em.fork().find(DeckyLifecycle, { operation: 'teardown', deckyName: { $in: ['ca', 'cb'] } })).map((r) => r.trigger);
    // The API's fleet teardown above (operator), then this one (cli).
    expect(rows.sort()).toEqual(['cli', 'cli', 'operator', 'operator']);
    expect(await projectContainers()).toEqual([]);
    expect(await lanExists()).toBe(false);

    const empty = await cli(['teardown', '--all']);
    expect([empty.code, empty.stdout]).toEqual([0, expect.stringContaining('accepted 0 decky(ies) for teardown')]);
    expect((await cli(['teardown', 'ca', '--all'])).code).toBe(2);
    expect((await cli(['teardown'])).code).toBe(2);
  });
});

describe('the LAN network and a deploy racing the last teardown', () => {
  test('the network is kept while a container is attached; a deploy whose network went after its network step re-creates it', async () => {
    const runtime = stackRuntime(stack, path.join(home, 'compose'));
    const spec = macvlanLan(stack.lan);
    const decky = {
      name: 'racer',
      ip: stack.lan.ip(77),
      services: ['ssh'],
      archetype: null,
      distro: 'debian',
      base_image: `${requireEnv('TEST_IMAGE_REGISTRY')}/base:${requireEnv('TEST_IMAGE_TAG')}`,
      hostname: 'racer',
      nmap_os: 'linux' as const,
      service_config: {},
      mutate_interval: null,
      custom_services: {},
    };
    expect(await runtime.ensureLanNetwork(spec)).toMatch(/^created macvlan network/);
    // The last teardown elsewhere on this engine removes the network between this deploy's steps.
    expect(await runtime.removeLanNetworkIfUnused()).toBe(`removed network ${lanName()}`);
    expect(await runtime.up(decky, 'macvlan')).toBe(
      `compose up racer.yml (created macvlan network ${lanName()} on ${stack.lan.parent} again: a teardown had removed it)`,
    );
    expect(await runtime.verifyHealthy(decky)).toContain(`base on ${decky.ip}`);

    // Only the base joins the network: the services live in its namespace.
    expect(await runtime.removeLanNetworkIfUnused()).toBe(`network ${lanName()} kept: 1 container(s) attached`);
    // A stopped decky still needs it to start again, though the network lists running containers only.
    const base = (await runtime.deckyContainers('racer')).find((c) => c.Labels[LABELS.role] === ROLES.base)!;
    await stack.docker.getContainer(base.Id).stop({ t: 0 });
    expect(await runtime.removeLanNetworkIfUnused()).toBe(`network ${lanName()} kept: 1 container(s) attached`);
    await stack.docker.getContainer(base.Id).start();
    expect(await lanExists()).toBe(true);
    expect(await runtime.down('racer')).toBe('removed 2 container(s)');
    expect(await runtime.removeLanNetworkIfUnused()).toBe(`removed network ${lanName()}`);
    expect(await runtime.removeLanNetworkIfUnused()).toBe(`network ${lanName()} already gone`);
  });
});
