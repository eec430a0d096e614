/**
 * `sl-bridge medium`: starts a {@link MediumServer} from a hw-profile's `medium` section and the
 * command-line flags, prints the bound endpoints, and a stats line on exit (SIGINT, SIGTERM or
 * --duration). stdout carries only these lines (scripts parse them: the demo, testbed.sh); the log
 * goes to stderr (bridge/logging.ts). `--metrics HOST:PORT` serves Prometheus metrics (metrics.ts).
 */
import { CliError, writeJsonFile } from '../cli-error.js';
import { LOG_LEVELS } from '../config/log-levels.js';
import { ConfigError } from '../config/reader.js';
import { createLogger } from '../logging.js';
import { MetricsHttpServer, parseListen } from '../metrics/http-endpoint.js';
import { loadHwProfile } from '../profiles/loader.js';
import { isZmqEndpoint } from '../profiles/loader.js';
import { checkImpairments, type ChannelImpairments } from '../../src/medium/channel.js';
import { MediumMetrics } from './metrics.js';
import { MediumServer, formatMediumStats, type MediumStats } from './server.js';

export interface MediumFlags {
  profile: string;
  endpoint?: string[];
  loss?: string;
  delayMs?: string;
  jitterMs?: string;
  duplicate?: string;
  reorder?: string;
  reorderHoldMs?: string;
  seed?: string;
  duration?: string;
  statsInterval?: string;
  statsJson?: string;
  logLevel?: string;
  metrics?: string;
}

export async function runMedium(flags: MediumFlags): Promise<void> {
  let profile;
  try {
    profile = loadHwProfile(flags.profile);
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(e.message);
    throw e;
  }
  if (!profile.medium) throw new CliError(`${profile.file}: has no medium section (use --profile emulator)`);
  const base = profile.medium;
  const endpoints = flags.endpoint && flags.endpoint.length > 0 ? flags.endpoint : base.bind;
  for (const ep of endpoints) {
    if (!isZmqEndpoint(ep, true)) throw new CliError(`--endpoint: expected tcp://HOST:PORT (PORT may be *), ipc:///PATH or inproc://NAME, got "${ep}"`);
  }
  let impairments: ChannelImpairments;
  try {
    impairments = checkImpairments({
      loss: probability('--loss', flags.loss, base.impairments.loss),
      delayMs: milliseconds('--delay-ms', flags.delayMs, base.impairments.delayMs),
      jitterMs: milliseconds('--jitter-ms', flags.jitterMs, base.impairments.jitterMs),
      duplicate: probability('--duplicate', flags.duplicate, base.impairments.duplicate),
      reorder: probability('--reorder', flags.reorder, base.impairments.reorder),
      reorderHoldMs: milliseconds('--reorder-hold-ms', flags.reorderHoldMs, base.impairments.reorderHoldMs),
    });
  } catch (e) {
    if (e instanceof RangeError) throw new CliError(e.message);
    throw e;
  }
  const seed = integer('--seed', flags.seed, base.seed, 0, 0xffff_ffff);
  const durationS = flags.duration === undefined ? 0 : number('--duration', flags.duration, 0, 1e9);
  const statsIntervalS = flags.statsInterval === undefined ? 0 : number('--stats-interval', flags.statsInterval, 0, 1e6);
  const logLevel = flags.logLevel ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw new CliError(`--log-level: expected one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`, 2);
  if (flags.metrics !== undefined) {
    try {
      parseListen(flags.metrics);
    } catch (e) {
      throw new CliError(`--metrics: ${(e as Error).message}`, 2);
    }
  }

  const logger = createLogger({ level: logLevel, base: { svc: 'medium' } });
  const server = new MediumServer({ endpoints, impairments, seed, maxPduBytes: profile.pdu.maxBytes, logger });
  let bound: readonly string[];
  try {
    bound = await server.start();
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  // Started before the "listening" line, so that a medium said to be ready can be scraped.
  let http: MetricsHttpServer | undefined;
  if (flags.metrics !== undefined) {
    const metrics = new MediumMetrics(server);
    http = new MetricsHttpServer(flags.metrics, { '/metrics': async () => ({ contentType: metrics.contentType, body: await metrics.metrics() }) }, logger);
    try {
      await http.start();
    } catch (e) {
      await server.stop();
      throw new CliError((e as Error).message);
    }
  }
  const metricsUrl = http === undefined ? undefined : `${http.origin!}/metrics`;
  const i = impairments;
  process.stdout.write(
    `medium: listening on ${bound.join(' ')} (loss ${i.loss}, delay ${i.delayMs} ms, jitter ${i.jitterMs} ms, ` +
      `duplicate ${i.duplicate}, reorder ${i.reorder}, seed ${seed})\n`,
  );
  if (metricsUrl !== undefined) process.stdout.write(`medium: metrics on ${metricsUrl}\n`);
  logger.info({ endpoints: bound, impairments, seed, ...(metricsUrl === undefined ? {} : { metricsUrl }) }, 'medium: started');

  const interval = statsIntervalS > 0 ? setInterval(() => process.stdout.write(`${formatMediumStats(server.stats())}\n`), statsIntervalS * 1000) : undefined;
  const reason = await new Promise<string>((done) => {
    const finish = (why: string): void => {
      process.off('SIGINT', finish);
      process.off('SIGTERM', finish);
      done(why);
    };
    process.on('SIGINT', finish);
    process.on('SIGTERM', finish);
    if (durationS > 0) setTimeout(() => finish('duration'), durationS * 1000).unref();
  });
  if (interval) clearInterval(interval);
  const stats: MediumStats = server.stats();
  await http?.stop();
  await server.stop();
  process.stdout.write(`${formatMediumStats(stats)}\n`);
  logger.info({ reason, stats }, 'medium: stopped');
  if (flags.statsJson) writeJsonFile(flags.statsJson, { endpoints: bound, impairments, seed, ...stats });
}

/** `0.1` or `10%`. */
function probability(flag: string, v: string | undefined, def: number): number {
  if (v === undefined) return def;
  const m = /^\s*([0-9]*\.?[0-9]+)\s*(%?)\s*$/.exec(v);
  const p = m ? Number(m[1]) / (m[2] ? 100 : 1) : NaN;
  if (!(p >= 0 && p <= 1)) throw new CliError(`${flag}: expected a probability such as 0.1 or 10%, got "${v}"`);
  return p;
}

function milliseconds(flag: string, v: string | undefined, def: number): number {
  return v === undefined ? def : number(flag, v, 0, 60_000);
}

function number(flag: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new CliError(`${flag}: expected a number from ${min} to ${max}, got "${v}"`);
  return n;
}

function integer(flag: string, v: string | undefined, def: number, min: number, max: number): number {
  if (v === undefined) return def;
  const n = number(flag, v, min, max);
  if (!Number.isInteger(n)) throw new CliError(`${flag}: expected an integer from ${min} to ${max}, got "${v}"`);
  return n;
}
