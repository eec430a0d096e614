import type { Command } from 'commander';
import { CliError } from '../cli-error.js';

// Placeholder until its issue lands: declared so that `--help` shows the whole tool.
export function registerCa(program: Command): void {
  program
    .command('ca')
    .description('testbed PKI: CA, PKMF and UE certificates (not implemented yet)')
    .allowUnknownOption()
    .action(() => {
      throw new CliError('`ca` is not implemented yet', 2);
    });
}
