/**
 * `bench scale` (pure parts): the demo's slice recorder on scripted clocks and counters, one
 * point's figures (medians and intervals over the slices, offered load, drops, CPU per process
 * kind) from a demo JSON, the printed tables, the plots, the sweep's plan and its flags.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { demoArgs, planPoints } from '../../bridge/bench/scale-run.js';
import { CPU_KINDS, failedPoint, formatScaleTables, offeredLoad, scalePoint, sliceCpu, type PointContext, type ScaleReport } from '../../bridge/bench/scale-results.js';
import { runMetadata } from '../../bridge/bench/run-metadata.js';
import type { DemoResult } from '../../bridge/demo/report.js';
import { SliceRecorder, machineCpuMs, type AppCounts, type CpuReading, type DemoSlice } from '../../bridge/demo/slices.js';
import { writeScaleReport } from '../../bridge/report/scale-report.js';
import { parseCommandLine } from '../fixtures/cli-parse.js';
import { allText, findAll, parseXml } from '../fixtures/e2e-xml.js';

const dir = mkdtempSync(join(tmpdir(), 'slb-bench-scale-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the demo slice recorder', () => {
  /** Two apps and two daemons whose counters and CPU the test moves by hand. */
  function scripted(): { rec: SliceRecorder; apps: AppCounts[]; cpu: CpuReading & { daemons: number[]; pkmfs: number[] }; machine: { ms: number } } {
    const apps: AppCounts[] = [
      { requestsSent: 0, responsesSent: 0, deliveries: 0 },
      { requestsSent: 0, responsesSent: 0, deliveries: 0 },
    ];
    const cpu = { daemons: [0, 0], medium: 0, pkmfs: [0, 0], apps: 0 };
    const machine = { ms: 0 };
    const rec = new SliceRecorder(3, 3, {
      apps: () => apps.map((a) => ({ ...a })),
      cpu: () => ({ ...cpu, daemons: [...cpu.daemons], pkmfs: [...cpu.pkmfs] }),
      machineCpuMs: () => machine.ms,
    });
    return { rec, apps, cpu, machine };
  }

  it('cuts at start + seconds / count, then at an equal share of the time left; each round trip in the slice it ended in; rates per second of each slice', () => {
    const { rec, apps, cpu, machine } = scripted();
    rec.roundTrip(9e9); // before start: the warm-up, ignored
    rec.start(1000);
    expect(rec.nextCutMs).toBe(2000);
    for (const ns of [1e6, 2e6, 3e6]) rec.roundTrip(ns);
    apps[0]!.requestsSent += 5;
    apps[1]!.responsesSent += 5;
    apps[0]!.deliveries += 20;
    cpu.daemons[0] = 100; // 10 % of a core over 1 s
    cpu.daemons[1] = 300;
    cpu.medium = 50;
    cpu.pkmfs[0] = 10;
    cpu.apps = 200;
    machine.ms = 1500;
    rec.cutIfDue(1999); // not yet
    rec.cutIfDue(2000);
    expect(rec.nextCutMs).toBe(3000);
    // A late timer: the second slice is 1.5 s long; the third ends with the traffic, not on a timer.
    rec.roundTrip(10e6);
    apps[1]!.deliveries += 30;
    rec.cutIfDue(3500);
    expect(rec.nextCutMs).toBe(4000);
    rec.cutIfDue(4000);
    rec.roundTrip(20e6);
    const out = rec.finish(4000);
    rec.roundTrip(30e6); // after the end: ignored
    expect(out.count).toBe(3);
    const [a, b, c] = out.slices as [DemoSlice, DemoSlice, DemoSlice];
    expect(a).toMatchObject({ index: 0, seconds: 1, sentPerSecond: 10, deliveredPerSecond: 20 });
    expect(a.rttUs).toMatchObject({ count: 3 });
    expect(a.rttUs!.p50Us).toBeCloseTo(2000, -1);
    expect(a.cpuPercent).toEqual({ daemons: [10, 30], medium: 5, pkmfs: [1, 0], apps: 20, machine: 150 });
    expect(b).toMatchObject({ index: 1, seconds: 1.5, sentPerSecond: 0, deliveredPerSecond: 20 });
    expect(b.rttUs).toMatchObject({ count: 1 });
    expect(b.cpuPercent).toEqual({ daemons: [0, 0], medium: 0, pkmfs: [0, 0], apps: 0, machine: 0 });
    expect(c).toMatchObject({ index: 2, seconds: 0.5 });
    expect(c.rttUs!.count).toBe(1);
    expect(out.pooledRttUs!.count).toBe(5);
    expect(out.pooledRttUs!.maxUs).toBeCloseTo(20_000, -2);
    expect(rec.nextCutMs).toBe(Infinity);
  });

  it('after a late cut shares the time left equally, and merges a last slice shorter than half a nominal one into the one before', () => {
    const { rec, apps } = scripted();
    rec.start(0);
    rec.roundTrip(1e6);
    rec.cutIfDue(1800); // due at 1000: 0.8 s late
    expect(rec.nextCutMs).toBe(1800 + 1200 / 2);
    rec.roundTrip(2e6);
    apps[0]!.deliveries += 28;
    rec.cutIfDue(2700); // due at 2400
    rec.roundTrip(3e6);
    apps[0]!.deliveries += 2;
    // The traffic ends 0.3 s later: a third slice of 0.3 s (< 0.5 s) joins the second.
    const out = rec.finish(3000);
    expect(out.count).toBe(2);
    expect(out.slices.map((x) => [x.index, x.seconds, x.rttUs?.count, x.deliveredPerSecond])).toEqual([
      [0, 1.8, 1, 0],
      [1, 1.2, 2, 25],
    ]);
    expect(out.pooledRttUs!.count).toBe(3);
  });

  it('ends early with the slices it has (traffic stopped by Ctrl-C), a slice without round trips has none', () => {
    const { rec } = scripted();
    rec.start(0);
    const out = rec.finish(400);
    expect(out.count).toBe(1);
    expect(out.slices[0]!.rttUs).toBeNull();
    expect(out.pooledRttUs).toBeNull();
    expect(() => new SliceRecorder(0, 1, { apps: () => [], cpu: () => ({ daemons: [], medium: 0, pkmfs: [], apps: 0 }) })).toThrow(RangeError);
  });

  it('reads the machine CPU time from /proc/stat, and it grows', () => {
    const a = machineCpuMs();
    expect(a).toBeGreaterThan(0);
    let x = 0;
    const end = performance.now() + 60;
    while (performance.now() < end) x += Math.sqrt(x + 1);
    expect(machineCpuMs()!).toBeGreaterThan(a!);
  });
});

