import { InvalidArgumentError, type Command } from 'commander';
import { integerIn, numberIn } from '../cli-flags.js';
import { testbedHostProblem } from '../testbed/host.js';

interface InitFlags {
  ues: number;
  operators: number;
  roaming?: boolean;
  profile: string;
  basePort: number;
  host: string;
  rate: number;
  force?: boolean;
}

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('write a ready testbed into DIR: PKIs, PKMF and UE configs, START.md (the commands in start order) and testbed.sh (start / status / stop)')
    .argument('<dir>', 'the testbed directory (created; must be empty unless --force)')
    .option('--ues <n>', 'number of UEs (1 to 64)', integerIn(1, 64), 2)
    .option('--operators <k>', 'operators, each with its own PKI and PKMF; UEs are spread over them and share one multi-operator group (1 to 9)', integerIn(1, 9), 1)
    .option('--roaming', 'the last UE is served by another operator\'s PKMF (its keys come through it); needs 2 operators, added if missing')
    .option('-p, --profile <name|file>', 'hw-profile of the daemons (emulator: the local medium, started by testbed.sh)', 'emulator')
    .option('--base-port <port>', 'first of the fixed TCP ports (medium; PKMFs base+10k, +10k+1; applications base+100+i; daemon metrics base+200+i; medium metrics base+300; PKMF metrics base+300+k)', integerIn(1024, 65535), 7400)
    .option(
      '--host <address>',
      'IPv4 address or host name of the machine that runs the medium and the PKMFs: they listen on it, every daemon dials it, the PKMF certificates name it (for daemons on other machines; docs/deployment.md)',
      hostAddress,
      '127.0.0.1',
    )
    .option('--rate <n>', 'ranging requests per second of each application testbed.sh starts', numberIn(0, 10_000), 10)
    .option('--force', 'write into a non-empty DIR')
    .addHelpText(
      'after',
      '\nExample:\n  sl-bridge init tb --ues 3\n  tb/testbed.sh start && sleep 10 && tb/testbed.sh status\n  tb/testbed.sh stop\n' +
        '\nSeveral machines (medium and PKMF on 192.0.2.10, daemons where the radios are):\n  sl-bridge init tb --ues 8 --host 192.0.2.10',
    )
    .action(async (dir: string, o: InitFlags) => {
      const { CliError } = await import('../cli-error.js');
      const { initTestbed, InitError } = await import('../testbed/init.js');
      const roaming = o.roaming === true;
      const operators = Math.max(o.operators, roaming ? 2 : 1);
      try {
        const { testbed, files } = await initTestbed({
          dir,
          ues: o.ues,
          operators,
          roaming,
          profile: o.profile,
          basePort: o.basePort,
          host: o.host,
          rate: o.rate,
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

/** The --host value, checked as the testbed generator will use it. */
function hostAddress(value: string): string {
  const problem = testbedHostProblem(value);
  if (problem !== undefined) throw new InvalidArgumentError(problem);
  return value;
}
