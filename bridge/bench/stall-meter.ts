/**
 * Stall meter: how often, and for how long, this machine takes the CPU away from a running
 * thread, and what that alone does to the latency percentiles of a short computation.
 *
 * A thread reads the clock in a tight loop; a gap between two consecutive readings longer than
 * `thresholdUs` is a stall: the thread was not running (preempted by another thread, an
 * interrupt, or, in a virtual machine, the hypervisor running something else on the physical
 * core; a guest cannot tell these apart). On a bare-metal idle core the gaps are rare; on the
 * 2-vCPU KVM guest this project is developed on there are ~1,600 stalls of 20-100 µs per
 * second, about 8 % of the time, whatever else runs (docs/profiling.md, "the machine's floor").
 *
 * `stallFloor` then answers: a computation that needs D µs of CPU, started at a random moment of
 * the recorded timeline, takes how long on the wall clock? Its percentiles are the floor under
 * the percentiles of any D-µs code path measured with a wall clock on this machine: the p99 of
 * protect + unprotect in a daemon cannot be below the p99 of the floor for the same D.
 *
 * `measureStalls` spins one core for the whole duration: run it before or after a measurement,
 * not during one.
 */
import { performance } from 'node:perf_hooks';
import { seededRandom } from '../../src/medium/random.js';
import { percentile } from '../../src/stats/percentile.js';
import { REPETITIONS, formatInterval, mapInterval, medianInterval, type Interval } from '../../src/stats/interval.js';

/** Stalls recorded over one measurement: start offsets and lengths in µs, in time order. */
export interface StallTrace {
  /** Wall time covered, µs. */
  durationUs: number;
  /** Clock readings taken (the loop's resolution is durationUs / readings). */
  readings: number;
  /** Gaps shorter than this (µs) count as running time. */
  thresholdUs: number;
  startsUs: Float64Array;
  lengthsUs: Float64Array;
}

export interface StallSummary {
  duration_ms: number;
  threshold_us: number;
  /** Mean interval between two clock readings, ns (the meter's resolution). */
  reading_ns: number;
  /** Stalls per second longer than 5, 20, 50, 100 and 1000 µs. */
  per_s: { over_5us: number; over_20us: number; over_50us: number; over_100us: number; over_1ms: number };
  /** Share of the wall time spent in stalls, %. */
  lost_pct: number;
  /** Length of the stalls (µs): p50, p90, p99, max. */
  length_us: { p50: number; p90: number; p99: number; max: number } | null;
}

/** Wall time (µs) of a computation needing `cpuUs` of CPU, at percentiles of a random start. */
export interface FloorFigures {
  cpu_us: number;
  p50: number;
  p99: number;
  p999: number;
  /** Share of starts whose computation was hit by at least one stall, %. */
  hit_pct: number;
}

/**
 * The floor over the whole trace, and over each of its windows (`floorWithInterval`): the median
 * of the windows and its 95 % interval per figure; null when a window is too short for the CPU time.
 */
export interface FloorWithInterval extends FloorFigures {
  ci: { p50: Interval; p99: Interval; p999: Interval; hit_pct: Interval } | null;
}

/** Stall figures per window of a trace: the median of the windows and its 95 % interval. */
export interface StallIntervals {
  windows: number;
  lost_pct: Interval;
  over_20us_per_s: Interval;
  over_100us_per_s: Interval;
}

/**
 * Above this share of the time lost to stalls (%), a run is marked unreliable: its tails, and
 * any difference smaller than the stalls, are the machine's (docs/profiling.md, "statistics").
 */
export const UNRELIABLE_LOST_PCT = 5;

/** Whether a run's figures can be trusted to show the code rather than the machine. */
export interface Reliability {
  /** The stall meter found more than UNRELIABLE_LOST_PCT of the time lost (false when it did not run). */
  unreliable: boolean;
  /** The share of the time it found lost, %; null when it did not run. */
  stall_lost_pct: number | null;
}

export interface StallMeterOptions {
  durationMs: number;
  /** Gaps above this are stalls (default 2 µs: well above a clock reading, ~45-70 ns). */
  thresholdUs?: number;
  /** Injected for tests; performance.now() in ms by default. */
  nowMs?: () => number;
}

