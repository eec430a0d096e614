import type { Command } from 'commander';
import { CliError } from '../cli-error.js';

// Placeholder until its issue lands: declared so that `--help` shows the whole tool.
export function registerPkmf(program: Command): void {
  program
    .command('pkmf')
    .description('run a PKMF (ProSe Key Management Function) (not implemented yet)')
    .allowUnknownOption()
    .action(() => {
      throw new CliError('`pkmf` is not implemented yet', 2);
    });
}
