/**
 * GET/PUT /system/network and `decnet network show|set` against a running master (API and worker
 * in-process) on real PostgreSQL, Temporal and Docker: a fresh install suggests the host's
 * default-route LAN (cross-checked with iproute2's JSON output), bad LANs are refused with the
 * reason, a good one is used by the wizard-style deploy that sends no network, and the LAN cannot
 * change under a deployed decky.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createTestStack, type TestStack } from '../support/master';
import { apiClient, waitForTerminal, type ApiClient } from '../support/http';
import { cliEnvFor, runDecnet, type DecnetRun } from '../support/process';
import { createApiToken } from '../../src/operations/tokens';

const execFileAsync = promisify(execFile);
let stack: TestStack;
let api: ApiClient;
let home: string;

beforeAll(async () => {
  stack = await createTestStack('sysnet', 51);
  await stack.startMaster();
  api = apiClient(stack.api, stack.adminToken);
  home = await fs.mkdtemp(path.join(os.tmpdir(), 'decnet-sysnet-home-'));
});

afterAll(async () => {
  await stack?.cleanup();
  if (home) await fs.rm(home, { recursive: true, force: true });
});

const cli = (args: string[]) => runDecnet(args, cliEnvFor(stack, home));
const explain = (run: DecnetRun) => `exit ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`;

/** What iproute2 says the default LAN is (an independent reading of the kernel's tables), or null. */
async function defaultLanFromIproute(): Promise<{ interface: string; subnet: string; gateway: string } | null> {
  const routes = JSON.parse((await execFileAsync('ip', ['-j', 'route', 'show', 'default'])).stdout) as { dev: string; gateway?: string; metric?: number }[];
  const route = routes.filter((r) => r.gateway).sort((a, b) => (a.metric ?? 0) - (b.metric ?? 0))[0];
  if (!route) return null;
  const [link] = JSON.parse((await execFileAsync('ip', ['-j', '-4', 'addr', 'show', 'dev', route.dev])).stdout) as {
    addr_info: { local: string; prefixlen: number }[];
  }[];
  const toInt = (ip: string) => ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  const toIp = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
  for (const a of link?.addr_info ?? []) {
    const size = 2 ** (32 - a.prefixlen);
    const network = toInt(a.local) - (toInt(a.local) % size);
    const gw = toInt(route.gateway!);
    if (gw > network && gw < network + size - 1) return { interface: route.dev, subnet: `${toIp(network)}/${a.prefixlen}`, gateway: route.gateway! };
  }
  return null;
}

test('a fresh install has no LAN and suggests the default-route interface, its subnet and gateway, as iproute2 reports them', async () => {
  const expected = await defaultLanFromIproute();
  const res = await api.get('/system/network');
  expect(res.status).toBe(200);
  if (expected) {
    expect(res.body).toEqual({ configured: false, suggestion: expected });
  } else {
    // This sandbox has no default route with an IPv4 subnet: nothing to suggest.
    expect(res.body).toEqual({ configured: false });
  }

  const show = await cli(['network', 'show']);
  expect({ code: show.code, out: explain(show) }).toEqual({ code: 0, out: expect.any(String) });
  expect(show.stdout).toMatch(/^LAN: not configured/);
  if (expected) expect(show.stdout).toContain(`decnet network set --interface ${expected.interface} --subnet ${expected.subnet} --gateway ${expected.gateway}`);

  // Without a LAN a deploy that sends no network is refused, pointing at where to set it.
  const deploy = await api.post('/deckies/deploy', { deckies: [{ name: 'early', services: ['ssh'] }] });
  expect(deploy.status).toBe(400);
  expect(deploy.body.error.message).toContain('/system/network');
});

