import type { Command } from 'commander';
import { CliError } from '../cli-error.js';

// Placeholder until its issue lands: declared so that `--help` shows the whole tool.
export function registerMedium(program: Command): void {
  program
    .command('medium')
    .description('sidelink channel emulator on ZeroMQ (not implemented yet)')
    .allowUnknownOption()
    .action(() => {
      throw new CliError('`medium` is not implemented yet', 2);
    });
}
