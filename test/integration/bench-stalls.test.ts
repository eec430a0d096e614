/**
 * The stall meter (bridge/bench/stall-meter.ts) and `sl-bridge bench stalls`: the floor a
 * machine's stalls put under a short computation's percentiles, on synthetic traces whose answer
 * is known, the meter on an injected clock, and one short real run of the command.
 */
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { floorWithInterval, measureStalls, stallFloor, summarizeStalls } from '../../bridge/bench/stall-meter.js';
import type { Interval } from '../../src/stats/interval.js';
import { measureWake } from '../../bridge/bench/wake-meter.js';
import { parseCommandLine } from '../fixtures/cli-parse.js';
import { rateResults } from '../../bridge/bench/e2e-results.js';
import { sampleRun } from '../fixtures/e2e-sample.js';
import { periodic } from '../fixtures/stall-traces.js';

const BIN = new URL('../../bin/sl-bridge.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'sl-bench-stalls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('stallFloor', () => {
  it('is the CPU time itself on a machine that never stalls', () => {
    const f = stallFloor(periodic(1e6, 0, 1e6), 7.5, 10_000);
    expect(f).toEqual({ cpu_us: 7.5, p50: 7.5, p99: 7.5, p999: 7.5, hit_pct: 0 });
  });

  it('adds a stall to the share of starts that meet one', () => {
    // A 10 µs stall after every 100 µs of running: a 5 µs computation meets one in 5 % of starts.
    const f = stallFloor(periodic(100, 10), 5);
    expect(f.hit_pct).toBeGreaterThan(4.5);
    expect(f.hit_pct).toBeLessThan(5.5);
    expect(f.p50).toBe(5);
    expect(f.p99).toBe(15);
    expect(f.p999).toBe(15);
    // 1 µs: 1 % of starts hit, so the p99 sits right at the edge; 0.5 µs: below it.
    expect(stallFloor(periodic(100, 10), 0.5).p99).toBe(0.5);
  });

  it('draws the parts of a split computation at independent moments', () => {
    // Two 5 µs parts: 10 µs (90.25 %), 20 µs (9.5 %), 30 µs (0.25 %).
    const f = stallFloor(periodic(100, 10), [5, 5]);
    expect(f.cpu_us).toBe(10);
    expect(f.p50).toBe(10);
    expect(f.p99).toBe(20);
    expect(f.p999).toBe(30);
    expect(f.hit_pct).toBeGreaterThan(9);
    expect(f.hit_pct).toBeLessThan(10.5);
  });

  it('counts every stall a long computation runs through', () => {
    // 250 µs of CPU with a 10 µs stall every 100 µs: always 2 or 3 stalls.
    const f = stallFloor(periodic(100, 10), 250, 20_000);
    expect(f.p50 === 270 || f.p50 === 280).toBe(true);
    expect(f.p999).toBe(280);
    expect(f.hit_pct).toBe(100);
  });

  it('gives the same figures for the same trace', () => {
    const t = periodic(37, 4);
    expect(stallFloor(t, 3)).toEqual(stallFloor(t, 3));
  });

  it('refuses what it cannot answer', () => {
    expect(() => stallFloor(periodic(100, 10), 0)).toThrow(/cpuUs/);
    expect(() => stallFloor(periodic(100, 10), [])).toThrow(/cpuUs/);
    expect(() => stallFloor(periodic(100, 10), 5, 0)).toThrow(/samples/);
    expect(() => stallFloor(periodic(100, 10, 1000), 300)).toThrow(/too long/);
  });
});

describe('the floor in bench e2e results', () => {
  it('is computed per rate from the protect and unprotect p50s when the run has a stall trace', () => {
    const { records, results } = sampleRun({ ues: 3, rates: [100, 1000], perSender: 40, addedNs: 4000 });
    expect(results.every((r) => r.security.machine_floor_us === null)).toBe(true);
    const trace = periodic(100, 10);
    for (const r of rateResults(records, [100, 1000], 3, trace)) {
      const s = r.security;
      expect(s.machine_floor_us).toEqual(floorWithInterval(trace, [s.protect_us!.p50_us, s.unprotect_us!.p50_us]));
      // The floor over the whole trace is the one stallFloor gives; the interval comes from its windows.
      expect(s.machine_floor_us).toMatchObject(stallFloor(trace, [s.protect_us!.p50_us, s.unprotect_us!.p50_us]));
      expect(s.machine_floor_us!.ci!.p99.n).toBe(6);
    }
  });
});

describe('measureStalls', () => {
  it('records the gaps of an injected clock, and summarises them', () => {
    // 0.1 µs per reading; three jumps: 30 µs at reading 1000, 150 µs at 5000, 1.5 ms at 9000.
    let i = 0;
    let t = 0;
    const jumps = new Map([
      [1000, 0.03],
      [5000, 0.15],
      [9000, 1.5],
    ]);
    const trace = measureStalls({
      durationMs: 5,
      nowMs: () => {
        t += 0.0001 + (jumps.get(i++) ?? 0);
        return t;
      },
    });
    expect(Array.from(trace.lengthsUs, (l) => Math.round(l * 10) / 10)).toEqual([30.1, 150.1, 1500.1]);
    expect(trace.startsUs[0]).toBeCloseTo(99.9, 6);
    expect(trace.readings).toBeGreaterThan(9000);
    const s = summarizeStalls(trace);
    // Rates per second over a ~5.4 ms trace: 3 stalls > 20 µs, 2 > 100 µs, 1 > 1 ms.
    const seconds = trace.durationUs / 1e6;
    expect(s.per_s.over_20us).toBe(Math.round(3 / seconds));
    expect(s.per_s.over_100us).toBe(Math.round(2 / seconds));
    expect(s.per_s.over_1ms).toBe(Math.round(1 / seconds));
    expect(s.lost_pct).toBeCloseTo((100 * 1680.3) / trace.durationUs, 1);
    expect(s.length_us!.max).toBe(1500.1);
  });

  it('runs on the real clock: ordered stalls above the threshold, inside the measured time', () => {
    const trace = measureStalls({ durationMs: 30 });
    expect(trace.durationUs).toBeGreaterThanOrEqual(30_000);
    expect(trace.readings).toBeGreaterThan(0);
    for (let k = 0; k < trace.startsUs.length; k++) {
      expect(trace.lengthsUs[k]).toBeGreaterThan(trace.thresholdUs);
      // Starts and lengths are differences of one clock's readings: their sum is exact only up to
      // float rounding (seen: 22153.133000000023 vs ...027).
      if (k > 0) expect(trace.startsUs[k]).toBeGreaterThanOrEqual(trace.startsUs[k - 1]! + trace.lengthsUs[k - 1]! - 1e-6);
      expect(trace.startsUs[k]! + trace.lengthsUs[k]!).toBeLessThanOrEqual(trace.durationUs + 1e-6);
    }
  });

  it('refuses a bad duration or threshold', () => {
    expect(() => measureStalls({ durationMs: 0 })).toThrow(RangeError);
    expect(() => measureStalls({ durationMs: 1, thresholdUs: 0 })).toThrow(RangeError);
  });
});

describe('measureWake', () => {
  it('times a spin, a protect and an unprotect after sleeps and back to back', () => {
    const progress: number[] = [];
    const rows = measureWake({ gapUs: 50, samples: 240, sduBytes: 128, spinUs: 1, progress: (done, total) => void progress.push(done / total) });
    expect(rows.map((r) => r.name)).toEqual(['spin ~1 µs', 'protect-nea2-nia2 128 B', 'unprotect-nea2-nia2 128 B']);
    expect(progress).toEqual(Array.from({ length: 18 }, (_, i) => (i + 1) / 18));
    for (const r of rows) {
      // 6 rounds: each figure's median and interval, and what a sleep adds, judged against 0.
      for (const side of [r.ci.after_gap, r.ci.back_to_back]) for (const i of Object.values(side)) expect(i.low <= i.median && i.median <= i.high && i.n === 6).toBe(true);
      for (const d of Object.values(r.ci.added_us)) expect(d.measurable).toBe(d.level >= 0.95 && (d.low > 0 || d.high < 0));
      for (const f of [r.after_gap, r.back_to_back]) {
        expect(f.p50_us).toBeGreaterThan(0);
        expect(f.p90_us).toBeGreaterThanOrEqual(f.p50_us);
        expect(f.p99_us).toBeGreaterThanOrEqual(f.p90_us);
        expect(f.p999_us).toBeGreaterThanOrEqual(f.p99_us);
      }
    }
  });

  it('refuses bad settings', () => {
    expect(() => measureWake({ gapUs: 0, samples: 100, sduBytes: 128, spinUs: 1 })).toThrow(/gapUs/);
    expect(() => measureWake({ gapUs: 10, samples: 5, sduBytes: 128, spinUs: 1 })).toThrow(/samples/);
    expect(() => measureWake({ gapUs: 10, samples: 100, sduBytes: 128, spinUs: 0 })).toThrow(/spinUs/);
  });
});

describe('sl-bridge bench stalls', () => {
  it('validates its flags', async () => {
    const stalls = async (...args: string[]) => parseCommandLine(['bench', 'stalls', ...args]);
    expect((await stalls()).opts).toEqual({ seconds: 3, cpuUs: [2, 5, 10, 20], samples: 5000 });
    expect((await stalls('--seconds', '0.5', '--cpu-us', '4, 8,4', '--after-sleep', '500', '--samples', '100')).opts).toEqual({
      seconds: 0.5,
      cpuUs: [4, 8],
      afterSleep: 500,
      samples: 100,
    });
    for (const bad of [['--seconds', '0'], ['--seconds', 'x'], ['--cpu-us', '0'], ['--cpu-us', '5,abc'], ['--after-sleep', '0'], ['--after-sleep', 'x'], ['--samples', '10']]) {
      expect((await stalls(...bad)).error?.code, bad.join(' ')).toBe('commander.invalidArgument');
    }
    expect((await stalls('--seconds', '0')).stderr).toContain("error: option '--seconds <s>' argument '0' is invalid. expected seconds from 0.1 to 600");
    expect((await stalls('--after-spin', '2000')).opts).toMatchObject({ afterSpin: 2000 });
    expect((await stalls('--after-spin', '0')).error?.code).toBe('commander.invalidArgument');
    expect((await stalls('--after-sleep', '100', '--after-spin', '100')).error?.code).toBe('commander.conflictingOption');
  });

  /** `sl-bridge bench stalls ARGS --json JSON`, expected to succeed. */
  function runStalls(json: string, ...args: string[]): SpawnSyncReturns<string> {
    const r = spawnSync(process.execPath, [BIN, 'bench', 'stalls', ...args, '--json', json], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    return r;
  }

  it('--after-spin: the gap spent spinning on the clock, in the text and the JSON', () => {
    const json = join(dir, 'stalls-spin.json');
    const r = runStalls(json, '--seconds', '0.1', '--cpu-us', '5', '--after-spin', '100', '--samples', '120');
    expect(r.stdout).toMatch(/^one call right after 100 µs spinning on the clock vs back to back \(120 calls each in 6 rounds/m);
    expect(r.stdout).toMatch(/after spin {4}[\d.]+ \[/);
    expect(r.stdout).toMatch(/a spin adds {2}p50 /);
    const doc = JSON.parse(readFileSync(json, 'utf8')) as { run: { flags: Record<string, unknown> }; wake: { idle: string; gap_us: number; rows: Array<{ name: string; ci: { after_gap: Record<string, Interval> } }> } };
    expect(doc.run.flags).toMatchObject({ afterSpin: 100 });
    expect(doc.wake).toMatchObject({ idle: 'spin', gap_us: 100 });
    expect(doc.wake.rows.map((row) => row.name)).toEqual(['spin ~2 µs', 'protect-nea2-nia2 128 B', 'unprotect-nea2-nia2 128 B']);
    for (const row of doc.wake.rows) expect(row.ci.after_gap.p50_us!.n).toBe(6);
  });

  it('measures, prints the floor per CPU time and writes JSON', () => {
    const json = join(dir, 'stalls.json');
    const r = runStalls(json, '--seconds', '0.3', '--cpu-us', '5,10', '--after-sleep', '100', '--samples', '200');
    expect(r.stdout).toMatch(/^stalls over \d/m);
    expect(r.stdout).toMatch(/^ {2}per window \(6 x [\d.]+ ms; median \[95 % CI\]\): [\d.]+ \[[\d.]+, [\d.]+\] % of the time lost/m);
    expect(r.stdout).toMatch(/floor for a 5 µs computation: wall p50 [\d.]+ \[[\d.]+, [\d.]+\], p99 /);
    expect(r.stdout).toMatch(/^one call right after a 100 µs sleep vs back to back \(200 calls each in 6 rounds/m);
    expect(r.stdout).toMatch(/a sleep adds {2}p50 /);
    const doc = JSON.parse(readFileSync(json, 'utf8')) as {
      run: { command: string; commit: string; flags: Record<string, unknown> };
      unreliable: boolean;
      stall_lost_pct: number;
      stalls: { per_s: Record<string, number>; lost_pct: number; ci: { windows: number; lost_pct: Interval } };
      floors: Array<{ cpu_us: number; p50: number; p99: number; ci: { p50: Interval; p99: Interval } }>;
      wake: { idle: string; gap_us: number; samples: number; rows: Array<{ name: string; ci: { added_us: Record<string, Interval & { measurable: boolean }> } }> };
    };
    expect(doc.run).toMatchObject({ command: 'bench stalls', flags: { seconds: 0.3, cpuUs: [5, 10], afterSleep: 100 } });
    expect(doc.run.commit).toBe(execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim());
    expect(doc.stall_lost_pct).toBe(doc.stalls.lost_pct);
    expect(doc.unreliable).toBe(doc.stall_lost_pct > 5);
    expect(r.stdout).toContain(doc.unreliable ? 'UNRELIABLE RUN: ' : 'machine check: ');
    expect(doc.stalls.ci.windows).toBe(6);
    expect(doc.stalls.ci.lost_pct.low).toBeLessThanOrEqual(doc.stalls.ci.lost_pct.high);
    for (const row of doc.wake.rows) expect(typeof row.ci.added_us.p50_us!.measurable).toBe('boolean');
    expect(doc.wake).toMatchObject({ idle: 'sleep', gap_us: 100, samples: 200 });
    expect(doc.wake.rows).toHaveLength(3);
    expect(Object.keys(doc.stalls.per_s)).toEqual(['over_5us', 'over_20us', 'over_50us', 'over_100us', 'over_1ms']);
    expect(doc.floors.map((f) => f.cpu_us)).toEqual([5, 10]);
    for (const f of doc.floors) {
      expect(f.p50).toBeGreaterThanOrEqual(f.cpu_us);
      expect(f.p99).toBeGreaterThanOrEqual(f.p50);
      expect(f.ci.p50.n).toBe(6);
      expect(f.ci.p99.low).toBeLessThanOrEqual(f.ci.p99.median);
      expect(f.ci.p99.median).toBeLessThanOrEqual(f.ci.p99.high);
    }
    const bad = spawnSync(process.execPath, [BIN, 'bench', 'stalls', '--cpu-us', 'nope'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("option '--cpu-us <list>' argument 'nope' is invalid. \"nope\": expected a positive number up to 10000");
    const unwritable = join(dir, 'no-such-dir', 'stalls.json');
    const failed = spawnSync(process.execPath, [BIN, 'bench', 'stalls', '--seconds', '0.1', '--cpu-us', '5', '--json', unwritable], { encoding: 'utf8' });
    expect(failed.status).toBe(1);
    expect(failed.stderr).toContain(`cannot write ${unwritable}: ENOENT`);
  });
});
