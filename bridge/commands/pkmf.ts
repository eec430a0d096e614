import { Option, type Command } from 'commander';
import { positive } from '../cli-flags.js';
import { LOG_LEVELS } from '../config/log-levels.js';

export function registerPkmf(program: Command): void {
  const pkmf = program
    .command('pkmf')
    .description('run a PKMF (ProSe Key Management Function): group keys for UEs over mutual TLS')
    .option('-c, --config <file>', 'PKMF config (YAML; see docs/pkmf.md)')
    .addOption(new Option('--log-level <level>', "override the config's logLevel").choices(LOG_LEVELS))
    .option('--metrics <host:port>', 'serve Prometheus metrics (Key Requests by result, latency, refused handshakes, process) on http://HOST:PORT/metrics')
    .addHelpText(
      'after',
      '\nExample:\n  sl-bridge ca init pki/op1\n  sl-bridge ca issue pkmf --ca pki/op1 --plmn 001-01\n  sl-bridge pkmf --config pkmf.yaml',
    )
    .action(async (opts: { config?: string; logLevel?: string; metrics?: string }) => {
      const { CliError } = await import('../cli-error.js');
      if (!opts.config) throw new CliError('pkmf: --config <file> is required (see `sl-bridge pkmf --help`)', 2);
      if (opts.metrics !== undefined) {
        const { parseListen } = await import('../metrics/http-endpoint.js');
        try {
          parseListen(opts.metrics);
        } catch (e) {
          throw new CliError(`--metrics: ${(e as Error).message}`, 2);
        }
      }
      const { runPkmfFromFile } = await import('../pkmf/server.js');
      const { ConfigError } = await import('../config/reader.js');
      try {
        await runPkmfFromFile(opts.config, { ...(opts.logLevel ? { logLevel: opts.logLevel } : {}), ...(opts.metrics === undefined ? {} : { metrics: opts.metrics }) });
      } catch (e) {
        if (e instanceof ConfigError) throw new CliError(e.message, 2);
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE' || code === 'EACCES') throw new CliError(`pkmf: cannot listen: ${(e as Error).message}`, 1);
        throw e;
      }
    });

  pkmf
    .command('bench', { hidden: true })
    .description('load benchmark: N UEs request keys concurrently over TLS from one PKMF process')
    .option('--ues <n>', 'number of concurrent UEs', positive({ integer: true }), 500)
    .option('--rounds <n>', 'rounds of N concurrent requests', positive({ integer: true }), 3)
    .option('--json', 'print the result as JSON')
    .action(async (opts: { ues: number; rounds: number; json?: boolean }) => {
      const { runPkmfBench } = await import('../pkmf/bench.js');
      await runPkmfBench(opts);
    });
}
