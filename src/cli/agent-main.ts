/**
 * The agent artefact's entry point (scripts/build-agent.ts bundles it into decnet-agent.cjs):
 * `decnet-agent agent …` is `decnet agent …` without the master's code.
 */
import { Command } from 'commander';
import { DECNET_VERSION } from '../domain/version';
import { registerAgentCommand } from './commands/agent';
import { runProgram } from './run';

const program = new Command('decnet-agent').description('the decnet swarm agent').version(DECNET_VERSION, '--version', 'print the agent version');
program.exitOverride().showHelpAfterError('(run `decnet-agent agent --help` for its usage)');
registerAgentCommand(program);
runProgram(program);
