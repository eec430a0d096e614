import { writeFileSync } from 'node:fs';

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
