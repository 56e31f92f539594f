/**
 * A swarm host's driver changed under its running deckies moves them (issue 11 §4), with a real
 * agent on this machine's engine, whose kernel has no ipvlan. The change is refused up front on
 * the agent's probe; `force` (an operator who knows the probe wrong) takes it past the refusal to
 * the engine: one `move` row per decky (trigger `driver_change`), each failing with
 * IpvlanUnsupported from the agent's real network request; the deckies stay on their macvlan
 * network with the same base containers and IPs, `running`, and the host still says macvlan.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LABELS, ROLES } from '../../src/domain/compose-render';
import { createTestStack, type TestStack } from '../support/master';
import { apiClient, waitForTerminal, type ApiClient } from '../support/http';
import { recordHistories } from '../support/histories';
import { stop } from '../support/process';
import { enrollAgent, masterCreds, removeComposeProject, startAgent, waitForActive, type TestAgent } from '../support/agents';

const SLOT = 92;
const HEARTBEAT_MS = 1000;

let stack: TestStack;
let api: ApiClient;
let dir: string;
let agent: TestAgent;
/** Workflows whose histories RECORD_HISTORIES=<change> saves for the replay test, by file name. */
const toRecord = new Map<string, string>();

beforeAll(async () => {
  stack = await createTestStack('drivermoveswarm', SLOT, { DECNET_HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_MS) });
  await stack.startMaster();
  api = apiClient(stack.api, stack.adminToken);
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'decnet-driver-move-'));
  agent = await enrollAgent(stack, api, dir, { name: 'mover', project: `${stack.config.composeProject}-mover`, useIpvlan: false });
  await removeComposeProject(stack.docker, agent.project);
  await startAgent(agent, await masterCreds(stack));
  await waitForActive(api, agent);
});

