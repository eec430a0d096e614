/**
 * The `sl-bridge` command line. Every sub-command is declared in `bridge/commands/` with only
 * commander imported there; its implementation is imported lazily in its action, so `--help` and
 * every command start without loading ZeroMQ, SQLite or TLS code they do not use.
 */
import { buildInfoVersion, versionLine } from './build-info.js';
import { Command, CommanderError } from 'commander';
import { CliError } from './cli-error.js';
import { registerCommands } from './commands/index.js';

/** commander's errors for a command line it cannot accept: like every bad flag, exit status 2. */
const USAGE_ERRORS = new Set([
  'commander.invalidArgument',
  'commander.missingArgument',
  'commander.optionMissingArgument',
  'commander.missingMandatoryOptionValue',
  'commander.conflictingOption',
  'commander.unknownOption',
  'commander.excessArguments',
  'commander.unknownCommand',
]);

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('sl-bridge')
    .description(
      'UE-side security layer for 3GPP sidelink groupcast (ranging / sidelink positioning):\n' +
        'PKMF key provisioning, PGK -> PTK -> PEK/PIK, 128-NEA/NIA protected PDCP PDUs\n' +
        'over ZeroMQ, UDP or serial links.',
    )
    // The commit costs a git call: only looked up when the version is asked for.
    .version(process.argv.some((a) => a === '-V' || a === '--version') ? versionLine() : buildInfoVersion())
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();
  registerCommands(program);
  return program;
}

/**
 * `sl-bridge ... | head`: once the reader of stdout is gone, every write fails with EPIPE (Node
 * ignores SIGPIPE), and an unhandled 'error' on process.stdout would print a stack. Instead the
 * command ends quietly with status 0: a command that runs until a signal (run, medium, pkmf,
 * demo) gets a SIGTERM and stops cleanly (captures flushed, locks released), any other exits at
 * once. One handler for every command.
 */
export function exitQuietlyOnEpipe(stdout: NodeJS.WriteStream = process.stdout): void {
  let gone = false;
  stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
    if (gone) return;
    gone = true;
    // Whatever the command's own ending would have said (nobody reads it any more): status 0.
    process.once('exit', () => {
      process.exitCode = 0;
    });
    if (process.listenerCount('SIGTERM') > 0) process.kill(process.pid, 'SIGTERM');
    else process.exit(0);
  });
}

export async function main(argv: string[]): Promise<void> {
  exitQuietlyOnEpipe();
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander has already printed help, the version or its own error message.
      process.exitCode = USAGE_ERRORS.has(err.code) ? 2 : err.exitCode;
      return;
    }
    if (err instanceof CliError) {
      process.stderr.write(`sl-bridge: ${err.message}\n`);
      process.exitCode = err.exitCode;
      return;
    }
    const e = err as Error;
    process.stderr.write(`sl-bridge: ${e?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  }
}
