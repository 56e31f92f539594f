import { FleetConflictError, FleetInputError } from '../../../src/domain/errors';
import { parseFleetIni } from '../../../src/domain/ini';
import { INI_MAX_BYTES } from '../../../src/domain/schemas';

/** The fleet file example of the product's specification, §4 (its rules: architecture.md §4), verbatim. */
const SPEC_EXAMPLE = `[general]
net=192.168.1.0/24
gw=192.168.1.1
interface=eth0

[web]                 ; one decky named "web"
ip=192.168.1.50       ; optional: auto-allocated when absent
services=http,ftp
mutate_interval=60

[ws]                  ; four deckies ws-01 … ws-04
archetype=windows-workstation
amount=4              ; 1–100, cannot be combined with ip

[web.http]            ; per-service configuration for decky "web"
server_header=Apache/2.4.57
`;

const definitionOf = (text: string) => parseFleetIni(text).definition;

function inputError(text: string): FleetInputError {
  try {
    parseFleetIni(text);
  } catch (err) {
    if (err instanceof FleetInputError) return err;
    throw err;
  }
  throw new Error('expected a FleetInputError');
}

describe('parseFleetIni', () => {
  it("parses the example of the specification's §4", () => {
    expect(parseFleetIni(SPEC_EXAMPLE)).toEqual({
      warnings: [],
      definition: {
        network: { subnet: '192.168.1.0/24', gateway: '192.168.1.1', interface: 'eth0' },
        deckies: [
          {
            name: 'web',
            ip: '192.168.1.50',
            services: ['http', 'ftp'],
            mutate_interval: 60,
            service_config: { http: { server_header: 'Apache/2.4.57' } },
          },
          { name: 'ws', archetype: 'windows-workstation', amount: 4 },
        ],
      },
    });
  });

  it('reads every decky key and converts durations to minutes', () => {
    const fleet = definitionOf('[db]\nservices = mysql , postgres,,redis\ndistro=rocky9\nhostname=DB-01\nmutate_interval=2h\namount=1\nip=10.0.0.9\n');
    expect(fleet).toEqual({
      deckies: [
        {
          name: 'db',
          services: ['mysql', 'postgres', 'redis'],
          distro: 'rocky9',
          hostname: 'DB-01',
          mutate_interval: 120,
          amount: 1,
          ip: '10.0.0.9',
        },
      ],
    });
  });

  it('reads the full [general] section, with configparser booleans for ipvlan', () => {
    const text = '[general]\nnet=10.0.0.0/16\ngw=10.0.0.1\ninterface=wlan0\nip_range=10.0.5.0/24\nipvlan=Yes\n[a]\n';
    expect(definitionOf(text).network).toEqual({
      subnet: '10.0.0.0/16',
      gateway: '10.0.0.1',
      interface: 'wlan0',
      ip_range: '10.0.5.0/24',
      ipvlan: true,
    });
    expect(definitionOf('[general]\nipvlan=false\n[a]\n').network).toEqual({ ipvlan: false });
  });

  it('accepts comments, blank lines, CRLF, a BOM and upper-case keys; a section without keys is a decky', () => {
    const text = '\uFEFF; fleet\r\n# another comment\r\n\r\n   [a]   \r\n  SERVICES=ssh  # inline\r\n[b]\r\n';
    expect(definitionOf(text).deckies).toEqual([{ name: 'a', services: ['ssh'] }, { name: 'b' }]);
  });

  it('keeps ; and # that are not preceded by whitespace, and = inside values', () => {
    const fleet = definitionOf('[a]\n[a.http]\nserver_header=Apache;x#y=z\n');
    expect(fleet.deckies[0].service_config).toEqual({ http: { server_header: 'Apache;x#y=z' } });
  });

  it('accepts per-service sections before their decky section', () => {
    const fleet = definitionOf('[web.ssh]\nbanner=SSH-2.0-OpenSSH_9.2\n[web]\nservices=ssh\n');
    expect(fleet.deckies).toEqual([{ name: 'web', services: ['ssh'], service_config: { ssh: { banner: 'SSH-2.0-OpenSSH_9.2' } } }]);
  });

  describe('errors name the line and the key', () => {
    it.each([
      ['a junk line', '[a]\nservices=ssh\nthis is junk\n', 3, undefined, 'line 3: expected "[section]" or "key=value", got "this is junk"'],
      ['a line starting with =', '[a]\n=ssh\n', 2, undefined, 'line 2: expected "[section]" or "key=value"'],
      ['a key before any section', 'ip=10.0.0.1\n[a]\n', 1, 'ip', 'line 1: key "ip": appears before any [section]'],
      ['an unknown decky key', '[a]\n\nport=22\n', 3, 'port', 'line 3: key "port": is not a decky key; expected one of ip, services'],
      ['an unknown [general] key', '[general]\nsubnet=10.0.0.0/8\n[a]\n', 2, 'subnet', 'line 2: key "subnet": is not a [general] key; expected one of net, gw'],
      ['a duplicate key', '[a]\nip=10.0.0.2\nip=10.0.0.3\n', 3, 'ip', 'line 3: key "ip": is set twice in [a] (first on line 2)'],
      ['a duplicate section', '[a]\n[b]\n\n[a]\n', 4, undefined, 'line 4: section [a] is defined twice (first on line 1)'],
      ['an empty section name', '[ ]\n', 1, undefined, 'line 1: empty section name'],
      ['an amount over 100', '[a]\n\n\n\n\n\namount=101\n', 7, 'amount', 'line 7: key "amount": must be 1–100'],
      ['an amount of 0', '[a]\namount=0\n', 2, 'amount', 'line 2: key "amount": must be 1–100'],
      ['a non-numeric amount', '[a]\namount=four\n', 2, 'amount', 'line 2: key "amount": must be a whole number 1–100, got "four"'],
      ['amount with ip', '[a]\nip=10.0.0.5\namount=3\n', 3, 'amount', 'line 3: key "amount": amount cannot be combined with ip'],
      ['a bad ip', '[a]\nip=10.0.0.300\n', 2, 'ip', 'line 2: key "ip": must be an IPv4 address'],
      ['an empty services list', '[a]\nservices= , \n', 2, 'services', 'line 2: key "services": must list at least one service'],
      ['a bad interval', '[a]\nmutate_interval=soon\n', 2, 'mutate_interval', 'line 2: key "mutate_interval": "soon" is not a valid interval'],
      ['a bad hostname', '[a]\nhostname=bad_host\n', 2, 'hostname', 'line 2: key "hostname": must be a valid host name'],
      ['a bad ipvlan', '[general]\nipvlan=maybe\n[a]\n', 2, 'ipvlan', 'line 2: key "ipvlan": must be true or false, got "maybe"'],
      ['a bad net', '[general]\ninterface=eth0\nnet=10.0.0.0/40\n[a]\n', 3, 'net', 'line 3: key "net": must be an IPv4 CIDR'],
      ['a bad gw', '[general]\ngw=gateway\n[a]\n', 2, 'gw', 'line 2: key "gw": must be an IPv4 address'],
      ['an invalid decky name', '\n[Web]\nservices=ssh\n', 2, undefined, 'line 2: section [Web]: decky name must match'],
      ['a service section without a service', '[a]\n[a.]\n', 2, undefined, 'line 2: section [a.]: per-service sections are named [decky.service]'],
    ])('%s', (_label, text, line, key, message) => {
      const err = inputError(text);
      expect(err.message).toContain(message);
      expect(err.message.startsWith(`line ${line}: `)).toBe(true);
      expect(err.details.line).toBe(line);
      expect(err.details.key).toBe(key);
    });

    it('reports the first problem in file order', () => {
      expect(inputError('[a]\nhostname=bad_host\nip=nope\n').details.line).toBe(2);
      expect(inputError('[a]\nip=nope\nhostname=bad_host\n').details.line).toBe(2);
    });
  });

  describe('size: the largest file the API takes', () => {
    /** `[a0]\n[a1]\n…` filling 512 KB: the file that took the old quadratic scan about 9 s. */
    const tinySections = () => {
      const names: string[] = [];
      for (let size = 0, i = 0; size + `[a${i}]\n`.length <= INI_MAX_BYTES; i++) {
        names.push(`a${i}`);
        size += `[a${i}]\n`.length;
      }
      return names;
    };

    it('512 KB of tiny sections parses into one decky per section, in file order', () => {
      const names = tinySections();
      expect(names.length).toBeGreaterThan(50_000);
      const fleet = definitionOf(names.map((n) => `[${n}]\n`).join(''));
      expect(fleet.deckies.map((d) => d.name)).toEqual(names);
    });

    it('with a deployment limit, more decky sections than it are refused after the scan, before any decky is built', () => {
      const names = tinySections();
      // The first section is not a valid decky: building any decky would stop there first.
      const text = `[Bad_Name]\n${names
        .slice(1)
        .map((n) => `[${n}]\n`)
        .join('')}`;
      const err = (() => {
        try {
          parseFleetIni(text, { maxDeckies: 500 });
        } catch (e) {
          return e as FleetConflictError;
        }
        throw new Error('expected a FleetConflictError');
      })();
      expect(err).toBeInstanceOf(FleetConflictError);
      expect(err.message).toBe(`the INI defines ${names.length} deckies, over the deployment limit of 500 (GET/PUT /api/v1/system/limits)`);
      expect(err.details).toEqual({ deployment_limit: 500, requested: names.length });
      // At the limit, the file is parsed as usual; [general] and per-service sections are not deckies.
      expect(parseFleetIni('[general]\nnet=10.0.0.0/24\n[a]\n[b]\n[a.ssh]\n', { maxDeckies: 2 }).definition.deckies).toHaveLength(2);
    });

    it('a section defined twice is found however far apart the two are', () => {
      const names = tinySections().slice(0, 20_000);
      const text = `${names.map((n) => `[${n}]\n`).join('')}[a7]\n`;
      expect(inputError(text).message).toBe(`line ${names.length + 1}: section [a7] is defined twice (first on line 8)`);
    });
  });

  describe("DECNET's own files", () => {
    /** Written the way DECNET's users write them: tabs and spaces around "=", comments, a section order of their own. */
    const DECNET_FILE = [
      '; DECNET fleet, written for DECNET',
      '[general]',
      'net\t=\t10.0.0.0/24',
      'gw = 10.0.0.1',
      'interface = eth0',
      '',
      '[custom-tarpit]\t; bring your own service',
      'binary = registry.local/tarpit:1.2',
      `exec = /usr/bin/tarpit --banner "SSH-2.0-OpenSSH_7.4 (Debian)" --motd 'it''s $HOME' --port 2222`,
      'ports = 2222, 2223',
      '',
      '[web]',
      'services = ssh, tarpit',
      'nmap_os = bsd',
      '',
      '[rtr]',
      'services\t=\tcustom-tarpit',
      'nmap-os\t=\tCisco',
      'amount = 2',
      '',
      '[ghost.ssh]',
      'banner = SSH-2.0-dropbear',
      '[rtr.custom-tarpit]',
      'delay = 10',
      '[nobody.http]',
    ].join('\n');

    it('reads [custom-x] sections, nmap_os / nmap-os and skips subsections of undefined deckies with line-numbered warnings', () => {
      expect(parseFleetIni(DECNET_FILE)).toEqual({
        definition: {
          network: { subnet: '10.0.0.0/24', gateway: '10.0.0.1', interface: 'eth0' },
          deckies: [
            { name: 'web', services: ['ssh', 'tarpit'], nmap_os: 'bsd' },
            { name: 'rtr', services: ['tarpit'], nmap_os: 'cisco', amount: 2, service_config: { tarpit: { delay: '10' } } },
          ],
          custom_services: {
            tarpit: {
              image: 'registry.local/tarpit:1.2',
              exec: ['/usr/bin/tarpit', '--banner', 'SSH-2.0-OpenSSH_7.4 (Debian)', '--motd', 'its $HOME', '--port', '2222'],
              ports: [2222, 2223],
            },
          },
        },
        warnings: [
          'line 21: section [ghost.ssh]: no decky [ghost] in this file; skipped',
          'line 25: section [nobody.http]: no decky [nobody] in this file; skipped',
        ],
      });
    });

    it('takes exec and ports as optional and keeps "custom-" in a service name when no such section exists', () => {
      const { definition } = parseFleetIni('[custom-bare]\nbinary=bare:1\n[a]\nservices=custom-other,bare\n');
      expect(definition.custom_services).toEqual({ bare: { image: 'bare:1' } });
      expect(definition.deckies[0].services).toEqual(['custom-other', 'bare']);
    });

    it('a file of custom services without a decky still has no decky', () => {
      expect(() => parseFleetIni('[custom-x]\nbinary=x:1\n[ghost.ssh]\n')).toThrow('no decky defined');
    });

    it.each([
      [
        'an unknown [custom-x] key',
        '[a]\n[custom-x]\nbinary=x:1\nport=22\n',
        4,
        'port',
        'line 4: key "port": is not a custom service key; expected one of binary, exec, ports',
      ],
      [
        'a port that is no number',
        '[custom-x]\nbinary=x:1\nports=22,ssh\n[a]\n',
        3,
        'ports',
        'line 3: key "ports": must be a comma list of port numbers, got "ssh"',
      ],
      ['a port out of range', '[custom-x]\nbinary=x:1\nports=70000\n[a]\n', 3, 'ports', 'line 3: key "ports": '],
      ['an image with a space', '[custom-x]\nbinary=my image\n[a]\n', 2, 'binary', 'line 2: key "binary": must be an image reference without spaces'],
      ['an empty exec', '[custom-x]\nbinary=x:1\nexec=\n[a]\n', 3, 'exec', 'line 3: key "exec": must name the program to run'],
      ['an unterminated quote in exec', '[custom-x]\nbinary=x:1\nexec=/bin/app "oops\n[a]\n', 3, 'exec', 'line 3: key "exec": has an unterminated " quote'],
      [
        'a shell redirection in exec',
        '[custom-x]\nbinary=x:1\nexec=/bin/app > /tmp/log\n[a]\n',
        3,
        'exec',
        'line 3: key "exec": runs without a shell: quote ">"',
      ],
      [
        'nmap_os and nmap-os both set',
        '[a]\nnmap_os=linux\nnmap-os=bsd\n',
        3,
        'nmap-os',
        'line 3: key "nmap-os": sets nmap_os again in [a] (first on line 2 as "nmap_os")',
      ],
      ['an unknown nmap-os family', '[a]\n\nnmap-os=amiga\n', 3, 'nmap-os', 'line 3: key "nmap-os": '],
    ])('%s is a line-numbered error', (_label, text, line, key, message) => {
      const err = inputError(text);
      expect(err.message).toContain(message);
      expect(err.details).toEqual({ line, key });
    });

    it.each([
      ['without binary', '[a]\n[custom-x]\nexec=/bin/true\n', 2, 'line 2: section [custom-x]: a custom service needs binary=<image>'],
      [
        'with a name that is not a service name',
        '[custom-My-App]\nbinary=x:1\n[a]\n',
        1,
        'line 1: section [custom-My-App]: custom service name "My-App" must be lower-case letters, digits and underscores',
      ],
    ])('a custom section %s is a line-numbered error', (_label, text, line, message) => {
      const err = inputError(text);
      expect(err.message).toBe(message);
      expect(err.details).toEqual({ line });
    });
  });

  it('rejects a file without any decky', () => {
    expect(() => parseFleetIni('[general]\nnet=10.0.0.0/24\n')).toThrow('no decky defined');
    expect(() => parseFleetIni('; only a comment\n')).toThrow(FleetInputError);
  });

  it('rejects content over 512 KB', () => {
    const text = `[a]\n${'; padding padding padding padding\n'.repeat(16_000)}`;
    expect(() => parseFleetIni(text)).toThrow('INI content is limited to 512 KB');
  });
});
