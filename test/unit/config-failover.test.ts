import { loadConfig } from '../../src/config';

describe('failover settings', () => {
  test('on by default, after 3 heartbeat intervals of being unreachable', () => {
    expect(loadConfig({})).toMatchObject({ failover: true, failoverDelayMs: 90_000 });
    expect(loadConfig({ DECNET_HEARTBEAT_INTERVAL_MS: '2000' })).toMatchObject({ failover: true, failoverDelayMs: 6000 });
  });

  test('DECNET_FAILOVER=off keeps the deckies of a silent host for the next deploy; the delay is configurable', () => {
    expect(loadConfig({ DECNET_FAILOVER: 'off', DECNET_FAILOVER_DELAY_MS: '5000' })).toMatchObject({ failover: false, failoverDelayMs: 5000 });
    expect(loadConfig({ DECNET_FAILOVER: 'ON' }).failover).toBe(true);
    expect(loadConfig({ DECNET_FAILOVER: '0' }).failover).toBe(false);
  });

  test('anything else is refused, naming the setting', () => {
    expect(() => loadConfig({ DECNET_FAILOVER: 'sometimes' })).toThrow('DECNET_FAILOVER must be on or off, got "sometimes"');
    expect(() => loadConfig({ DECNET_FAILOVER_DELAY_MS: '-1' })).toThrow('DECNET_FAILOVER_DELAY_MS must be a positive integer, got "-1"');
  });
});
