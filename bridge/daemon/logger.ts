/**
 * The daemon's logger: pino, JSON lines on stderr (stdout is kept for status lines; written
 * synchronously: nothing is logged per packet, and nothing is lost at exit), pretty
 * (pino-pretty) when stderr is a terminal. Any field that could hold key material is redacted,
 * whatever a log call passes; the code never logs key bytes in the first place.
 */
import { pino, type Logger } from 'pino';
import PinoPretty from 'pino-pretty';

/**
 * Fields redacted in every log line: the PKMF's list (bridge/pkmf/server.ts, not imported so the
 * daemon does not load the PKMF's SQLite code) plus the derived keys of the PDCP layer.
 */
export const DAEMON_REDACT_PATHS = [
  ...['pgk', 'key', 'keyPem', 'ptk', 'pek', 'pik'].flatMap((k) => [k, `*.${k}`]),
  'pgks[*].pgk',
  '*.pgks[*].pgk',
  '*[*].pgks[*].pgk',
];

export function daemonLogger(opts: { level: string; name: string; pretty?: boolean }): Logger {
  const options = {
    level: opts.level,
    // Each part adds its own `svc` (daemon, keys, metrics) as a child logger.
    base: { ue: opts.name },
    redact: { paths: DAEMON_REDACT_PATHS, censor: '[redacted]' },
  };
  const pretty = opts.pretty ?? process.stderr.isTTY === true;
  if (pretty) return pino(options, PinoPretty({ destination: 2, colorize: true, sync: true, ignore: 'pid,hostname,svc' }));
  return pino(options, pino.destination({ dest: 2, sync: true }));
}
