/**
 * Histograms for per-packet timings, cheap enough to record on the packet path (a few integer
 * operations, no allocation, no label hashing):
 *
 * - {@link LogLinearHistogram}: 16 sub-buckets per power of two of integer nanoseconds (HDR
 *   style, relative bucket width <= 1/16), exact below 32 ns, up to 2^31 ns (2.1 s; larger values
 *   land in the last bucket). Gives percentiles within ~3% and can be subtracted (interval
 *   figures from two cumulative snapshots) and serialised sparsely.
 * - {@link StageHistogram}: one timed quantity: a log-linear histogram plus counts over fixed
 *   Prometheus bucket bounds, a count and a sum, which is exactly what a Prometheus histogram
 *   exposes (`_bucket{le}`, `_sum`, `_count`).
 */

const SUB_BITS = 4;
const SUB = 1 << SUB_BITS; // 16
/** Values below this are their own bucket (exact). */
const LINEAR_LIMIT = SUB * 2; // 32
/** Largest power of two covered: 2^30 <= v < 2^31. */
const MAX_EXPONENT = 30;
export const LOG_LINEAR_BUCKETS = LINEAR_LIMIT + (MAX_EXPONENT - SUB_BITS) * SUB; // 448

/** Bucket index of `ns` (any number; rounded, clamped to 0 .. 2^31 - 1). */
export function logLinearIndex(ns: number): number {
  if (!(ns > 0)) return 0; // also NaN
  if (ns >= 0x7fffffff) return LOG_LINEAR_BUCKETS - 1;
  const v = Math.round(ns) | 0;
  if (v < LINEAR_LIMIT) return v;
  const e = 31 - Math.clz32(v); // 5 .. 30
  return LINEAR_LIMIT + (e - SUB_BITS - 1) * SUB + ((v >>> (e - SUB_BITS)) - SUB);
}

/** [low, high) of bucket `index`, in ns. */
export function logLinearBounds(index: number): [number, number] {
  if (index < LINEAR_LIMIT) return [index, index + 1];
  const k = index - LINEAR_LIMIT;
  const e = Math.floor(k / SUB) + SUB_BITS + 1;
  const m = (k % SUB) + SUB;
  const shift = 2 ** (e - SUB_BITS);
  return [m * shift, (m + 1) * shift];
}

/** The value a bucket stands for: its exact value below 32 ns, else its midpoint. */
function representative(index: number): number {
  const [lo, hi] = logLinearBounds(index);
  return index < LINEAR_LIMIT ? lo : (lo + hi) / 2;
}

export class LogLinearHistogram {
  readonly counts: Float64Array;
  count = 0;
  sumNs = 0;
  minNs = Infinity;
  maxNs = 0;

  constructor(counts?: Float64Array) {
    this.counts = counts ?? new Float64Array(LOG_LINEAR_BUCKETS);
    if (this.counts.length !== LOG_LINEAR_BUCKETS) throw new RangeError(`counts: expected ${LOG_LINEAR_BUCKETS} buckets, got ${this.counts.length}`);
    if (counts !== undefined) {
      for (let i = 0; i < counts.length; i++) {
        const c = counts[i]!;
        if (c === 0) continue;
        this.count += c;
        this.sumNs += c * representative(i);
        this.minNs = Math.min(this.minNs, logLinearBounds(i)[0]);
        this.maxNs = Math.max(this.maxNs, logLinearBounds(i)[1]);
      }
    }
  }

  record(ns: number): void {
    this.counts[logLinearIndex(ns)]! += 1;
    this.count++;
    this.sumNs += ns;
    if (ns < this.minNs) this.minNs = ns;
    if (ns > this.maxNs) this.maxNs = ns;
  }

