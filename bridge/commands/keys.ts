import type { Command } from 'commander';

interface KeysFlags {
  config?: string;
  showKeys?: boolean;
  json?: boolean;
}

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('UE key client: fetch group keys from a PKMF, show persisted keys');

  keys
    .command('fetch')
    .description('ask the serving PKMF for the group keys of a UE config\'s `keys:` section, print and persist them')
    .option('-c, --config <file>', 'UE config (YAML with a `keys:` section; see docs/pkmf.md)')
    .option('--show-keys', 'also print the PGK bytes (hex)')
    .option('--json', 'print JSON instead of text')
    .action(async (opts: KeysFlags) => {
      const { fetchKeysCommand } = await import('../pkmf/keys-cli.js');
      await fetchKeysCommand(opts);
    });

  keys
    .command('show')
    .description('print the keys a key client persisted for a UE config (no network)')
    .option('-c, --config <file>', 'UE config (YAML with a `keys:` section)')
    .option('--show-keys', 'also print the PGK bytes (hex)')
    .option('--json', 'print JSON instead of text')
    .action(async (opts: KeysFlags) => {
      const { showKeysCommand } = await import('../pkmf/keys-cli.js');
      await showKeysCommand(opts);
    });
}
