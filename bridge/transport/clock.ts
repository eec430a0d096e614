/**
 * Wall-clock time in Unix epoch nanoseconds, the unit of every *_time_ns field of
 * proto/bridge.proto. It is read from the monotonic clock (process.hrtime) plus an offset fixed at
 * start from the realtime clock, so it is cheap, never steps backwards inside one process, and
 * agrees between processes on one host to within a few microseconds.
 *
 * The offset is taken at an edge of Date.now(): the instant its millisecond changes is that whole
 * millisecond, to within one turn of the loop below (~0.1 µs). Not from performance.timeOrigin:
 * Node reads it at start-up from two clocks one after the other, and a process started while
 * real-time threads held the CPU (OpenAirInterface's) had it 80 ms off, so its envelopes carried
 * times 80 ms in the future (test/integration/transport-clock.test.ts).
 */

function calibrate(): { hr: bigint; unixNs: bigint } {
  let best: { hr: bigint; unixNs: bigint; gap: bigint } | undefined;
  // Three edges, keeping the one whose bracketing readings were closest (least likely preempted
  // between them); each costs at most a millisecond of spinning, once per process.
  for (let attempt = 0; attempt < 3; attempt++) {
    const startMs = Date.now();
    let prevHr = process.hrtime.bigint();
    const limit = prevHr + 5_000_000n;
    for (;;) {
      const hr = process.hrtime.bigint();
      const ms = Date.now();
      if (ms !== startMs) {
        const gap = hr - prevHr;
        if (best === undefined || gap < best.gap) best = { hr: prevHr + gap / 2n, unixNs: BigInt(ms) * 1_000_000n, gap };
        break;
      }
      if (hr > limit) break; // a clock that does not tick: keep the previous attempt
      prevHr = hr;
    }
  }
  return best ?? { hr: process.hrtime.bigint(), unixNs: BigInt(Date.now()) * 1_000_000n };
}

const anchor = calibrate();
const hrAtStart = anchor.hr;
const unixNsAtStart = anchor.unixNs;

/** Unix epoch nanoseconds now. */
export function unixNowNs(): bigint {
  return unixNsAtStart + (process.hrtime.bigint() - hrAtStart);
}

/** Nanoseconds between two *_time_ns values as a number (negative if `later` is earlier). */
export function elapsedNs(earlier: bigint, later: bigint): number {
  return Number(later - earlier);
}
