import type { Command } from 'commander';

export function registerApp(program: Command): void {
  const app = program.command('app').description('applications that talk to a daemon (the bundled ranging application)');
  app
    .command('ranging')
    .description('the ranging application: sends timestamped ranging requests to a group through its daemon and answers the others\'')
    .requiredOption('--endpoint <url>', "the daemon's application endpoint (its config's app.endpoint: ipc:///PATH or tcp://HOST:PORT)")
    .requiredOption('--group <id>', '24-bit Group ID, decimal or 0x-hex')
    .option('--rate <n>', 'ranging requests per second (0: only answer)', '10')
    .option('--seconds <s>', 'stop after s seconds (0: run until SIGINT/SIGTERM)', '0')
    .option('--sdu-bytes <n>', 'pad SDUs to about n bytes (0: no padding)', '0')
    .option('--stats-interval-ms <ms>', 'print a JSON stats line every ms milliseconds (0: only the final one)', '1000')
    .option('--connect-timeout <s>', 'exit with status 1 when the daemon is not reached within s seconds', '10')
    .option('--name <name>', 'a label copied into every JSON line')
    .addHelpText('after', '\nPrints {"event":"stats",...} lines and a final {"event":"final",...} line on stdout.\n\nExample:\n  sl-bridge app ranging --endpoint tcp://127.0.0.1:7501 --group 0x0d0001 --rate 10')
    .action(async (o: Record<string, string | undefined>) => {
      const { numberFlag, CliError } = await import('../cli-error.js');
      const { runRangingApp, DaemonNotReached } = await import('../app/main.js');
      const group = o.group!;
      const groupId = /^0x[0-9a-f]{1,6}$/i.test(group) ? parseInt(group, 16) : /^\d+$/.test(group) && Number(group) <= 0xffffff ? Number(group) : NaN;
      if (Number.isNaN(groupId)) throw new CliError(`--group: expected a 24-bit Group ID (decimal or 0x-hex), got "${group}"`, 2);
      try {
        await runRangingApp({
          endpoint: o.endpoint!,
          groupId,
          rate: numberFlag('--rate', o.rate, 10, 0, 1_000_000),
          seconds: numberFlag('--seconds', o.seconds, 0, 0, 1e9),
          sduBytes: numberFlag('--sdu-bytes', o.sduBytes, 0, 0, 9000, true),
          statsIntervalMs: numberFlag('--stats-interval-ms', o.statsIntervalMs, 1000, 0, 3_600_000),
          connectTimeoutS: numberFlag('--connect-timeout', o.connectTimeout, 10, 0.1, 3600),
          ...(o.name !== undefined ? { name: o.name } : {}),
        });
      } catch (e) {
        if (e instanceof DaemonNotReached) throw new CliError(`app ranging: ${e.message}`, 1);
        throw e;
      }
    });
}
