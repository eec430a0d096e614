import { Option, type Command } from 'commander';
import { checkedText, integerIn, numberIn, probability, secondsIn } from '../cli-flags.js';
// Type-only: the implementation loads lazily in the action.
import type { DemoFlags } from '../demo/run.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('the whole system on this machine, no radio: PKI, home and visited PKMF, medium emulator, N daemons and ranging apps')
    .option('--ues <n>', 'number of UEs (2..32); the last one roams, served by the visited PKMF', integerIn(2, 32), 4)
    .option('--seconds <s>', 'how long the ranging traffic runs (after the warm-up)', secondsIn(1, 86_400), 20)
    .option(
      '--warmup <s>',
      'ranging traffic before the measured interval, left out of the latency figures (every process JIT-compiles and derives its first keys then; 0: none)',
      secondsIn(0, 600),
      5,
    )
    .option('--rate <r>', 'ranging requests per second per UE (each is answered by every other UE)', numberIn(0, 10_000), 20)
    .option('--json <file>', 'write the results as JSON')
    // The medium's flags are checked here and passed on to `sl-bridge medium` as given.
    .option('--loss <p>', 'medium emulator: probability that a PDU misses a receiver, e.g. 0.01 or 1%', checkedText(probability))
    .option('--delay-ms <ms>', 'medium emulator: one-way delay', checkedText(numberIn(0, 60_000)))
    .option('--jitter-ms <ms>', 'medium emulator: jitter around the delay', checkedText(numberIn(0, 60_000)))
    .option('--sdu-bytes <n>', 'pad ranging SDUs to about n bytes', integerIn(0, 9000))
    .option('--pcap <file>', "capture ue1's PDUs (every PDU on the channel) to a pcap file")
    .option('--keylog <file>', "write ue1's PGKs to a keylog file (0600) for `sl-bridge pdu decode`")
    .addOption(new Option('--security <on|off>', 'off: the same path without PDCP protection (a baseline for latency comparisons)').choices(['on', 'off']).default('on'))
    .addOption(
      new Option('--source-auth <mode>', "the group's source authentication: receivers accept a PDU only from the member it names (docs/pkmf.md)")
        .choices(['none', 'pairwise-mac', 'signature'])
        .default('none'),
    )
    .option('--keep', 'keep the temporary directory (configs, logs, state) and print its path')
    .option(
      '--slices <n>',
      'also cut the measured interval into n equal slices (1 to 100), each with its own round trips, SDUs sent and delivered per second and CPU, in the --json document (`bench scale` takes medians and intervals over them)',
      integerIn(1, 100),
    )
    .addHelpText(
      'after',
      '\nShows a live table (per UE: PDUs sent and received, how many other UEs it heard, protect and\n' +
        'unprotect time p50/p99, ranging round trip, CPU, drops by reason), then a summary. Exit\n' +
        'status 0 when every UE received every other UE\'s traffic with no security drop.\n\n' +
        'Example:\n  sl-bridge demo --seconds 10 --json demo.json',
    )
    .action(async (opts: DemoFlags) => {
      const { runDemo } = await import('../demo/run.js');
      await runDemo(opts);
    });
}
