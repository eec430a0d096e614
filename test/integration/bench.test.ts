/** The benchmark harness and `sl-bridge bench crypto` (shape and sanity only, never timings). */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ALL_CRYPTO_ALGS, cryptoCases, naiveCmacNia2 } from '../../bridge/bench/crypto-cases.js';
import { selectAlgs } from '../../bridge/bench/crypto-run.js';
import { fitCosts, measureCase, ratios, rowIntervals, runBench, type BenchResult } from '../../bridge/bench/harness.js';
import type { Interval } from '../../src/stats/interval.js';
import { percentile } from '../../src/stats/percentile.js';
import { createIntegrityEngine } from '../../src/crypto/index.js';
import { parseCommandLine } from '../fixtures/cli-parse.js';

const BIN = new URL('../../bin/sl-bridge.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'sl-bench-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A row whose six rounds had p50 + each of `jitter`. */
const row = (name: string, size: number, p50: number, jitter = [0, 0, 0, 0, 0, 0]): BenchResult => ({
  name,
  size,
  p50_ns: p50,
  p99_ns: p50,
  p999_ns: p50,
  ops_per_s: 1e9 / p50,
  batch: 1,
  samples: 1,
  rounds: jitter.map((j) => ({ p50_ns: p50 + j, p99_ns: p50 + j, p999_ns: p50 + j, ops_per_s: 1e9 / (p50 + j) })),
});

/** low <= median <= high, over as many repetitions as expected. */
function expectInterval(i: Interval, n: number): void {
  expect(i.n).toBe(n);
  expect(i.low).toBeLessThanOrEqual(i.median);
  expect(i.median).toBeLessThanOrEqual(i.high);
  expect(i.level).toBeGreaterThanOrEqual(0.95);
}

describe('harness', () => {
  it('takes nearest-rank percentiles', () => {
    const xs = Array.from({ length: 1000 }, (_, i) => i + 1);
    expect(percentile(xs, 50)).toBe(500);
    expect(percentile(xs, 99)).toBe(990);
    expect(percentile(xs, 99.9)).toBe(999);
    expect(percentile([7], 99.9)).toBe(7);
  });

  it('fits fixed cost + per-byte cost by least squares', () => {
    const rows = [16, 64, 128, 512, 1500].map((s) => row('x', s, 300 + 2.5 * s));
    rows.push(row('single', 128, 1000));
    const fits = fitCosts(rows);
    expect(fits).toHaveLength(1); // one size is not enough for a fit
    expect(fits[0]!.name).toBe('x');
    expect(fits[0]!.fixed_ns).toBeCloseTo(300, 5);
    expect(fits[0]!.per_byte_ns).toBeCloseTo(2.5, 5);
    // Every round on the same line: the per-round fits agree exactly.
    expect(fits[0]!.ci).toMatchObject({ fixed_ns: { median: 300, low: 300, high: 300, n: 6 }, per_byte_ns: { median: 2.5, low: 2.5, high: 2.5 } });
    // Rounds shifted by -10..+15 ns: the fixed cost's interval spans the shifts, the slope stays.
    const shifted = fitCosts([16, 64, 128, 512, 1500].map((s) => row('y', s, 300 + 2.5 * s, [-10, -5, 0, 5, 10, 15])));
    expect(shifted[0]!.ci!.fixed_ns).toMatchObject({ low: 290, high: 315, median: 302.5 });
    expect(shifted[0]!.ci!.per_byte_ns.median).toBe(2.5);
  });

  it('computes ratios to the baseline at the same size only, per round for the interval', () => {
    const rs = ratios([row('nea2', 128, 500), row('baseline-nea2', 128, 2000), row('nea2', 64, 400)], [['nea2', 'baseline-nea2']]);
    expect(rs).toEqual([
      { name: 'nea2', baseline: 'baseline-nea2', size: 128, p50_ratio: 0.25, ci: { median: 0.25, low: 0.25, high: 0.25, n: 6, level: 1 - 2 / 64, measurable: true } },
    ]);
    // Rounds of two rows within noise of each other: no measurable difference.
    const same = ratios([row('a', 16, 1000, [-40, 30, -10, 20, 0, -20]), row('b', 16, 1000, [10, -30, 40, -20, 0, 20])], [['a', 'b']]);
    expect(same[0]!.ci!.measurable).toBe(false);
  });

  it('runs the cases in interleaved rounds and reports each round and the intervals', () => {
    const order: string[] = [];
    const cases = ['a', 'b'].map((name) => ({
      name,
      size: 1,
      makeOp: () => {
        let x = 0;
        return () => {
          if (order.at(-1) !== name) order.push(name);
          x = Math.sqrt(x + 1);
        };
      },
    }));
    const between: number[] = [];
    const progress: number[] = [];
    const rs = runBench(cases, {
      warmupMs: 2,
      minTimeMs: 12,
      minSamples: 60,
      batchTargetNs: 20_000,
      rounds: 6,
      betweenRounds: (r) => void between.push(r),
      progress: (done, total) => void progress.push(done / total),
    });
    // Warm-up a then b, then six rounds of a then b.
    expect(order).toEqual(['a', 'b', ...Array.from({ length: 6 }, () => ['a', 'b']).flat()]);
    expect(between).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(progress).toEqual([...progress].sort((x, y) => x - y));
    expect(progress.at(-1)).toBe(1);
    for (const r of rs) {
      expect(r.rounds).toHaveLength(6);
      expect(r.samples).toBeGreaterThanOrEqual(60);
      const ci = rowIntervals(r);
      for (const i of Object.values(ci)) expectInterval(i, 6);
    }
  });

  it('measures a case in batches and reports ordered percentiles', () => {
    let calls = 0;
    const r = measureCase(
      { name: 'spin', size: 1, makeOp: () => () => void (calls += Math.sqrt(calls + 1) > 0 ? 1 : 0) },
      { warmupMs: 5, minTimeMs: 10, minSamples: 50, batchTargetNs: 20_000 },
    );
    expect(r.samples).toBeGreaterThanOrEqual(50);
    expect(r.batch).toBeGreaterThan(1); // a trivial op is batched
    expect(calls).toBeGreaterThanOrEqual(r.batch * r.samples);
    expect(r.p50_ns).toBeGreaterThan(0);
    expect(r.p99_ns).toBeGreaterThanOrEqual(r.p50_ns);
    expect(r.p999_ns).toBeGreaterThanOrEqual(r.p99_ns);
    expect(r.ops_per_s).toBeGreaterThan(0);
  });
});

describe('crypto cases', () => {
  it('builds a runnable case for every algorithm and size', async () => {
    const cases = await cryptoCases([1, 100], ALL_CRYPTO_ALGS);
    expect(cases.map((c) => `${c.name}/${c.size}`)).toEqual(ALL_CRYPTO_ALGS.flatMap((a) => [`${a}/1`, `${a}/100`]));
    for (const c of cases) {
      const op = c.makeOp();
      op();
      op();
    }
  });

  it('the naive NIA2 baseline computes the real 128-NIA2 MAC', () => {
    const key = Uint8Array.from({ length: 16 }, (_, i) => i * 17);
    for (const n of [0, 1, 8, 15, 16, 17, 100, 128]) {
      const data = Uint8Array.from({ length: n }, (_, i) => (i * 31) & 0xff);
      expect(naiveCmacNia2(key, 0xabcdef, data)).toBe(createIntegrityEngine(2, key).mac(0xabcdef, 0, 0, data));
    }
  });

  it('validates --sizes and --algs', async () => {
    const crypto = async (...args: string[]) => parseCommandLine(['bench', 'crypto', ...args]);
    expect((await crypto('--sizes', '128, 16,128')).opts).toMatchObject({ sizes: [128, 16] });
    expect((await crypto()).opts).toMatchObject({ sizes: [16, 64, 128, 512, 1500], minTime: 250, warmup: 50 });
    expect((await crypto('--sizes', '0')).stderr).toContain("error: option '--sizes <list>' argument '0' is invalid. \"0\": expected an integer from 1 to 65536");
    for (const bad of ['-5', 'abc', '1.5', '', '16,,64', '100000']) {
      expect((await crypto('--sizes', bad)).error?.code, bad).toBe('commander.invalidArgument');
    }
    expect((await crypto('--min-time', '0')).stderr).toContain("option '--min-time <ms>' argument '0' is invalid. expected a positive number");
    const algs = (await crypto('--algs', 'nia2,NEA2')).opts!.algs as string[];
    expect(algs).toEqual(['nia2', 'nea2']);
    expect(selectAlgs(algs, true)).toEqual(['nia2', 'nea2', 'baseline-nia2', 'baseline-nea2']);
    expect(selectAlgs(['nia2'], false)).toEqual(['nia2']);
    expect(selectAlgs(undefined, true)).toHaveLength(8);
    expect((await crypto('--algs', 'nea2,nea4')).stderr).toContain(`argument 'nea2,nea4' is invalid. "nea4": expected one of ${ALL_CRYPTO_ALGS.join(', ')}`);
  });
});

describe('sl-bridge bench crypto', () => {
  it('writes the JSON results contract, a table on stdout and progress on stderr', () => {
    const json = join(dir, 'out.json');
    const r = spawnSync(
      process.execPath,
      [BIN, 'bench', 'crypto', '--sizes', '16,128', '--algs', 'nea1,nia3,nea2,nia2', '--min-time', '15', '--warmup', '5', '--json', json],
      { encoding: 'utf8' },
    );
    expect(r.status, r.stderr).toBe(0);
    // Progress without a terminal: a few plain lines that only go forward.
    const progress = r.stderr.split('\n').filter((l) => /^bench crypto: \d+%/.test(l));
    expect(progress.length).toBeLessThanOrEqual(11);
    expect(progress.at(-1)).toMatch(/^bench crypto: 100% /);
    const pcts = progress.map((l) => Number(/(\d+)%/.exec(l)![1]));
    expect(pcts).toEqual([...pcts].sort((a, b) => a - b));
    const out = JSON.parse(readFileSync(json, 'utf8')) as {
      run: { command: string; commit: string; host: string; node: string; cores: number; flags: Record<string, unknown> };
      unreliable: boolean;
      stall_lost_pct: number;
      stalls: { lost_pct: number; ci: { windows: number; lost_pct: Interval } };
      results: Record<string, unknown>[];
      fits: { name: string; ci: { fixed_ns: Interval; per_byte_ns: Interval } }[];
      ratios: { name: string; baseline: string; size: number; p50_ratio: number; ci: Interval & { measurable: boolean } }[];
    };
    expect(out.run).toMatchObject({ command: 'bench crypto', node: process.version, flags: { sizes: [16, 128], minTime: 15, rounds: 6 } });
    expect(out.run.commit).toBe(execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim());
    // The stall meter ran before each of the 6 rounds and after the last: the 5 % rule on its figure.
    expect(out.stalls.ci.windows).toBe(7);
    expect(out.stall_lost_pct).toBe(out.stalls.lost_pct);
    expect(out.unreliable).toBe(out.stall_lost_pct > 5);
    expect(r.stdout).toContain(out.unreliable ? `UNRELIABLE RUN: this machine lost ${out.stall_lost_pct} %` : `machine check: ${out.stall_lost_pct} %`);
    const names = ['nea1', 'nia3', 'nea2', 'nia2', 'baseline-nea2', 'baseline-nia2'];
    const crypto = out.results.filter((x) => names.includes(x.name as string));
    expect(crypto.map((x) => `${x.name as string}/${x.size as number}`)).toEqual(names.flatMap((n) => [`${n}/16`, `${n}/128`]));
    for (const x of out.results) {
      expect(Object.keys(x).sort()).toEqual(['ci', 'name', 'ops_per_s', 'p50_ns', 'p999_ns', 'p99_ns', 'rounds', 'size']);
      const ci = x.ci as Record<string, Interval>;
      expect(Object.keys(ci).sort()).toEqual(['ops_per_s', 'p50_ns', 'p999_ns', 'p99_ns']);
      for (const i of Object.values(ci)) expectInterval(i, 6);
      expect(x.rounds).toHaveLength(6);
      expect(x.ops_per_s as number).toBeGreaterThan(0);
      expect(x.p50_ns as number).toBeGreaterThan(0);
      expect(x.p99_ns as number).toBeGreaterThanOrEqual(x.p50_ns as number);
      expect(x.p999_ns as number).toBeGreaterThanOrEqual(x.p99_ns as number);
    }
    expect(out.fits.map((f) => f.name)).toEqual(expect.arrayContaining(names));
    expect(out.ratios.map((x) => `${x.name}:${x.baseline}:${x.size}`).sort()).toEqual(
      ['nea2:baseline-nea2:128', 'nea2:baseline-nea2:16', 'nia2:baseline-nia2:128', 'nia2:baseline-nia2:16'],
    );
    for (const x of out.ratios) {
      expect(x.p50_ratio).toBeGreaterThan(0);
      expectInterval(x.ci, 6);
      expect(typeof x.ci.measurable).toBe('boolean');
    }
    for (const f of out.fits) {
      expectInterval(f.ci.fixed_ns, 6);
      expectInterval(f.ci.per_byte_ns, 6);
    }
    expect(r.stdout).toContain('median of 6 interleaved rounds [95 % confidence interval]:');
    expect(r.stdout).toMatch(/^name\s+size\s+p50_ns\s+p99_ns\s+p99\.9_ns\s+ops\/s$/m);
    expect(r.stdout).toMatch(/^nia3\s+128\s+[\d.]+ \[[\d.]+, [\d.]+\]\s/m);
    expect(r.stdout).toContain('ratio of p50 to the naive baseline');
  });

  it.each([
    [['--algs', 'nea2,foo'], /option '--algs <list>' argument 'nea2,foo' is invalid\. "foo": expected one of nea1, /],
    [['--sizes', '0'], /option '--sizes <list>' argument '0' is invalid\. "0": expected an integer from 1 to 65536/],
    [['--sizes', '-16'], /option '--sizes <list>' argument '-16' is invalid/],
    [['--min-time', 'x'], /option '--min-time <ms>' argument 'x' is invalid\. expected a positive number/],
  ])('rejects bad flags %j with a clear error', (args, message) => {
    const r = spawnSync(process.execPath, [BIN, 'bench', 'crypto', ...args], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });

  it('is a command group whose help lists crypto', () => {
    const r = spawnSync(process.execPath, [BIN, 'bench', '--help'], { encoding: 'utf8' });
    expect(r.stdout).toMatch(/^\s+crypto\b/m);
    const c = spawnSync(process.execPath, [BIN, 'bench', 'crypto', '--help'], { encoding: 'utf8' });
    expect(c.stdout).toContain('--sizes');
    expect(c.stdout).toContain('baseline-nia2');
  });
});
