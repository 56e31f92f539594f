/** `decnet agent --config <decnet.ini>`: the swarm agent (SPEC §8); its modules load only when it runs. */
import type { Command } from 'commander';
import { AGENT_CONFIG_DIR } from '../../domain/swarm-schemas';

export function registerAgentCommand(program: Command): Command {
  return program
    .command('agent')
    .description("run the swarm agent: the master's mTLS API for deploy, mutate and teardown jobs on this host")
    .option('--config <path>', 'the decnet.ini of the enrollment bundle', `${AGENT_CONFIG_DIR}/decnet.ini`)
    .action(async (opts: { config: string }) => {
      const [{ loadAgentSettings, startAgent }, { createLogger }] = await Promise.all([import('../../agent/agent'), import('../../logger')]);
      const logger = createLogger(process.env.DECNET_LOG_LEVEL || 'info', 'decnet-agent');
      const settings = await loadAgentSettings(opts.config);
      const agent = await startAgent(settings, logger);
      let stopping = false;
      for (const signal of ['SIGINT', 'SIGTERM'] as const) {
        process.on(signal, () => {
          if (stopping) return;
          stopping = true;
          agent.stop().then(
            () => process.exit(0),
            (err) => {
              logger.error({ err }, 'agent stop failed');
              process.exit(1);
            },
          );
        });
      }
    });
}
