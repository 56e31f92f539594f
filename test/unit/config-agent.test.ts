import path from 'node:path';
import { loadAgentConfig, loadConfig } from '../../src/config';

describe("the agent's settings", () => {
  test("defaults: decnet.ini's port and data/ beside it, the install's standard places; read alike by the master where both read one", () => {
    const config = loadAgentConfig({});
    expect(config).toEqual({
      composeProject: 'decnet',
      imageRegistry: 'decnet',
      imageTag: 'latest',
      heartbeatIntervalMs: 30_000,
      logLevel: 'info',
      agentPort: undefined,
      agentHost: '0.0.0.0',
      lanNetwork: undefined,
      dataDir: undefined,
      configDir: '/etc/decnet',
      systemdDir: '/etc/systemd/system',
      systemctl: 'systemctl',
      installDir: '/usr/local/lib/decnet-agent',
      binLink: '/usr/local/bin/decnet-agent',
    });
    const env = {
      DECNET_COMPOSE_PROJECT: 'p',
      DECNET_IMAGE_REGISTRY: 'r',
      DECNET_IMAGE_TAG: 't',
      DECNET_HEARTBEAT_INTERVAL_MS: '2000',
      DECNET_LOG_LEVEL: 'debug',
    };
    const shared = { composeProject: 'p', imageRegistry: 'r', imageTag: 't', heartbeatIntervalMs: 2000, logLevel: 'debug' };
    expect(loadAgentConfig(env)).toMatchObject(shared);
    expect(loadConfig(env)).toMatchObject(shared);
  });

  test('each overridable; directories resolved', () => {
    expect(
      loadAgentConfig({
        DECNET_AGENT_PORT: '9999',
        DECNET_AGENT_HOST: '127.0.0.1',
        DECNET_LAN_NETWORK: 'lan',
        DECNET_DATA_DIR: 'jobs',
        DECNET_AGENT_DIR: '/opt/decnet',
        DECNET_SYSTEMCTL: '/bin/true',
      }),
    ).toMatchObject({
      agentPort: 9999,
      agentHost: '127.0.0.1',
      lanNetwork: 'lan',
      dataDir: path.resolve('jobs'),
      configDir: '/opt/decnet',
      systemctl: '/bin/true',
    });
  });

  test('a bad port and a directory at the file system root are refused, naming the setting', () => {
    expect(() => loadAgentConfig({ DECNET_AGENT_PORT: 'x' })).toThrow('DECNET_AGENT_PORT must be a positive integer, got "x"');
    expect(() => loadAgentConfig({ DECNET_AGENT_INSTALL_DIR: '/' })).toThrow('DECNET_AGENT_INSTALL_DIR must not be the file system root');
  });
});
