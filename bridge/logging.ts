/**
 * The one way sl-bridge's processes make their logger: pino, JSON lines, or pretty (pino-pretty,
 * colorized) when the destination is a terminal. Written synchronously: nothing is logged per
 * packet, and nothing is lost when the process exits right after a line. Any field that could
 * hold key material is redacted whatever a log call passes (the code never logs key bytes in the
 * first place).
 *
 * Which stream a process logs to is its own choice: the daemon and the medium log to stderr
 * because their stdout carries status lines other programs parse; the PKMF logs to stdout.
 */
import { pino, type Logger } from 'pino';
import PinoPretty from 'pino-pretty';

/**
 * Redacted in every line, whatever `redactPaths` adds: the PKMF's key fields (a group's PGKs, a
 * TLS key, a group's source-authentication secret), the PDCP layer's derived keys and the source
 * authentication's secrets (pairwise keys, the UE's signing seed), at the top level and one level
 * down, and where group key material holds them.
 */
export const KEY_MATERIAL_REDACT_PATHS: readonly string[] = [
  ...['pgk', 'key', 'keyPem', 'ptk', 'pek', 'pik', 'groupSecret', 'pairwiseKeys', 'signingSeed'].flatMap((k) => [k, `*.${k}`]),
  ...['pgk', 'pairwiseKeys'].flatMap((k) => [`pgks[*].${k}`, `*.pgks[*].${k}`, `*[*].pgks[*].${k}`]),
  '*.sourceAuth.signingSeed',
  '*[*].sourceAuth.signingSeed',
];

export const REDACTED = '[redacted]';

/** A stream to log to; `isTTY` as on process.stdout / process.stderr. */
export type LogStream = NodeJS.WritableStream & { isTTY?: boolean };

export interface LoggerOptions {
  /** pino level: fatal, error, warn, info, debug, trace or silent. */
  level: string;
  /** Fields of every line (e.g. `{ svc: 'medium' }`, `{ ue: 'ue1' }`); replaces pino's pid and hostname. */
  base: Record<string, unknown>;
  /** Paths redacted on top of {@link KEY_MATERIAL_REDACT_PATHS} (pino redact syntax). */
  redactPaths?: readonly string[];
  /** Pretty lines instead of JSON; default: whether the destination is a terminal. */
  pretty?: boolean;
  /** 1 (stdout), 2 (stderr, the default) or a stream. */
  destination?: 1 | 2 | LogStream;
}

export function createLogger(opts: LoggerOptions): Logger {
  const destination = opts.destination ?? 2;
  const options = {
    level: opts.level,
    base: opts.base,
    redact: { paths: [...KEY_MATERIAL_REDACT_PATHS, ...(opts.redactPaths ?? [])], censor: REDACTED },
  };
  const pretty = opts.pretty ?? isTerminal(destination);
  if (pretty) {
    // svc (which part of the process logged) is left out of pretty lines to keep them short; JSON keeps it.
    return pino(options, PinoPretty({ destination, colorize: true, sync: true, ignore: 'pid,hostname,svc' }));
  }
  return pino(options, typeof destination === 'number' ? pino.destination({ dest: destination, sync: true }) : destination);
}

function isTerminal(destination: 1 | 2 | LogStream): boolean {
  if (destination === 1) return process.stdout.isTTY === true;
  if (destination === 2) return process.stderr.isTTY === true;
  return destination.isTTY === true;
}
