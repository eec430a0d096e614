/**
 * Wall-clock time in Unix epoch nanoseconds, the unit of every *_time_ns field of
 * proto/bridge.proto. It is read from the monotonic clock (process.hrtime) plus an offset fixed at
 * start from the realtime clock at microsecond precision, so it is cheap, never steps backwards
 * inside one process, and agrees between processes on one host to within a few microseconds
 * (they all derive it from the same realtime clock).
 */
import { performance } from 'node:perf_hooks';

const hrAtStart = process.hrtime.bigint();
// performance.timeOrigin + performance.now() is realtime with sub-millisecond precision
// (Date.now() only has milliseconds); both read at the same instant as hrAtStart, give or take.
const unixNsAtStart = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));

/** Unix epoch nanoseconds now. */
export function unixNowNs(): bigint {
  return unixNsAtStart + (process.hrtime.bigint() - hrAtStart);
}

/** Nanoseconds between two *_time_ns values as a number (negative if `later` is earlier). */
export function elapsedNs(earlier: bigint, later: bigint): number {
  return Number(later - earlier);
}
