import { writeFileSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { integerIn, numberIn } from './cli-flags.js';

/**
 * An error meant for the person at the terminal: `main` prints its message without a stack trace
 * and exits with its status. Throw it for bad flags, unreadable files and the like.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The CliError for a file or folder that could not be written (`what`: "x.json", "the report to DIR"). */
export function cannotWrite(what: string, err: unknown): CliError {
  return new CliError(`cannot write ${what}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 1);
}

/** Writes `value` to `path` as indented JSON; a failure is a {@link CliError} naming the file. */
export function writeJsonFile(path: string, value: unknown): void {
  try {
    writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
  } catch (err) {
    throw cannotWrite(path, err);
  }
}

/**
 * A number flag given as text to an implementation (bridge/demo/run.ts): `def` when absent;
 * otherwise what {@link numberIn} / {@link integerIn} accept, or a CliError with exit status 2
 * naming the flag, the range and what was given.
 * @deprecated Declare the parser on the option (`.option('--n <n>', '...', integerIn(1, 9))`).
 */
export function numberFlag(flag: string, v: string | undefined, def: number, min: number, max: number, integer = false): number {
  if (v === undefined) return def;
  try {
    return (integer ? integerIn : numberIn)(min, max)(v);
  } catch (e) {
    if (e instanceof InvalidArgumentError) throw new CliError(`${flag}: ${e.message}, got "${v}"`, 2);
    throw e;
  }
}
