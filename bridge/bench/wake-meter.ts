/**
 * Wake meter: the cost of one call made right after a gap, as every daemon call is between
 * packets, against the same call made back to back. The gap is a sleep, or (`idle: 'spin'`) the
 * same time spent reading the clock: the thread never leaves the CPU and touches almost nothing,
 * so what the call loses then is lost to the time alone (on a VM: the host running something
 * else on the physical core, or moving the vCPU), not to a wake-up or to what the thread ran.
 *
 * A sleeping thread gives its CPU away; when it wakes, its caches, TLB entries and branch
 * history may belong to whatever ran meanwhile (in a VM, possibly another guest), and its first
 * instructions run slower. The stall meter (stall-meter.ts) cannot see this: it never sleeps.
 * Each op is timed one call at a time (`performance.now()` around it, ~50 ns a reading, so only
 * for calls of a microsecond or more), alternating: a gap of `gapUs` (Atomics.wait, a real futex
 * sleep, or a loop on the clock), call, ... then the same number of calls back to back. The
 * samples are split into `rounds` (each: some calls after gaps, then as many back to back), the
 * repetitions behind the 95 % intervals; the cost of the gap is the difference within each round.
 *
 * The ops: `spin` (a register-only loop calibrated to about `spinUs`: no memory to miss, so it
 * shows the CPU itself waking up slowly) and the PDCP rows of `bench crypto`
 * (`protect-nea2-nia2`, `unprotect-nea2-nia2`, 128-byte SDU by default).
 */
import { performance } from 'node:perf_hooks';
import type { BenchCase } from './cases.js';
import { percentile } from '../../src/stats/percentile.js';
import { REPETITIONS, formatDifference, formatInterval, mapInterval, medianInterval, pairedDifference, type Interval, type Judged } from '../../src/stats/interval.js';
import { pdcpCases } from './pdcp-cases.js';

/** How the thread spends the gap before each timed call. */
export type WakeIdle = 'sleep' | 'spin';

export interface WakeOptions {
  /** Length of the gap before each timed call, µs. */
  gapUs: number;
  /** Default sleep. */
  idle?: WakeIdle;
  /** Timed calls per op and mode. */
  samples: number;
  /** SDU size of the PDCP ops. */
  sduBytes: number;
  /** CPU time the spin op is calibrated to, µs. */
  spinUs: number;
  /** Rounds the samples are split into (default REPETITIONS). */
  rounds?: number;
  /** Called after each round of each op: `done` of `total` rounds. */
  progress?: (done: number, total: number, what: string) => void;
}

export interface WakeFigures {
  p50_us: number;
  p90_us: number;
  p99_us: number;
  p999_us: number;
}

export type WakeIntervals = Record<keyof WakeFigures, Interval>;

export interface WakeRow {
  name: string;
  /** Pooled over all the samples. */
  after_gap: WakeFigures;
  back_to_back: WakeFigures;
  /**
   * Per round: the median and 95 % interval of each figure, and of what the gap adds (after the
   * gap - back to back, within each round), judged against 0.
   */
  ci: { after_gap: WakeIntervals; back_to_back: WakeIntervals; added_us: Record<keyof WakeFigures, Judged> };
}

const WAKE_KEYS = ['p50_us', 'p90_us', 'p99_us', 'p999_us'] as const;

const r2 = (x: number): number => Math.round(x * 100) / 100;

function figures(samplesUs: Float64Array): WakeFigures {
  const s = Float64Array.from(samplesUs).sort();
  return { p50_us: r2(percentile(s, 50)), p90_us: r2(percentile(s, 90)), p99_us: r2(percentile(s, 99)), p999_us: r2(percentile(s, 99.9)) };
}

let sink = 0;
function spin(n: number): void {
  let x = sink;
  for (let i = 0; i < n; i++) x = (Math.imul(x, 31) + i) | 0;
  sink = x;
}

/** Iterations of `spin` that take about `us` back to back (median of repeated timings). */
function calibrateSpin(us: number): number {
  let n = 256;
  for (let round = 0; round < 6; round++) {
    const t: number[] = [];
    for (let k = 0; k < 301; k++) {
      const t0 = performance.now();
      spin(n);
      t.push((performance.now() - t0) * 1000);
    }
    t.sort((a, b) => a - b);
    n = Math.max(16, Math.round((n * us) / Math.max(t[150]!, 0.01)));
  }
  return n;
}