afterAll(async () => {
  if (stack?.master) await recordHistories(toRecord);
  if (agent?.proc) await stop(agent.proc);
  if (agent) await removeComposeProject(stack.docker, agent.project);
  await stack?.cleanup();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

const lanNetwork = () => `${agent.project}_lan`;
const hostView = async () => ((await api.get('/swarm/hosts')).body.hosts as any[]).find((h) => h.uuid === agent.hostUuid);

/** Each base container of the agent's deckies: its id, state and address on the LAN network, as `docker inspect` shows them. */
async function bases(): Promise<Record<string, { id: string; state: string; ip: string | undefined }>> {
  const all = await stack.docker.listContainers({ all: true, filters: { label: [`${LABELS.project}=${agent.project}`, `${LABELS.role}=${ROLES.base}`] } });
  const out: Record<string, { id: string; state: string; ip: string | undefined }> = {};
  for (const c of all) {
    const info = await stack.docker.getContainer(c.Id).inspect();
    out[c.Labels[LABELS.decky]] = { id: c.Id, state: info.State.Status, ip: info.NetworkSettings.Networks[lanNetwork()]?.IPAddress || undefined };
  }
  return out;
}

test('switching a host with running deckies to ipvlan: refused on the probe; forced, each move fails with IpvlanUnsupported and the deckies stay on macvlan', async () => {
  const deployed = await api.post('/deckies/deploy', {
    network: { subnet: stack.lan.subnet, gateway: stack.lan.gateway, interface: stack.lan.parent },
    deckies: [
      { name: 'ds-1', services: ['ssh'], ip: stack.lan.ip(31) },
      { name: 'ds-2', services: ['ssh'], ip: stack.lan.ip(32) },
    ],
  });
  expect([deployed.status, deployed.body.error]).toEqual([202, undefined]);
  const deployRows = await waitForTerminal(api, deployed.body.lifecycle_ids);
  expect(deployRows.map((r) => [r.status, r.host_uuid])).toEqual([
    ['succeeded', agent.hostUuid],
    ['succeeded', agent.hostUuid],
  ]);
  const before = await bases();
  expect(before).toEqual({
    'ds-1': { id: expect.any(String), state: 'running', ip: stack.lan.ip(31) },
    'ds-2': { id: expect.any(String), state: 'running', ip: stack.lan.ip(32) },
  });
  const networkBefore = await stack.docker.getNetwork(lanNetwork()).inspect();
  expect(networkBefore.Driver).toBe('macvlan');

  // The agent's kernel probe says no ipvlan: refused up front, nothing moves.
  const refused = await api.patch(`/swarm/hosts/${agent.hostUuid}`, { use_ipvlan: true });
  expect([refused.status, refused.body.error.code]).toEqual([409, 'driver_unsupported']);
  const noChange = await api.patch(`/swarm/hosts/${agent.hostUuid}`, { force: true, notes: 'x' });
  expect([noChange.status, noChange.body.error.code, noChange.body.error.message]).toEqual([
    400,
    'invalid_input',
    expect.stringContaining('force applies to a use_ipvlan change only'),
  ]);

  // Forced past the probe: the moves ask the engine for real.
  const res = await api.patch(`/swarm/hosts/${agent.hostUuid}`, { use_ipvlan: true, force: true });
  expect([res.status, res.body.error]).toEqual([202, undefined]);
  expect(res.body).toMatchObject({ uuid: agent.hostUuid, use_ipvlan: false, network_drivers: ['macvlan'], moving_to: 'ipvlan' });
  expect(res.body.lifecycle_ids).toHaveLength(2);
  // While they move, the host's driver stays as it is, even asked back to the driver it names.
  const meanwhile = await api.patch(`/swarm/hosts/${agent.hostUuid}`, { use_ipvlan: false });
  expect([meanwhile.status, meanwhile.body.error?.code, meanwhile.body.error?.message]).toEqual([
    409,
    'operation_in_flight',
    'swarm host "mover" is moving 2 decky(ies) to ipvlan (ds-1, ds-2); change its driver again when the moves have finished. Nothing was changed.',
  ]);

  const rows = await waitForTerminal(api, res.body.lifecycle_ids);
  toRecord.set('swarm-move-failed', rows[0].workflow_id);
  expect(rows.map((r) => r.decky_name).sort()).toEqual(['ds-1', 'ds-2']);
  for (const row of rows) {
    expect(row).toMatchObject({ operation: 'move', trigger: 'driver_change', network_driver: 'ipvlan', status: 'failed', host_uuid: agent.hostUuid });
    expect(row.error).toMatch(
      new RegExp(
        `^AgentJobFailed: swarm host "mover": ${row.decky_name}: IpvlanUnsupported: this host's kernel does not support ipvlan networks \\(.*operation not supported.*\\)`,
      ),
    );
    expect(row.error).toContain(`Nothing moved: network ${lanNetwork()} is macvlan again and its 2 container(s) rejoined it with their addresses`);
    expect(row.steps.map((s: { name: string; ok: boolean }) => [s.name, s.ok])).toEqual([
      ['render', true],
      ['dispatch', true],
      ['agent_result', false],
    ]);
    expect(row.steps[0].detail).toBe(`macvlan → ipvlan on ${stack.lan.parent}; on swarm host "mover"`);
  }

  // The network was replaced and put back as it was; the same base containers run at their IPs.
  const networkAfter = await stack.docker.getNetwork(lanNetwork()).inspect();
  expect(networkAfter.Id).not.toBe(networkBefore.Id);
  expect([networkAfter.Driver, networkAfter.Options, networkAfter.IPAM?.Config?.[0]]).toEqual([
    networkBefore.Driver,
    networkBefore.Options,
    networkBefore.IPAM?.Config?.[0],
  ]);
  expect(await bases()).toEqual(before);
  // The host says the driver its deckies are on; they run, as the agent's next reports agree, and say why they did not move.
  expect(await hostView()).toMatchObject({ use_ipvlan: false, network_drivers: ['macvlan'] });
  await new Promise((r) => setTimeout(r, 3 * HEARTBEAT_MS));
  for (const row of rows) {
    const decky = (await api.get(`/deckies/${row.decky_name}`)).body;
    expect([decky.state, decky.last_error]).toEqual(['running', row.error]);
  }
  expect(await bases()).toEqual(before);
});
