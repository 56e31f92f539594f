/**
 * `decnet agent --config <decnet.ini>`: the swarm agent (architecture.md §8), `--version`, and
 * `decnet agent uninstall`. Its modules load only when it runs. The same command is the agent
 * artefact's (`decnet-agent agent …`, src/cli/agent-main.ts).
 */
import path from 'node:path';
import type { Command } from 'commander';
import { loadAgentConfig } from '../../config';
import { AGENT_CONFIG_DIR } from '../../domain/swarm-schemas';
import { DECNET_VERSION } from '../../domain/version';

export function registerAgentCommand(program: Command): Command {
  const agent = program
    .command('agent')
    .description("run the swarm agent: the master's mTLS API for deploy, mutate and teardown jobs on this host")
    .version(DECNET_VERSION, '--version', 'print the agent version')
    .option('--config <path>', 'the decnet.ini of the enrollment bundle', `${AGENT_CONFIG_DIR}/decnet.ini`)
    .action(async (opts: { config: string }) => {
      const [{ loadAgentSettings, startAgent }, { createLogger }, { runsInstalledArtefact, uninstallAgent }] = await Promise.all([
        import('../../agent/agent'),
        import('../../logger'),
        import('../../agent/uninstall'),
      ]);
      const config = loadAgentConfig();
      const logger = createLogger(config.logLevel, 'decnet-agent');
      const settings = await loadAgentSettings(opts.config, config);
      const running = await startAgent(settings, logger);
      logger.info({ version: DECNET_VERSION }, 'decnet agent version');
      let stopping = false;
      const stop = (code: number) => {
        if (stopping) return;
        stopping = true;
        running.stop().then(
          () => process.exit(code),
          (err) => {
            logger.error({ err }, 'agent stop failed');
            process.exit(1);
          },
        );
      };
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => stop(0));

      // Decommissioned, an installed agent removes its unit, itself and its configuration and
      // exits 0 (the unit restarts only on failure): the operator who decommissions a host expects
      // the agent gone. Its code is loaded, so deleting its file is harmless. It only disables its
      // unit: stopping it would kill this process half-way. An agent run from a checkout or a copy
      // elsewhere keeps its files and keeps refusing jobs.
      void running.decommissioned.then(async () => {
        const layout = { ...config, configDir: path.dirname(settings.iniPath) };
        if (!(await runsInstalledArtefact(layout))) {
          logger.warn(
            { artefact: process.argv[1], install_dir: layout.installDir },
            'decommissioned: not the installed agent artefact, so its files stay; remove them with `decnet agent uninstall`',
          );
          return;
        }
        const report = await uninstallAgent(layout, { stopUnit: false });
        for (const step of report.steps) logger[step.outcome === 'failed' ? 'error' : 'info']({ outcome: step.outcome }, step.message);
        logger.warn({ uninstalled: report.ok }, 'decommissioned by the master: agent uninstalled, exiting');
        stop(report.ok ? 0 : 1);
      });
    });

  agent
    .command('uninstall')
    .description(
      'remove the installed agent: stop and disable its systemd unit, remove the unit, the artefact, its command link and the configuration directory',
    )
    .action(async () => {
      const { uninstallAgent } = await import('../../agent/uninstall');
      const layout = loadAgentConfig();
      const report = await uninstallAgent(layout, { stopUnit: true });
      for (const step of report.steps) (step.outcome === 'failed' ? console.error : console.log)(`decnet: ${step.message}`);
      const host = report.host;
      if (host?.decommissionedAt) console.log(`decnet: host "${host.name}" (${host.uuid}) was decommissioned by the master at ${host.decommissionedAt}`);
      else if (host) {
        console.log(
          `decnet: the master lists host "${host.name}" (${host.uuid}) until it is decommissioned there (DELETE /api/v1/swarm/hosts/${host.uuid}); the deckies this agent started keep running (decommissioning before uninstalling has the agent remove them)`,
        );
      }
      console.log(report.ok ? 'decnet: agent uninstalled' : 'decnet: agent uninstall incomplete (see above)');
      process.exitCode = report.ok ? 0 : 1;
    });
  return agent;
}
