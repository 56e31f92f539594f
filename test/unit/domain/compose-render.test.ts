import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadCatalogue } from '../../../src/domain/catalog';
import {
  LABELS,
  NMAP_OS_SYSCTLS,
  ROLES,
  baseContainerName,
  composeServiceKey,
  lanNetworkName,
  renderComposeYaml,
  renderDeckyCompose,
  serviceContainerName,
  serviceImage,
} from '../../../src/domain/compose-render';
import { FleetInputError } from '../../../src/domain/errors';
import { NmapOsSchema, type DeckySpec } from '../../../src/domain/schemas';

const catalogue = loadCatalogue({ registry: 'decnet', tag: 'latest' });
const options = { project: 'decnet', catalogue };

function decky(overrides: Partial<DeckySpec> = {}): DeckySpec {
  return {
    name: 'web',
    ip: '192.168.1.50',
    services: ['http', 'ssh'],
    archetype: null,
    distro: 'debian',
    base_image: 'decnet/base:latest',
    hostname: 'web01',
    nmap_os: 'linux',
    service_config: {},
    mutate_interval: null,
    custom_services: {},
    ...overrides,
  };
}

/** The compose CLI of this machine: v2 plugin first, like the runtime, else Debian's v1. */
function composeCommand(): string[] | undefined {
  if (spawnSync('docker', ['compose', 'version']).status === 0) return ['docker', 'compose'];
  if (spawnSync('docker-compose', ['version']).status === 0) return ['docker-compose'];
  return undefined;
}

describe('naming', () => {
  it('names the LAN network, containers and compose services', () => {
    expect(lanNetworkName('decnet')).toBe('decnet_lan');
    expect(baseContainerName('decnet', 'web')).toBe('decnet_web');
    expect(serviceContainerName('decnet', 'web', 'docker_api')).toBe('decnet_web.docker_api');
    expect(composeServiceKey('web', 'ssh')).toBe('web-ssh');
  });

  it('cannot confuse a decky named like another decky service, nor two projects', () => {
    expect(baseContainerName('decnet', 'web-ssh')).not.toBe(serviceContainerName('decnet', 'web', 'ssh'));
    expect(baseContainerName('decnet-a', 'web')).not.toBe(baseContainerName('decnet', 'a-web'));
  });
});

describe('NMAP_OS_SYSCTLS', () => {
  it('covers every nmap_os family with per-namespace net.* settings only', () => {
    for (const family of NmapOsSchema.options) {
      const sysctls = NMAP_OS_SYSCTLS[family];
      expect(Object.keys(sysctls).length).toBeGreaterThan(0);
      for (const key of Object.keys(sysctls)) expect(key).toMatch(/^net\./);
    }
  });

  it('sets the initial TTL and TCP timestamps of each family', () => {
    const fingerprint = (family: keyof typeof NMAP_OS_SYSCTLS) => [
      NMAP_OS_SYSCTLS[family]['net.ipv4.ip_default_ttl'],
      NMAP_OS_SYSCTLS[family]['net.ipv4.tcp_timestamps'],
    ];
    expect(fingerprint('linux')).toEqual(['64', '1']);
    expect(fingerprint('bsd')).toEqual(['64', '1']);
    expect(fingerprint('macos')).toEqual(['64', '1']);
    expect(fingerprint('windows')).toEqual(['128', '0']);
    expect(fingerprint('embedded')).toEqual(['255', '0']);
    expect(fingerprint('cisco')).toEqual(['255', '0']);
  });
});

