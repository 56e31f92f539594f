import { assignHostsRoundRobin, deploymentModeMessage, isLiveHost, networkForHost } from '../../../src/domain/host-assignment';

describe('assignHostsRoundRobin', () => {
  const fresh = (...names: string[]) => names.map((name) => ({ name, hostUuid: null }));

  test('new deckies go a, b, a, b, a over two live hosts', () => {
    const placed = assignHostsRoundRobin(fresh('d1', 'd2', 'd3', 'd4', 'd5'), ['a', 'b']);
    expect([...placed.values()]).toEqual(['a', 'b', 'a', 'b', 'a']);
  });

  test('existing live assignments stay and do not advance the round robin', () => {
    const placed = assignHostsRoundRobin([{ name: 'old', hostUuid: 'b' }, ...fresh('n1', 'n2')], ['a', 'b']);
    expect(Object.fromEntries(placed)).toEqual({ old: 'b', n1: 'a', n2: 'b' });
  });

  test('a host uuid that is not live is dropped and the decky is re-homed', () => {
    const placed = assignHostsRoundRobin([{ name: 'orphan', hostUuid: 'gone' }, { name: 'kept', hostUuid: 'a' }, ...fresh('n1')], ['a', 'b']);
    expect(Object.fromEntries(placed)).toEqual({ orphan: 'a', kept: 'a', n1: 'b' });
  });

  test('with no live host every decky runs on the master', () => {
    const placed = assignHostsRoundRobin([{ name: 'orphan', hostUuid: 'gone' }, ...fresh('n1')], []);
    expect(Object.fromEntries(placed)).toEqual({ orphan: null, n1: null });
  });
});

test('live hosts are active (heartbeated) with an address; a downloaded bundle alone is not live', () => {
  expect(isLiveHost({ uuid: 'a', status: 'active', address: '10.0.0.1' })).toBe(true);
  expect(isLiveHost({ uuid: 'a', status: 'enrolled', address: '10.0.0.1' })).toBe(false);
  expect(isLiveHost({ uuid: 'a', status: 'enrolled', address: null })).toBe(false);
  expect(isLiveHost({ uuid: 'a', status: 'unreachable', address: '10.0.0.1' })).toBe(false);
  expect(isLiveHost({ uuid: 'a', status: 'decommissioned', address: '10.0.0.1' })).toBe(false);
});

test('the mode message', () => {
  expect(deploymentModeMessage(0)).toBe('will deploy locally');
  expect(deploymentModeMessage(1)).toBe('will shard across 1 host');
  expect(deploymentModeMessage(2)).toBe('will shard across 2 hosts');
});

test('a use_ipvlan host gets ipvlan; ipvlan is never downgraded', () => {
  const lan = { driver: 'macvlan' as const, parent: 'eth0', subnet: '10.0.0.0/24', gateway: '10.0.0.1' };
  expect(networkForHost(lan, { useIpvlan: true })).toEqual({ network: { ...lan, driver: 'ipvlan' }, forcedIpvlan: true });
  expect(networkForHost(lan, { useIpvlan: false })).toEqual({ network: lan, forcedIpvlan: false });
  const ipvlan = { ...lan, driver: 'ipvlan' as const };
  expect(networkForHost(ipvlan, { useIpvlan: false })).toEqual({ network: ipvlan, forcedIpvlan: false });
});
