/**
 * The benchmark harness behind `sl-bridge bench ...`: times each BenchCase in batches and reports
 * per-call percentiles, throughput, a fixed-cost + per-byte fit per operation, and ratios to
 * baselines measured in the same run.
 *
 * Sub-microsecond calls cannot be timed one at a time (a clock read costs about as much), so each
 * sample is one batch of k back-to-back calls timed with process.hrtime.bigint(), divided by k.
 * k is calibrated during warm-up so a batch lasts about `batchTargetNs` (20-50 us): short enough
 * that a scheduler hiccup spoils few samples, long enough that the clock's cost vanishes.
 *
 * `runBench` splits each case's measuring time into rounds run round-robin over all the cases;
 * each round is one repetition, and every figure is reported as the median over the rounds with
 * its 95 % interval (src/stats/interval.ts) next to the figure pooled over all batches.
 */
import { percentile } from '../../src/stats/percentile.js';
import { REPETITIONS, formatInterval, formatRatio, mapInterval, medianInterval, pairedRatio, type Interval, type Judged } from '../../src/stats/interval.js';
import type { BenchCase } from './cases.js';
import { textTable } from './text-table.js';

export interface BenchOptions {
  /** Warm-up time per case (JIT, caches, calibration), ms. */
  warmupMs: number;
  /** Measuring time per case, ms, over all its rounds (at least `minSamples` batches are taken regardless). */
  minTimeMs: number;
  /** Minimum number of batch samples per case, over all its rounds. */
  minSamples: number;
  /** Target duration of one timed batch, ns. */
  batchTargetNs: number;
  /**
   * Rounds per case (`runBench`; default 1): its measuring time is split into this many, run
   * round-robin over the cases (all cases, then all again, ...), so a drift in machine load hits
   * every case alike and each round is one repetition for the intervals.
   */
  rounds?: number;
  /** Progress: `done` of `total` ms of warm-up and measuring finished, `what` is the current step. */
  progress?: (done: number, total: number, what: string) => void;
  /** Called before each round (0-based) and once more after the last one, between measurements (the stall meter). */
  betweenRounds?: (round: number) => void;
}

export const DEFAULT_BENCH_OPTIONS: BenchOptions = {
  // 0.3 s per row: ~8,000 batch samples (enough for p99.9), and the default `bench crypto` run
  // (40 algorithm rows plus the PDCP rows) stays around a minute on the 2-core CI machine.
  warmupMs: 50,
  minTimeMs: 250,
  minSamples: 200,
  batchTargetNs: 30_000,
  rounds: REPETITIONS,
};

/** The figures of one round of one case (or of all its rounds pooled). */
export interface RoundFigures {
  p50_ns: number;
  p99_ns: number;
  p999_ns: number;
  ops_per_s: number;
}

/** One row of the result table; the JSON field names are part of the CLI contract. */
export interface BenchResult extends RoundFigures {
  name: string;
  size: number;
  /** Calls per timed batch and number of batches (all rounds): how the percentiles were obtained. */
  batch: number;
  samples: number;
  /** Each round's own figures, in order: the repetitions behind the intervals. */
  rounds: RoundFigures[];
}

/** The median over the rounds of each figure of a row, and its 95 % interval. */
export type RowIntervals = Record<keyof RoundFigures, Interval>;

/** Least-squares fit of p50 = fixed_ns + per_byte_ns * size over the sizes of one operation. */
export interface BenchFit {
  name: string;
  fixed_ns: number;
  per_byte_ns: number;
  /** Sizes the fit is based on (at least 2 distinct ones are needed). */
  sizes: number[];
  /** The same fit through each round's p50s: its median and 95 % interval; null without rounds. */
  ci: { fixed_ns: Interval; per_byte_ns: Interval } | null;
}

/** p50 of `name` divided by p50 of `baseline` at the same size (< 1: ours is faster). */
export interface BenchRatio {
  name: string;
  baseline: string;
  size: number;
  p50_ratio: number;
  /** The ratio in each round (the two rows ran in the same rounds): median, 95 % interval, whether it differs from 1. */
  ci: Judged | null;
}

const now = (): bigint => process.hrtime.bigint();

/** Sink that keeps the optimiser from discarding an op's work if it returns something. */
let sink: unknown;
export function consume(value: unknown): void {
  sink = value;
}
export function lastConsumed(): unknown {
  return sink;
}

/** Warm-up and calibration: runs growing batches for `warmupMs`, returns the calls per batch. */
function calibrate(op: () => void, opts: BenchOptions): number {
  let k = 1;
  let perCallNs = Infinity;
  const warmEnd = now() + BigInt(Math.round(opts.warmupMs * 1e6));
  do {
    const t0 = now();
    for (let i = 0; i < k; i++) op();
    const dt = Number(now() - t0);
    perCallNs = Math.min(perCallNs, dt / k);
    if (dt < opts.batchTargetNs / 2 && k < 1 << 24) k *= 2;
  } while (now() < warmEnd);
  return Math.max(1, Math.round(opts.batchTargetNs / Math.max(perCallNs, 1)));
}

