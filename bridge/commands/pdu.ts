import type { Command } from 'commander';
import { CliError } from '../cli-error.js';

// Placeholder until its issue lands: declared so that `--help` shows the whole tool.
export function registerPdu(program: Command): void {
  program
    .command('pdu')
    .description('protect / unprotect groupcast PDCP PDUs by hand (not implemented yet)')
    .allowUnknownOption()
    .action(() => {
      throw new CliError('`pdu` is not implemented yet', 2);
    });
}
