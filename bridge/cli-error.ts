import { writeFileSync } from 'node:fs';

/**
 * An error meant for the person at the terminal: `main` prints its message without a stack trace
 * and exits with its status. Throw it for bad flags, unreadable files and the like.
 */
/**
 * A number flag: `def` when absent; otherwise a finite number from `min` to `max` (an integer if
 * asked), or a CliError with exit status 2 naming the flag, the range and what was given.
 */
export function numberFlag(flag: string, v: string | undefined, def: number, min: number, max: number, integer = false): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new CliError(`${flag}: expected ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got "${v}"`, 2);
  }
  return n;
}

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