/** Spins on the clock for `durationMs` and records every gap above the threshold. */
export function measureStalls(options: StallMeterOptions): StallTrace {
  const { durationMs } = options;
  if (!(durationMs > 0) || durationMs > 600_000) throw new RangeError(`durationMs: expected 0 < ms <= 600000, got ${durationMs}`);
  const thresholdUs = options.thresholdUs ?? 2;
  if (!(thresholdUs > 0)) throw new RangeError(`thresholdUs: expected > 0, got ${thresholdUs}`);
  const now = options.nowMs ?? (() => performance.now());
  const thresholdMs = thresholdUs / 1000;
  // Preallocated, grown by doubling: the loop itself must not allocate (a GC would be a stall
  // of our own making).
  let starts = new Float64Array(4096);
  let lengths = new Float64Array(4096);
  let n = 0;
  let readings = 0;
  const t0 = now();
  const end = t0 + durationMs;
  let prev = t0;
  for (;;) {
    const t = now();
    readings++;
    const gap = t - prev;
    if (gap > thresholdMs) {
      if (n === starts.length) {
        const s2 = new Float64Array(n * 2);
        s2.set(starts);
        starts = s2;
        const l2 = new Float64Array(n * 2);
        l2.set(lengths);
        lengths = l2;
      }
      starts[n] = (prev - t0) * 1000;
      lengths[n] = gap * 1000;
      n++;
    }
    prev = t;
    if (t >= end) break;
  }
  return { durationUs: (prev - t0) * 1000, readings, thresholdUs, startsUs: starts.slice(0, n), lengthsUs: lengths.slice(0, n) };
}

const r2 = (x: number): number => Math.round(x * 100) / 100;

export function summarizeStalls(trace: StallTrace): StallSummary {
  const seconds = trace.durationUs / 1e6;
  const count = (minUs: number): number => {
    let c = 0;
    for (const l of trace.lengthsUs) if (l > minUs) c++;
    return seconds > 0 ? Math.round(c / seconds) : 0;
  };
  let lost = 0;
  for (const l of trace.lengthsUs) lost += l;
  const sorted = Float64Array.from(trace.lengthsUs).sort();
  return {
    duration_ms: r2(trace.durationUs / 1000),
    threshold_us: trace.thresholdUs,
    reading_ns: trace.readings > 0 ? r2((trace.durationUs * 1000) / trace.readings) : 0,
    per_s: { over_5us: count(5), over_20us: count(20), over_50us: count(50), over_100us: count(100), over_1ms: count(1000) },
    lost_pct: trace.durationUs > 0 ? r2((100 * lost) / trace.durationUs) : 0,
    length_us:
      sorted.length === 0
        ? null
        : { p50: r2(percentile(sorted, 50)), p90: r2(percentile(sorted, 90)), p99: r2(percentile(sorted, 99)), max: r2(sorted[sorted.length - 1]!) },
  };
}

/**
 * Wall time of a computation needing `cpuUs` of CPU that starts at a uniformly random running
 * moment of the trace: `cpuUs` plus every stall that begins before it has had its CPU time.
 * With several CPU times (e.g. a protect in one daemon and the unprotect of the same PDU in
 * another), each part starts at its own random moment and the figures are of their sum.
 * `samples` starts from a fixed-seed generator, so the same trace always gives the same figures.
 */
export function stallFloor(trace: StallTrace, cpuUs: number | readonly number[], samples = 200_000): FloorFigures {
  const parts = typeof cpuUs === 'number' ? [cpuUs] : [...cpuUs];
  if (parts.length === 0 || !parts.every((d) => d > 0)) throw new RangeError(`cpuUs: expected CPU times > 0, got ${JSON.stringify(cpuUs)}`);
  if (!Number.isInteger(samples) || samples < 1) throw new RangeError(`samples: expected an integer >= 1, got ${samples}`);
  const longest = Math.max(...parts);
  // Only starts that leave the whole computation inside the trace (stalls after it are unknown).
  const span = trace.durationUs - longest * 4;
  if (!(span > 0)) throw new RangeError(`cpuUs: ${longest} µs is too long for a ${r2(trace.durationUs)} µs trace`);
  const rng = seededRandom(0x9e3779b9);
  const walls = new Float64Array(samples);
  let hits = 0;
  for (let s = 0; s < samples; s++) {
    let wall = 0;
    let hit = false;
    for (const d of parts) {
      const w = wallOf(trace, d, span, rng);
      wall += w;
      if (w > d + 1e-6) hit = true; // (float rounding of t + left - start)
    }
    walls[s] = wall;
    if (hit) hits++;
  }
  walls.sort();
  return {
    cpu_us: r2(parts.reduce((a, b) => a + b, 0)),
    p50: r2(percentile(walls, 50)),
    p99: r2(percentile(walls, 99)),
    p999: r2(percentile(walls, 99.9)),
    hit_pct: r2((100 * hits) / samples),
  };
}

