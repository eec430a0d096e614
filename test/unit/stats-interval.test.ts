/**
 * src/stats/interval.ts: the order-statistic interval of the median, exact coverage, paired
 * differences and ratios, and how they read. Coverage is checked against known distributions
 * over many trials drawn from seeded generators, so the counts are the same on every run.
 */
import { describe, expect, it } from 'vitest';
import { seededRandom, type RandomSource } from '../../src/medium/random.js';
import {
  CONFIDENCE,
  REPETITIONS,
  formatDifference,
  formatInterval,
  formatRatio,
  judge,
  mapInterval,
  medianInterval,
  minRepetitions,
  orderStatisticCoverage,
  pairedDifference,
  pairedRatio,
} from '../../src/stats/interval.js';

/** Distributions with a known median: light and heavy tails, skewed and symmetric. */
const DISTRIBUTIONS: Array<{ name: string; median: number; draw: (rng: RandomSource) => number }> = [
  { name: 'uniform(0, 1)', median: 0.5, draw: (rng) => rng() },
  { name: 'exponential(1)', median: Math.LN2, draw: (rng) => -Math.log(1 - rng()) },
  { name: 'lognormal(2, 1)', median: Math.exp(2), draw: (rng) => Math.exp(2 + normal(rng)) },
  { name: 'Cauchy(0, 1)', median: 0, draw: (rng) => Math.tan(Math.PI * (rng() - 0.5)) },
  // A latency-like mixture: mostly ~5 µs, one in ten a 50-500 µs stall.
  {
    name: 'stall mixture',
    median: mixtureMedian(),
    draw: (rng) => (rng() < 0.9 ? 5 + rng() : 50 + 450 * rng()),
  },
];

function normal(rng: RandomSource): number {
  // Box-Muller; 1 - rng() is in (0, 1].
  return Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
}

/** The mixture's median: the 0.5 / 0.9 quantile of its uniform(5, 6) part. */
function mixtureMedian(): number {
  return 5 + 0.5 / 0.9;
}

describe('orderStatisticCoverage', () => {
  it('is the binomial probability of the median lying between two order statistics', () => {
    expect(orderStatisticCoverage(5, 1)).toBeCloseTo(1 - 2 / 32, 12);
    expect(orderStatisticCoverage(6, 1)).toBeCloseTo(1 - 2 / 64, 12);
    // n = 10, k = 2: 1 - 2 (1 + 10) / 1024.
    expect(orderStatisticCoverage(10, 2)).toBeCloseTo(1 - 22 / 1024, 12);
    expect(orderStatisticCoverage(1, 1)).toBe(0);
    expect(() => orderStatisticCoverage(5, 4)).toThrow(RangeError);
    expect(() => orderStatisticCoverage(0, 1)).toThrow(RangeError);
  });

  it('needs 6 repetitions for 95 %', () => {
    expect(minRepetitions(0.95)).toBe(6);
    expect(REPETITIONS).toBe(6);
    expect(minRepetitions(0.99)).toBe(8);
  });
});

describe('medianInterval', () => {
  it('picks the narrowest order statistics that still reach the level', () => {
    const xs = [9, 1, 8, 2, 7, 3, 6, 4, 5, 10];
    // n = 10: k = 2 covers 97.9 %, k = 3 only 89 %.
    expect(medianInterval(xs)).toEqual({ median: 5.5, low: 2, high: 9, n: 10, level: 1 - 22 / 1024 });
    expect(medianInterval([3, 1, 2, 6, 5, 4])).toMatchObject({ median: 3.5, low: 1, high: 6, level: 1 - 2 / 64 });
  });

  it('says how far short it falls with too few repetitions, and leaves out what is not a number', () => {
    expect(medianInterval([4, 2, 3, 1, 5])).toEqual({ median: 3, low: 1, high: 5, n: 5, level: 0.9375 });
    expect(medianInterval([7])).toEqual({ median: 7, low: 7, high: 7, n: 1, level: 0 });
    expect(medianInterval([NaN, 1, Infinity, 3])).toMatchObject({ median: 2, n: 2 });
    expect(medianInterval([])).toBeNull();
    expect(medianInterval([NaN])).toBeNull();
  });

  it('holds thousands of repetitions without underflow', () => {
    const xs = Array.from({ length: 4000 }, (_, i) => i);
    const i = medianInterval(xs)!;
    expect(i.level).toBeGreaterThanOrEqual(CONFIDENCE);
    expect(i.level).toBeLessThan(0.96);
    // About ±1.96 sqrt(n) / 2 ranks around the middle.
    expect(i.high - i.low).toBeGreaterThan(110);
    expect(i.high - i.low).toBeLessThan(140);
  });

  it.each(DISTRIBUTIONS)('contains the true median of $name as often as its level says', ({ median, draw }) => {
    const rng = seededRandom(0x5eed);
    const trials = 4000;
    for (const n of [6, 9, 20]) {
      let hits = 0;
      let level = 0;
      for (let t = 0; t < trials; t++) {
        const i = medianInterval(Array.from({ length: n }, () => draw(rng)))!;
        level = i.level;
        if (i.low <= median && median <= i.high) hits++;
      }
      // The exact coverage, within 4 standard errors (seeded: the same count every run).
      const se = Math.sqrt((level * (1 - level)) / trials);
      expect(level).toBeGreaterThanOrEqual(CONFIDENCE);
      expect(Math.abs(hits / trials - level), `n = ${n}: ${hits} of ${trials}`).toBeLessThan(4 * se);
    }
  });
});

