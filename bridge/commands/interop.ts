import { Option, type Command } from 'commander';
import { choice, commaList, integerIn, numberIn } from '../cli-flags.js';
// Type-only: the implementation loads lazily in the action.
import type { OaiInteropOptions } from '../interop/oai-run.js';

type InteropFlags = Omit<OaiInteropOptions, 'keep' | 'say'> & { keep?: boolean };

export function registerInterop(program: Command): void {
  const interop = program.command('interop').description('sl-bridge over real open-source sidelink stacks (OpenAirInterface), on this machine');
  interop
    .command('oai')
    .description('two OpenAirInterface NR sidelink UEs over the RF simulator with sl-bridge on them: TUN path and PDCP path')
    .option('--oai-build <dir>', 'an OAI build made by interop/oai-sl/build.sh (default: run it; it finds its cache in seconds)', process.env.SL_BRIDGE_OAI_BUILD)
    .option('--archives <dir>', 'build OAI from local source archives instead of upstream git (build.sh --archives)', process.env.SL_BRIDGE_OAI_ARCHIVES)
    .option('--cache <dir>', 'build cache (build.sh --cache; default ~/.cache/sl-bridge)')
    .addOption(new Option('--paths <list>', 'tun, pdcp or both').argParser(commaList(choice(['tun', 'pdcp']))).default(['tun', 'pdcp'], 'tun,pdcp'))
    .option('--seconds <s>', 'ranging time per round and security mode (1 to 3600)', numberIn(1, 3600), 8)
    .option('--rate <r>', 'ranging requests per second per UE (0.5 to 1000)', numberIn(0.5, 1000), 10)
    .option('--rounds <n>', 'rounds of (security on, security off) per path (1 to 20)', integerIn(1, 20), 2)
    .option('--json <file>', 'write the results as JSON')
    .option('--keep', 'keep the working directory (configs, logs, the TUN capture) and print its path')
    .addHelpText(
      'after',
      '\nNeeds root (network namespaces: one per UE, joined by a veth pair) and ~3 minutes per path on\n' +
        "2 cores. The TUN path leaves OAI as it is: the daemons talk UDP multicast over OAI's TUN\n" +
        'interfaces, and a capture there is checked for plaintext and deciphered with `pdu decode`.\n' +
        "The PDCP path needs OAI built with patch 0002 (interop/oai-sl/): OAI's sidelink PDCP hands\n" +
        'every SDU to the daemon and sends its sl-bridge PDU over the air. Each path alternates\n' +
        'security on and off in rounds on the same OAI run; figures: docs/oai.md.\n\n' +
        'Last line: oai interop: tun D/S delivered, pdcp D/S delivered (ranging SDUs, security on).\n' +
        'Exit status 0 when every check passed, 1 otherwise.\n\n' +
        'Example:\n  sudo sl-bridge interop oai --archives ./oai-archives --json oai.json',
    )
    .action(async (opts: InteropFlags) => {
      const { runOaiInterop } = await import('../interop/oai-run.js');
      const say = (line: string): void => void process.stdout.write(`${line}\n`);
      const result = await runOaiInterop({ ...opts, keep: opts.keep === true, say });
      for (const p of result.paths) for (const problem of p.problems) say(`interop: PROBLEM ${problem}`);
      say(result.line);
      if (!result.ok) process.exitCode = 1;
    });
}
