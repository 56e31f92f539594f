/**
 * Drift detection on the master's own engine: a decky whose service container dies, whose base
 * container is removed, that leaves the LAN or whose IP another container holds becomes
 * `degraded` with the reason, within 5 s (Docker's event stream), on the API, the event stream
 * and the `decnet_deckies` metric; once it runs as desired again it is `running`. Auto-heal is
 * off here; heal.test.ts covers it.
 */
import { fetch } from 'undici';
import { LABELS, ROLES } from '../../src/domain/compose-render';
import { createTestStack, type TestStack } from '../support/master';
import { apiClient, waitForTerminal, type ApiClient } from '../support/http';
import { parsePrometheusText, sampleValue } from '../support/prometheus';

let stack: TestStack;
let api: ApiClient;

beforeAll(async () => {
  // The period is long: every change below must be found through the event stream.
  stack = await createTestStack('drift', 76, { DECNET_DRIFT_INTERVAL_MS: '600000' });
  await stack.startMaster();
  api = apiClient(stack.api, stack.adminToken);
  // Drift alone: a healed decky would not stay degraded long enough to be looked at (heal.test.ts heals).
  expect((await api.put('/system/healing', { auto_heal: false })).status).toBe(200);
  const res = await api.post('/deckies/deploy', {
    network: { subnet: stack.lan.subnet, gateway: stack.lan.gateway, interface: stack.lan.parent },
    deckies: [{ name: 'dr1', services: ['ssh', 'http'], ip: stack.lan.ip(10) }],
  });
  expect(res.status).toBe(202);
  const [row] = await waitForTerminal(api, res.body.lifecycle_ids);
  expect(row.status).toBe('succeeded');
});

afterAll(async () => {
  await stack?.cleanup();
});

const container = async (role: string) => {
  const all = await stack.docker.listContainers({ all: true, filters: { label: [`${LABELS.project}=${stack.config.composeProject}`, `${LABELS.decky}=dr1`] } });
  const found = all.find((c) => (role === ROLES.base ? c.Labels[LABELS.role] === ROLES.base : c.Labels[LABELS.service] === role));
  return found && stack.docker.getContainer(found.Id);
};

/** Polls the decky until `state`; returns its view and how long it took. */
async function until(state: string, timeoutMs = 5_000): Promise<{ decky: any; ms: number }> {
  const started = Date.now();
  for (;;) {
    const decky = (await api.get('/deckies/dr1')).body;
    if (decky.state === state) return { decky, ms: Date.now() - started };
    if (Date.now() - started > timeoutMs) throw new Error(`dr1 is ${decky.state} (${decky.last_error}), not ${state}, after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a killed service container: degraded with its exit code within 5 s, on the event stream and the metric; started again: running', async () => {
  const controller = new AbortController();
  const stream = await fetch(`${stack.api}/events?topic=decky.dr1.state`, {
    headers: { authorization: `Bearer ${stack.adminToken}` },
    signal: controller.signal,
  });
  await (await container('ssh'))!.kill();
  const { decky } = await until('degraded');
  expect(decky.last_error).toBe('container ssh exited (137)');

  let buffer = '';
  const decoder = new TextDecoder();
  for await (const chunk of stream.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    if (buffer.includes('\n\n') && buffer.includes('data: ')) break;
  }
  controller.abort();
  const event = JSON.parse(/^data: (.*)$/m.exec(buffer)![1]);
  expect([event.topic, event.data]).toEqual(['decky.dr1.state', { name: 'dr1', state: 'degraded', reason: 'container ssh exited (137)' }]);
  const metrics = parsePrometheusText(await (await fetch(`http://127.0.0.1:${stack.config.apiPort}/metrics`)).text());
  expect(sampleValue(metrics, 'decnet_deckies', { state: 'degraded' })).toBe(1);

  await (await container('ssh'))!.start();
  const back = await until('running');
  expect(back.decky.last_error).toBeNull();
});

test('the base container disconnected from the LAN, then its IP taken by another container: degraded saying so', async () => {
  const network = stack.docker.getNetwork(`${stack.config.composeProject}_lan`);
  const base = (await container(ROLES.base))!;
  await network.disconnect({ Container: base.id, Force: true });
  expect((await until('degraded')).decky.last_error).toBe('not on the LAN');

  const squatter = await stack.docker.createContainer({
    Image: `${process.env.TEST_IMAGE_REGISTRY}/base:${process.env.TEST_IMAGE_TAG}`,
    name: `${stack.config.composeProject}-squatter`,
    Labels: { [LABELS.project]: stack.config.composeProject },
    HostConfig: { NetworkMode: `${stack.config.composeProject}_lan` },
    NetworkingConfig: { EndpointsConfig: { [`${stack.config.composeProject}_lan`]: { IPAMConfig: { IPv4Address: stack.lan.ip(10) } } } },
  });
  await squatter.start();
  const reason = async () => (await api.get('/deckies/dr1')).body.last_error;
  for (const deadline = Date.now() + 5_000; !(await reason()).includes('held by another');) {
    if (Date.now() > deadline) throw new Error(`reason stayed "${await reason()}"`);
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(await reason()).toBe(`not on the LAN; IP ${stack.lan.ip(10)} held by another container (${stack.config.composeProject}-squatter)`);

  await squatter.remove({ force: true });
  await network.connect({ Container: base.id, EndpointConfig: { IPAMConfig: { IPv4Address: stack.lan.ip(10) } } });
  await until('running');
});

test('the base container removed: degraded "base container missing"', async () => {
  await (await container(ROLES.base))!.remove({ force: true });
  const { decky } = await until('degraded');
  expect(decky.last_error).toMatch(/^base container missing/);
});