/** What one stretch of measuring collected. */
interface Sampled {
  /** Per-call ns of each batch. */
  samples: number[];
  calls: number;
  busyNs: number;
}

/** Timed batches of `batch` calls for `timeMs` (at least `minSamples` of them). */
function sampleBatches(op: () => void, batch: number, timeMs: number, minSamples: number): Sampled {
  const samples: number[] = [];
  let calls = 0;
  let busyNs = 0;
  const end = now() + BigInt(Math.round(timeMs * 1e6));
  while (samples.length < minSamples || now() < end) {
    const t0 = now();
    for (let i = 0; i < batch; i++) op();
    const dt = Number(now() - t0);
    samples.push(dt / batch);
    calls += batch;
    busyNs += dt;
    if (samples.length >= 5_000_000) break;
  }
  return { samples, calls, busyNs };
}

function figuresOf(s: Sampled): RoundFigures {
  const sorted = Float64Array.from(s.samples).sort();
  return {
    p50_ns: round1(percentile(sorted, 50)),
    p99_ns: round1(percentile(sorted, 99)),
    p999_ns: round1(percentile(sorted, 99.9)),
    ops_per_s: Math.round((s.calls / s.busyNs) * 1e9),
  };
}

/** A row from its rounds: pooled figures over every batch, and each round's own. */
function resultOf(c: BenchCase, batch: number, rounds: readonly Sampled[]): BenchResult {
  const pooled: Sampled = { samples: rounds.flatMap((r) => r.samples), calls: 0, busyNs: 0 };
  for (const r of rounds) {
    pooled.calls += r.calls;
    pooled.busyNs += r.busyNs;
  }
  return { name: c.name, size: c.size, ...figuresOf(pooled), batch, samples: pooled.samples.length, rounds: rounds.map(figuresOf) };
}

/** Times one case in one go (one round). */
export function measureCase(c: BenchCase, opts: BenchOptions = DEFAULT_BENCH_OPTIONS): BenchResult {
  const op = c.makeOp();
  const batch = calibrate(op, opts);
  return resultOf(c, batch, [sampleBatches(op, batch, opts.minTimeMs, opts.minSamples)]);
}

/** Batches run untimed before each round of a case: its code and data back in the caches. */
const REWARM_BATCHES = 3;

/** Times every case: warm-up of each, then `opts.rounds` interleaved rounds over all of them. */
export function runBench(cases: readonly BenchCase[], opts: BenchOptions = DEFAULT_BENCH_OPTIONS): BenchResult[] {
  const rounds = Math.max(1, opts.rounds ?? 1);
  const total = cases.length * (opts.warmupMs + opts.minTimeMs);
  const roundMs = opts.minTimeMs / rounds;
  const roundMin = Math.ceil(opts.minSamples / rounds);
  let done = 0;
  const rows = cases.map((c, i) => {
    opts.progress?.(done, total, `warm-up ${i + 1}/${cases.length}: ${c.name} ${c.size} B`);
    const op = c.makeOp();
    const batch = calibrate(op, opts);
    done += opts.warmupMs;
    return { c, op, batch, sampled: [] as Sampled[] };
  });
  for (let r = 0; r < rounds; r++) {
    opts.betweenRounds?.(r);
    rows.forEach((row, i) => {
      opts.progress?.(done, total, `round ${r + 1}/${rounds}, row ${i + 1}/${rows.length}: ${row.c.name} ${row.c.size} B`);
      // The other rows ran since this one's last batch (its warm-up, for the first round).
      for (let k = 0; k < REWARM_BATCHES * row.batch; k++) row.op();
      row.sampled.push(sampleBatches(row.op, row.batch, roundMs, roundMin));
      done += roundMs;
    });
  }
  opts.betweenRounds?.(rounds);
  opts.progress?.(total, total, 'done');
  return rows.map((row) => resultOf(row.c, row.batch, row.sampled));
}

/** The median over the rounds of each figure of a row, with its interval. */
export function rowIntervals(r: BenchResult): RowIntervals {
  const of = (k: keyof RoundFigures): Interval => mapInterval(medianInterval(r.rounds.map((x) => x[k]))!, k === 'ops_per_s' ? Math.round : round1);
  return { p50_ns: of('p50_ns'), p99_ns: of('p99_ns'), p999_ns: of('p999_ns'), ops_per_s: of('ops_per_s') };
}

