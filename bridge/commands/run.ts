import { Option, type Command } from 'commander';
import { integerIn, numberIn, secondsIn } from '../cli-flags.js';
import { LOG_LEVELS } from '../config/log-levels.js';

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run the bridge daemon for one UE: keys from the PKMF, SDUs from applications protected into PDCP PDUs and back')
    .option('-p, --profile <name|file>', 'hw-profile: how to reach the radio / stack / emulator (a shipped name or a YAML file)', 'emulator')
    .option('-c, --config <file>', 'UE config (YAML): keys, application endpoint, groups, state directory (see docs/daemon.md)')
    .addOption(
      new Option('--security <on|off>', 'off: SDUs go raw in the envelope, no PDCP (for latency comparisons only; logged as insecure)').choices(['on', 'off']).default('on'),
    )
    .option('--status-interval <s>', 'print a JSON status line on stdout every s seconds (0: none)', secondsIn(0, 86_400))
    .addOption(new Option('--log-level <level>', "override the config's logLevel").choices(LOG_LEVELS))
    .option('--metrics <host:port>', 'serve Prometheus metrics (per-stage latency histograms, counters) on http://HOST:PORT/metrics')
    .option('--metrics-log-interval <s>', 'log a per-stage latency summary every s seconds (0: never)', secondsIn(0, 86_400), 10)
    .option(
      '--metrics-sample <n>',
      'time the stages of one PDU in every n per direction (1: every PDU, ~12% of protect throughput; default 8: ~1%)',
      integerIn(1, 1_000_000),
    )
    .option(
      '--keep-warm <ms>',
      'latency mode: every ms milliseconds protect and unprotect a scratch SDU under a throw-away key, so a PDU after a quiet spell does not find the PDCP code cold (costs CPU: docs/profiling.md, "Latency mode"; 0: off; below 1 only with --busy-poll)',
      numberIn(0, 60_000),
    )
    .option(
      '--busy-poll <us>',
      'latency mode: after each message keep the event loop polling instead of sleeping for us microseconds, with a keep-warm pass every --keep-warm ms meanwhile (needs --keep-warm; up to a core while traffic flows: docs/profiling.md, "Latency mode"; 0: off)',
      integerIn(0, 10_000_000),
    )
    .option('--pcap <file>', 'write every PDU sent and received to a pcap file (Wireshark: bridge/wireshark/)')
    .option('--keylog <file>', 'write the PGKs in use to a keylog file (0600) for `sl-bridge pdu decode`; holds key material')
    .addHelpText(
      'after',
      '\nLogs (pino JSON, pretty on a terminal) go to stderr; status lines to stdout.\n' +
        'Stops cleanly on SIGINT / SIGTERM.\n\nExample:\n  sl-bridge medium &\n  sl-bridge run --config ue1.yaml --status-interval 5 --metrics 127.0.0.1:9464',
    )
    .action(async (opts: import('../daemon/run.js').RunFlags) => {
      const { runDaemon } = await import('../daemon/run.js');
      await runDaemon(opts);
    });
}
