/**
 * `sl-bridge bench crypto`: the run and its outputs (table on stdout, progress on stderr, optional
 * JSON file); bridge/commands/bench.ts checks the flags.
 */
import { cannotWrite, writeJsonFile } from '../cli-error.js';
import { BASELINE_OF, CRYPTO_ALGS, cryptoCases } from './crypto-cases.js';
import {
  DEFAULT_BENCH_OPTIONS,
  fitCosts,
  formatReport,
  ratios,
  rowIntervals,
  runBench,
  type BenchOptions,
  type BenchResult,
} from './harness.js';
import { NODE_KDF_SUFFIX, pdcpCases } from './pdcp-cases.js';
import { Progress } from './progress.js';
import { runMetadata, type RunMetadata } from './run-metadata.js';
import {
  concatTraces,
  formatReliability,
  formatStalls,
  judgeReliability,
  measureStalls,
  stallIntervals,
  summarizeStalls,
  type StallIntervals,
  type StallSummary,
  type StallTrace,
} from './stall-meter.js';

/** The flags as bridge/commands/bench.ts parses them. */
export interface BenchCryptoFlags {
  sizes: number[];
  /** Absent: the default rows (CRYPTO_ALGS). */
  algs?: string[];
  json?: string;
  minTime: number;
  warmup: number;
  /** Interleaved rounds per row: the repetitions behind the intervals. */
  rounds: number;
  baseline?: boolean;
  /** false: no stall meter between the rounds (and no reliability verdict). */
  stallMeter?: boolean;
  /** Directory for the SVG report (bridge/report/crypto-report.ts). */
  report?: string;
}

/** The rows to run for `--algs`: each one's baseline (BASELINE_OF) is added unless `withBaselines` is false. */
export function selectAlgs(algs: readonly string[] | undefined, withBaselines: boolean): string[] {
  if (algs === undefined) return [...CRYPTO_ALGS];
  const out = [...algs];
  if (withBaselines) {
    for (const a of algs) {
      const b = BASELINE_OF[a];
      if (b && !out.includes(b)) out.push(b);
    }
  }
  return out;
}

/** The stall meter's time before each round and after the last one, ms: ~0.7 s in all by default. */
const STALL_WINDOW_MS = 100;

/** What the stall meter between the rounds found: the reliability verdict and the stalls behind it. */
export interface CryptoStalls {
  summary: StallSummary;
  windows: StallIntervals;
}

/**
 * What `--json FILE` writes: `run` (run-metadata.ts), the reliability verdict, `results` rows
 * (the contract fields, pooled over all rounds, then `ci`: median over the rounds and 95 %
 * interval per figure, and each round's figures), fits and ratios (each with its `ci`).
 */
export function jsonReport(results: readonly BenchResult[], options: BenchOptions, run: RunMetadata, stalls: CryptoStalls | null) {
  const reliability = judgeReliability(stalls?.summary ?? null);
  return {
    run,
    unreliable: reliability.unreliable,
    stall_lost_pct: reliability.stall_lost_pct,
    results: results.map((r) => ({
      name: r.name,
      size: r.size,
      p50_ns: r.p50_ns,
      p99_ns: r.p99_ns,
      p999_ns: r.p999_ns,
      ops_per_s: r.ops_per_s,
      ci: r.rounds.length > 1 ? rowIntervals(r) : null,
      rounds: r.rounds,
    })),
    fits: fitCosts(results),
    ratios: ratios(results, ratioPairs(results)),
    settings: { warmup_ms: options.warmupMs, min_time_ms: options.minTimeMs, batch_target_ns: options.batchTargetNs, rounds: options.rounds ?? 1 },
    stalls: stalls && { ...stalls.summary, ci: stalls.windows },
  };
}

/** (row, its baseline) pairs: BASELINE_OF, and each first-PDU row against its `@node-kdf` variant. */
function ratioPairs(results: readonly BenchResult[]): [string, string][] {
  const names = [...new Set(results.map((r) => r.name))];
  const pairs = names.filter((n) => BASELINE_OF[n] !== undefined).map((n) => [n, BASELINE_OF[n]!] as [string, string]);
  for (const n of names) {
    if (n.endsWith(NODE_KDF_SUFFIX) && names.includes(n.slice(0, -NODE_KDF_SUFFIX.length))) {
      pairs.push([n.slice(0, -NODE_KDF_SUFFIX.length), n]);
    }
  }
  return pairs;
}

export async function benchCrypto(flags: BenchCryptoFlags): Promise<void> {
  const run = runMetadata('bench crypto', flags);
  const { sizes } = flags;
  const algs = selectAlgs(flags.algs, flags.baseline !== false);
  const cases = [...(await cryptoCases(sizes, algs)), ...(await pdcpCases(sizes, algs))];
  const meter = flags.stallMeter !== false;
  const traces: StallTrace[] = [];
  let progress: Progress | undefined;
  const options: BenchOptions = {
    ...DEFAULT_BENCH_OPTIONS,
    warmupMs: flags.warmup,
    minTimeMs: flags.minTime,
    rounds: flags.rounds,
    progress: (done, total, what) => (progress ??= new Progress({ label: 'bench crypto', total })).update(done, what),
    // Between measurements: the meter spins this thread, so it must not overlap a timed batch.
    betweenRounds: meter ? () => void traces.push(measureStalls({ durationMs: STALL_WINDOW_MS })) : undefined,
  };
  const meterS = meter ? ((flags.rounds + 1) * STALL_WINDOW_MS) / 1000 : 0;
  process.stderr.write(
    `bench crypto: ${cases.length} rows x ${flags.rounds} interleaved rounds, ~${Math.ceil((cases.length * (options.warmupMs + options.minTimeMs)) / 1000 + meterS)} s ` +
      `(batches of ~${options.batchTargetNs / 1000} us, ${options.minTimeMs} ms per row${meter ? `, stall meter ${STALL_WINDOW_MS} ms before each round and after the last` : ''})\n`,
  );
  const results = runBench(cases, options);
  progress?.finish();
  let stalls: CryptoStalls | null = null;
  if (traces.length > 0) {
    const trace = concatTraces(traces);
    stalls = { summary: summarizeStalls(trace), windows: stallIntervals(trace, traces.length) };
  }
  const report = jsonReport(results, options, run, stalls);
  process.stdout.write(formatReport(results, report.fits, report.ratios));
  if (stalls) process.stdout.write(`stall meter between the rounds: ${formatStalls(stalls.summary, [], stalls.windows)}`);
  process.stdout.write(`${formatReliability(judgeReliability(stalls?.summary ?? null))}\n`);
  if (flags.json !== undefined) {
    writeJsonFile(flags.json, report);
    process.stderr.write(`bench crypto: wrote ${flags.json}\n`);
  }
  if (flags.report !== undefined) {
    const { writeCryptoReport } = await import('../report/crypto-report.js');
    try {
      for (const f of writeCryptoReport(flags.report, report)) process.stderr.write(`bench crypto: wrote ${f}\n`);
    } catch (err) {
      throw cannotWrite(`the report to ${flags.report}`, err);
    }
  }
}
