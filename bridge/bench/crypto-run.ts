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
  runBench,
  type BenchOptions,
  type BenchResult,
} from './harness.js';
import { NODE_KDF_SUFFIX, pdcpCases } from './pdcp-cases.js';

/** The flags as bridge/commands/bench.ts parses them. */
export interface BenchCryptoFlags {
  sizes: number[];
  /** Absent: the default rows (CRYPTO_ALGS). */
  algs?: string[];
  json?: string;
  minTime: number;
  warmup: number;
  baseline?: boolean;
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

/** What `--json FILE` writes: `results` rows with exactly the contract fields, plus fits and ratios. */
export function jsonReport(results: readonly BenchResult[], options: BenchOptions) {
  return {
    results: results.map((r) => ({
      name: r.name,
      size: r.size,
      p50_ns: r.p50_ns,
      p99_ns: r.p99_ns,
      p999_ns: r.p999_ns,
      ops_per_s: r.ops_per_s,
    })),
    fits: fitCosts(results),
    ratios: ratios(results, ratioPairs(results)),
    settings: { warmup_ms: options.warmupMs, min_time_ms: options.minTimeMs, batch_target_ns: options.batchTargetNs },
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
  const { sizes } = flags;
  const algs = selectAlgs(flags.algs, flags.baseline !== false);
  const options: BenchOptions = {
    ...DEFAULT_BENCH_OPTIONS,
    warmupMs: flags.warmup,
    minTimeMs: flags.minTime,
    progress: (line) => process.stderr.write(`bench: ${line}\n`),
  };
  const cases = [...(await cryptoCases(sizes, algs)), ...(await pdcpCases(sizes, algs))];
  process.stderr.write(
    `bench: ${cases.length} rows, ~${Math.ceil((cases.length * (options.warmupMs + options.minTimeMs)) / 1000)} s ` +
      `(batches of ~${options.batchTargetNs / 1000} us, ${options.minTimeMs} ms per row)\n`,
  );
  const results = runBench(cases, options);
  const report = jsonReport(results, options);
  process.stdout.write(formatReport(results, report.fits, report.ratios));
  if (flags.json !== undefined) {
    writeJsonFile(flags.json, report);
    process.stderr.write(`bench: wrote ${flags.json}\n`);
  }
  if (flags.report !== undefined) {
    const { writeCryptoReport } = await import('../report/crypto-report.js');
    try {
      for (const f of writeCryptoReport(flags.report, report)) process.stderr.write(`bench: wrote ${f}\n`);
    } catch (err) {
      throw cannotWrite(`the report to ${flags.report}`, err);
    }
  }
}
