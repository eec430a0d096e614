/**
 * The benchmark harness behind `sl-bridge bench ...`: times each BenchCase in batches and reports
 * per-call percentiles, throughput, a fixed-cost + per-byte fit per operation, and ratios to
 * baselines measured in the same run.
 *
 * Sub-microsecond calls cannot be timed one at a time (a clock read costs about as much), so each
 * sample is one batch of k back-to-back calls timed with process.hrtime.bigint(), divided by k.
 * k is calibrated during warm-up so a batch lasts about `batchTargetNs` (20-50 us): short enough
 * that a scheduler hiccup spoils few samples, long enough that the clock's cost vanishes.
 */
import { percentile } from '../../src/stats/percentile.js';
import type { BenchCase } from './cases.js';

export interface BenchOptions {
  /** Warm-up time per case (JIT, caches, calibration), ms. */
  warmupMs: number;
  /** Measuring time per case, ms (at least `minSamples` batches are taken regardless). */
  minTimeMs: number;
  /** Minimum number of batch samples per case. */
  minSamples: number;
  /** Target duration of one timed batch, ns. */
  batchTargetNs: number;
  /** Called with one line per case as it starts (progress goes to stderr in the CLI). */
  progress?: (line: string) => void;
}

export const DEFAULT_BENCH_OPTIONS: BenchOptions = {
  // 0.3 s per row: ~8,000 batch samples (enough for p99.9), and the default `bench crypto` run
  // (40 algorithm rows plus the PDCP rows) stays around a minute on the 2-core CI machine.
  warmupMs: 50,
  minTimeMs: 250,
  minSamples: 200,
  batchTargetNs: 30_000,
};

/** One row of the result table; the JSON field names are part of the CLI contract. */
export interface BenchResult {
  name: string;
  size: number;
  p50_ns: number;
  p99_ns: number;
  p999_ns: number;
  ops_per_s: number;
  /** Calls per timed batch and number of batches: how the percentiles were obtained. */
  batch: number;
  samples: number;
}

/** Least-squares fit of p50 = fixed_ns + per_byte_ns * size over the sizes of one operation. */
export interface BenchFit {
  name: string;
  fixed_ns: number;
  per_byte_ns: number;
  /** Sizes the fit is based on (at least 2 distinct ones are needed). */
  sizes: number[];
}

/** p50 of `name` divided by p50 of `baseline` at the same size (< 1: ours is faster). */
export interface BenchRatio {
  name: string;
  baseline: string;
  size: number;
  p50_ratio: number;
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

/** Times one case. */
export function measureCase(c: BenchCase, opts: BenchOptions = DEFAULT_BENCH_OPTIONS): BenchResult {
  const op = c.makeOp();
  // Warm-up and calibration: run growing batches until the warm-up time is spent, then pick k.
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
  const batch = Math.max(1, Math.round(opts.batchTargetNs / Math.max(perCallNs, 1)));

  const samples: number[] = [];
  let calls = 0;
  let busyNs = 0;
  const end = now() + BigInt(Math.round(opts.minTimeMs * 1e6));
  while (samples.length < opts.minSamples || now() < end) {
    const t0 = now();
    for (let i = 0; i < batch; i++) op();
    const dt = Number(now() - t0);
    samples.push(dt / batch);
    calls += batch;
    busyNs += dt;
    if (samples.length >= 5_000_000) break;
  }
  const sorted = Float64Array.from(samples).sort();
  return {
    name: c.name,
    size: c.size,
    p50_ns: round1(percentile(sorted, 50)),
    p99_ns: round1(percentile(sorted, 99)),
    p999_ns: round1(percentile(sorted, 99.9)),
    ops_per_s: Math.round((calls / busyNs) * 1e9),
    batch,
    samples: samples.length,
  };
}

/** Times every case in order. */
export function runBench(cases: readonly BenchCase[], opts: BenchOptions = DEFAULT_BENCH_OPTIONS): BenchResult[] {
  const results: BenchResult[] = [];
  cases.forEach((c, i) => {
    opts.progress?.(`[${i + 1}/${cases.length}] ${c.name} ${c.size} B`);
    results.push(measureCase(c, opts));
  });
  return results;
}

/** Fixed-cost + per-byte least-squares fit of p50 per operation name (needs >= 2 sizes). */
export function fitCosts(results: readonly BenchResult[]): BenchFit[] {
  const byName = new Map<string, BenchResult[]>();
  for (const r of results) byName.set(r.name, [...(byName.get(r.name) ?? []), r]);
  const fits: BenchFit[] = [];
  for (const [name, rows] of byName) {
    const sizes = [...new Set(rows.map((r) => r.size))];
    if (sizes.length < 2) continue;
    const n = rows.length;
    const mx = rows.reduce((a, r) => a + r.size, 0) / n;
    const my = rows.reduce((a, r) => a + r.p50_ns, 0) / n;
    let sxy = 0;
    let sxx = 0;
    for (const r of rows) {
      sxy += (r.size - mx) * (r.p50_ns - my);
      sxx += (r.size - mx) ** 2;
    }
    const slope = sxy / sxx;
    fits.push({ name, fixed_ns: round1(my - slope * mx), per_byte_ns: Math.round(slope * 1000) / 1000, sizes: sizes.sort((a, b) => a - b) });
  }
  return fits;
}

/** Ratios of p50 for each (name, baseline) pair present at the same size. */
export function ratios(results: readonly BenchResult[], pairs: readonly [string, string][]): BenchRatio[] {
  const out: BenchRatio[] = [];
  for (const [name, baseline] of pairs) {
    for (const r of results) {
      if (r.name !== name) continue;
      const b = results.find((x) => x.name === baseline && x.size === r.size);
      if (b) out.push({ name, baseline, size: r.size, p50_ratio: Math.round((r.p50_ns / b.p50_ns) * 1000) / 1000 });
    }
  }
  return out;
}

/** The human-readable table (stdout of the CLI). */
export function formatReport(results: readonly BenchResult[], fits: readonly BenchFit[], rs: readonly BenchRatio[]): string {
  const lines: string[] = [];
  const header = ['name', 'size', 'p50_ns', 'p99_ns', 'p99.9_ns', 'ops/s'];
  const rows = results.map((r) => [r.name, String(r.size), fmt(r.p50_ns), fmt(r.p99_ns), fmt(r.p999_ns), String(r.ops_per_s)]);
  lines.push(...table(header, rows));
  if (fits.length > 0) {
    lines.push('', 'fixed cost + per-byte fit of p50 (least squares over the sizes):');
    lines.push(...table(['name', 'fixed_ns', 'ns/byte'], fits.map((f) => [f.name, fmt(f.fixed_ns), f.per_byte_ns.toFixed(3)])));
  }
  if (rs.length > 0) {
    lines.push('', 'ratio of p50 to the naive baseline measured in this run (< 1 = faster):');
    lines.push(...table(['name', 'baseline', 'size', 'ratio'], rs.map((r) => [r.name, r.baseline, String(r.size), r.p50_ratio.toFixed(3)])));
  }
  return lines.join('\n') + '\n';
}

function fmt(ns: number): string {
  return ns >= 100 ? String(Math.round(ns)) : ns.toFixed(1);
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 || i === 1 && header[1] === 'baseline' ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)];
}