/** Wall time of one computation of `cpuUs` started at a random running moment in [0, span). */
function wallOf(trace: StallTrace, cpuUs: number, span: number, rng: () => number): number {
  const { startsUs, lengthsUs } = trace;
  for (let tries = 0; tries < 1_000_000; tries++) {
    const start = rng() * span;
    // The first stall ending after `start`; a start inside a stall is not a running moment.
    let i = firstEndingAfter(startsUs, lengthsUs, start);
    if (i < startsUs.length && startsUs[i]! <= start) continue;
    let t = start;
    let left = cpuUs;
    while (i < startsUs.length && startsUs[i]! < t + left) {
      left -= startsUs[i]! - t;
      t = startsUs[i]! + lengthsUs[i]!;
      i++;
    }
    return t + left - start;
  }
  throw new RangeError('trace: almost no running time between its stalls');
}

/** Index of the first stall whose end is after `t` (binary search on the sorted starts). */
function firstEndingAfter(starts: Float64Array, lengths: Float64Array, t: number): number {
  let lo = 0;
  let hi = starts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (starts[mid]! + lengths[mid]! <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Cuts a trace into `windows` consecutive windows of equal duration (a stall across a boundary is
 * split between the two), for intervals over the windows.
 */
export function splitTrace(trace: StallTrace, windows: number): StallTrace[] {
  if (!Number.isInteger(windows) || windows < 1) throw new RangeError(`windows: expected an integer >= 1, got ${windows}`);
  const span = trace.durationUs / windows;
  const out: StallTrace[] = [];
  let i = 0;
  let carry = 0; // what is left of a stall cut by the previous boundary
  for (let w = 0; w < windows; w++) {
    const from = w * span;
    const to = w === windows - 1 ? trace.durationUs : from + span;
    const starts: number[] = [];
    const lengths: number[] = [];
    if (carry > 0) {
      const l = Math.min(carry, to - from);
      starts.push(0);
      lengths.push(l);
      carry -= l;
    }
    while (carry === 0 && i < trace.startsUs.length && trace.startsUs[i]! < to) {
      const start = trace.startsUs[i]!;
      const end = start + trace.lengthsUs[i]!;
      starts.push(start - from);
      lengths.push(Math.min(end, to) - start);
      carry = Math.max(0, end - to);
      i++;
    }
    out.push({
      durationUs: to - from,
      readings: Math.round((trace.readings * (to - from)) / Math.max(trace.durationUs, 1e-9)),
      thresholdUs: trace.thresholdUs,
      startsUs: Float64Array.from(starts),
      lengthsUs: Float64Array.from(lengths),
    });
  }
  return out;
}

/** Traces measured one after another as one trace: each begins where the previous one ended (what ran between them is left out). */
export function concatTraces(traces: readonly StallTrace[]): StallTrace {
  if (traces.length === 0) throw new RangeError('traces: expected at least one');
  const starts: number[] = [];
  const lengths: number[] = [];
  let offset = 0;
  let readings = 0;
  for (const t of traces) {
    for (let k = 0; k < t.startsUs.length; k++) {
      starts.push(offset + t.startsUs[k]!);
      lengths.push(t.lengthsUs[k]!);
    }
    offset += t.durationUs;
    readings += t.readings;
  }
  return { durationUs: offset, readings, thresholdUs: traces[0]!.thresholdUs, startsUs: Float64Array.from(starts), lengthsUs: Float64Array.from(lengths) };
}

/** Lost time and stall rates per window of the trace, as intervals. */
export function stallIntervals(trace: StallTrace, windows = REPETITIONS): StallIntervals {
  const sums = splitTrace(trace, windows).map(summarizeStalls);
  const ci = (f: (s: StallSummary) => number): Interval => mapInterval(medianInterval(sums.map(f))!, r2);
  return { windows, lost_pct: ci((s) => s.lost_pct), over_20us_per_s: ci((s) => s.per_s.over_20us), over_100us_per_s: ci((s) => s.per_s.over_100us) };
}

/**
 * `stallFloor` over the whole trace, and per window (`samples` spread over them) for the
 * intervals; the windows' intervals are null when a window is too short for the CPU time.
 */
export function floorWithInterval(trace: StallTrace, cpuUs: number | readonly number[], windows = REPETITIONS, samples = 200_000): FloorWithInterval {
  const whole = stallFloor(trace, cpuUs, samples);
  const longest = typeof cpuUs === 'number' ? cpuUs : Math.max(...cpuUs);
  const parts = splitTrace(trace, windows);
  if (parts.some((p) => !(p.durationUs > longest * 4))) return { ...whole, ci: null };
  let per: FloorFigures[];
  try {
    per = parts.map((p) => stallFloor(p, cpuUs, Math.max(1000, Math.ceil(samples / windows))));
  } catch (e) {
    if (e instanceof RangeError) return { ...whole, ci: null }; // a window that is one long stall
    throw e;
  }
  const ci = (f: (x: FloorFigures) => number): Interval => mapInterval(medianInterval(per.map(f))!, r2);
  return { ...whole, ci: { p50: ci((x) => x.p50), p99: ci((x) => x.p99), p999: ci((x) => x.p999), hit_pct: ci((x) => x.hit_pct) } };
}

/** The 5 % rule on a stall summary (null: the meter did not run). */
export function judgeReliability(summary: StallSummary | null): Reliability {
  if (summary === null) return { unreliable: false, stall_lost_pct: null };
  return { unreliable: summary.lost_pct > UNRELIABLE_LOST_PCT, stall_lost_pct: summary.lost_pct };
}

/** The verdict for people: one line, the same in every bench's output and plots. */
export function formatReliability(r: Reliability): string {
  if (r.stall_lost_pct === null) return 'reliability not checked: the stall meter did not run';
  if (r.unreliable) {
    return (
      `UNRELIABLE RUN: this machine lost ${r.stall_lost_pct} % of the time to stalls (more than ${UNRELIABLE_LOST_PCT} %); ` +
      'tails and small differences are the machine\'s, not the code\'s'
    );
  }
  return `machine check: ${r.stall_lost_pct} % of the time lost to stalls (at most ${UNRELIABLE_LOST_PCT} %)`;
}

/** One line for humans: rates and lost time (with their intervals over windows), and the floor for the given CPU times. */
export function formatStalls(summary: StallSummary, floors: ReadonlyArray<FloorFigures | FloorWithInterval>, windows?: StallIntervals): string {
  const p = summary.per_s;
  const len = summary.length_us;
  let out =
    `stalls over ${summary.duration_ms} ms (gaps > ${summary.threshold_us} µs in a clock-reading loop, one reading per ${summary.reading_ns} ns): ` +
    `${p.over_5us}/s > 5 µs, ${p.over_20us}/s > 20 µs, ${p.over_50us}/s > 50 µs, ${p.over_100us}/s > 100 µs, ${p.over_1ms}/s > 1 ms; ` +
    `${summary.lost_pct}% of the time lost` +
    (len ? `; stall length p50/p90/p99/max ${len.p50}/${len.p90}/${len.p99}/${len.max} µs` : '') +
    '\n';
  const num = (v: number): string => String(Number(v.toPrecision(3)));
  if (windows) {
    out +=
      `  per window (${windows.windows} x ${num(summary.duration_ms / windows.windows)} ms; median [95 % CI]): ${formatInterval(windows.lost_pct, num)} % of the time lost, ` +
      `${formatInterval(windows.over_20us_per_s, num)}/s > 20 µs, ${formatInterval(windows.over_100us_per_s, num)}/s > 100 µs\n`;
  }
  for (const f of floors) {
    const ci = 'ci' in f ? f.ci : null;
    out += ci
      ? `  floor for a ${f.cpu_us} µs computation: wall p50 ${formatInterval(ci.p50, num)}, p99 ${formatInterval(ci.p99, num)}, p99.9 ${formatInterval(ci.p999, num)} µs ` +
        `(${formatInterval(ci.hit_pct, num)} % of starts hit by a stall; median of ${ci.p50.n} windows [95 % CI])\n`
      : `  floor for a ${f.cpu_us} µs computation: wall p50/p99/p99.9 ${f.p50}/${f.p99}/${f.p999} µs (${f.hit_pct}% of starts hit by a stall)\n`;
  }
  return out;
}
