import { Option, type Command } from 'commander';
import { integerIn, numberIn, probability, secondsIn } from '../cli-flags.js';
import { LOG_LEVELS } from '../config/log-levels.js';
// Type-only: the implementation loads lazily in the action.
import type { MediumFlags } from '../medium/run.js';

export function registerMedium(program: Command): void {
  program
    .command('medium')
    .description('sidelink channel emulator on ZeroMQ: delivers each PDU to every other attached UE')
    .option('--profile <name|file>', 'hw-profile with a medium section (its bind endpoints and defaults)', 'emulator')
    .option('--endpoint <url...>', 'endpoint(s) to bind instead of the profile\'s, e.g. tcp://127.0.0.1:5560, tcp://127.0.0.1:* (any port), ipc:///tmp/medium.sock')
    // Without these, the profile's medium section decides.
    .option('--loss <p>', 'probability that a PDU misses a given receiver, e.g. 0.1 or 10%', probability)
    .option('--delay-ms <ms>', 'one-way delay', numberIn(0, 60_000))
    .option('--jitter-ms <ms>', 'half-width of a uniform jitter around the delay', numberIn(0, 60_000))
    .option('--duplicate <p>', 'probability that a delivered PDU arrives twice', probability)
    .option('--reorder <p>', 'probability that a PDU is overtaken by the next one to the same receiver', probability)
    .option('--reorder-hold-ms <ms>', 'longest wait of a held-back PDU for one to overtake it', numberIn(0, 60_000))
    .option('--seed <n>', 'seed of the random decisions (same seed, same decisions)', integerIn(0, 0xffff_ffff))
    .option('--duration <s>', 'stop after this many seconds (default: run until SIGINT/SIGTERM)', secondsIn(0, 1e9))
    .option('--stats-interval <s>', 'also print the stats line every s seconds', secondsIn(0, 1e6))
    .option('--stats-json <file>', 'write the final statistics as JSON')
    .option('--metrics <host:port>', 'serve Prometheus metrics (frames, drops by cause, per-link delay, process) on http://HOST:PORT/metrics')
    .addOption(new Option('--log-level <level>', 'log level of the stderr log').choices(LOG_LEVELS).default('info'))
    .addHelpText(
      'after',
      '\nDaemons connect to the medium with hw-profile "emulator" (or any profile whose transport\n' +
        'connects to these endpoints). Prints "medium: listening on ENDPOINT..." when ready and a\n' +
        'stats line on exit on stdout; logs (JSON lines, or pretty on a terminal) go to stderr.',
    )
    .action(async (opts: MediumFlags) => {
      const { runMedium } = await import('../medium/run.js');
      await runMedium(opts);
    });
}
