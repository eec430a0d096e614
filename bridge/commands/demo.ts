import type { Command } from 'commander';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('the whole system on this machine, no radio: PKI, home and visited PKMF, medium emulator, N daemons and ranging apps')
    .option('--ues <n>', 'number of UEs (2..16); the last one roams, served by the visited PKMF', '4')
    .option('--seconds <s>', 'how long the ranging traffic runs', '20')
    .option('--rate <r>', 'ranging requests per second per UE (each is answered by every other UE)', '20')
    .option('--json <file>', 'write the results as JSON')
    .option('--loss <p>', 'medium emulator: probability that a PDU misses a receiver, e.g. 0.01 or 1%')
    .option('--delay-ms <ms>', 'medium emulator: one-way delay')
    .option('--jitter-ms <ms>', 'medium emulator: jitter around the delay')
    .option('--sdu-bytes <n>', 'pad ranging SDUs to about n bytes')
    .option('--pcap <file>', "capture ue1's PDUs (every PDU on the channel) to a pcap file")
    .option('--keylog <file>', "write ue1's PGKs to a keylog file (0600) for `sl-bridge pdu decode`")
    .option('--security <on|off>', 'off: the same path without PDCP protection (a baseline for latency comparisons)', 'on')
    .option('--keep', 'keep the temporary directory (configs, logs, state) and print its path')
    .addHelpText(
      'after',
      '\nShows a live table (per UE: PDUs sent and received, how many other UEs it heard, protect and\n' +
        'unprotect time p50/p99, ranging round trip, CPU, drops by reason), then a summary. Exit\n' +
        'status 0 when every UE received every other UE\'s traffic with no security drop.\n\n' +
        'Example:\n  sl-bridge demo --seconds 10 --json demo.json',
    )
    .action(async (opts: Record<string, string | boolean | undefined>) => {
      const { runDemo } = await import('../demo/run.js');
      await runDemo(opts as unknown as import('../demo/run.js').DemoFlags);
    });
}
