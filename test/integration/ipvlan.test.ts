/**
 * ipvlan, as far as this kernel goes: the network request carries the ipvlan driver (L2, the
 * veth parent, the named IPAM driver), the compose file is rendered, and the kernel's refusal
 * ("operation not supported") fails the row with a message that says ipvlan is unsupported.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { createTestStack, type TestStack } from '../support/master';
import { apiClient, waitForTerminal } from '../support/http';

let stack: TestStack;

beforeAll(async () => {
  stack = await createTestStack('ipvlan', 13);
  await stack.startMaster();
});

afterAll(async () => {
  await stack?.cleanup();
});

test('an ipvlan deploy requests an ipvlan network and fails clearly on a kernel without ipvlan', async () => {
  const api = apiClient(stack.api, stack.adminToken);
  const network = { subnet: stack.lan.subnet, gateway: stack.lan.gateway, interface: stack.lan.parent, ipvlan: true };
  const res = await api.post('/deckies/deploy', { network, deckies: [{ name: 'wifi', services: ['ssh'] }] });
  expect(res.status).toBe(202);
  const [row] = await waitForTerminal(api, res.body.lifecycle_ids);

  const net = await stack.docker.getNetwork(`${stack.config.composeProject}_lan`).inspect();
  expect(net.Driver).toBe('ipvlan');
  expect(net.Options).toEqual({ parent: stack.lan.parent, ipvlan_mode: 'l2' });
  expect(net.IPAM?.Driver).toBe('default');
  expect(net.IPAM?.Config?.[0]).toMatchObject({ Subnet: stack.lan.subnet, Gateway: stack.lan.gateway });

  const file = parse(await fs.readFile(path.join(stack.config.dataDir, 'compose', stack.config.composeProject, 'wifi.yml'), 'utf8'));
  expect(file.networks.lan).toEqual({ external: true, name: `${stack.config.composeProject}_lan` });
  expect(file.services.wifi.networks.lan.ipv4_address).toBe(stack.lan.ip(2));

  expect(row.status).toBe('failed');
  expect(row.error).toMatch(/^IpvlanUnsupported: this host's kernel does not support ipvlan/);
  expect(row.error).toMatch(/operation not supported/);
  expect(row.steps.map((s: { name: string; ok: boolean }) => [s.name, s.ok])).toEqual([
    ['render', true],
    ['network', true],
    ['compose_up', false],
  ]);
});

test('switching the LAN back to macvlan is refused while a decky still holds the ipvlan network', async () => {
  const api = apiClient(stack.api, stack.adminToken);
  const network = { subnet: stack.lan.subnet, gateway: stack.lan.gateway, interface: stack.lan.parent, ipvlan: false };
  const res = await api.post('/deckies/deploy', { network, deckies: [{ name: 'wired', services: ['ssh'] }] });
  expect(res.status).toBe(409);
  expect(res.body.error.code).toBe('network_mismatch');
  expect(res.body.error.message).toContain('ipvlan');
});
