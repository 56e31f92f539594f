import { MasterHostSchema, isIpv6 } from '../../../src/domain/swarm-schemas';

describe('where agents reach the master', () => {
  test.each([
    ['1:2:3:4:5:6:7:8', true],
    ['1:2:3:4:5:6:7::', true], // `::` standing for the last group
    ['::2:3:4:5:6:7:8', true],
    ['::', true],
    ['::1', true],
    ['fe80::1', true],
    ['1:2:3:4:5:6:7', false],
    ['1:2:3:4:5:6:7:8:9', false],
    ['1::2::3', false],
    [':1:2:3:4:5:6:7', false],
    ['12345::1', false],
  ])('isIpv6(%s) is %s', (address, expected) => {
    expect(isIpv6(address)).toBe(expected);
  });

  test('a host name, an IPv4 or an IPv6 address; nothing a shell or an ini could misread', () => {
    const accepts = (s: string) => MasterHostSchema.safeParse(s).success;
    expect(['master.lan', 'decnet-master', '10.0.0.1', 'fe80::1', '::1'].map(accepts)).toEqual([true, true, true, true, true]);
    expect(['1.2.3.4; rm -rf /', 'a b', '1::2::3', '', '256.1.1.1x'].map(accepts)).toEqual([false, false, false, false, false]);
  });
});
