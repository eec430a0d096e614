/**
 * Confidence intervals for the benchmarks' figures: the median of a few repetitions (rounds,
 * slices, windows) with its 95 % interval, and the same for a difference measured in pairs.
 *
 * Order statistics, not a bootstrap. Of n independent repetitions of a continuous quantity, the
 * number that fall below its true median is Binomial(n, 1/2) whatever the distribution, so the
 * sorted values' [x(k), x(n+1-k)] holds the true median with probability 1 - 2 P(B <= k-1) (the
 * sign-test interval). That is exact and distribution-free from n = 6 on (n = 5 reaches 93.75 %
 * at best), needs no random numbers (the same data always gives the same interval), and needs
 * none of the dozens of repetitions a bootstrap of the median needs before its coverage is
 * right (with 5 values its percentile interval is [min, max] too, at the same 93.75 %).
 *
 * Differences are measured in pairs wherever the benches interleave (on/off slices in ABBA order,
 * variants in one round): the pairs' differences are independent repetitions of their own, so
 * the same interval of their median judges the difference, and a drift in machine load during
 * the run cancels within each pair. A difference is measurable only when its interval excludes
 * the neutral value (0 for a difference, 1 for a ratio) at the full confidence level.
 */
import { median } from './percentile.js';

/** The confidence level every bench reports. */
export const CONFIDENCE = 0.95;

/** Median of repetitions and its order-statistic confidence interval. */
export interface Interval {
  median: number;
  low: number;
  high: number;
  /** Repetitions the interval is based on. */
  n: number;
  /** Its exact coverage: at least CONFIDENCE from n = 6 on, less with fewer repetitions. */
  level: number;
}

/** An interval judged against a neutral value (0 for a difference, 1 for a ratio). */
export interface Judged extends Interval {
  /** The interval excludes the neutral value, at the full confidence level. */
  measurable: boolean;
}

/** log(n!) for the binomial terms (exact sums: n stays in the thousands at most). */
function logFactorials(n: number): Float64Array {
  const out = new Float64Array(n + 1);
  for (let i = 2; i <= n; i++) out[i] = out[i - 1]! + Math.log(i);
  return out;
}

/** P(B <= j) for B ~ Binomial(n, 1/2), for every j from 0 to n. */
function binomialHalfCdf(n: number): Float64Array {
  const lf = logFactorials(n);
  const cdf = new Float64Array(n + 1);
  let sum = 0;
  for (let j = 0; j <= n; j++) {
    // Terms far in the tails underflow to 0, which is what they are worth here.
    sum += Math.exp(lf[n]! - lf[j]! - lf[n - j]! - n * Math.LN2);
    cdf[j] = Math.min(1, sum);
  }
  return cdf;
}

/** Coverage of [x(k), x(n+1-k)] for the median of n independent continuous values (1 <= k <= (n+1)/2). */
export function orderStatisticCoverage(n: number, k: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`n: expected an integer >= 1, got ${n}`);
  if (!Number.isInteger(k) || k < 1 || 2 * k > n + 1) throw new RangeError(`k: expected an integer from 1 to ${Math.floor((n + 1) / 2)}, got ${k}`);
  return Math.max(0, 1 - 2 * binomialHalfCdf(n)[k - 1]!);
}

/** The fewest repetitions whose [min, max] reaches `level` (6 for 95 %). */
export function minRepetitions(level = CONFIDENCE): number {
  checkLevel(level);
  let n = 1;
  while (1 - 2 * 0.5 ** n < level) n++;
  return n;
}

/** Default repetitions (rounds, slices, windows) of every bench: the fewest that reach CONFIDENCE. */
export const REPETITIONS = minRepetitions(CONFIDENCE);

function checkLevel(level: number): void {
  if (!(level > 0 && level < 1)) throw new RangeError(`level: expected 0 < level < 1, got ${level}`);
}

/**
 * The median of `xs` and the narrowest order-statistic interval [x(k), x(n+1-k)] whose coverage
 * is at least `level`; with too few values for that, [min, max] and the lower level it reaches.
 * Non-finite values are left out; null when none is left.
 */
