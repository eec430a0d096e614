/**
 * A token bucket with time passed in (ms). Used to bound key derivations for (sender, PTK ID)
 * pairs the receiver has not cached: a flood of forged headers costs at most `ratePerSec`
 * derivations per second after an initial `burst`.
 */
export class TokenBucket {
  private tokens: number;
  private lastMs = -Infinity;

  constructor(
    readonly burst: number,
    readonly ratePerSec: number,
  ) {
    if (!(burst >= 1)) throw new RangeError(`burst: expected a number >= 1, got ${burst}`);
    if (!(ratePerSec >= 0)) throw new RangeError(`ratePerSec: expected a number >= 0, got ${ratePerSec}`);
    this.tokens = burst;
  }

  /** Takes one token if available at `nowMs`. A clock going backwards adds nothing. */
  tryTake(nowMs: number): boolean {
    if (nowMs > this.lastMs) {
      if (this.lastMs !== -Infinity) {
        this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.lastMs) * this.ratePerSec) / 1000);
      }
      this.lastMs = nowMs;
    }
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }

  /** Tokens left (fractional), for metrics. */
  get available(): number {
    return this.tokens;
  }
}