/** Least-squares fixed + per-byte fit through (size, p50) points. */
function fitLine(points: ReadonlyArray<readonly [number, number]>): { fixed: number; slope: number } {
  const n = points.length;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  const slope = sxy / sxx;
  return { fixed: my - slope * mx, slope };
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/**
 * Fixed-cost + per-byte least-squares fit of p50 per operation name (needs >= 2 sizes): through
 * the pooled p50s, and through each round's for the interval.
 */
export function fitCosts(results: readonly BenchResult[]): BenchFit[] {
  const byName = new Map<string, BenchResult[]>();
  for (const r of results) byName.set(r.name, [...(byName.get(r.name) ?? []), r]);
  const fits: BenchFit[] = [];
  for (const [name, rows] of byName) {
    const sizes = [...new Set(rows.map((r) => r.size))];
    if (sizes.length < 2) continue;
    const pooled = fitLine(rows.map((r) => [r.size, r.p50_ns] as const));
    const rounds = Math.min(...rows.map((r) => r.rounds.length));
    let ci: BenchFit['ci'] = null;
    if (rounds > 1) {
      const per = Array.from({ length: rounds }, (_, k) => fitLine(rows.map((r) => [r.size, r.rounds[k]!.p50_ns] as const)));
      ci = { fixed_ns: mapInterval(medianInterval(per.map((f) => f.fixed))!, round1), per_byte_ns: mapInterval(medianInterval(per.map((f) => f.slope))!, round3) };
    }
    fits.push({ name, fixed_ns: round1(pooled.fixed), per_byte_ns: round3(pooled.slope), sizes: sizes.sort((a, b) => a - b), ci });
  }
  return fits;
}

/** Ratios of p50 for each (name, baseline) pair present at the same size; per round for the interval. */
export function ratios(results: readonly BenchResult[], pairs: readonly [string, string][]): BenchRatio[] {
  const out: BenchRatio[] = [];
  for (const [name, baseline] of pairs) {
    for (const r of results) {
      if (r.name !== name) continue;
      const b = results.find((x) => x.name === baseline && x.size === r.size);
      if (!b) continue;
      const n = Math.min(r.rounds.length, b.rounds.length);
      const ci = n > 1 ? pairedRatio(r.rounds.slice(0, n).map((x) => x.p50_ns), b.rounds.slice(0, n).map((x) => x.p50_ns)) : null;
      out.push({ name, baseline, size: r.size, p50_ratio: round3(r.p50_ns / b.p50_ns), ci: ci && mapInterval(ci, round3) });
    }
  }
  return out;
}

/**
 * The human-readable table (stdout of the CLI): per row and figure, the median over the rounds
 * and its 95 % interval (the pooled figure alone when the row had a single round).
 */
export function formatReport(results: readonly BenchResult[], fits: readonly BenchFit[], rs: readonly BenchRatio[]): string {
  const lines: string[] = [];
  const rounds = Math.max(0, ...results.map((r) => r.rounds.length));
  const header = ['name', 'size', 'p50_ns', 'p99_ns', 'p99.9_ns', 'ops/s'];
  const rows = results.map((r) => {
    if (r.rounds.length < 2) return [r.name, String(r.size), fmt(r.p50_ns), fmt(r.p99_ns), fmt(r.p999_ns), String(r.ops_per_s)];
    const ci = rowIntervals(r);
    return [r.name, String(r.size), formatInterval(ci.p50_ns, fmt), formatInterval(ci.p99_ns, fmt), formatInterval(ci.p999_ns, fmt), formatInterval(ci.ops_per_s, (v) => String(Math.round(v)))];
  });
  if (rounds > 1) lines.push(`median of ${rounds} interleaved rounds [95 % confidence interval]:`);
  lines.push(...table(header, rows));
  if (fits.length > 0) {
    lines.push('', 'fixed cost + per-byte fit of p50 (least squares over the sizes):');
    lines.push(
      ...table(
        ['name', 'fixed_ns', 'ns/byte'],
        fits.map((f) =>
          f.ci
            ? [f.name, formatInterval(f.ci.fixed_ns, fmt), formatInterval(f.ci.per_byte_ns, (v) => v.toFixed(3))]
            : [f.name, fmt(f.fixed_ns), f.per_byte_ns.toFixed(3)],
        ),
      ),
    );
  }
  if (rs.length > 0) {
    lines.push('', 'ratio of p50 to the naive baseline measured in this run (< 1 = faster):');
    lines.push(...table(['name', 'baseline', 'size', 'ratio'], rs.map((r) => [r.name, r.baseline, String(r.size), r.ci ? formatRatio(r.ci) : r.p50_ratio.toFixed(3)])));
  }
  return lines.join('\n') + '\n';
}

function fmt(ns: number): string {
  return ns >= 100 ? String(Math.round(ns)) : ns.toFixed(1);
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/** Names (and the baseline's name) on the left, figures on the right. */
function table(header: string[], rows: string[][]): string[] {
  return textTable(header, rows, (i) => !(i === 0 || (i === 1 && header[1] === 'baseline')));
}
