import { loadCatalogue } from '../../../src/domain/catalog';
import { FleetConflictError, FleetInputError } from '../../../src/domain/errors';
import { drawServices, readFleetDefinition, resolveFleet, seededRng, type ResolveFleetContext } from '../../../src/domain/fleet';
import { DeckySpecSchema, type DeckyRequest } from '../../../src/domain/schemas';

const catalogue = loadCatalogue({ registry: 'decnet', tag: 'latest' });

function context(overrides: Partial<ResolveFleetContext> = {}): ResolveFleetContext {
  return {
    catalogue,
    network: { subnet: '192.168.1.0/24', gateway: '192.168.1.1' },
    existing: new Map(),
    rng: seededRng(42),
    ...overrides,
  };
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

describe('resolveFleet', () => {
  it('resolves an explicit decky completely', () => {
    const [web] = resolveFleet(
      [
        {
          name: 'web',
          ip: '192.168.1.50',
          services: ['http', 'ftp'],
          mutate_interval: '2h',
          distro: 'ubuntu22',
          hostname: 'WEB01',
          service_config: { http: { server_header: 'Apache/2.4.57' } },
        },
      ],
      context(),
    );
    expect(web).toEqual({
      name: 'web',
      ip: '192.168.1.50',
      services: ['http', 'ftp'],
      archetype: null,
      distro: 'ubuntu22',
      base_image: 'decnet/base:latest',
      hostname: 'WEB01',
      nmap_os: 'linux',
      service_config: { http: { server_header: 'Apache/2.4.57' } },
      mutate_interval: 120,
      custom_services: {},
    });
  });

  it('expands amount into numbered deckies that take the archetype services, distros and OS', () => {
    const specs = resolveFleet([{ name: 'ws', archetype: 'windows-workstation', amount: 4 }], context());
    expect(specs.map((s) => [s.name, s.hostname, s.ip])).toEqual([
      ['ws-01', 'ws-01', '192.168.1.2'],
      ['ws-02', 'ws-02', '192.168.1.3'],
      ['ws-03', 'ws-03', '192.168.1.4'],
      ['ws-04', 'ws-04', '192.168.1.5'],
    ]);
    for (const spec of specs) {
      expect(spec.services).toEqual(['smb', 'rdp']);
      expect(spec.archetype).toBe('windows-workstation');
      expect(['windows10', 'windows11']).toContain(spec.distro);
      expect(spec.nmap_os).toBe('windows');
      expect(spec.mutate_interval).toBeNull();
      expect(DeckySpecSchema.safeParse(spec).success).toBe(true);
    }
  });

  it('uses three digits when more than 99 deckies are asked for', () => {
    const specs = resolveFleet([{ name: 'n', services: ['ssh'], amount: 100 }], context());
    expect(specs).toHaveLength(100);
    expect(specs[0].name).toBe('n-001');
    expect(specs[99].name).toBe('n-100');
    expect(specs[99].ip).toBe('192.168.1.101');
  });

  it('keeps the plain name for amount 1, and suffixes a given hostname like the names', () => {
    expect(resolveFleet([{ name: 'solo', amount: 1, services: ['ssh'] }], context())[0].name).toBe('solo');
    const specs = resolveFleet([{ name: 'pc', hostname: 'DESKTOP', amount: 2, services: ['rdp'] }], context());
    expect(specs.map((s) => s.hostname)).toEqual(['DESKTOP-01', 'DESKTOP-02']);
  });

  it('rejects an expanded name or hostname that grows too long, before any conflict', () => {
    const existing = new Map([['a', '192.168.1.2']]);
    const name = thrown(() => resolveFleet([{ name: 'a'.repeat(62), amount: 2, services: ['ssh'] }, { name: 'a' }], context({ existing })));
    expect(name).toBeInstanceOf(FleetInputError);
    expect((name as FleetInputError).details.path).toEqual(['deckies', 0, 'name']);
    expect(name.message).toMatch(/^deckies\[0\]\.name: decky name "a{62}-01" must match /);
    const host = thrown(() => resolveFleet([{ name: 'a', hostname: 'H'.repeat(62), amount: 2, services: ['ssh'] }], context()));
    expect((host as FleetInputError).details.path).toEqual(['deckies', 0, 'hostname']);
    expect(host.message).toContain(`host name "${'H'.repeat(62)}-01" must be a valid host name`);
  });

  it('uses the given services, or the archetype, or 1–3 random per-decky services', () => {
    const [explicit, typed, random] = resolveFleet(
      [{ name: 'a', services: ['vnc'], archetype: 'printer' }, { name: 'b', archetype: 'mail-server' }, { name: 'c' }],
      context(),
    );
    expect(explicit.services).toEqual(['vnc']);
    expect(explicit.archetype).toBe('printer');
    expect(explicit.nmap_os).toBe('embedded');
    expect(typed.services).toEqual(['smtp', 'pop3', 'imap']);
    expect(random.services.length).toBeGreaterThanOrEqual(1);
    expect(random.services.length).toBeLessThanOrEqual(3);
    expect(new Set(random.services).size).toBe(random.services.length);
    for (const service of random.services) expect(catalogue.perDeckyServices()).toContain(service);
  });

  it('draws random services reproducibly from the seed', () => {
    const request: DeckyRequest[] = [{ name: 'r', amount: 5 }];
    const first = resolveFleet(request, context({ rng: seededRng(7) })).map((s) => s.services);
    const again = resolveFleet(request, context({ rng: seededRng(7) })).map((s) => s.services);
    expect(again).toEqual(first);
  });

  it('defaults distro to debian and derives nmap_os from a windows distro', () => {
    const [plain, windows] = resolveFleet(
      [
        { name: 'a', services: ['ssh'] },
        { name: 'b', services: ['rdp'], distro: 'windows2019' },
      ],
      context(),
    );
    expect([plain.distro, plain.nmap_os, plain.hostname]).toEqual(['debian', 'linux', 'a']);
    expect([windows.distro, windows.nmap_os]).toEqual(['windows2019', 'windows']);
  });

  it('gives every expanded decky its own copy of the service configuration', () => {
    const specs = resolveFleet([{ name: 'w', amount: 2, services: ['http'], service_config: { http: { a: '1' } } }], context());
    specs[0].service_config.http.a = 'changed';
    expect(specs[1].service_config).toEqual({ http: { a: '1' } });
  });

  describe('nmap_os', () => {
    it("is the archetype's by default, an explicit one wins, and every expanded decky carries it", () => {
      const specs = resolveFleet(
        [
          { name: 'rtr', archetype: 'printer', nmap_os: 'cisco', amount: 3 },
          { name: 'pr', archetype: 'printer' },
          { name: 'fw', services: ['ssh'], distro: 'windows2019', nmap_os: 'bsd' },
        ],
        context(),
      );
      expect(specs.map((s) => [s.name, s.nmap_os])).toEqual([
        ['rtr-01', 'cisco'],
        ['rtr-02', 'cisco'],
        ['rtr-03', 'cisco'],
        ['pr', 'embedded'],
        ['fw', 'bsd'],
      ]);
    });
  });

  describe('custom services', () => {
    const tarpit = { image: 'registry.local/tarpit:1.2', exec: ['/usr/bin/tarpit', '-p', '2222'], ports: [2222] };
    const customServices = { tarpit, spare: { image: 'registry.local/spare:1' } };

    it('are used by name next to catalogue services; each decky keeps the definitions of those it runs', () => {
      const [web, plain, ws] = resolveFleet(
        [
          { name: 'web', services: ['ssh', 'tarpit'], service_config: { tarpit: { delay: '10' } } },
          { name: 'plain', services: ['ssh'] },
          { name: 'ws', archetype: 'windows-workstation', amount: 2 },
        ],
        context({ customServices }),
      );
      expect(web.services).toEqual(['ssh', 'tarpit']);
      expect(web.custom_services).toEqual({ tarpit });
      expect(web.service_config).toEqual({ tarpit: { delay: '10' } });
      expect(plain.custom_services).toEqual({});
      expect(ws.custom_services).toEqual({});
    });

    it('give every expanded decky its own copy', () => {
      const specs = resolveFleet([{ name: 't', amount: 2, services: ['tarpit'] }], context({ customServices }));
      specs[0].custom_services.tarpit.exec?.push('changed');
      expect(specs[1].custom_services.tarpit.exec).toEqual(['/usr/bin/tarpit', '-p', '2222']);
    });

    it('may not take the name of a catalogue service', () => {
      const err = thrown(() => resolveFleet([{ name: 'a', services: ['ssh'] }], context({ customServices: { ssh: tarpit } })));
      expect(err).toBeInstanceOf(FleetInputError);
      expect((err as FleetInputError).details.path).toEqual(['custom_services', 'ssh']);
      expect(err.message).toBe('custom_services.ssh: "ssh" is a catalogue service; give the custom service another name');
    });

    it('are listed among the valid services when a name is unknown', () => {
      const err = thrown(() => resolveFleet([{ name: 'a', services: ['tarpti'] }], context({ customServices })));
      expect(err.message).toMatch(/^deckies\[0\]\.services\[0\]: unknown service "tarpti"; valid services: conpot, .*, vnc, tarpit, spare$/);
    });
  });

  describe('readFleetDefinition', () => {
    it('reads an INI with its warnings and the JSON form with none, custom services alike', () => {
      const ini = readFleetDefinition({ ini_content: '[custom-tarpit]\nbinary=t:1\n[a]\nservices=tarpit\n[b.ssh]\n', replace_fleet: false }, 10);
      expect(ini).toEqual({
        definition: { deckies: [{ name: 'a', services: ['tarpit'] }], custom_services: { tarpit: { image: 't:1' } } },
        warnings: ['line 5: section [b.ssh]: no decky [b] in this file; skipped'],
      });
      const json = readFleetDefinition(
        { deckies: [{ name: 'a', services: ['tarpit'] }], custom_services: { tarpit: { image: 't:1' } }, replace_fleet: false },
        10,
      );
      expect(json).toEqual({
        definition: { deckies: [{ name: 'a', services: ['tarpit'] }], network: undefined, custom_services: { tarpit: { image: 't:1' } } },
        warnings: [],
      });
    });

    it('refuses a request for more deckies than the deployment limit (each amount counted) as a conflict, before expanding it', () => {
      const deckies = [{ name: 'a' }, { name: 'b', amount: 100 }, { name: 'c', amount: 100 }];
      const json = thrown(() => readFleetDefinition({ deckies, replace_fleet: false }, 200));
      expect(json).toBeInstanceOf(FleetConflictError);
      expect(json.message).toBe('the request asks for 201 deckies, over the deployment limit of 200 (GET/PUT /api/v1/system/limits)');
      expect(readFleetDefinition({ deckies: deckies.slice(1), replace_fleet: false }, 200).definition.deckies).toHaveLength(2);
      const ini = thrown(() => readFleetDefinition({ ini_content: '[a]\namount=6\n[b]\namount=5\n', replace_fleet: false }, 10));
      expect(ini.message).toBe('the request asks for 11 deckies, over the deployment limit of 10 (GET/PUT /api/v1/system/limits)');
      const sections = thrown(() => readFleetDefinition({ ini_content: '[a]\n[b]\n[c]\n', replace_fleet: false }, 2));
      expect(sections.message).toBe('the INI defines 3 deckies, over the deployment limit of 2 (GET/PUT /api/v1/system/limits)');
    });
  });

  describe('input errors (400) with a path', () => {
    it.each<[string, DeckyRequest[], (string | number)[], string]>([
      [
        'an unknown service',
        [
          { name: 'a', services: ['ssh'] },
          { name: 'b', services: ['gopher', 'ssh'] },
        ],
        ['deckies', 1, 'services', 0],
        'deckies[1].services[0]: unknown service "gopher"; valid services: conpot, dns',
      ],
      ['a fleet-wide service', [{ name: 'a', services: ['ssh', 'sniffer'] }], ['deckies', 0, 'services', 1], 'service "sniffer" runs fleet-wide'],
      ['a service listed twice', [{ name: 'a', services: ['ssh', 'ftp', 'ssh'] }], ['deckies', 0, 'services'], 'service "ssh" is listed twice'],
      [
        'an unknown archetype',
        [{ name: 'a', archetype: 'toaster' }],
        ['deckies', 0, 'archetype'],
        'unknown archetype "toaster"; valid archetypes: windows-workstation, windows-server',
      ],
      [
        'config for an unknown service',
        [{ name: 'a', services: ['ssh'], service_config: { htp: { x: '1' } } }],
        ['deckies', 0, 'service_config', 'htp'],
        'deckies[0].service_config.htp: unknown service "htp"',
      ],
      [
        'a bad interval',
        [{ name: 'a', services: ['ssh'], mutate_interval: '0' }],
        ['deckies', 0, 'mutate_interval'],
        'deckies[0].mutate_interval: "0" is not a valid interval',
      ],
      [
        'a duplicate name',
        [
          { name: 'a', services: ['ssh'] },
          { name: 'a', services: ['ftp'] },
        ],
        ['deckies', 1, 'name'],
        'decky "a" is also defined by deckies[0]',
      ],
      [
        'a name clashing with an expansion',
        [
          { name: 'ws', amount: 2, services: ['ssh'] },
          { name: 'ws-02', services: ['ssh'] },
        ],
        ['deckies', 1, 'name'],
        'decky "ws-02" is also defined by deckies[0]',
      ],
      [
        'an IP outside the subnet',
        [{ name: 'a', ip: '10.0.0.5', services: ['ssh'] }],
        ['deckies', 0, 'ip'],
        'IP 10.0.0.5 is outside the subnet 192.168.1.0/24',
      ],
      ['the network address', [{ name: 'a', ip: '192.168.1.0', services: ['ssh'] }], ['deckies', 0, 'ip'], 'network or broadcast address'],
      ['the broadcast address', [{ name: 'a', ip: '192.168.1.255', services: ['ssh'] }], ['deckies', 0, 'ip'], 'network or broadcast address'],
      ['the gateway', [{ name: 'a', ip: '192.168.1.1', services: ['ssh'] }], ['deckies', 0, 'ip'], 'IP 192.168.1.1 is the gateway'],
    ])('%s', (_label, requests, path, message) => {
      const err = thrown(() => resolveFleet(requests, context()));
      expect(err).toBeInstanceOf(FleetInputError);
      expect((err as FleetInputError).details.path).toEqual(path);
      expect(err.message).toContain(message);
    });

    it('are reported before conflicts with the deployed fleet', () => {
      const existing = new Map([['a', '192.168.1.2']]);
      const err = thrown(() => resolveFleet([{ name: 'a', services: ['gopher'] }], context({ existing })));
      expect(err).toBeInstanceOf(FleetInputError);
    });
  });

  describe('conflicts (409)', () => {
    const existing = new Map([
      ['old', '192.168.1.2'],
      ['older', '192.168.1.4'],
    ]);

    it('refuses names that are already deployed, naming them', () => {
      const err = thrown(() => resolveFleet([{ name: 'old', services: ['ssh'] }], context({ existing }))) as FleetConflictError;
      expect(err).toBeInstanceOf(FleetConflictError);
      expect(err.code).toBe('name_clash');
      expect(err.message).toBe('decky "old" already exists');
      const many = thrown(() =>
        resolveFleet(
          [
            { name: 'old', services: ['ssh'] },
            { name: 'older', services: ['ssh'] },
          ],
          context({ existing }),
        ),
      ) as FleetConflictError;
      expect(many.message).toBe('deckies "old", "older" already exist');
      expect(many.details).toEqual({ names: ['old', 'older'] });
    });

    it('refuses an explicit IP held by a deployed decky, naming both', () => {
      const err = thrown(() => resolveFleet([{ name: 'new', ip: '192.168.1.4', services: ['ssh'] }], context({ existing }))) as FleetConflictError;
      expect(err.code).toBe('ip_clash');
      expect(err.message).toBe('IP 192.168.1.4 of decky "new" is already held by deployed decky "older"');
      expect(err.details).toEqual({ ip: '192.168.1.4', deckies: ['new', 'older'] });
    });

    it('refuses the same explicit IP twice in one request, naming both', () => {
      const err = thrown(() =>
        resolveFleet(
          [
            { name: 'x', ip: '192.168.1.9', services: ['ssh'] },
            { name: 'y', ip: '192.168.1.9', services: ['ssh'] },
          ],
          context(),
        ),
      ) as FleetConflictError;
      expect(err.code).toBe('ip_clash');
      expect(err.message).toBe('IP 192.168.1.9 is requested by both decky "x" and decky "y"');
    });

    it('allocates around deployed and explicit IPs', () => {
      const specs = resolveFleet(
        [
          { name: 'auto', amount: 3, services: ['ssh'] },
          { name: 'fixed', ip: '192.168.1.3', services: ['ssh'] },
        ],
        context({ existing }),
      );
      expect(specs.map((s) => [s.name, s.ip])).toEqual([
        ['auto-01', '192.168.1.5'],
        ['auto-02', '192.168.1.6'],
        ['auto-03', '192.168.1.7'],
        ['fixed', '192.168.1.3'],
      ]);
    });

    it('allocates from ip_range while explicit IPs may sit anywhere in the subnet', () => {
      const network = { subnet: '192.168.1.0/24', gateway: '192.168.1.1', ip_range: '192.168.1.200/29' };
      const specs = resolveFleet(
        [
          { name: 'a', amount: 2, services: ['ssh'] },
          { name: 'b', ip: '192.168.1.20', services: ['ssh'] },
        ],
        context({ network }),
      );
      expect(specs.map((s) => s.ip)).toEqual(['192.168.1.200', '192.168.1.201', '192.168.1.20']);
    });

    it('reports an exhausted pool', () => {
      const network = { subnet: '10.0.0.0/29', gateway: '10.0.0.1' };
      const err = thrown(() => resolveFleet([{ name: 'a', amount: 6, services: ['ssh'] }], context({ network }))) as FleetConflictError;
      expect(err.code).toBe('pool_exhausted');
      expect(err.message).toBe('not enough free IPs in subnet 10.0.0.0/29: 6 needed, 5 free');
    });
  });
});

describe('seededRng', () => {
  it('is deterministic per seed and uniform-looking in [0, 1)', () => {
    const a = seededRng(123);
    const b = seededRng(123);
    const values = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(values);
    expect(values.every((v) => v >= 0 && v < 1)).toBe(true);
    const mean = values.reduce((sum, v) => sum + v, 0) / values.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
    expect(seededRng(124)()).not.toBe(seededRng(123)());
  });
});

describe('drawServices', () => {
  it('draws 1, 2 or 3 distinct services over many seeds', () => {
    const pool = catalogue.perDeckyServices();
    const sizes = new Set<number>();
    for (let seed = 0; seed < 200; seed++) {
      const drawn = drawServices(pool, seededRng(seed));
      sizes.add(drawn.length);
      expect(new Set(drawn).size).toBe(drawn.length);
      for (const service of drawn) expect(pool).toContain(service);
    }
    expect([...sizes].sort()).toEqual([1, 2, 3]);
  });

  it('never draws more than the pool holds, even with an rng at its upper edge', () => {
    const high = () => 0.9999999999;
    expect(drawServices(['ssh'], high)).toEqual(['ssh']);
    expect(drawServices(['ssh', 'ftp'], high)).toEqual(['ftp', 'ssh']);
    expect(drawServices(['a', 'b', 'c', 'd'], () => 1)).toEqual(['d', 'c', 'b']);
  });
});