  /** Nearest-rank percentile in ns (NaN when empty), as the bucket's midpoint, within [min, max]. */
  percentile(p: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count - 1e-9));
    let seen = 0;
    for (let i = 0; i < LOG_LINEAR_BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.maxNs, Math.max(this.minNs, representative(i)));
    }
    return this.maxNs;
  }

  /** Points of the cumulative distribution: [upper bound of a non-empty bucket in ns, fraction <= it]. */
  cdf(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    if (this.count === 0) return out;
    let seen = 0;
    for (let i = 0; i < LOG_LINEAR_BUCKETS; i++) {
      const c = this.counts[i]!;
      if (c === 0) continue;
      seen += c;
      out.push([logLinearBounds(i)[1], seen / this.count]);
    }
    return out;
  }

  /** Adds another histogram's counts into this one. */
  add(other: LogLinearHistogram): void {
    for (let i = 0; i < LOG_LINEAR_BUCKETS; i++) this.counts[i]! += other.counts[i]!;
    this.count += other.count;
    this.sumNs += other.sumNs;
    this.minNs = Math.min(this.minNs, other.minNs);
    this.maxNs = Math.max(this.maxNs, other.maxNs);
  }

  /** `this - earlier` (counts recorded since the snapshot `earlier` of the same histogram). */
  since(earlier: LogLinearHistogram): LogLinearHistogram {
    const counts = new Float64Array(LOG_LINEAR_BUCKETS);
    for (let i = 0; i < LOG_LINEAR_BUCKETS; i++) counts[i] = Math.max(0, this.counts[i]! - earlier.counts[i]!);
    const h = new LogLinearHistogram(counts);
    h.sumNs = this.sumNs - earlier.sumNs; // exact sums, not bucket midpoints
    return h;
  }

  /**
   * The distribution of x + y for x drawn from this histogram and y from `other`, independently
   * (e.g. protect + unprotect of one packet from the two calls' histograms). Each pair of buckets
   * adds at its midpoints, so the result is as coarse as its inputs (~3%).
   */
  convolve(other: LogLinearHistogram): LogLinearHistogram {
    const out = new LogLinearHistogram();
    if (this.count === 0 || other.count === 0) return out;
    const a: Array<[number, number]> = [];
    const b: Array<[number, number]> = [];
    for (let i = 0; i < LOG_LINEAR_BUCKETS; i++) {
      if (this.counts[i] !== 0) a.push([representative(i), this.counts[i]! / this.count]);
      if (other.counts[i] !== 0) b.push([representative(i), other.counts[i]! / other.count]);
    }
    // Weights scaled so the result holds as many samples as the larger input.
    const n = Math.max(this.count, other.count);
    for (const [va, pa] of a) for (const [vb, pb] of b) out.counts[logLinearIndex(va + vb)]! += pa * pb * n;
    out.count = n;
    out.sumNs = (this.sumNs / this.count + other.sumNs / other.count) * n;
    out.minNs = this.minNs + other.minNs;
    out.maxNs = this.maxNs + other.maxNs;
    return out;
  }

  copy(): LogLinearHistogram {
    const h = new LogLinearHistogram(this.counts.slice());
    h.sumNs = this.sumNs;
    h.minNs = this.minNs;
    h.maxNs = this.maxNs;
    return h;
  }

  /** Sparse form for JSON: [[bucket index, count], ...] plus the exact sum. */
  toJSON(): SerializedHistogram {
    const buckets: Array<[number, number]> = [];
    for (let i = 0; i < LOG_LINEAR_BUCKETS; i++) if (this.counts[i] !== 0) buckets.push([i, this.counts[i]!]);
    return { scheme: 'log-linear-16', count: this.count, sum_ns: this.sumNs, buckets };
  }

  static fromJSON(s: SerializedHistogram): LogLinearHistogram {
    if (s.scheme !== 'log-linear-16') throw new TypeError(`histogram scheme: expected "log-linear-16", got ${JSON.stringify(s.scheme)}`);
    const counts = new Float64Array(LOG_LINEAR_BUCKETS);
    for (const [i, c] of s.buckets) {
      if (!Number.isInteger(i) || i < 0 || i >= LOG_LINEAR_BUCKETS || !(c >= 0)) throw new RangeError(`histogram bucket [${i}, ${c}] out of range`);
      counts[i] = c;
    }
    const h = new LogLinearHistogram(counts);
    h.sumNs = s.sum_ns;
    return h;
  }
}

export interface SerializedHistogram {
  scheme: 'log-linear-16';
  count: number;
  sum_ns: number;
  buckets: Array<[number, number]>;
}

/**
 * Prometheus bucket upper bounds, ns: 50 ns .. 10 ms, dense around the 0.2-20 µs where PDCP
 * stages sit (`histogram_quantile` interpolates linearly inside a bucket).
 */
export const PROM_BOUNDS_NS: readonly number[] = [
  50, 100, 200, 300, 500, 750, 1_000, 1_500, 2_000, 3_000, 5_000, 7_500, 10_000, 15_000, 20_000, 30_000, 50_000,
  100_000, 200_000, 500_000, 1_000_000, 2_000_000, 5_000_000, 10_000_000,
];

export class StageHistogram {
  /** Per Prometheus bucket (not cumulative); the last slot counts values above every bound. */
  readonly promCounts = new Float64Array(PROM_BOUNDS_NS.length + 1);
  readonly fine = new LogLinearHistogram();

  record(ns: number): void {
    const v = ns > 0 ? ns : 0;
    this.fine.record(v);
    const bounds = PROM_BOUNDS_NS;
    let i = 0;
    while (i < bounds.length && v > bounds[i]!) i++;
    this.promCounts[i]! += 1;
  }

  get count(): number {
    return this.fine.count;
  }

  get sumNs(): number {
    return this.fine.sumNs;
  }
}