describe('paired differences and ratios', () => {
  it('finds a real shift and only rarely one that is not there', () => {
    const rng = seededRandom(0xd1ff);
    const trials = 2000;
    let found = 0;
    let falseAlarms = 0;
    let covered = 0;
    for (let t = 0; t < trials; t++) {
      // Pairs share the machine's state (a drift far larger than the shift), plus their own noise.
      const drift = Array.from({ length: 8 }, () => 100 * rng());
      const off = drift.map((d) => d + 5 * normal(rng));
      const on = drift.map((d) => d + 30 + 5 * normal(rng));
      const same = drift.map((d) => d + 5 * normal(rng));
      const d = pairedDifference(on, off)!;
      if (d.measurable && d.low > 0) found++;
      if (d.low <= 30 && 30 <= d.high) covered++;
      if (pairedDifference(same, off)!.measurable) falseAlarms++;
    }
    expect(found / trials).toBeGreaterThan(0.95);
    expect(covered / trials).toBeGreaterThan(0.95);
    expect(falseAlarms / trials).toBeLessThan(0.05 + 4 * Math.sqrt((0.05 * 0.95) / trials));
  });

  it('judges against 0 for a difference and 1 for a ratio, at the full level only', () => {
    expect(pairedDifference([5, 6, 7, 8, 9, 10], [1, 1, 1, 1, 1, 1])).toMatchObject({ median: 6.5, low: 4, high: 9, measurable: true });
    expect(pairedDifference([1, 2, 3, 4, 5, 6], [2, 2, 2, 2, 2, 2])!.measurable).toBe(false);
    // Five pairs all above 0: [min, max] excludes 0, but only at 93.75 %.
    expect(pairedDifference([2, 3, 4, 5, 6], [1, 1, 1, 1, 1])).toMatchObject({ low: 1, high: 5, measurable: false });
    expect(pairedRatio([1, 1, 1, 1, 1, 1], [4, 4, 5, 4, 4, 4])).toMatchObject({ median: 0.25, low: 0.2, high: 0.25, measurable: true });
    expect(pairedRatio([1, 1.1, 0.9, 1, 1.05, 0.95], [1, 1, 1, 1, 1, 1])!.measurable).toBe(false);
    expect(() => pairedDifference([1, 2], [1])).toThrow(RangeError);
    expect(judge(medianInterval([-3, -2, -1, -4, -5, -6])!).measurable).toBe(true);
  });

  it('maps an interval through a rounding or a unit change', () => {
    const d = judge(medianInterval([1004, 2004, 3006, 4001, 5000, 6000])!);
    expect(mapInterval(d, (v) => Math.round(v / 1000))).toMatchObject({ median: 4, low: 1, high: 6, measurable: true, n: 6 });
  });
});

describe('how intervals and differences read', () => {
  const us = (v: number): string => v.toFixed(0);

  it('prints an interval, and its level when repetitions were too few', () => {
    expect(formatInterval(medianInterval([3, 1, 2, 6, 5, 4]), us)).toBe('4 [1, 6]');
    expect(formatInterval(medianInterval([3, 1, 2]), us)).toBe('2 [1, 3] (75 % CI: 3 repetitions)');
    expect(formatInterval(null, us)).toBe('-');
  });

  it('never prints a difference whose interval contains 0 as a cost or a gain', () => {
    // The shape of the issue: a p99 that moved by -3316 µs out of noise.
    const noise = pairedDifference([900, 5000, 1200, 800, 7000, 1000], [4216, 1000, 1100, 5000, 900, 1300])!;
    expect(noise.measurable).toBe(false);
    expect(formatDifference(noise, us, 'µs')).toBe('no measurable difference (±6100 µs)');
    expect(formatDifference(noise, us, 'µs')).not.toMatch(/-\d/);
    const real = pairedDifference([510, 520, 505, 530, 515, 525], [100, 110, 90, 120, 105, 95])!;
    expect(formatDifference(real, us, 'µs')).toBe('+410 µs [+410, +430]');
    const faster = pairedDifference([100, 110, 90, 120, 105, 95], [510, 520, 505, 530, 515, 525])!;
    expect(formatDifference(faster, us)).toBe('-410 [-430, -410]');
    expect(formatDifference(null, us)).toBe('-');
  });

  it('prints a ratio, or how close to 1 it could be', () => {
    expect(formatRatio(pairedRatio([1, 1, 1, 1, 1, 1], [4, 4, 5, 4, 4, 4]))).toBe('0.250 [0.200, 0.250]');
    expect(formatRatio(pairedRatio([1, 1.1, 0.9, 1, 1.05, 0.95], [1, 1, 1, 1, 1, 1]))).toBe('no measurable difference (±10 %)');
  });
});
