/**
 * The master's own LAN driver changed under its running deckies moves them (issue 11 §4): one
 * `move` row each (trigger `driver_change`) whose workflow asks this machine's engine for the
 * ipvlan network for real. This kernel has no ipvlan: each row fails with IpvlanUnsupported, the
 * macvlan network is put back and every base container (never recreated) rejoins it with its IP,
 * the deckies stay `running` and say why they did not move, and the LAN still says macvlan.
 */
import { LABELS, ROLES } from '../../src/domain/compose-render';
import { createTestStack, type TestStack } from '../support/master';
import { apiClient, waitForTerminal, type ApiClient } from '../support/http';
import { recordHistories } from '../support/histories';

const SLOT = 91;
const DRIFT_MS = 500;

let stack: TestStack;
let api: ApiClient;
/** Workflows whose histories RECORD_HISTORIES=<change> saves for the replay test, by file name. */
const toRecord = new Map<string, string>();

beforeAll(async () => {
  stack = await createTestStack('drivermovemaster', SLOT, { DECNET_DRIFT_INTERVAL_MS: String(DRIFT_MS) });
  await stack.startMaster();
  api = apiClient(stack.api, stack.adminToken);
});

afterAll(async () => {
  if (stack?.master) await recordHistories(toRecord);
  await stack?.cleanup();
});

const lanNetwork = () => `${stack.config.composeProject}_lan`;

/** Each container of the master's deckies by decky and role: its id, state and address on the LAN network, as `docker inspect` shows them. */
async function containers(): Promise<Record<string, { id: string; state: string; ip: string | undefined }>> {
  const all = await stack.docker.listContainers({ all: true, filters: { label: [`${LABELS.project}=${stack.config.composeProject}`] } });
  const out: Record<string, { id: string; state: string; ip: string | undefined }> = {};
  for (const c of all) {
    const info = await stack.docker.getContainer(c.Id).inspect();
    const role = c.Labels[LABELS.role] === ROLES.base ? ROLES.base : c.Labels[LABELS.service];
    out[`${c.Labels[LABELS.decky]}/${role}`] = { id: c.Id, state: info.State.Status, ip: info.NetworkSettings.Networks[lanNetwork()]?.IPAddress || undefined };
  }
  return out;
}

test("switching the master's LAN to ipvlan moves its deckies; refused by this kernel, they stay on macvlan with their containers and IPs", async () => {
  const network = { subnet: stack.lan.subnet, gateway: stack.lan.gateway, interface: stack.lan.parent };
  const deployed = await api.post('/deckies/deploy', {
    network,
    deckies: [
      { name: 'dm-1', services: ['ssh'], ip: stack.lan.ip(21) },
      { name: 'dm-2', services: ['ssh'], ip: stack.lan.ip(22) },
    ],
  });
  expect([deployed.status, deployed.body.error]).toEqual([202, undefined]);
  expect((await waitForTerminal(api, deployed.body.lifecycle_ids)).map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
  const before = await containers();
  expect(Object.keys(before).sort()).toEqual(['dm-1/base', 'dm-1/ssh', 'dm-2/base', 'dm-2/ssh']);
  expect([before['dm-1/base'].ip, before['dm-2/base'].ip]).toEqual([stack.lan.ip(21), stack.lan.ip(22)]);
  const networkBefore = await stack.docker.getNetwork(lanNetwork()).inspect();
  expect(networkBefore.Driver).toBe('macvlan');

  const res = await api.put('/system/network', { ...network, driver: 'ipvlan' });
  expect([res.status, res.body.error]).toEqual([202, undefined]);
  // The LAN still names the driver the deckies are on until a move succeeds.
  expect(res.body).toMatchObject({ configured: true, driver: 'macvlan', moving_to: 'ipvlan' });
  expect(res.body.lifecycle_ids).toHaveLength(2);

  // One operation per decky at a time: another change while they move is refused, even back to
  // the driver the LAN still names (the moves would change it afterwards).
  for (const driver of ['ipvlan', 'macvlan']) {
    const again = await api.put('/system/network', { ...network, driver });
    expect([again.status, again.body.error?.code, again.body.error?.message]).toEqual([
      409,
      'operation_in_flight',
      'the master is moving 2 decky(ies) to ipvlan (dm-1, dm-2); change its driver again when the moves have finished. Nothing was changed.',
    ]);
  }

  const rows = await waitForTerminal(api, res.body.lifecycle_ids);
  toRecord.set('move-failed', rows[0].workflow_id);
  for (const row of rows) {
    expect(row).toMatchObject({ operation: 'move', trigger: 'driver_change', network_driver: 'ipvlan', status: 'failed', host_uuid: null });
    expect(row.workflow_id).toBe(`decky-${row.decky_name}-move-${row.id}`);
    // The engine's own refusal, from the real request for the ipvlan network.
    expect(row.error).toMatch(/^IpvlanUnsupported: this host's kernel does not support ipvlan networks \(.*operation not supported.*\)/);
    expect(row.error).toContain(`Nothing moved: network ${lanNetwork()} is macvlan again and its 2 container(s) rejoined it with their addresses`);
    expect(row.steps.map((s: { name: string; ok: boolean }) => [s.name, s.ok])).toEqual([
      ['render', true],
      ['move_network', false],
    ]);
    expect(row.steps[0].detail).toBe(`macvlan → ipvlan on ${stack.lan.parent}`);
  }
  expect(rows.map((r) => r.decky_name).sort()).toEqual(['dm-1', 'dm-2']);

  // The network was really replaced (a new one), and put back as it was: macvlan, same pool.
  const networkAfter = await stack.docker.getNetwork(lanNetwork()).inspect();
  expect(networkAfter.Id).not.toBe(networkBefore.Id);
  expect([networkAfter.Driver, networkAfter.Options, networkAfter.IPAM?.Config?.[0]]).toEqual([
    networkBefore.Driver,
    networkBefore.Options,
    networkBefore.IPAM?.Config?.[0],
  ]);
  // Same containers (never recreated), all running, each base at its IP on the LAN.
  const after = await containers();
  expect(after).toEqual(before);
  expect(Object.values(after).map((c) => c.state)).toEqual(['running', 'running', 'running', 'running']);

  expect((await api.get('/system/network')).body.driver).toBe('macvlan');
  // Drift detection judges them after the rows ended: they run as desired, so they stay running and keep saying why they did not move.
  await new Promise((r) => setTimeout(r, 4 * DRIFT_MS));
  for (const row of rows) {
    const decky = (await api.get(`/deckies/${row.decky_name}`)).body;
    expect([decky.state, decky.last_error]).toEqual(['running', row.error]);
  }
});

test('another LAN field changed with the driver is refused as before, naming what a move needs', async () => {
  const lan = (await api.get('/system/network')).body;
  const res = await api.put('/system/network', { interface: lan.interface, subnet: lan.subnet, gateway: stack.lan.ip(254), driver: 'ipvlan' });
  expect([res.status, res.body.error.code, res.body.error.details.changed]).toEqual([409, 'network_mismatch', ['gateway', 'driver']]);
  expect(res.body.error.message).toContain('A driver change alone moves deckies instead');
});