test('bad LANs are 400 with the reason, field by field', async () => {
  const good = { interface: stack.lan.parent, subnet: stack.lan.subnet, gateway: stack.lan.gateway };
  const interfaces = (await fs.readdir('/sys/class/net')).sort();
  const cases: [Record<string, unknown>, string][] = [
    [{ ...good, subnet: stack.lan.ip(5).replace(/$/, '/24') }, `subnet: ${stack.lan.ip(5)}/24 is not a network address; did you mean ${stack.lan.subnet}?`],
    [{ ...good, gateway: '10.1.2.3' }, `gateway: 10.1.2.3 is not inside the subnet ${stack.lan.subnet}`],
    [{ ...good, gateway: stack.lan.ip(255) }, `gateway: ${stack.lan.ip(255)} is the broadcast address of ${stack.lan.subnet}, not a host`],
    [{ ...good, ip_range: '10.0.0.0/25' }, `ip_range: 10.0.0.0/25 is not inside the subnet ${stack.lan.subnet}`],
    [{ ...good, interface: 'nosuchnic0' }, `interface: no interface "nosuchnic0" on this host; it has ${interfaces.join(', ')}`],
    [{ ...good, driver: 'bridge' }, 'driver: '],
  ];
  for (const [body, message] of cases) {
    const res = await api.put('/system/network', body);
    expect([body, res.status, res.body.error?.code]).toEqual([body, 400, 'invalid_input']);
    expect([body, res.body.error.message]).toEqual([body, expect.stringContaining(message)]);
  }
  expect((await api.get('/system/network')).body.configured).toBe(false);

  const run = await cli(['network', 'set', '--interface', stack.lan.parent, '--subnet', `${stack.lan.ip(5)}/24`, '--gateway', stack.lan.gateway]);
  expect({ code: run.code, out: explain(run) }).toEqual({ code: 1, out: expect.any(String) });
  expect(run.stderr).toBe(`error: subnet: ${stack.lan.ip(5)}/24 is not a network address; did you mean ${stack.lan.subnet}?\n`);

  // A LAN given with a deploy follows the same rules, in both forms, and nothing is written.
  const ini = `[general]\nnet=${stack.lan.ip(5)}/24\ngw=${stack.lan.gateway}\ninterface=${stack.lan.parent}\n\n[web]\nservices=ssh\n`;
  for (const body of [{ ini_content: ini }, { network: { ...good, subnet: `${stack.lan.ip(5)}/24` }, deckies: [{ name: 'web', services: ['ssh'] }] }]) {
    const res = await api.post('/deckies/deploy', body);
    expect([res.status, res.body.error?.message]).toEqual([
      400,
      `network.subnet: ${stack.lan.ip(5)}/24 is not a network address; did you mean ${stack.lan.subnet}?`,
    ]);
  }
  expect((await api.get('/system/network')).body.configured).toBe(false);
  expect((await api.get('/deckies')).body.deckies).toEqual([]);
});

test('a viewer may read the LAN but not set it', async () => {
  const viewer = apiClient(stack.api, await createApiToken(stack.master!.orm.em.fork(), 'sysnet-viewer', 'viewer'));
  expect((await viewer.get('/system/network')).status).toBe(200);
  const res = await viewer.put('/system/network', { interface: stack.lan.parent, subnet: stack.lan.subnet, gateway: stack.lan.gateway });
  expect([res.status, res.body.error.code]).toEqual([403, 'forbidden']);
  expect((await api.get('/system/network')).body.configured).toBe(false);
});

