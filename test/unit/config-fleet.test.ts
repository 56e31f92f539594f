import { loadConfig } from '../../src/config';

describe('fleet settings', () => {
  test("a worker's /metrics on 127.0.0.1:9464 and a leader retry of 5 s by default; each configurable", () => {
    expect(loadConfig({})).toMatchObject({ metricsHost: '127.0.0.1', metricsPort: 9464, leaderRetryMs: 5000 });
    expect(loadConfig({ DECNET_METRICS_HOST: '0.0.0.0', DECNET_METRICS_PORT: '9465', DECNET_LEADER_RETRY_MS: '500' })).toMatchObject({
      metricsHost: '0.0.0.0',
      metricsPort: 9465,
      leaderRetryMs: 500,
    });
  });

  test('anything but a positive integer is refused, naming the setting', () => {
    expect(() => loadConfig({ DECNET_METRICS_PORT: 'http' })).toThrow('DECNET_METRICS_PORT must be a positive integer, got "http"');
    expect(() => loadConfig({ DECNET_LEADER_RETRY_MS: '0' })).toThrow('DECNET_LEADER_RETRY_MS must be a positive integer, got "0"');
  });
});
