import { formatPlan } from '../../src/cli/plan';
import type { DeployPlan } from '../../src/domain/schemas';

const host = (name: string) => ({ uuid: `uuid-${name}`, name });
const decky = (name: string, ip: string, extra: Partial<DeployPlan['deckies'][number]> = {}): DeployPlan['deckies'][number] => ({
  name,
  ip,
  services: ['ssh', 'http'],
  distro: 'debian',
  archetype: null,
  hostname: name,
  host: null,
  driver: 'macvlan',
  ipvlan_forced: false,
  ...extra,
});

test('the plan prints the LAN, one row per decky, then re-homed deckies, teardowns and warnings', () => {
  const plan: DeployPlan = {
    mode: 'swarm',
    message: '2 decky(ies) to deploy; will shard across 2 hosts',
    network: { interface: 'eth0', subnet: '10.0.0.0/24', gateway: '10.0.0.1', ip_range: '10.0.0.128/25' },
    deckies: [decky('web', '10.0.0.130', { host: host('a') }), decky('db', '10.0.0.131', { host: host('b'), driver: 'ipvlan', ipvlan_forced: true })],
    rehomed: [{ name: 'old', from_host: host('gone'), to_host: host('a') }],
    teardowns: ['x', 'y'],
    warnings: ['[ghost.ssh] names no decky of this file: skipped'],
  };
  expect(formatPlan(plan)).toBe(
    [
      'LAN 10.0.0.0/24 (gateway 10.0.0.1) on eth0, IPs from 10.0.0.128/25',
      'NAME  IP          SERVICES  DISTRO  HOST  DRIVER',
      'web   10.0.0.130  ssh,http  debian  a     macvlan',
      'db    10.0.0.131  ssh,http  debian  b     ipvlan (forced: the host uses ipvlan)',
      're-homed: old from swarm host "gone" to "a"',
      'torn down: x, y',
      'warning: [ghost.ssh] names no decky of this file: skipped',
      '',
    ].join('\n'),
  );
});

test('a local plan names the master as the host and adds nothing after the table', () => {
  const plan: DeployPlan = {
    mode: 'unihost',
    message: '1 decky(ies) to deploy; will deploy locally',
    network: { interface: 'eth0', subnet: '10.0.0.0/24', gateway: '10.0.0.1' },
    deckies: [decky('web', '10.0.0.2')],
    rehomed: [],
    teardowns: [],
    warnings: [],
  };
  expect(formatPlan(plan).split('\n').slice(-2)).toEqual(['web   10.0.0.2  ssh,http  debian  master  macvlan', '']);
});
