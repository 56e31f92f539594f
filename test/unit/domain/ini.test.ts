import { FleetInputError } from '../../../src/domain/errors';
import { parseFleetIni } from '../../../src/domain/ini';

/** The example of SPEC §4, verbatim. */
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
  it('parses the SPEC §4 example', () => {
    expect(parseFleetIni(SPEC_EXAMPLE)).toEqual({
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
    });
  });

  it('reads every decky key and converts durations to minutes', () => {
    const fleet = parseFleetIni(
      '[db]\nservices = mysql , postgres,,redis\ndistro=rocky9\nhostname=DB-01\nmutate_interval=2h\namount=1\nip=10.0.0.9\n',
    );
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
    expect(parseFleetIni(text).network).toEqual({
      subnet: '10.0.0.0/16',
      gateway: '10.0.0.1',
      interface: 'wlan0',
      ip_range: '10.0.5.0/24',
      ipvlan: true,
    });
    expect(parseFleetIni('[general]\nipvlan=false\n[a]\n').network).toEqual({ ipvlan: false });
  });

  it('accepts comments, blank lines, CRLF, a BOM and upper-case keys; a section without keys is a decky', () => {
    const text = '\uFEFF; fleet\r\n# another comment\r\n\r\n   [a]   \r\n  SERVICES=ssh  # inline\r\n[b]\r\n';
    expect(parseFleetIni(text).deckies).toEqual([{ name: 'a', services: ['ssh'] }, { name: 'b' }]);
  });

  it('keeps ; and # that are not preceded by whitespace, and = inside values', () => {
    const fleet = parseFleetIni('[a]\n[a.http]\nserver_header=Apache;x#y=z\n');
    expect(fleet.deckies[0].service_config).toEqual({ http: { server_header: 'Apache;x#y=z' } });
  });

  it('accepts per-service sections before their decky section', () => {
    const fleet = parseFleetIni('[web.ssh]\nbanner=SSH-2.0-OpenSSH_9.2\n[web]\nservices=ssh\n');
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
      ['a service section without its decky', '[a]\n[b.http]\nx=1\n', 2, undefined, 'line 2: section [b.http]: there is no decky section [b] for service "http"'],
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

  it('rejects a file without any decky', () => {
    expect(() => parseFleetIni('[general]\nnet=10.0.0.0/24\n')).toThrow('no decky defined');
    expect(() => parseFleetIni('; only a comment\n')).toThrow(FleetInputError);
  });

  it('rejects content over 512 KB', () => {
    const text = `[a]\n${'; padding padding padding padding\n'.repeat(16_000)}`;
    expect(() => parseFleetIni(text)).toThrow('INI content is limited to 512 KB');
  });
});
