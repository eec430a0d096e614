import type { Command } from 'commander';
import { groupId, integerIn, numberIn, secondsIn } from '../cli-flags.js';

interface RangingFlags {
  endpoint: string;
  group: number;
  rate: number;
  seconds: number;
  sduBytes: number;
  statsIntervalMs: number;
  connectTimeout: number;
  name?: string;
}

export function registerApp(program: Command): void {
  const app = program.command('app').description('applications that talk to a daemon (the bundled ranging application)');
  app
    .command('ranging')
    .description('the ranging application: sends timestamped ranging requests to a group through its daemon and answers the others\'')
    .requiredOption('--endpoint <url>', "the daemon's application endpoint (its config's app.endpoint: ipc:///PATH or tcp://HOST:PORT)")
    .requiredOption('--group <id>', '24-bit Group ID, decimal or 0x-hex', groupId)
    .option('--rate <n>', 'ranging requests per second (0: only answer)', numberIn(0, 1_000_000), 10)
    .option('--seconds <s>', 'stop after s seconds (0: run until SIGINT/SIGTERM)', secondsIn(0, 1e9), 0)
    .option('--sdu-bytes <n>', 'pad SDUs to about n bytes (0: no padding)', integerIn(0, 9000), 0)
    .option('--stats-interval-ms <ms>', 'print a JSON stats line every ms milliseconds (0: only the final one)', numberIn(0, 3_600_000), 1000)
    .option('--connect-timeout <s>', 'exit with status 1 when the daemon is not reached within s seconds', secondsIn(0.1, 3600), 10)
    .option('--name <name>', 'a label copied into every JSON line')
    .addHelpText('after', '\nPrints {"event":"stats",...} lines and a final {"event":"final",...} line on stdout.\n\nExample:\n  sl-bridge app ranging --endpoint tcp://127.0.0.1:7501 --group 0x0d0001 --rate 10')
    .action(async (o: RangingFlags) => {
      const { CliError } = await import('../cli-error.js');
      const { runRangingApp, DaemonNotReached } = await import('../app/main.js');
      try {
        await runRangingApp({
          endpoint: o.endpoint,
          groupId: o.group,
          rate: o.rate,
          seconds: o.seconds,
          sduBytes: o.sduBytes,
          statsIntervalMs: o.statsIntervalMs,
          connectTimeoutS: o.connectTimeout,
          ...(o.name !== undefined ? { name: o.name } : {}),
        });
      } catch (e) {
        if (e instanceof DaemonNotReached) throw new CliError(`app ranging: ${e.message}`, 1);
        throw e;
      }
    });
}
