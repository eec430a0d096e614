import type { Command } from 'commander';
import { CliError } from '../cli-error.js';

// Placeholder until its issue lands: declared so that `--help` shows the whole tool.
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('full local demo (PKI, home and visited PKMF, medium emulator, N daemons) (not implemented yet)')
    .allowUnknownOption()
    .action(() => {
      throw new CliError('`demo` is not implemented yet', 2);
    });
}