describe('renderDeckyCompose', () => {
  it('renders a base container holding the IP and one container per service in its namespace', () => {
    const file = renderDeckyCompose(decky({ service_config: { http: { server_header: 'Apache/2.4.57' } } }), options);
    expect(file).toEqual({
      version: '2.4',
      services: {
        web: {
          image: 'decnet/base:latest',
          container_name: 'decnet_web',
          hostname: 'web01',
          command: ['sleep', 'infinity'],
          restart: 'unless-stopped',
          init: true,
          cap_add: ['NET_ADMIN'],
          sysctls: { 'net.ipv4.ip_default_ttl': '64', 'net.ipv4.tcp_timestamps': '1' },
          labels: { 'decnet.decky': 'web', 'decnet.role': 'base', 'decnet.project': 'decnet' },
          networks: { lan: { ipv4_address: '192.168.1.50' } },
        },
        'web-http': {
          image: 'decnet/http:latest',
          container_name: 'decnet_web.http',
          restart: 'unless-stopped',
          init: true,
          labels: { 'decnet.decky': 'web', 'decnet.service': 'http', 'decnet.role': 'service', 'decnet.project': 'decnet' },
          network_mode: 'service:web',
          depends_on: ['web'],
          environment: {
            DECNET_DECKY: 'web',
            DECNET_SERVICE: 'http',
            DECNET_PORTS: '80,443',
            DECNET_CFG_SERVER_HEADER: 'Apache/2.4.57',
          },
        },
        'web-ssh': {
          image: 'decnet/ssh:latest',
          container_name: 'decnet_web.ssh',
          restart: 'unless-stopped',
          init: true,
          labels: { 'decnet.decky': 'web', 'decnet.service': 'ssh', 'decnet.role': 'service', 'decnet.project': 'decnet' },
          network_mode: 'service:web',
          depends_on: ['web'],
          environment: { DECNET_DECKY: 'web', DECNET_SERVICE: 'ssh', DECNET_PORTS: '22' },
        },
      },
      networks: { lan: { external: true, name: 'decnet_lan' } },
    });
  });

  it('uses the label names and role values it exports', () => {
    const file = renderDeckyCompose(decky(), options);
    expect(file.services.web.labels[LABELS.role]).toBe(ROLES.base);
    expect(file.services['web-ssh'].labels[LABELS.service]).toBe('ssh');
    expect(file.services['web-ssh'].labels[LABELS.role]).toBe(ROLES.service);
  });

  it('applies the sysctls of the nmap_os family and names the scope project everywhere', () => {
    const file = renderDeckyCompose(decky({ nmap_os: 'windows' }), { project: 'agent1-decnet', catalogue });
    expect(file.services.web.sysctls).toEqual(NMAP_OS_SYSCTLS.windows);
    expect(file.services.web.container_name).toBe('agent1-decnet_web');
    expect(file.services.web.labels[LABELS.project]).toBe('agent1-decnet');
    expect(file.networks.lan.name).toBe('agent1-decnet_lan');
  });

  it.each(['cisco', 'bsd', 'embedded'] as const)('renders an nmap_os=%s decky with the sysctls of its family', (family) => {
    expect(renderDeckyCompose(decky({ nmap_os: family }), options).services.web.sysctls).toEqual(NMAP_OS_SYSCTLS[family]);
  });

  it('renders a custom service like a catalogue one, with its image, its argv as the command and its ports', () => {
    const custom = decky({
      services: ['ssh', 'tarpit'],
      custom_services: {
        tarpit: { image: 'registry.local/tarpit:1.2', exec: ['/usr/bin/tarpit', '--motd', 'costs $5'], ports: [2222, 2223] },
        unused: { image: 'registry.local/unused:1' },
      },
      service_config: { tarpit: { delay: '10' } },
    });
    const file = renderDeckyCompose(custom, options);
    expect(Object.keys(file.services)).toEqual(['web', 'web-ssh', 'web-tarpit']);
    expect(file.services['web-tarpit']).toEqual({
      image: 'registry.local/tarpit:1.2',
      container_name: 'decnet_web.tarpit',
      command: ['/usr/bin/tarpit', '--motd', 'costs $$5'],
      restart: 'unless-stopped',
      init: true,
      labels: { 'decnet.decky': 'web', 'decnet.service': 'tarpit', 'decnet.role': 'service', 'decnet.project': 'decnet' },
      network_mode: 'service:web',
      depends_on: ['web'],
      environment: { DECNET_DECKY: 'web', DECNET_SERVICE: 'tarpit', DECNET_PORTS: '2222,2223', DECNET_CFG_DELAY: '10' },
    });
    expect(serviceImage(custom, 'tarpit', catalogue)).toBe('registry.local/tarpit:1.2');
    expect(serviceImage(custom, 'ssh', catalogue)).toBe('decnet/ssh:latest');
  });

  it("runs a custom service without exec with its image's own command", () => {
    const file = renderDeckyCompose(decky({ services: ['bare'], custom_services: { bare: { image: 'bare:1' } } }), options);
    expect(file.services['web-bare']).not.toHaveProperty('command');
    expect(file.services['web-bare'].environment?.DECNET_PORTS).toBe('');
  });

  it('turns config keys into DECNET_CFG_ variables and keeps $ away from compose interpolation', () => {
    const file = renderDeckyCompose(decky({ services: ['ftp'], service_config: { ftp: { 'banner-text': 'cost $5 ${X}', 'motd.line': 'hi' } } }), options);
    expect(file.services['web-ftp'].environment).toMatchObject({
      DECNET_CFG_BANNER_TEXT: 'cost $$5 $${X}',
      DECNET_CFG_MOTD_LINE: 'hi',
    });
  });

  it('rejects config keys that map to the same variable', () => {
    const clash = decky({ services: ['ftp'], service_config: { ftp: { 'a-b': '1', a_b: '2' } } });
    expect(() => renderDeckyCompose(clash, options)).toThrow(FleetInputError);
    expect(() => renderDeckyCompose(clash, options)).toThrow('config keys "a-b" and "a_b" both map to DECNET_CFG_A_B');
  });

  it('rejects an unknown service and a project name compose would refuse', () => {
    expect(() => renderDeckyCompose(decky({ services: ['gopher'] }), options)).toThrow('unknown service "gopher"');
    expect(() => renderDeckyCompose(decky(), { project: 'Decnet', catalogue })).toThrow('compose project "Decnet"');
    expect(() => renderDeckyCompose(decky(), { project: 'de.cnet', catalogue })).toThrow(/compose project/);
  });
});

