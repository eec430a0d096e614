/**
 * Log levels of the UE and PKMF configs and of `--log-level` (pino's, plus `silent`). Its own
 * module so that the command declarations (bridge/commands/) can offer them without loading the
 * config schemas.
 */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
