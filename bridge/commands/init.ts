import type { Command } from 'commander';

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('write a ready testbed into DIR: PKIs, PKMF and UE configs, START.md (the commands in start order) and testbed.sh (start / status / stop)')
    .argument('<dir>', 'the testbed directory (created; must be empty unless --force)')
    .option('--ues <n>', 'number of UEs (1 to 64)', '2')
    .option('--operators <k>', 'operators, each with its own PKI and PKMF; UEs are spread over them and share one multi-operator group (1 to 9)', '1')
    .option('--roaming', 'the last UE is served by another operator\'s PKMF (its keys come through it); needs 2 operators, added if missing')
    .option('-p, --profile <name|file>', 'hw-profile of the daemons (emulator: the local medium, started by testbed.sh)', 'emulator')
    .option('--base-port <port>', 'first of the fixed TCP ports (medium; PKMFs base+10k, +10k+1; applications base+100+i; metrics base+200+i)', '7400')
    .option('--rate <n>', 'ranging requests per second of each application testbed.sh starts', '10')
    .option('--force', 'write into a non-empty DIR')
    .addHelpText('after', '\nExample:\n  sl-bridge init tb --ues 3\n  tb/testbed.sh start && sleep 10 && tb/testbed.sh status\n  tb/testbed.sh stop')
    .action(async (dir: string, o: Record<string, string | boolean | undefined>) => {
      const { numberFlag, CliError } = await import('../cli-error.js');
      const { initTestbed, InitError } = await import('../testbed/init.js');
      const roaming = o.roaming === true;
      const operators = Math.max(numberFlag('--operators', o.operators as string, 1, 1, 9, true), roaming ? 2 : 1);
      try {
        const { testbed, files } = await initTestbed({
          dir,
          ues: numberFlag('--ues', o.ues as string, 2, 1, 64, true),
          operators,
          roaming,
          profile: o.profile as string,
          basePort: numberFlag('--base-port', o.basePort as string, 7400, 1024, 65535, true),
          rate: numberFlag('--rate', o.rate as string, 10, 0, 10_000),
          force: o.force === true,
        });
        process.stdout.write(
          `init: wrote a testbed of ${testbed.ues.length} UEs and ${testbed.pkmfs.length} operator(s) into ${dir}\n` +
            `  ${files[0]}: the commands in start order\n  ${dir}/testbed.sh start | status [--json] | stop\n`,
        );
      } catch (e) {
        if (e instanceof InitError || e instanceof RangeError) throw new CliError(`init: ${e.message}`, 2);
        throw e;
      }
    });
}
