/** The pure parts of the PKMF hardening, with time passed in: per-UE rate limits, log summaries. */
import { describe, expect, it } from 'vitest';
import { EventSummarizer } from '../../src/pkmf/event-summary.js';
import { ErrorCode, errorCodeByName, errorName, isTransient } from '../../src/pkmf/errors.js';
import { KeyedRateLimiter } from '../../src/pkmf/rate-limit.js';

describe('KeyedRateLimiter (a token bucket per SUPI)', () => {
  it('allows a burst, then the sustained rate, per key independently', () => {
    const l = new KeyedRateLimiter({ burst: 3, perMinute: 60 });
    const t0 = 1_000_000;
    expect([1, 2, 3, 4].map(() => l.tryTake('a', t0))).toEqual([true, true, true, false]);
    expect(l.tryTake('b', t0)).toBe(true); // another UE has its own budget
    expect(l.tryTake('a', t0 + 999)).toBe(false);
    expect(l.tryTake('a', t0 + 1_000)).toBe(true); // one a second
    expect(l.tryTake('a', t0 + 1_500)).toBe(false);
    // A clock going backwards adds nothing.
    expect(l.tryTake('a', t0)).toBe(false);
  });

  it('forgets buckets that are full again, bounding its memory', () => {
    const l = new KeyedRateLimiter({ burst: 2, perMinute: 60 }, 100);
    for (let i = 0; i < 100; i++) l.tryTake(`ue${i}`, 0);
    expect(l.size).toBe(100);
    expect(l.sweep(1_999)).toBe(100); // 2 tokens at 1/s: full again after 2 s
    expect(l.sweep(2_000)).toBe(0);
    for (let i = 0; i < 100; i++) l.tryTake(`ue${i}`, 10_000);
    l.tryTake('one-more', 12_000); // above the bound: full ones are swept first
    expect(l.size).toBe(1);
  });

  it('refuses a nonsensical limit', () => {
    expect(() => new KeyedRateLimiter({ burst: 0, perMinute: 1 })).toThrow(RangeError);
    expect(() => new KeyedRateLimiter({ burst: 1, perMinute: 0 })).toThrow(RangeError);
  });
});

describe('EventSummarizer (rate-limited warn lines)', () => {
  it('reports the first event at once, then at most one summary per interval', () => {
    const s = new EventSummarizer(10_000);
    expect(s.record(0, 'ERR_SSL_X', '127.0.0.9')).toEqual({ count: 1, firstMs: 0, lastMs: 0, reasons: { ERR_SSL_X: 1 }, lastDetail: '127.0.0.9' });
    for (let t = 1; t <= 1_000; t++) expect(s.record(t, t % 2 ? 'deadline' : 'ECONNRESET')).toBeUndefined();
    expect(s.pending).toBe(1_000);
    expect(s.dueAt()).toBe(10_000);
    expect(s.flush(10_000)).toEqual({ count: 1_000, firstMs: 1, lastMs: 1_000, reasons: { deadline: 500, ECONNRESET: 500 } });
    expect(s.flush(10_001)).toBeUndefined();
    expect(s.dueAt()).toBeUndefined();
    expect(s.record(15_000, 'x')).toBeUndefined(); // within the interval of the last summary
    expect(s.record(20_000, 'x')).toMatchObject({ count: 2, firstMs: 15_000 });
    expect(s.total).toBe(1_003);
  });

  it('bounds the distinct reasons', () => {
    const s = new EventSummarizer(1_000, 2);
    s.record(0, 'a'); // reported at once
    s.record(1, 'b');
    s.record(2, 'c');
    s.record(3, 'd');
    s.record(4, 'b');
    expect(s.flush(5)!.reasons).toEqual({ b: 2, c: 1, other: 1 });
  });
});

describe('RATE_LIMITED', () => {
  it('is a transient error code with a name', () => {
    expect(ErrorCode.RATE_LIMITED).toBe(12);
    expect(errorName(ErrorCode.RATE_LIMITED)).toBe('RATE_LIMITED');
    expect(errorCodeByName('RATE_LIMITED')).toBe(12);
    expect(isTransient(ErrorCode.RATE_LIMITED)).toBe(true);
  });
});
