import type { Command } from 'commander';
import { CliError } from '../cli-error.js';

// Placeholder until its issue lands: declared so that `--help` shows the whole tool.
export function registerVectors(program: Command): void {
  program
    .command('vectors')
    .description('run a 3GPP test-vector file through the crypto core (not implemented yet)')
    .allowUnknownOption()
    .action(() => {
      throw new CliError('`vectors` is not implemented yet', 2);
    });
}
