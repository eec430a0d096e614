/**
 * Anti-replay window over the 32-bit COUNT, after RFC 6479 ("IPsec Anti-Replay Algorithm without
 * Bit Shifting"): a ring of 32-bit words; advancing the window clears whole words instead of
 * shifting a bitmap. docs/protocol.md 6: duplicates and COUNTs older than the window are rejected,
 * reordering within the window is accepted.
 *
 * Use `check()` before the expensive work and `update()` only after the PDU authenticated
 * (RFC 6479 section 2: an unauthenticated packet must not move the window).
 */

const WORD_BITS = 32;

export class ReplayWindow {
  /** Number of COUNT values behind the highest one that can still be accepted. */
  readonly size: number;
  private readonly words: Uint32Array;
  private readonly wordMask: number;
  /** Highest COUNT accepted so far; -1 before the first. */
  private top = -1;
  /** COUNTs below it are rejected: they may have been accepted before a restart (replay-marks.ts). */
  readonly floor: number;

  /**
   * @param words ring size in 32-bit words, a power of two >= 2; the usable window is
   *   (words - 1) * 32 COUNT values (RFC 6479 3: one word is the one being filled).
   * @param floor every COUNT below it is rejected (default 0).
   */
  constructor(words = 64, floor = 0) {
    this.floor = floor;
    if (!Number.isInteger(words) || words < 2 || (words & (words - 1)) !== 0 || words > 1 << 20) {
      throw new RangeError(`words: expected a power of two from 2 to 2^20, got ${words}`);
    }
    this.words = new Uint32Array(words);
    this.wordMask = words - 1;
    this.size = (words - 1) * WORD_BITS;
  }

  /** Highest COUNT accepted, or -1. */
  get highest(): number {
    return this.top;
  }

  /** True when `count` (0..2^32-1) is neither a duplicate nor older than the window. */
  check(count: number): boolean {
    if (count < this.floor) return false;
    if (count > this.top) return true;
    if (this.top - count >= this.size) return false;
    const word = this.words[Math.floor(count / WORD_BITS) & this.wordMask]!;
    return (word & (1 << (count & (WORD_BITS - 1)))) === 0;
  }

  /** Records `count` as received. Call only after check() said true and the PDU authenticated. */
  update(count: number): void {
    if (count > this.top) {
      const newWord = Math.floor(count / WORD_BITS);
      let clear = this.top < 0 ? this.words.length : newWord - Math.floor(this.top / WORD_BITS);
      if (clear > this.words.length) clear = this.words.length;
      // RFC 6479 3: zero the words the window slides over instead of shifting bits.
      for (let i = 0; i < clear; i++) this.words[(newWord - i) & this.wordMask] = 0;
      this.top = count;
    }
    const idx = Math.floor(count / WORD_BITS) & this.wordMask;
    this.words[idx] = this.words[idx]! | (1 << (count & (WORD_BITS - 1)));
  }
}