test('decnet network set configures the LAN; GET and show return it; a deploy without a network uses it', async () => {
  const run = await cli([
    'network',
    'set',
    '--interface',
    stack.lan.parent,
    '--subnet',
    stack.lan.subnet,
    '--gateway',
    stack.lan.gateway,
    '--ip-range',
    `${stack.lan.ip(128)}/25`,
  ]);
  expect({ code: run.code, out: explain(run) }).toEqual({ code: 0, out: expect.any(String) });
  const lan = {
    configured: true,
    interface: stack.lan.parent,
    subnet: stack.lan.subnet,
    gateway: stack.lan.gateway,
    ip_range: `${stack.lan.ip(128)}/25`,
    driver: 'macvlan',
  };
  expect((await api.get('/system/network')).body).toEqual(lan);
  const show = await cli(['network', 'show', '--json']);
  expect(JSON.parse(show.stdout)).toEqual(lan);
  expect((await cli(['network', 'show'])).stdout).toMatch(
    new RegExp(`^interface:\\s+${stack.lan.parent}$[\\s\\S]*^ip range:\\s+${stack.lan.ip(128)}/25$`, 'm'),
  );

  const deploy = await api.post('/deckies/deploy', { deckies: [{ name: 'lan-a', services: ['ssh'] }] });
  expect(deploy.status).toBe(202);
  const [row] = await waitForTerminal(api, deploy.body.lifecycle_ids);
  expect(row.status).toBe('succeeded');
  // The first address of the ip_range: its own edges are hosts of the /24.
  expect((await api.get('/deckies/lan-a')).body.ip).toBe(stack.lan.ip(128));
});

test('the same LAN again is a no-op 200; another LAN under a deployed decky is 409 naming it', async () => {
  const same = { interface: stack.lan.parent, subnet: stack.lan.subnet, gateway: stack.lan.gateway, ip_range: `${stack.lan.ip(128)}/25` };
  const again = await api.put('/system/network', same);
  expect([again.status, again.body]).toEqual([200, { configured: true, ...same, driver: 'macvlan' }]);

  const other = { interface: stack.lan.parent, subnet: '198.19.51.0/24', gateway: '198.19.51.1' };
  const refused = await api.put('/system/network', other);
  expect([refused.status, refused.body.error.code]).toEqual([409, 'network_mismatch']);
  expect(refused.body.error.message).toBe(
    `the fleet runs on ${stack.lan.subnet} via ${stack.lan.parent}; this changes subnet, gateway, ip_range under 1 decky(ies): lan-a. Tear them down first.`,
  );
  expect(refused.body.error.details).toEqual({ changed: ['subnet', 'gateway', 'ip_range'], deckies: ['lan-a'] });
  // The driver alone moves the decky instead (driver-move-master.test.ts looks at such moves
  // closely): this kernel refuses ipvlan, so the move fails and the LAN stays macvlan.
  const ipvlan = await cli([
    'network',
    'set',
    '--interface',
    same.interface,
    '--subnet',
    same.subnet,
    '--gateway',
    same.gateway,
    '--ip-range',
    same.ip_range,
    '--ipvlan',
  ]);
  expect([ipvlan.code, ipvlan.stderr]).toEqual([1, '']);
  expect(ipvlan.stdout).toContain(
    "moving 1 decky(ies) to ipvlan, base containers and IPs kept; the LAN's driver becomes ipvlan once a move succeeded (a refused driver leaves them on macvlan)",
  );
  expect(ipvlan.stdout).toContain('IpvlanUnsupported');
  expect((await api.get('/system/network')).body.driver).toBe('macvlan');
  expect((await api.get('/deckies/lan-a')).body.state).toBe('running');

  const run = await cli(['network', 'set', '--interface', other.interface, '--subnet', other.subnet, '--gateway', other.gateway]);
  expect(run.code).toBe(1);
  expect(run.stderr).toBe(`error: ${refused.body.error.message}\n`);
  expect((await api.get('/system/network')).body).toMatchObject({ subnet: stack.lan.subnet, ip_range: `${stack.lan.ip(128)}/25` });

  // Once the decky is gone the LAN may change.
  const teardown = await api.delete('/deckies/lan-a');
  await waitForTerminal(api, teardown.body.lifecycle_ids);
  const changed = await api.put('/system/network', other);
  expect([changed.status, changed.body]).toEqual([200, { configured: true, ...other, ip_range: null, driver: 'macvlan' }]);
});
