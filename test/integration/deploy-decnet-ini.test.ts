/**
 * DECNET's INI files as DECNET's users write them, deployed for real (Temporal, PostgreSQL,
 * Docker, macvlan on a veth parent of this file): a `[custom-x]` bring-your-own service runs with
 * its argv in the decky's network namespace and survives a mutation, `nmap-os` is stored and
 * shapes the base container, a subsection of an undefined decky is a warning in the 202, and a
 * custom service whose image is missing fails its row naming the image.
 */
import { Decky } from '../../src/entities';
import { LABELS, ROLES } from '../../src/domain/compose-render';
import { createTestStack, requireEnv, type TestStack } from '../support/master';
import { apiClient, waitForTerminal, type ApiClient } from '../support/http';

let stack: TestStack;
let api: ApiClient;

beforeAll(async () => {
  stack = await createTestStack('decnetini', 41);
  await stack.startMaster();
  api = apiClient(stack.api, stack.adminToken);
});

afterAll(async () => {
  await stack?.cleanup();
});

/** A fixture image the engine has: custom services bring their own image, any local one will do. */
const fixtureImage = () => `${requireEnv('TEST_IMAGE_REGISTRY')}/base:${requireEnv('TEST_IMAGE_TAG')}`;

/** `$0` reaching sh intact shows that neither compose nor a shell touched the argv on the way. */
const TARPIT_ARGV = ['/bin/sh', '-c', 'exec sleep "$0"', '3600'];

async function serviceContainer(decky: string, service: string) {
  const containers = await stack.docker.listContainers({
    all: true,
    filters: { label: [`${LABELS.project}=${stack.config.composeProject}`, `${LABELS.decky}=${decky}`] },
  });
  const base = containers.find((c) => c.Labels[LABELS.role] === ROLES.base);
  const svc = containers.find((c) => c.Labels[LABELS.service] === service);
  if (!base || !svc) throw new Error(`no base or ${service} container for ${decky}`);
  return { base: await stack.docker.getContainer(base.Id).inspect(), service: await stack.docker.getContainer(svc.Id).inspect() };
}

