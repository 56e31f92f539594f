import { formatHosts } from '../../src/cli/commands/hosts';
import type { SwarmHostView } from '../../src/domain/swarm-schemas';
import { isAgentVersion, isOutdatedAgent } from '../../src/domain/version';

test('an agent is outdated only when its semver is lower than the master', () => {
  expect(isOutdatedAgent('0.1.0', '0.2.0')).toBe(true);
  expect(isOutdatedAgent('0.2.0-rc.1', '0.2.0')).toBe(true);
  expect(isOutdatedAgent('0.10.0', '0.9.0')).toBe(false);
  expect(isOutdatedAgent('0.2.0', '0.2.0')).toBe(false);
  expect(isOutdatedAgent('1.0.0', '0.2.0')).toBe(false);
});

test('agent versions are semver as npm version writes them (no v, no build metadata)', () => {
  expect(['1.2.3', '0.2.0-rc.1'].map(isAgentVersion)).toEqual([true, true]);
  expect(['v1.2.3', '1.2', 'latest', ' 1.2.3', '1.0.0+build.5'].map(isAgentVersion)).toEqual([false, false, false, false, false]);
});

test('decnet hosts shows each agent version, flags the outdated ones and counts the live ones', () => {
  const host = (name: string, over: Partial<SwarmHostView>): SwarmHostView => ({
    uuid: `00000000-0000-4000-8000-00000000000${name.length}`,
    name,
    address: '10.0.0.5',
    agent_port: 8765,
    status: 'active',
    last_heartbeat: '2026-11-29T20:00:00.000Z',
    client_cert_fingerprint: 'f'.repeat(64),
    use_ipvlan: false,
    network_drivers: ['macvlan'],
    enrolled_at: '2026-11-29T19:00:00.000Z',
    notes: null,
    agent_version: '0.2.0',
    agent_outdated: false,
    ...over,
  });
  const out = formatHosts({
    master_version: '0.2.0',
    hosts: [
      host('new', {}),
      host('old1', { agent_version: '0.1.0', agent_outdated: true }),
      host('mute22', { agent_version: null, agent_outdated: true }),
      host('fresh4444', { status: 'enrolled', last_heartbeat: null, agent_version: null, agent_outdated: null }),
      host('gone55555', { status: 'decommissioned', agent_version: '0.1.0', agent_outdated: true }),
    ],
  });
  const versionOf = (name: string) =>
    out
      .split('\n')
      .find((l) => l.startsWith(`${name} `))!
      .split(/\s{2,}/)[7];
  expect(['new', 'old1', 'mute22', 'fresh4444', 'gone55555'].map(versionOf)).toEqual([
    '0.2.0',
    '0.1.0 (outdated)',
    'unknown (outdated)',
    '-',
    '0.1.0 (outdated)',
  ]);
  expect(out.trimEnd().split('\n').at(-1)).toBe('2 agent(s) older than this master (0.2.0)');
});
