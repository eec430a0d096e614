import type { Command } from 'commander';
import { CliError } from '../cli-error.js';

// Placeholder until its issue lands: declared so that `--help` shows the whole tool.
export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run the bridge daemon for one UE (not implemented yet)')
    .allowUnknownOption()
    .action(() => {
      throw new CliError('`run` is not implemented yet', 2);
    });
}