/** A demo JSON of `ues` UEs with 6 slices whose figures the test chooses. */
function demoResult(ues: number, slices: Array<{ p50: number; p99: number; delivered: number; sent: number; daemons: number[]; machine: number }>): DemoResult {
  const ueList = Array.from({ length: ues }, (_, i) => ({
    id: `ue${i + 1}`,
    dropped: i === 0 ? { 'app-hwm': 7 } : i === 1 ? { 'app-hwm': 3, 'app-no-peer': 1 } : {},
    ranging: { requestsSent: 100, responsesSent: 0, requestsReceived: 0, responsesReceived: 90 * (ues - 1), refused: {}, rttUs: null, oneWayUs: null },
  }));
  return {
    ok: true,
    problems: [],
    warmupSeconds: 5,
    allReceivedFromAll: true,
    securityDrops: 0,
    ues: ueList,
    medium: { hub: { hwmDrops: 4 } },
    processes: [],
    slices: {
      count: slices.length,
      pooledRttUs: { count: 600, p50Us: 3000, p99Us: 9000, p999Us: 9500, maxUs: 9900 },
      slices: slices.map((s, index) => ({
        index,
        seconds: 2,
        rttUs: { count: 100, p50Us: s.p50, p99Us: s.p99, p999Us: s.p99, maxUs: s.p99 },
        sentPerSecond: s.sent,
        deliveredPerSecond: s.delivered,
        cpuPercent: { daemons: s.daemons, medium: 12, pkmfs: [1, 0.5], apps: 40, machine: s.machine },
      })),
    },
  } as unknown as DemoResult;
}

