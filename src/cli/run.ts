/** Runs a commander program to its end: usage errors exit 2, failures 1 with their message. */
import { CommanderError, type Command } from 'commander';
import { EXIT_USAGE } from './exit-codes';

export function runProgram(program: Command): void {
  program.parseAsync(process.argv).catch((err) => {
    // Commander has printed its message already; --help and --version end with code 0.
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE);
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
