import type { Command } from 'commander';
import { CliError } from '../cli-error.js';

// Placeholder until its issue lands: declared so that `--help` shows the whole tool.
export function registerKeys(program: Command): void {
  program
    .command('keys')
    .description('UE key client: fetch group keys from a PKMF (not implemented yet)')
    .allowUnknownOption()
    .action(() => {
      throw new CliError('`keys` is not implemented yet', 2);
    });
}