const ctx: PointContext = { ues: 3, ratePerUe: 5, security: 'on', stallLostPct: 4.2, unreliable: false };
const sixSlices = [1, 2, 3, 4, 5, 6].map((k) => ({ p50: 1000 * k, p99: 5000 + 1000 * k, delivered: 80 + k, sent: 40, daemons: [k, 2 * k, 3], machine: 100 + 2 * k }));

describe('one point from its demo', () => {
  it('gives the offered load: rate x N requests/s, rate x N^2 x (N-1) deliveries/s', () => {
    expect(offeredLoad(2, 5)).toEqual({ requests_per_s: 10, sent_per_s: 20, deliveries_per_s: 20 });
    expect(offeredLoad(32, 20)).toEqual({ requests_per_s: 640, sent_per_s: 20 * 32 * 32, deliveries_per_s: 20 * 32 * 32 * 31 });
  });

  it('takes the median over the slices with its 95 % interval, pooled figures, CPU per kind, drops and the share answered', () => {
    const p = scalePoint(ctx, demoResult(3, sixSlices));
    expect(p).toMatchObject({ ues: 3, rate_per_ue: 5, security: 'on', error: null, ok: true, all_heard_all: true, slices: 6, slice_seconds: 2, measured_seconds: 12, warmup_seconds: 5 });
    // 6 slices: the interval is [min, max] at 96.9 %.
    expect(p.rtt_us.ci.p50).toEqual({ median: 3500, low: 1000, high: 6000, n: 6, level: 0.96875 });
    expect(p.rtt_us.ci.p99).toMatchObject({ median: 8500, low: 6000, high: 11000 });
    expect(p.rtt_us.pooled).toMatchObject({ count: 600, p50Us: 3000 });
    expect(p.delivered_pps).toEqual({ pooled: 83.5, ci: { median: 83.5, low: 81, high: 86, n: 6, level: 0.96875 } });
    expect(p.offered).toEqual({ requests_per_s: 15, sent_per_s: 45, deliveries_per_s: 90 });
    expect(p.delivered_pct_of_offered).toBeCloseTo((100 * 83.5) / 90, 1);
    // 40 of the 45 SDUs/s asked were sent; 83.5 of the 80 copies that makes reached the others
    // (more than 100 %: copies of SDUs sent before the slice still arriving in it).
    expect(p.sent_pct_of_offered).toBeCloseTo((100 * 40) / 45, 1);
    expect(p.delivered_pct_of_sent).toBeCloseTo((100 * 83.5) / 80, 1);
    // 90 answers of each other UE to 100 requests.
    expect(p.answered_pct).toBe(90);
    expect(p.drops).toEqual({ 'app-hwm': 10, 'app-no-peer': 1, 'medium-queue-full': 4 });
    // Slice k: daemons k, 2k, 3 (mean k + 1).
    expect(p.cpu_pct.ci.daemon_mean).toMatchObject({ median: 4.5, low: 2, high: 7 });
    expect(p.cpu_pct.ci.daemon_max).toMatchObject({ median: 7, low: 3, high: 12 });
    expect(p.cpu_pct.ci.daemons).toMatchObject({ median: 13.5, low: 6, high: 21 });
    expect(p.cpu_pct.ci.pkmfs).toMatchObject({ median: 1.5, low: 1.5, high: 1.5 });
    expect(p.cpu_pct.pooled).toMatchObject({ medium: 12, apps: 40, machine: 107, daemons: 13.5 });
    // Not ours: the machine minus daemons, medium, PKMFs and apps = 100 + 2k - (3k + 3 + 12 + 1.5 + 40).
    expect(p.cpu_pct.ci.rest).toMatchObject({ median: 40, low: 37.5, high: 42.5 });
    expect(p.stall_lost_pct).toBe(4.2);
    for (const k of CPU_KINDS) expect(p.cpu_pct.ci[k]!.n).toBe(6);
  });

  it('leaves slices without a round trip out of the RTT interval, and says the lower level it reaches', () => {
    const d = demoResult(3, sixSlices);
    d.slices!.slices[0]!.rttUs = null;
    d.slices!.slices[1]!.rttUs = null;
    const p = scalePoint(ctx, d);
    expect(p.rtt_us.ci.p50).toMatchObject({ n: 4, low: 3000, high: 6000 });
    expect(p.rtt_us.ci.p50!.level).toBeLessThan(0.95);
    expect(formatScaleTables([p])).toMatch(/87\.5 % CI: 4 repetitions/);
  });

  it('is a failed point when the demo wrote no slices, and the daemon mean and max come from the daemons of each slice', () => {
    const d = demoResult(3, sixSlices);
    delete d.slices;
    expect(scalePoint(ctx, d).error).toMatch(/no slices/);
    expect(sliceCpu({ index: 0, seconds: 1, rttUs: null, sentPerSecond: 0, deliveredPerSecond: 0, cpuPercent: { daemons: [2, null, 4], medium: null, pkmfs: [null], apps: 3, machine: null } })).toEqual({
      daemon_mean: 3,
      daemon_max: 4,
      daemons: 6,
      medium: null,
      pkmfs: null,
      apps: 3,
      machine: null,
      rest: null,
    });
  });
});