function timeOp(op: () => void, samples: number, gapUs: number, idle: WakeIdle): Float64Array {
  const out = new Float64Array(samples);
  const cell = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < samples; i++) {
    if (gapUs > 0) {
      if (idle === 'sleep') Atomics.wait(cell, 0, 0, gapUs / 1000);
      else for (const end = performance.now() + gapUs / 1000; performance.now() < end; );
    }
    const t0 = performance.now();
    op();
    out[i] = (performance.now() - t0) * 1000;
  }
  return out;
}

export function measureWake(options: WakeOptions): WakeRow[] {
  const { gapUs, samples, sduBytes, spinUs } = options;
  const idle = options.idle ?? 'sleep';
  if (!(gapUs > 0) || gapUs > 1_000_000) throw new RangeError(`gapUs: expected 0 < µs <= 1000000, got ${gapUs}`);
  if (!Number.isInteger(samples) || samples < 10) throw new RangeError(`samples: expected an integer >= 10, got ${samples}`);
  if (!(spinUs > 0)) throw new RangeError(`spinUs: expected > 0, got ${spinUs}`);
  const rounds = Math.max(1, options.rounds ?? REPETITIONS);
  const perRound = Math.ceil(samples / rounds);
  const n = calibrateSpin(spinUs);
  const cases: BenchCase[] = [
    { name: `spin ~${spinUs} µs`, size: 0, makeOp: () => () => spin(n) },
    ...pdcpCases([sduBytes], ['nea2', 'nia2']).filter((c) => c.name === 'protect-nea2-nia2' || c.name === 'unprotect-nea2-nia2'),
  ];
  let done = 0;
  return cases.map((c) => {
    const op = c.makeOp();
    const name = c.size > 0 ? `${c.name} ${c.size} B` : c.name;
    // Warm-up (JIT, engines), not counted.
    timeOp(op, Math.min(samples, 2000), 0, idle);
    const after: Float64Array[] = [];
    const b2b: Float64Array[] = [];
    for (let r = 0; r < rounds; r++) {
      after.push(timeOp(op, perRound, gapUs, idle));
      b2b.push(timeOp(op, perRound, 0, idle));
      options.progress?.(++done, rounds * cases.length, `${name}, round ${r + 1}/${rounds}`);
    }
    const pooled = (parts: Float64Array[]): Float64Array => Float64Array.from(parts.flatMap((p) => Array.from(p)));
    const fa = after.map(figures);
    const fb = b2b.map(figures);
    const r2i = <T extends Interval>(i: T): T => mapInterval(i, r2);
    const each = <T>(f: (k: (typeof WAKE_KEYS)[number]) => T): Record<keyof WakeFigures, T> =>
      Object.fromEntries(WAKE_KEYS.map((k) => [k, f(k)])) as Record<keyof WakeFigures, T>;
    return {
      name,
      after_gap: figures(pooled(after)),
      back_to_back: figures(pooled(b2b)),
      ci: {
        after_gap: each((k) => r2i(medianInterval(fa.map((x) => x[k]))!)),
        back_to_back: each((k) => r2i(medianInterval(fb.map((x) => x[k]))!)),
        added_us: each((k) => r2i(pairedDifference(fa.map((x) => x[k]), fb.map((x) => x[k]))!)),
      },
    };
  });
}

export function formatWake(rows: readonly WakeRow[], gapUs: number, idle: WakeIdle, samples: number): string {
  const num = (v: number): string => String(Number(v.toPrecision(3)));
  const f = (w: WakeIntervals): string => WAKE_KEYS.map((k) => formatInterval(w[k], num)).join(' / ');
  const rounds = rows[0]?.ci.after_gap.p50_us.n ?? 0;
  const gap = idle === 'sleep' ? `a ${gapUs} µs sleep` : `${gapUs} µs spinning on the clock`;
  let out = `one call right after ${gap} vs back to back (${samples} calls each in ${rounds} rounds; p50 / p90 / p99 / p99.9 µs, median of the rounds [95 % CI]):\n`;
  for (const r of rows) {
    out += `  ${r.name.padEnd(28)} after ${idle.padEnd(7)} ${f(r.ci.after_gap)}\n`;
    out += `  ${''.padEnd(28)} back to back  ${f(r.ci.back_to_back)}\n`;
    out += `  ${''.padEnd(28)} a ${idle} adds  p50 ${formatDifference(r.ci.added_us.p50_us, num, 'µs')}, p99 ${formatDifference(r.ci.added_us.p99_us, num, 'µs')}\n`;
  }
  return out;
}
