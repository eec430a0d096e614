/**
 * What the benches say about their own figures (pure parts): the 5 % stall rule and its verdict
 * line, stall traces cut into windows for intervals, the profiling overhead never printed as a
 * negative cost out of noise, the run metadata and its plot footer, and progress that never goes
 * backwards.
 */
import { execFileSync } from 'node:child_process';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { formatOverhead, type OverheadReport, type OverheadRow } from '../../bridge/bench/e2e-overhead.js';
import { Progress } from '../../bridge/bench/progress.js';
import { formatFlags, runFooter, runMetadata } from '../../bridge/bench/run-metadata.js';
import {
  UNRELIABLE_LOST_PCT,
  concatTraces,
  floorWithInterval,
  formatReliability,
  judgeReliability,
  splitTrace,
  stallIntervals,
  summarizeStalls,
  type StallTrace,
} from '../../bridge/bench/stall-meter.js';
import { judge, medianInterval } from '../../src/stats/interval.js';
import { periodic } from '../fixtures/stall-traces.js';

describe('the 5 % rule', () => {
  it('marks a run unreliable above 5 % of the time lost, with the figure', () => {
    const lossy = summarizeStalls(periodic(90, 10, 1e6)); // 10 % lost
    const quiet = summarizeStalls(periodic(990, 10, 1e6)); // 1 %
    expect(UNRELIABLE_LOST_PCT).toBe(5);
    expect(judgeReliability(lossy)).toEqual({ unreliable: true, stall_lost_pct: lossy.lost_pct });
    expect(lossy.lost_pct).toBeCloseTo(10, 1);
    expect(judgeReliability(quiet)).toEqual({ unreliable: false, stall_lost_pct: quiet.lost_pct });
    expect(judgeReliability(null)).toEqual({ unreliable: false, stall_lost_pct: null });
    expect(formatReliability(judgeReliability(lossy))).toBe(
      `UNRELIABLE RUN: this machine lost ${lossy.lost_pct} % of the time to stalls (more than 5 %); tails and small differences are the machine's, not the code's`,
    );
    expect(formatReliability(judgeReliability(quiet))).toBe(`machine check: ${quiet.lost_pct} % of the time lost to stalls (at most 5 %)`);
    expect(formatReliability(judgeReliability(null))).toMatch(/^reliability not checked/);
  });
});

describe('stall traces in windows', () => {
  it('cuts a trace into windows that add up to it, splitting a stall on a boundary', () => {
    // Stalls of 30 µs at 100, 480 (across the boundary at 500) and 900 µs of a 1 ms trace.
    const t: StallTrace = { durationUs: 1000, readings: 1000, thresholdUs: 2, startsUs: Float64Array.of(100, 480, 900), lengthsUs: Float64Array.of(30, 30, 30) };
    const [a, b] = splitTrace(t, 2);
    expect(Array.from(a!.startsUs)).toEqual([100, 480]);
    expect(Array.from(a!.lengthsUs)).toEqual([30, 20]);
    expect(Array.from(b!.startsUs)).toEqual([0, 400]);
    expect(Array.from(b!.lengthsUs)).toEqual([10, 30]);
    expect(a!.durationUs + b!.durationUs).toBe(1000);
    const back = concatTraces([a!, b!]);
    expect(back.durationUs).toBe(1000);
    expect(summarizeStalls(back).lost_pct).toBe(summarizeStalls(t).lost_pct);
    expect(() => splitTrace(t, 0)).toThrow(RangeError);
    expect(() => concatTraces([])).toThrow(RangeError);
  });

  it('gives intervals over the windows, and floors per window when they are long enough', () => {
    // Six windows: two with 10 % lost, four with 1 %.
    const trace = concatTraces([periodic(90, 10, 1e5), periodic(990, 10, 1e5), periodic(90, 10, 1e5), ...Array.from({ length: 3 }, () => periodic(990, 10, 1e5))]);
    const w = stallIntervals(trace, 6);
    expect(w.windows).toBe(6);
    expect(w.lost_pct).toMatchObject({ n: 6, low: 1, high: 10 });
    expect(w.lost_pct.median).toBeCloseTo(1, 1);
    const f = floorWithInterval(trace, 5, 6, 60_000);
    expect(f.ci!.p50.n).toBe(6);
    expect(f.ci!.p50.low).toBeLessThanOrEqual(f.ci!.p50.median);
    expect(f.ci!.p99.high).toBeGreaterThanOrEqual(f.ci!.p99.median);
    // A CPU time too long for a window: the whole-trace floor only.
    expect(floorWithInterval(periodic(90, 10, 6000), 300, 6, 1000).ci).toBeNull();
  });
});

