import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultCatalogDir, loadCatalogue } from '../../../src/domain/catalog';

const SPEC_ARCHETYPES: Record<string, string[]> = {
  'windows-workstation': ['smb', 'rdp'],
  'windows-server': ['smb', 'rdp', 'ldap'],
  'domain-controller': ['ldap', 'smb', 'rdp', 'llmnr'],
  'linux-server': ['ssh', 'http'],
  'web-server': ['http', 'ftp'],
  'database-server': ['mysql', 'postgres', 'redis'],
  'mail-server': ['smtp', 'pop3', 'imap'],
  'file-server': ['smb', 'ftp', 'ssh'],
  printer: ['snmp', 'ftp'],
  'iot-device': ['mqtt', 'snmp', 'telnet'],
  'industrial-control': ['conpot', 'snmp'],
  'voip-server': ['sip'],
  'monitoring-node': ['snmp', 'ssh'],
  'devops-host': ['docker_api', 'ssh', 'k8s'],
  deaddeck: ['ssh'],
};

const tempDirs: string[] = [];
afterAll(() => tempDirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function writeCatalog(services: string, archetypes: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'decnet-catalog-'));
  tempDirs.push(dir);
  writeFileSync(join(dir, 'services.yaml'), services);
  writeFileSync(join(dir, 'archetypes.yaml'), archetypes);
  return dir;
}

describe('loadCatalogue (repository catalogue)', () => {
  const catalogue = loadCatalogue({ registry: 'decnet', tag: 'latest' });

  it('finds the repository catalog/ folder from the source tree', () => {
    expect(defaultCatalogDir()).toMatch(/[/\\]catalog$/);
  });

  it('has the 29 DECNET services with their ports (architecture.md §4)', () => {
    expect(catalogue.services.size).toBe(29);
    expect(catalogue.services.get('conpot')?.ports).toEqual([502, 161, 80]);
    expect(catalogue.services.get('smb')?.ports).toEqual([445, 139]);
    expect(catalogue.services.get('ssh')?.ports).toEqual([22]);
  });

  it('marks only the sniffer as fleet-wide, and leaves it out of per-decky services', () => {
    const singletons = [...catalogue.services.values()].filter((s) => s.singleton).map((s) => s.name);
    expect(singletons).toEqual(['sniffer']);
    expect(catalogue.perDeckyServices()).toHaveLength(28);
    expect(catalogue.perDeckyServices()).not.toContain('sniffer');
    expect(catalogue.perDeckyServices()[0]).toBe('conpot');
  });

  it('has the 15 archetypes with distros and an nmap_os family (architecture.md §4)', () => {
    expect(Object.fromEntries([...catalogue.archetypes.values()].map((a) => [a.name, a.services]))).toEqual(SPEC_ARCHETYPES);
    for (const archetype of catalogue.archetypes.values()) expect(archetype.distros.length).toBeGreaterThan(0);
    expect(catalogue.archetypes.get('windows-workstation')?.nmap_os).toBe('windows');
    expect(catalogue.archetypes.get('printer')?.nmap_os).toBe('embedded');
  });

  it('names images after the registry and tag', () => {
    const custom = loadCatalogue({ registry: 'registry.local:5000/decnet', tag: 'v3' });
    expect(custom.imageFor('ssh')).toBe('registry.local:5000/decnet/ssh:v3');
    expect(custom.baseImage()).toBe('registry.local:5000/decnet/base:v3');
    expect(catalogue.imageFor('docker_api')).toBe('decnet/docker_api:latest');
  });

  it('refuses an image for an unknown service', () => {
    expect(() => catalogue.imageFor('gopher')).toThrow('unknown service "gopher"');
  });
});

describe('loadCatalogue (custom folder)', () => {
  const archetypes = 'archetypes:\n  - { name: box, services: [ssh], distros: [debian], nmap_os: linux }\n';

  it('uses a full image named by the catalogue instead of registry/name:tag', () => {
    const dir = writeCatalog('services:\n  - { name: ssh, ports: [22], image: "my/ssh@sha256:abc" }\n  - { name: ftp, ports: [21] }\n', archetypes);
    const catalogue = loadCatalogue({ registry: 'r', tag: 't', dir });
    expect(catalogue.imageFor('ssh')).toBe('my/ssh@sha256:abc');
    expect(catalogue.imageFor('ftp')).toBe('r/ftp:t');
  });

  it.each([
    ['a port out of range', 'services:\n  - { name: ssh, ports: [70000] }\n', /services\.yaml: services\.0\.ports\.0: /],
    ['an unknown field', 'services:\n  - { name: ssh, ports: [22], colour: red }\n', /services\.yaml: services\.0: /],
    ['a name with dashes', 'services:\n  - { name: ss-h, ports: [22] }\n', /services\.0\.name: must be lower-case/],
    ['a duplicate service', 'services:\n  - { name: ssh, ports: [22] }\n  - { name: ssh, ports: [2222] }\n', /"ssh" is defined twice/],
    ['an empty file', '', /services\.yaml: \(root\): /],
  ])('rejects services.yaml with %s', (_label, services, message) => {
    const dir = writeCatalog(services, archetypes);
    expect(() => loadCatalogue({ registry: 'r', tag: 't', dir })).toThrow(message);
  });

  it('rejects an archetype that names an unknown or fleet-wide service', () => {
    const services = 'services:\n  - { name: ssh, ports: [22] }\n  - { name: sniffer, ports: [], singleton: true }\n';
    const unknown = writeCatalog(services, 'archetypes:\n  - { name: box, services: [ftp], distros: [debian], nmap_os: linux }\n');
    expect(() => loadCatalogue({ registry: 'r', tag: 't', dir: unknown })).toThrow('archetype "box" names unknown service "ftp"');
    const singleton = writeCatalog(services, 'archetypes:\n  - { name: box, services: [sniffer], distros: [debian], nmap_os: linux }\n');
    expect(() => loadCatalogue({ registry: 'r', tag: 't', dir: singleton })).toThrow('fleet-wide service "sniffer"');
  });

  it('rejects an archetype with an unknown nmap_os family', () => {
    const dir = writeCatalog(
      'services:\n  - { name: ssh, ports: [22] }\n',
      'archetypes:\n  - { name: box, services: [ssh], distros: [debian], nmap_os: amiga }\n',
    );
    expect(() => loadCatalogue({ registry: 'r', tag: 't', dir })).toThrow(/archetypes\.yaml: archetypes\.0\.nmap_os/);
  });
});
