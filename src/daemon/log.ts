/**
 * The few log lines of the daemon core (key changes, state-store failures, internal errors): a
 * structured logger handed in (the daemon shell passes its pino child logger). Never per packet.
 */
export interface DaemonLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}
