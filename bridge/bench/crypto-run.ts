/**
 * `sl-bridge bench crypto`: flag validation, the run, and the outputs (table on stdout, progress
 * on stderr, optional JSON file).
 */
import { CliError, cannotWrite, writeJsonFile } from '../cli-error.js';
import { ALL_CRYPTO_ALGS, BASELINE_OF, CRYPTO_ALGS, DEFAULT_SIZES, cryptoCases } from './crypto-cases.js';
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

export interface BenchCryptoFlags {
  sizes?: string;
  algs?: string;
  json?: string;
  minTime?: string;
  warmup?: string;
  baseline?: boolean;
  /** Directory for the SVG report (bridge/report/crypto-report.ts). */
  report?: string;
}

export const MAX_BENCH_SIZE = 65536;

/** Parses `--sizes 16,64,...`: positive integers up to 64 KiB, duplicates dropped. */
export function parseSizes(text: string | undefined): number[] {
  if (text === undefined) return [...DEFAULT_SIZES];
  const parts = text.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) throw new CliError(`--sizes: expected a comma-separated list of byte counts, got ${JSON.stringify(text)}`, 2);
  const sizes = parts.map((p) => {
    const n = Number(p);
    if (!/^\d+$/.test(p) || !Number.isInteger(n) || n <= 0) throw new CliError(`--sizes: ${JSON.stringify(p)} is not a positive integer`, 2);
    if (n > MAX_BENCH_SIZE) throw new CliError(`--sizes: ${n} is larger than the ${MAX_BENCH_SIZE}-byte maximum`, 2);
    return n;
  });
  return [...new Set(sizes)];
}

/** Parses `--algs nea1,...`; the baselines of nea2/nia2 are added unless `withBaselines` is false. */
export function parseAlgs(text: string | undefined, withBaselines: boolean): string[] {
  if (text === undefined) return [...CRYPTO_ALGS];
  const algs = text.split(',').map((s) => s.trim().toLowerCase());
  for (const a of algs) {
    if (!ALL_CRYPTO_ALGS.includes(a)) {
      throw new CliError(`--algs: unknown algorithm ${JSON.stringify(a)}; known: ${ALL_CRYPTO_ALGS.join(', ')}`, 2);
    }
  }
  const out = [...new Set(algs)];
  if (withBaselines) {
    for (const a of [...out]) {
      const b = BASELINE_OF[a];
      if (b && !out.includes(b)) out.push(b);
    }
  }
  return out;
}

function parseMs(name: string, text: string | undefined, dflt: number): number {
  if (text === undefined) return dflt;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new CliError(`${name}: expected a positive number of milliseconds, got ${JSON.stringify(text)}`, 2);
  return n;
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
  const sizes = parseSizes(flags.sizes);
  const algs = parseAlgs(flags.algs, flags.baseline !== false);
  const options: BenchOptions = {
    ...DEFAULT_BENCH_OPTIONS,
    warmupMs: parseMs('--warmup', flags.warmup, DEFAULT_BENCH_OPTIONS.warmupMs),
    minTimeMs: parseMs('--min-time', flags.minTime, DEFAULT_BENCH_OPTIONS.minTimeMs),
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
