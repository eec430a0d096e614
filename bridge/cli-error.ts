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
