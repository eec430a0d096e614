/**
 * Per-key request budgets for the PKMF (a token bucket per SUPI), time passed in (ms). Pure: no
 * clock, no I/O. The buckets are src/pdcp/token-bucket.ts; this adds the map of them and bounds
 * its size: a bucket that has refilled to its burst is the same as no bucket, so {@link sweep}
 * drops it.
 */
import { TokenBucket } from '../pdcp/token-bucket.js';

export interface RateLimit {
  /** Requests accepted at once from a key with a full bucket (>= 1). */
  burst: number;
  /** Sustained requests per minute (> 0). */
  perMinute: number;
}

interface Entry {
  bucket: TokenBucket;
  /** Time of the last take (ms): the bucket is full again at lastMs + refillMs. */
  lastMs: number;
}

export class KeyedRateLimiter {
  private readonly entries = new Map<string, Entry>();
  private readonly ratePerSec: number;
  /** How long an empty bucket takes to refill completely. */
  private readonly refillMs: number;

  constructor(
    readonly limit: RateLimit,
    /** Above this many keys, full buckets are swept on the next take. */
    readonly sweepAbove = 10_000,
  ) {
    if (!(limit.perMinute > 0)) throw new RangeError(`perMinute: expected a number > 0, got ${limit.perMinute}`);
    this.ratePerSec = limit.perMinute / 60;
    this.refillMs = (limit.burst / this.ratePerSec) * 1000;
    new TokenBucket(limit.burst, this.ratePerSec); // validates burst
  }

  /** Takes one token of `key` at `nowMs`: true if the request may proceed. */
  tryTake(key: string, nowMs: number): boolean {
    let e = this.entries.get(key);
    if (!e) {
      if (this.entries.size >= this.sweepAbove) this.sweep(nowMs);
      e = { bucket: new TokenBucket(this.limit.burst, this.ratePerSec), lastMs: nowMs };
      this.entries.set(key, e);
    }
    e.lastMs = Math.max(e.lastMs, nowMs);
    return e.bucket.tryTake(nowMs);
  }

  /** Drops the buckets that are full again at `nowMs`; returns how many remain. */
  sweep(nowMs: number): number {
    for (const [key, e] of this.entries) if (nowMs - e.lastMs >= this.refillMs) this.entries.delete(key);
    return this.entries.size;
  }

  /** Keys with a bucket (not full, or not swept yet). */
  get size(): number {
    return this.entries.size;
  }
}