export function medianInterval(xs: readonly number[], level = CONFIDENCE): Interval | null {
  checkLevel(level);
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return null;
  const cdf = binomialHalfCdf(n);
  // Largest k whose interval still covers `level`; coverage falls as k grows.
  let k = 1;
  while (2 * (k + 1) <= n + 1 && 1 - 2 * cdf[k]! >= level) k++;
  return { median: median(s), low: s[k - 1]!, high: s[n - k]!, n, level: Math.max(0, 1 - 2 * cdf[k - 1]!) };
}

/** Judges an interval against `neutral`: measurable when it excludes it at the full `level`. */
export function judge(i: Interval, neutral = 0, level = CONFIDENCE): Judged {
  return { ...i, measurable: i.level >= level && (i.low > neutral || i.high < neutral) };
}

function checkPairs(a: readonly number[], b: readonly number[]): void {
  if (a.length !== b.length) throw new RangeError(`pairs: expected as many values on each side, got ${a.length} and ${b.length}`);
}

/** a_i - b_i for pairs measured side by side: the median difference, its interval, whether it is measurable. */
export function pairedDifference(a: readonly number[], b: readonly number[], level = CONFIDENCE): Judged | null {
  checkPairs(a, b);
  const i = medianInterval(a.map((x, k) => x - b[k]!), level);
  return i && judge(i, 0, level);
}

/** a_i / b_i for pairs measured side by side (b_i > 0): the median ratio, its interval, whether it is measurable. */
export function pairedRatio(a: readonly number[], b: readonly number[], level = CONFIDENCE): Judged | null {
  checkPairs(a, b);
  const i = medianInterval(a.map((x, k) => (b[k]! > 0 ? x / b[k]! : NaN)), level);
  return i && judge(i, 1, level);
}

/** Applies `f` to the three figures of an interval (rounding, unit changes); `f` must not decrease. */
export function mapInterval<T extends Interval>(i: T, f: (v: number) => number): T {
  return { ...i, median: f(i.median), low: f(i.low), high: f(i.high) };
}

/** `3.61 [3.42, 3.9]`; the level is added when it falls short of CONFIDENCE (too few repetitions). */
export function formatInterval(i: Interval | null, format: (v: number) => string): string {
  if (i === null) return '-';
  const base = `${format(i.median)} [${format(i.low)}, ${format(i.high)}]`;
  return i.level >= CONFIDENCE ? base : `${base} (${Math.floor(i.level * 1000) / 10} % CI: ${i.n} repetitions)`;
}

const signed = (v: number, format: (v: number) => string): string => (v > 0 ? '+' : '') + format(v);

/**
 * A difference for people: `+410 µs [+120, +800]` when measurable, otherwise
 * `no measurable difference (±800 µs)`: its interval reaches that far on either side of 0, so
 * nothing smaller can be told apart from noise (never a negative cost out of noise).
 * `unit` follows the numbers (`format` gives the bare number).
 */
export function formatDifference(d: Judged | null, format: (v: number) => string, unit = ''): string {
  if (d === null) return '-';
  const u = unit === '' ? '' : ` ${unit}`;
  if (!d.measurable) return `no measurable difference (±${format(Math.max(Math.abs(d.low), Math.abs(d.high)))}${u})`;
  return `${signed(d.median, format)}${u} [${signed(d.low, format)}, ${signed(d.high, format)}]`;
}

/**
 * A ratio for people: `0.251 [0.248, 0.256]` when measurable, otherwise
 * `no measurable difference (±4 %)` (how far from 1 its interval reaches).
 */
export function formatRatio(r: Judged | null, digits = 3): string {
  if (r === null) return '-';
  if (!r.measurable) {
    const spread = Math.max(Math.abs(r.low - 1), Math.abs(r.high - 1)) * 100;
    return `no measurable difference (±${Number(spread.toPrecision(2))} %)`;
  }
  return `${r.median.toFixed(digits)} [${r.low.toFixed(digits)}, ${r.high.toFixed(digits)}]`;
}