describe('the tables and the plots', () => {
  const ok = scalePoint(ctx, demoResult(3, sixSlices));
  const failed = failedPoint({ ...ctx, ues: 32 }, 'the demo wrote no result (exit status 1): no keys after 30 s');

  it('prints a row per point with median [interval] in ms, the share of the offered load, drops, and FAILED for a point without result', () => {
    const text = formatScaleTables([ok, failed]);
    const lines = text.split('\n');
    expect(lines[1]).toMatch(/^rate\/UE\s+UEs\s+RTT p50 ms \[95% CI\]\s+RTT p99 ms \[95% CI\]\s+RTTs\s+sent\/s\s+of asked\s+delivered\/s \[95% CI\]\s+reached\s+answered/);
    const row = lines.find((l) => /^5\s+3\s/.test(l))!;
    expect(row).toContain('3.5 [1, 6]');
    expect(row).toContain('8.5 [6, 11]');
    expect(row).toContain('83.5 [81, 86]');
    expect(row).toMatch(/\s40\s+88\.9%\s+83\.5 \[81, 86\]\s+104\.4%\s+90%\s+yes\s/);
    expect(row).toContain('app-hwm:10 medium-queue-full:4 app-no-peer:1');
    expect(lines.find((l) => /^5\s+32\s/.test(l))).toMatch(/FAILED\s+the demo wrote no result/);
    const cpuHeader = lines.findIndex((l) => l.startsWith('CPU, % of one core'));
    expect(lines[cpuHeader + 1]).toMatch(/daemon mean\s+daemon max\s+daemons\s+medium\s+PKMFs\s+apps\s+machine\s+not ours\s+stalls lost/);
    expect(lines[cpuHeader + 2]).toMatch(/^5\s+3\s+4\.5\s+7\s+13\.5\s+12\s+1\.5\s+40\s+107\s+40\s+4\.2%$/);
    // With both security modes, a column says which.
    expect(formatScaleTables([ok, { ...ok, security: 'off' }])).toMatch(/^rate\/UE\s+UEs\s+security\s+RTT p50/m);
  });

  it('draws round trips, throughput and CPU against the UEs with interval bars, run metadata in the footer', () => {
    const report: ScaleReport = {
      run: runMetadata('bench scale', { ues: [3, 32], rates: [5] }),
      unreliable: true,
      stall_lost_pct: 6.1,
      settings: { ues: [3, 32], rates_per_ue: [5], security: ['on'], seconds_per_point: 12, warmup_seconds: 5, slices: 6, demo_command: 'sl-bridge demo ...', medium: 'm', algorithms: 'a' },
      machine: { cpus: 2, node: process.version, stalls: null },
      points: [ok, { ...ok, ues: 8 }, failed],
    };
    const files = writeScaleReport(join(dir, 'report'), report);
    expect(files.map((f) => f.slice(f.lastIndexOf('/') + 1))).toEqual(['scale-rtt.svg', 'scale-cpu.svg']);
    const rtt = parseXml(readFileSync(files[0]!, 'utf8'));
    const names = findAll(rtt, (e) => e.attrs.class === 'series').map((e) => e.attrs['data-name']);
    expect(names).toEqual(['5/s per UE: p50', '5/s per UE: p99', '5/s per UE: delivered', '5/s per UE: offered']);
    // Two points (the failed one is left out), each with its interval bar.
    const bars = findAll(rtt, (e) => e.attrs.class === 'intervals' && e.attrs['data-name'] === '5/s per UE: p50')[0]!;
    expect(findAll(bars, (e) => e.name === 'path')).toHaveLength(2);
    const text = allText(rtt);
    expect(text).toContain('UNRELIABLE RUN: this machine lost 6.1 %');
    expect(text).toContain(`Node ${process.version}`);
    const cpu = parseXml(readFileSync(files[1]!, 'utf8'));
    const cpuNames = findAll(cpu, (e) => e.attrs.class === 'series').map((e) => e.attrs['data-name']);
    expect(cpuNames).toContain('the busiest daemon');
    expect(cpuNames).toContain('capacity: 2 cores');
    expect(() => writeScaleReport(join(dir, 'none'), { ...report, points: [failed] })).toThrow(RangeError);
  });
});