describe('renderComposeYaml', () => {
  /** Values that YAML 1.1 (PyYAML, compose v1) would not read back as strings if written plain. */
  const tricky = decky({
    name: 'on',
    hostname: 'on',
    services: ['http', 'docker_api', 'tarpit'],
    nmap_os: 'embedded',
    service_config: { http: { yes: 'no', time: '1:20', octal: '0755', eq: '=', empty: '', home: 'a $HOME b', multi: 'x\ny' } },
    custom_services: { tarpit: { image: 'registry.local/tarpit:1.2', exec: ['/bin/sh', '-c', 'echo $HOME', 'on', '0755'] } },
  });

  it('writes YAML that reads back to exactly the rendered object', () => {
    expect(parseYaml(renderComposeYaml(tricky, options))).toEqual(renderDeckyCompose(tricky, options));
  });

  const compose = composeCommand();
  (compose ? it : it.skip)(`is accepted by ${compose?.join(' ') ?? 'docker compose'} config, strings intact`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'decnet-compose-'));
    const file = join(dir, 'on.yml');
    writeFileSync(file, renderComposeYaml(tricky, options));
    const [command, ...args] = compose as string[];
    const result = spawnSync(command, [...args, '-f', file, '-p', 'decnet-test', 'config'], { encoding: 'utf8' });
    rmSync(dir, { recursive: true, force: true });
    expect(result.stderr).not.toMatch(/ERROR|invalid/i);
    expect(result.status).toBe(0);

    const resolved = parseYaml(result.stdout, { version: '1.1' });
    expect(Object.keys(resolved.services).sort()).toEqual(['on', 'on-docker_api', 'on-http', 'on-tarpit']);
    expect(resolved.services.on.networks.lan.ipv4_address).toBe('192.168.1.50');
    expect(resolved.services.on.sysctls['net.ipv4.ip_default_ttl']).toBe('255');
    expect(resolved.services.on.labels[LABELS.role]).toBe('base');
    expect(resolved.services['on-http'].network_mode).toBe('service:on');
    expect(resolved.services['on-http'].environment).toMatchObject({
      DECNET_CFG_YES: 'no',
      DECNET_CFG_TIME: '1:20',
      DECNET_CFG_OCTAL: '0755',
      DECNET_CFG_EQ: '=',
      DECNET_PORTS: '80,443',
      DECNET_CFG_MULTI: 'x\ny',
    });
    expect(resolved.services['on-http'].environment.DECNET_CFG_HOME).toMatch(/^a \$?\$HOME b$/);
    const [shell, flag, script, ...rest] = resolved.services['on-tarpit'].command;
    expect([shell, flag, ...rest]).toEqual(['/bin/sh', '-c', 'on', '0755']);
    expect(script).toMatch(/^echo \$?\$HOME$/);
    expect(resolved.services['on-tarpit'].network_mode).toBe('service:on');
    expect(resolved.networks.lan).toMatchObject({ external: true, name: 'decnet_lan' });
  });
});
