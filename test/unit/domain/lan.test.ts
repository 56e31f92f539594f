import { LanRequestSchema, lanRequestOnHost, parseDefaultRoute, suggestLan, type InterfaceAddress } from '../../../src/domain/lan';

/** /proc/net/route of a host with Docker, a LAN on eth0 and a backup default route on wlan0 (little-endian). */
const ROUTE_TABLE = [
  'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT                                                       ',
  'wlan0\t00000000\t0100000A\t0003\t0\t0\t600\t00000000\t0\t0\t0                                                                               ',
  'eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0                                                                               ',
  'docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0                                                                            ',
  'eth0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0                                                                               ',
  'wlan0\t0000000A\t00000000\t0001\t0\t0\t600\t000000FF\t0\t0\t0                                                                               ',
  '',
].join('\n');

const v4 = (address: string, netmask: string): InterfaceAddress => ({ address, netmask, family: 'IPv4', internal: false });

describe('parseDefaultRoute (/proc/net/route)', () => {
  it('picks the default route with the lowest metric and decodes its gateway', () => {
    expect(parseDefaultRoute(ROUTE_TABLE)).toEqual({ interface: 'eth0', gateway: '192.168.1.1', metric: 100 });
  });

  it('reads big-endian tables when told so', () => {
    const table = 'Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\neth0\t00000000\tC0A80101\t0003\t0\t0\t0\t00000000\n';
    expect(parseDefaultRoute(table, false)).toEqual({ interface: 'eth0', gateway: '192.168.1.1', metric: 0 });
  });

  it('ignores routes that are down, have no gateway or are not the default', () => {
    const table = [
      'Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask',
      'eth1\t00000000\t0101A8C0\t0002\t0\t0\t0\t00000000', // not RTF_UP
      'eth2\t00000000\t00000000\t0001\t0\t0\t0\t00000000', // no gateway (point-to-point)
      'eth3\t0001A8C0\t0101A8C0\t0003\t0\t0\t0\t00FFFFFF', // a /24, not the default
    ].join('\n');
    expect(parseDefaultRoute(table)).toBeNull();
  });

  it('finds columns by the header, and gives up on text that is not a route table', () => {
    const reordered = 'Destination\tMask\tIface\tMetric\tFlags\tGateway\n00000000\t00000000\tenp3s0\t5\t0003\t0100A8C0\n';
    expect(parseDefaultRoute(reordered)).toEqual({ interface: 'enp3s0', gateway: '192.168.0.1', metric: 5 });
    expect(parseDefaultRoute('')).toBeNull();
    expect(parseDefaultRoute('Iface\tDestination\n')).toBeNull();
  });
});

describe('suggestLan', () => {
  const route = { interface: 'eth0', gateway: '192.168.1.1', metric: 100 };

  it("is the route's interface, the subnet of its IPv4 address that holds the gateway, and the gateway", () => {
    const addresses = {
      lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', internal: true }],
      eth0: [
        { address: 'fe80::1', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', internal: false },
        v4('10.9.9.9', '255.255.255.0'),
        v4('192.168.1.23', '255.255.255.0'),
      ],
    };
    expect(suggestLan(route, addresses)).toEqual({ interface: 'eth0', subnet: '192.168.1.0/24', gateway: '192.168.1.1' });
  });

  it('accepts the numeric family of older Node versions', () => {
    expect(suggestLan(route, { eth0: [{ address: '192.168.1.200', netmask: '255.255.254.0', family: 4, internal: false }] })).toEqual({
      interface: 'eth0',
      subnet: '192.168.0.0/23',
      gateway: '192.168.1.1',
    });
  });

  it('is null without a default route, without an IPv4 address, or when the result is no usable LAN', () => {
    expect(suggestLan(null, { eth0: [v4('192.168.1.2', '255.255.255.0')] })).toBeNull();
    expect(suggestLan(route, {})).toBeNull();
    expect(suggestLan(route, { eth0: [v4('10.0.0.2', '255.255.255.0')] })).toBeNull(); // gateway outside
    expect(suggestLan(route, { eth0: [v4('192.168.1.5', '255.255.255.255')] })).toBeNull(); // a cloud /32
  });
});

describe('LanRequestSchema', () => {
  const good = { interface: 'eth0', subnet: '192.168.1.0/24', gateway: '192.168.1.1' };
  const issues = (body: unknown, schema = LanRequestSchema) => {
    const parsed = schema.safeParse(body);
    return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('accepts a LAN and defaults the driver to macvlan', () => {
    expect(LanRequestSchema.parse(good)).toEqual({ ...good, driver: 'macvlan' });
    expect(LanRequestSchema.parse({ ...good, ip_range: '192.168.1.128/25', driver: 'ipvlan' })).toMatchObject({
      ip_range: '192.168.1.128/25',
      driver: 'ipvlan',
    });
  });

  it('refuses a subnet with host bits set, naming the network it meant', () => {
    expect(issues({ ...good, subnet: '192.168.1.5/24' })).toEqual(['subnet: 192.168.1.5/24 is not a network address; did you mean 192.168.1.0/24?']);
  });

  it.each([
    ['10.0.0.0/7', 'subnet: must be a /8 to /30 network, got /7'],
    ['192.168.1.0/31', 'subnet: must be a /8 to /30 network, got /31'],
  ])('refuses the prefix of %s', (subnet, message) => {
    expect(issues({ ...good, subnet, gateway: subnet.replace(/0\/\d+$/, '1') })).toContain(message);
  });

  it('wants the gateway to be a host of the subnet', () => {
    expect(issues({ ...good, gateway: '192.168.2.1' })).toEqual(['gateway: 192.168.2.1 is not inside the subnet 192.168.1.0/24']);
    expect(issues({ ...good, gateway: '192.168.1.0' })).toEqual(['gateway: 192.168.1.0 is the network address of 192.168.1.0/24, not a host']);
    expect(issues({ ...good, gateway: '192.168.1.255' })).toEqual(['gateway: 192.168.1.255 is the broadcast address of 192.168.1.0/24, not a host']);
  });

  it('wants ip_range to be a network inside the subnet', () => {
    expect(issues({ ...good, ip_range: '192.168.0.0/23' })).toEqual(['ip_range: 192.168.0.0/23 is not inside the subnet 192.168.1.0/24']);
    expect(issues({ ...good, ip_range: '192.168.1.130/25' })).toEqual(['ip_range: 192.168.1.130/25 is not a network address; did you mean 192.168.1.128/25?']);
  });

  it('leaves malformed fields to their own message (no exception from the cross-field rules)', () => {
    expect(issues({ ...good, subnet: 'nope', gateway: 'x', ip_range: '1.2.3/4' })).toEqual([
      'subnet: must be an IPv4 CIDR like 192.168.1.0/24',
      'subnet: must be an IPv4 CIDR like 192.168.1.0/24',
      'gateway: must be an IPv4 address like 192.168.1.50',
      'ip_range: must be an IPv4 CIDR like 192.168.1.0/24',
    ]);
    expect(issues({ ...good, driver: 'bridge' })).toEqual([expect.stringMatching(/^driver: /)]);
    expect(issues({ ...good, extra: 1 })).toEqual([': Unrecognized key: "extra"']);
  });

  it('on this host: the interface must exist, and the message lists the ones that do', () => {
    const onHost = lanRequestOnHost(['docker0', 'eth0']);
    expect(issues(good, onHost)).toEqual([]);
    expect(issues({ ...good, interface: 'eth9' }, onHost)).toEqual(['interface: no interface "eth9" on this host; it has docker0, eth0']);
  });
});