describe("DECNET's INI format", () => {
  test('a [custom-x] service runs with its argv in the decky netns; nmap-os is stored; an orphan subsection is a warning', async () => {
    const ini = [
      '; written for DECNET',
      '[general]',
      `net\t=\t${stack.lan.subnet}`,
      `gw = ${stack.lan.gateway}`,
      `interface = ${stack.lan.parent}`,
      '',
      '[custom-tarpit]',
      `binary = ${fixtureImage()}`,
      `exec = /bin/sh -c 'exec sleep "$0"' 3600`,
      'ports = 2222',
      '',
      '[web]',
      `ip = ${stack.lan.ip(60)}`,
      'services = ssh, tarpit',
      'nmap-os\t= cisco',
      '',
      '[ghost.ssh]\t; DECNET skips this one too',
      'banner = SSH-2.0-dropbear',
    ].join('\n');
    const res = await api.post('/deckies/deploy', { ini_content: ini });
    expect(res.status).toBe(202);
    expect(res.body.deckies).toEqual(['web']);
    expect(res.body.plan.warnings).toEqual(['line 17: section [ghost.ssh]: no decky [ghost] in this file; skipped']);

    const [row] = await waitForTerminal(api, res.body.lifecycle_ids);
    expect({ status: row.status, error: row.error }).toEqual({ status: 'succeeded', error: null });

    const { base, service } = await serviceContainer('web', 'tarpit');
    expect(service.State.Running).toBe(true);
    expect(service.Config.Image).toBe(fixtureImage());
    expect(service.Config.Cmd).toEqual(TARPIT_ARGV);
    expect(service.HostConfig.NetworkMode).toBe(`container:${base.Id}`);
    expect(service.Config.Env).toEqual(expect.arrayContaining(['DECNET_SERVICE=tarpit', 'DECNET_PORTS=2222']));
    expect(base.HostConfig.Sysctls).toMatchObject({ 'net.ipv4.ip_default_ttl': '255', 'net.ipv4.tcp_timestamps': '0' });

    const view = await api.get('/deckies/web');
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({
      nmap_os: 'cisco',
      services: ['ssh', 'tarpit'],
      custom_services: { tarpit: { image: fixtureImage(), exec: TARPIT_ARGV, ports: [2222] } },
    });
    const stored = await stack.master!.orm.em.fork().findOneOrFail(Decky, { name: 'web' });
    expect([stored.nmapOs, stored.customServices]).toEqual(['cisco', { tarpit: { image: fixtureImage(), exec: TARPIT_ARGV, ports: [2222] } }]);
  });

  test('a mutation rotates the catalogue services and leaves the custom service running as it was', async () => {
    const before = await serviceContainer('web', 'tarpit');
    const res = await api.post('/deckies/web/mutate', {});
    expect(res.status).toBe(202);
    const [row] = await waitForTerminal(api, res.body.lifecycle_ids);
    expect({ status: row.status, error: row.error }).toEqual({ status: 'succeeded', error: null });

    const services: string[] = (await api.get('/deckies/web')).body.services;
    expect(services[0]).toBe('tarpit');
    expect(services.slice(1)).not.toEqual(['ssh']);
    const after = await serviceContainer('web', 'tarpit');
    expect(after.service.Id).toBe(before.service.Id);
    expect(after.service.State.Running).toBe(true);
    expect(after.service.Config.Cmd).toEqual(TARPIT_ARGV);
  });

  test('a custom service whose image is missing fails its row naming the image (JSON form)', async () => {
    const missing = 'decnet-test/not-built:missing';
    const res = await api.post('/deckies/deploy', {
      deckies: [{ name: 'lost', services: ['honey'], nmap_os: 'bsd' }],
      custom_services: { honey: { image: missing, exec: ['/bin/true'] } },
    });
    expect(res.status).toBe(202);
    expect(res.body.plan.warnings).toEqual([]);
    const [row] = await waitForTerminal(api, res.body.lifecycle_ids);
    expect(row.status).toBe('failed');
    expect(row.error).toMatch(/^MissingImage:/);
    expect(row.error).toContain(missing);
    const view = (await api.get('/deckies/lost')).body;
    expect([view.state, view.nmap_os]).toEqual(['failed', 'bsd']);
    expect((await api.delete('/deckies/lost')).status).toBe(202);
  });

  test('bad custom services are a 400 naming what is wrong', async () => {
    const network = { subnet: stack.lan.subnet, gateway: stack.lan.gateway, interface: stack.lan.parent };
    const clash = await api.post('/deckies/deploy', {
      deckies: [{ name: 'c1', services: ['ssh'] }],
      network,
      custom_services: { ssh: { image: fixtureImage() } },
    });
    expect([clash.status, clash.body.error.message]).toEqual([400, 'custom_services.ssh: "ssh" is a catalogue service; give the custom service another name']);

    const unknownKey = await api.post('/deckies/deploy', { ini_content: '[c2]\nservices=x\n[custom-x]\nbinary=x:1\nport=22\n' });
    expect(unknownKey.status).toBe(400);
    expect(unknownKey.body.error.message).toBe('line 5: key "port": is not a custom service key; expected one of binary, exec, ports');

    const badName = await api.post('/deckies/deploy', { deckies: [{ name: 'c3', services: ['Tar-Pit'] }], custom_services: { 'Tar-Pit': { image: 'x:1' } } });
    expect([badName.status, badName.body.error.message]).toEqual([
      400,
      'custom_services.Tar-Pit: custom service name "Tar-Pit" must be lower-case letters, digits and underscores',
    ]);

    const badOs = await api.post('/deckies/deploy', { deckies: [{ name: 'c4', services: ['ssh'], nmap_os: 'amiga' }] });
    expect(badOs.status).toBe(400);
    expect(badOs.body.error.message).toContain('nmap_os');
  });
});
