import { FleetConflictError, FleetInputError } from '../../../src/domain/errors';
import { allocateIps, intToIp, ipInSubnet, ipToInt, parseCidr } from '../../../src/domain/ip-allocation';

describe('IPv4 helpers', () => {
  it('converts between dotted quads and unsigned integers', () => {
    expect(ipToInt('0.0.0.0')).toBe(0);
    expect(ipToInt('192.168.1.1')).toBe(3232235777);
    expect(ipToInt('255.255.255.255')).toBe(4294967295);
    expect(intToIp(3232235777)).toBe('192.168.1.1');
    expect(intToIp(4294967295)).toBe('255.255.255.255');
    expect(intToIp(ipToInt('10.20.30.40'))).toBe('10.20.30.40');
  });

  it.each(['1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', 'a.b.c.d', '', '1.2.3.-4'])('rejects %j', (ip) => {
    expect(() => ipToInt(ip)).toThrow(FleetInputError);
  });

  it('parses CIDRs, clearing host bits', () => {
    expect(parseCidr('192.168.1.0/24')).toEqual({ network: ipToInt('192.168.1.0'), broadcast: ipToInt('192.168.1.255'), prefix: 24 });
    expect(parseCidr('192.168.1.77/28')).toEqual({ network: ipToInt('192.168.1.64'), broadcast: ipToInt('192.168.1.79'), prefix: 28 });
    expect(parseCidr('10.0.0.5/32')).toEqual({ network: ipToInt('10.0.0.5'), broadcast: ipToInt('10.0.0.5'), prefix: 32 });
    expect(parseCidr('0.0.0.0/0')).toEqual({ network: 0, broadcast: 4294967295, prefix: 0 });
  });

  it.each(['192.168.1.0', '192.168.1.0/33', '192.168.1.0/', '300.1.1.0/24', '1.2.3.0/024'])('rejects the CIDR %j', (cidr) => {
    expect(() => parseCidr(cidr)).toThrow(FleetInputError);
  });

  it('tells whether an address is inside a subnet', () => {
    expect(ipInSubnet('192.168.1.50', '192.168.1.0/24')).toBe(true);
    expect(ipInSubnet('192.168.1.0', '192.168.1.0/24')).toBe(true);
    expect(ipInSubnet('192.168.2.1', '192.168.1.0/24')).toBe(false);
    expect(ipInSubnet('10.0.0.16', '10.0.0.0/28')).toBe(false);
  });
});

describe('allocateIps', () => {
  const base = { subnet: '192.168.1.0/24', gateway: '192.168.1.1', reserved: new Set<string>() };

  it('hands out the lowest free addresses, skipping network and gateway', () => {
    expect(allocateIps({ ...base, count: 3 })).toEqual(['192.168.1.2', '192.168.1.3', '192.168.1.4']);
  });

  it('skips reserved addresses', () => {
    const reserved = new Set(['192.168.1.2', '192.168.1.4', '10.9.9.9']);
    expect(allocateIps({ ...base, reserved, count: 3 })).toEqual(['192.168.1.3', '192.168.1.5', '192.168.1.6']);
  });

  it('returns nothing when nothing is asked', () => {
    expect(allocateIps({ ...base, count: 0 })).toEqual([]);
  });

  it('allocates from an ip_range inside the subnet', () => {
    expect(allocateIps({ ...base, ipRange: '192.168.1.128/30', count: 4 })).toEqual(['192.168.1.128', '192.168.1.129', '192.168.1.130', '192.168.1.131']);
  });

  it('never hands out the subnet broadcast or gateway, even inside an ip_range', () => {
    const gatewayInRange = { ...base, gateway: '192.168.1.253', ipRange: '192.168.1.252/30' };
    expect(allocateIps({ ...gatewayInRange, count: 2 })).toEqual(['192.168.1.252', '192.168.1.254']);
    expect(() => allocateIps({ ...gatewayInRange, count: 3 })).toThrow(FleetConflictError);
  });

  it('uses every host of the subnet and then reports exhaustion clearly', () => {
    const small = { subnet: '10.0.0.0/29', gateway: '10.0.0.1', reserved: new Set(['10.0.0.3']) };
    expect(allocateIps({ ...small, count: 4 })).toEqual(['10.0.0.2', '10.0.0.4', '10.0.0.5', '10.0.0.6']);
    try {
      allocateIps({ ...small, count: 5 });
      throw new Error('expected pool exhaustion');
    } catch (err) {
      expect(err).toBeInstanceOf(FleetConflictError);
      const conflict = err as FleetConflictError;
      expect(conflict.code).toBe('pool_exhausted');
      expect(conflict.message).toBe('not enough free IPs in subnet 10.0.0.0/29: 5 needed, 4 free');
      expect(conflict.details).toEqual({ needed: 5, free: 4, pool: '10.0.0.0/29' });
    }
  });

  it('names the ip_range when it is the pool that ran out', () => {
    expect(() => allocateIps({ ...base, ipRange: '192.168.1.8/31', count: 3 })).toThrow(
      'not enough free IPs in ip_range 192.168.1.8/31 of subnet 192.168.1.0/24: 3 needed, 2 free',
    );
  });

  it('rejects an ip_range outside the subnet', () => {
    expect(() => allocateIps({ ...base, ipRange: '192.168.0.0/23', count: 1 })).toThrow(FleetInputError);
    expect(() => allocateIps({ ...base, ipRange: '10.0.0.0/24', count: 1 })).toThrow('ip_range 10.0.0.0/24 is not inside subnet 192.168.1.0/24');
  });
});
