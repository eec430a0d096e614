import type { Command } from 'commander';
import { CliError } from '../cli-error.js';

// Placeholder until its issue lands: declared so that `--help` shows the whole tool.
export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('benchmarks (not implemented yet)')
    .allowUnknownOption()
    .action(() => {
      throw new CliError('`bench` is not implemented yet', 2);
    });
}
