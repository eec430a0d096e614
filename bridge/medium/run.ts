/**
 * `sl-bridge medium`: starts a {@link MediumServer} from a hw-profile's `medium` section and the
 * command-line flags, prints the bound endpoints, and a stats line on exit (SIGINT, SIGTERM or
 * --duration).
 */
import { CliError, writeJsonFile } from '../cli-error.js';
import { ConfigError } from '../config/reader.js';
import { loadHwProfile } from '../profiles/loader.js';
import { isZmqEndpoint } from '../profiles/loader.js';
import { checkImpairments, type ChannelImpairments } from '../../src/medium/channel.js';
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

  const server = new MediumServer({ endpoints, impairments, seed, maxPduBytes: profile.pdu.maxBytes });
  let bound: readonly string[];
  try {
    bound = await server.start();
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  const i = impairments;
  process.stdout.write(
    `medium: listening on ${bound.join(' ')} (loss ${i.loss}, delay ${i.delayMs} ms, jitter ${i.jitterMs} ms, ` +
      `duplicate ${i.duplicate}, reorder ${i.reorder}, seed ${seed})\n`,
  );

  const interval = statsIntervalS > 0 ? setInterval(() => process.stdout.write(`${formatMediumStats(server.stats())}\n`), statsIntervalS * 1000) : undefined;
  await new Promise<void>((done) => {
    const finish = (): void => {
      process.off('SIGINT', finish);
      process.off('SIGTERM', finish);
      done();
    };
    process.on('SIGINT', finish);
    process.on('SIGTERM', finish);
    if (durationS > 0) setTimeout(finish, durationS * 1000).unref();
  });
  if (interval) clearInterval(interval);
  const stats: MediumStats = server.stats();
  await server.stop();
  process.stdout.write(`${formatMediumStats(stats)}\n`);
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