describe('the sweep and its flags', () => {
  it('runs rate by rate, UEs ascending, each mode once, with the demo flags of the point', () => {
    expect(planPoints({ ues: [8, 2, 8], rates: [20, 5], security: 'both' })).toEqual([
      { ues: 2, rate: 20, security: 'on' },
      { ues: 2, rate: 20, security: 'off' },
      { ues: 8, rate: 20, security: 'on' },
      { ues: 8, rate: 20, security: 'off' },
      { ues: 2, rate: 5, security: 'on' },
      { ues: 2, rate: 5, security: 'off' },
      { ues: 8, rate: 5, security: 'on' },
      { ues: 8, rate: 5, security: 'off' },
    ]);
    expect(demoArgs({ ues: 4, rate: 5, security: 'on' }, { seconds: 20, warmup: 5, slices: 6 }, '/t/p.json')).toEqual(
      ['demo', '--ues', '4', '--rate', '5', '--seconds', '20', '--warmup', '5', '--slices', '6', '--security', 'on', '--json', '/t/p.json'],
    );
  });

  it('defaults to 2,4,8,16,32 UEs at 5 and 20 requests/s, 20 s + 5 s warm-up in 6 slices; refuses what is out of range', async () => {
    const d = await parseCommandLine(['bench', 'scale']);
    expect(d.opts).toMatchObject({ ues: [2, 4, 8, 16, 32], rates: [5, 20], seconds: 20, warmup: 5, slices: 6, security: 'on', stallMeter: true });
    for (const bad of [['--ues', '1,4'], ['--ues', '33'], ['--rates', '0'], ['--seconds', '0.5'], ['--security', 'maybe'], ['--slices', '0']]) {
      const r = await parseCommandLine(['bench', 'scale', ...bad]);
      expect(r.error, bad.join(' ')).toBeDefined();
      expect(r.stderr, bad.join(' ')).toMatch(/error: option/);
    }
    expect((await parseCommandLine(['demo', '--ues', '32'])).opts).toMatchObject({ ues: 32 });
    expect((await parseCommandLine(['demo', '--ues', '33'])).error).toBeDefined();
  });
});
