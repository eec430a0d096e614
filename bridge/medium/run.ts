/**
 * `sl-bridge medium`: starts a {@link MediumServer} from a hw-profile's `medium` section and the
 * command-line flags, prints the bound endpoints, and a stats line on exit (SIGINT, SIGTERM or
 * --duration). stdout carries only these lines (scripts parse them: the demo, testbed.sh); the log
 * goes to stderr (bridge/logging.ts). `--metrics HOST:PORT` serves Prometheus metrics (metrics.ts).
 */
import { CliError, writeJsonFile } from '../cli-error.js';
import type { LogLevel } from '../config/log-levels.js';
import { ConfigError } from '../config/reader.js';
import { createLogger } from '../logging.js';
import { MetricsHttpServer, parseListen } from '../metrics/http-endpoint.js';
import { loadHwProfile } from '../profiles/loader.js';
import { isZmqEndpoint } from '../profiles/loader.js';
import { checkImpairments, type ChannelImpairments } from '../../src/medium/channel.js';
import { MediumMetrics } from './metrics.js';
import { MediumServer, formatMediumStats, type MediumStats } from './server.js';

/** The flags as bridge/commands/medium.ts parses them; an absent impairment or seed is the profile's. */
export interface MediumFlags {
  profile: string;
  endpoint?: string[];
  loss?: number;
  delayMs?: number;
  jitterMs?: number;
  duplicate?: number;
  reorder?: number;
  reorderHoldMs?: number;
  seed?: number;
  duration?: number;
  statsInterval?: number;
  statsJson?: string;
  logLevel: LogLevel;
  metrics?: string;
}

export async function runMedium(flags: MediumFlags): Promise<void> {
  let profile;
  try {
    profile = loadHwProfile(flags.profile);
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(e.message, 2);
    throw e;
  }
  if (!profile.medium) throw new CliError(`${profile.file}: has no medium section (use --profile emulator)`, 2);
  const base = profile.medium;
  const endpoints = flags.endpoint && flags.endpoint.length > 0 ? flags.endpoint : base.bind;
  for (const ep of endpoints) {
    if (!isZmqEndpoint(ep, true)) throw new CliError(`--endpoint: expected tcp://HOST:PORT (PORT may be *), ipc:///PATH or inproc://NAME, got "${ep}"`, 2);
  }
  let impairments: ChannelImpairments;
  try {
    const b = base.impairments;
    impairments = checkImpairments({
      loss: flags.loss ?? b.loss,
      delayMs: flags.delayMs ?? b.delayMs,
      jitterMs: flags.jitterMs ?? b.jitterMs,
      duplicate: flags.duplicate ?? b.duplicate,
      reorder: flags.reorder ?? b.reorder,
      reorderHoldMs: flags.reorderHoldMs ?? b.reorderHoldMs,
    });
  } catch (e) {
    // The flags and the profile's values, each valid, that do not go together.
    if (e instanceof RangeError) throw new CliError(e.message, 2);
    throw e;
  }
  const seed = flags.seed ?? base.seed;
  const { duration: durationS = 0, statsInterval: statsIntervalS = 0, logLevel } = flags;
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