describe('profiling overhead text', () => {
  const row = (op: 'protect' | 'unprotect', every: number, overheads: number[] | null): OverheadRow => ({
    op,
    sample_every: every,
    ops_per_s: 500_000,
    ops_per_s_ci: medianInterval([480_000, 490_000, 500_000, 505_000, 510_000, 520_000, 530_000])!,
    p50_ns_rounds: [2000, 2000, 2000, 2000, 2000, 2000, 2000],
    overhead_pct: overheads && judge(medianInterval(overheads)!),
  });

  it('prints a real cost with its interval and noise as no measurable difference, never as a negative overhead', () => {
    const report: OverheadReport = {
      sdu_bytes: 128,
      algorithms: 'nea2/nia2',
      rows: [row('protect', 0, null), row('protect', 1, [14, 15, 13, 16, 14, 15, 14]), row('protect', 8, [-54, 3, 2, -1, 4, 1, 0])],
      stage_sums: [],
    };
    const text = formatOverhead(report);
    expect(text).toContain('median of 7 interleaved rounds [95 % confidence interval]');
    expect(text).toMatch(/every PDU timed .* overhead \+14\.0 % \[\+13\.0, \+16\.0\]/);
    expect(text).toMatch(/1 PDU in 8 timed .* overhead no measurable difference \(±54\.0 %\)/);
    expect(text).not.toMatch(/overhead -/);
  });
});

describe('run metadata', () => {
  it('says when, where, which build and which flags', () => {
    const run = runMetadata('bench e2e', { ues: 4, rates: [500, 1000], keep: undefined, overhead: false }, new Date(Date.UTC(2026, 10, 28, 10, 0, 0)));
    expect(run).toMatchObject({ command: 'bench e2e', date: '2026-11-28T10:00:00.000Z', host: hostname(), node: process.version, flags: { ues: 4, rates: [500, 1000], overhead: false } });
    expect(run.cores).toBeGreaterThan(0);
    expect(run.cpu_model.length).toBeGreaterThan(0);
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    expect(run.commit).toBe(head);
    expect(run.commit_describe).toMatch(new RegExp(`^${head}(-dirty)?$`));
    expect(formatFlags(run.flags)).toBe('ues=4 rates=500,1000 overhead=false');
    const [build, command] = runFooter(run);
    expect(build).toContain(`(commit ${head.slice(0, 12)}`);
    expect(build).toContain('2026-11-28T10:00:00.000Z');
    expect(build).toContain(`host ${hostname()}`);
    expect(command).toBe('sl-bridge bench e2e ues=4 rates=500,1000 overhead=false');
  });
});

describe('Progress', () => {
  const recorder = (isTTY: boolean) => {
    const out: string[] = [];
    return { out, stream: { isTTY, write: (t: string) => void out.push(t) } };
  };

  it('on a terminal redraws one line, never going back', () => {
    const { out, stream } = recorder(true);
    let t = 0;
    const p = new Progress({ label: 'bench x', total: 100, stream, nowMs: () => (t += 200) });
    p.update(40, 'a');
    p.update(30, 'b'); // behind what was shown: the bar stays at 40 %
    expect(p.fraction).toBe(0.4);
    p.update(100, 'c');
    p.log('a message');
    p.finish();
    const percents = out.map((l) => /\] +(\d+)%/.exec(l)?.[1]).filter((m): m is string => m !== undefined).map(Number);
    expect(percents).toEqual([40, 40, 100, 100]);
    expect(out.every((l) => l.startsWith('\r\x1b[2K'))).toBe(true);
    expect(out.filter((l) => l.includes('\n'))).toEqual(['\r\x1b[2Ka message\n']);
    expect(out.at(-1)).toBe('\r\x1b[2K');
  });

  it('without a terminal writes a plain line per tenth of the work', () => {
    const { out, stream } = recorder(false);
    const p = new Progress({ label: 'bench x', total: 1000, stream });
    for (let done = 0; done <= 1000; done += 7) p.update(done, `step ${done}`);
    p.update(1000, 'done');
    p.update(500, 'late');
    p.finish();
    expect(out).toHaveLength(11);
    expect(out[0]).toBe('bench x: 0% step 0\n');
    expect(out.at(-1)).toBe('bench x: 100% done\n');
    const percents = out.map((l) => Number(/: (\d+)%/.exec(l)![1]));
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(() => new Progress({ label: 'x', total: 0, stream })).toThrow(RangeError);
  });
});
