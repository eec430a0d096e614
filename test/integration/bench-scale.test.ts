/**
 * `sl-bridge bench scale` through the built CLI: a short sweep (2 and 3 UEs at 5 requests/s, each
 * point a real `sl-bridge demo` with its PKMFs, medium and daemons as processes) whose JSON and
 * plots show what the sweep measured: every UE heard every other, round trips, throughput and CPU
 * per process kind over 6 slices, the run's metadata and reliability verdict. No wall-clock
 * assertions: only shapes, counts and invariants.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CPU_KINDS, type ScaleReport } from '../../bridge/bench/scale-results.js';
import type { Interval } from '../../src/stats/interval.js';
import { findAll, parseXml } from '../fixtures/e2e-xml.js';

const BIN = new URL('../../bin/sl-bridge.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'slb-bench-scale-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function expectInterval(i: Interval | null | undefined): void {
  expect(i).toBeTruthy();
  expect(i!.n).toBeGreaterThan(0);
  expect(i!.low).toBeLessThanOrEqual(i!.median);
  expect(i!.median).toBeLessThanOrEqual(i!.high);
}

describe('sl-bridge bench scale', () => {
  it('runs the demo at each point and reports round trips, throughput and CPU per process over slices, with plots', () => {
    const json = join(dir, 'scale.json');
    const report = join(dir, 'report');
    const r = spawnSync(process.execPath, [BIN, 'bench', 'scale', '--ues', '2,3', '--rates', '5', '--seconds', '2', '--warmup', '1', '--json', json, '--report', report], {
      encoding: 'utf8',
      timeout: 150_000,
    });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    const doc = JSON.parse(readFileSync(json, 'utf8')) as ScaleReport;
    expect(doc.run).toMatchObject({ command: 'bench scale', node: process.version, flags: { ues: [2, 3], rates: [5], seconds: 2, warmup: 1, slices: 6, security: 'on' } });
    expect(doc.run.commit).toBe(execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim());
    expect(doc.run.cores).toBeGreaterThan(0);
    expect(doc.settings).toMatchObject({ ues: [2, 3], rates_per_ue: [5], security: ['on'], seconds_per_point: 2, warmup_seconds: 1, slices: 6 });
    // One stall measurement of 1 s before each point, judged together.
    expect(doc.machine.stalls!.duration_ms).toBeGreaterThanOrEqual(2000);
    expect(doc.stall_lost_pct).toBe(doc.machine.stalls!.lost_pct);
    expect(doc.unreliable).toBe(doc.stall_lost_pct! > 5);
    expect(r.stdout).toContain(doc.unreliable ? `UNRELIABLE RUN: this machine lost ${doc.stall_lost_pct} %` : `machine check: ${doc.stall_lost_pct} %`);

    expect(doc.points.map((p) => [p.ues, p.rate_per_ue, p.security])).toEqual([
      [2, 5, 'on'],
      [3, 5, 'on'],
    ]);
    for (const p of doc.points) {
      const what = `${p.ues} UEs: ${JSON.stringify(p.problems)}`;
      expect(p.error, what).toBeNull();
      expect(p.ok, what).toBe(true);
      expect(p.all_heard_all, what).toBe(true);
      expect(p.security_drops).toBe(0);
      expect(p.slices).toBe(6);
      expect(p.warmup_seconds).toBe(1);
      expect(p.offered).toEqual({ requests_per_s: 5 * p.ues, sent_per_s: 5 * p.ues * p.ues, deliveries_per_s: 5 * p.ues * p.ues * (p.ues - 1) });
      // Round trips over the whole measured interval and per slice: real, positive, ordered.
      const pooled = p.rtt_us.pooled!;
      expect(pooled.count).toBeGreaterThan(0);
      expect(pooled.p50Us).toBeGreaterThan(0);
      expect(pooled.p99Us).toBeGreaterThanOrEqual(pooled.p50Us);
      expectInterval(p.rtt_us.ci.p50);
      expectInterval(p.rtt_us.ci.p99);
      expect(p.rtt_us.ci.p50!.median).toBeGreaterThan(0);
      expect(p.delivered_pps.pooled).toBeGreaterThan(0);
      expect(p.sent_pps.pooled).toBeGreaterThan(0);
      expectInterval(p.delivered_pps.ci);
      expect(p.delivered_pps.ci!.n).toBe(6);
      expect(p.answered_pct).toBeGreaterThan(0);
      // Every process kind has a CPU figure (Linux /proc), the whole machine at least ours.
      for (const k of CPU_KINDS) {
        expectInterval(p.cpu_pct.ci[k]);
        expect(p.cpu_pct.pooled[k], k).toBeGreaterThanOrEqual(0);
      }
      expect(p.cpu_pct.pooled.machine!).toBeGreaterThan(0);
      expect(p.cpu_pct.pooled.machine!).toBeGreaterThanOrEqual(p.cpu_pct.pooled.apps!);
      expect(p.cpu_pct.pooled.daemon_max!).toBeGreaterThanOrEqual(p.cpu_pct.pooled.daemon_mean!);
      expect(p.stall_lost_pct).toBeGreaterThanOrEqual(0);
    }

    // The tables on stdout, progress on stderr.
    expect(r.stdout).toMatch(/^rate\/UE\s+UEs\s+RTT p50 ms \[95% CI\]/m);
    expect(r.stdout).toMatch(/^5\s+2\s+\S/m);
    expect(r.stdout).toMatch(/^5\s+3\s+\S/m);
    expect(r.stdout).toMatch(/^rate\/UE\s+UEs\s+daemon mean\s+daemon max/m);
    expect(r.stderr).toMatch(/^bench scale: 100% done$/m);
    for (const f of ['scale-rtt.svg', 'scale-cpu.svg']) {
      const root = parseXml(readFileSync(join(report, f), 'utf8'));
      expect(findAll(root, (e) => e.attrs.class === 'panel').length, f).toBeGreaterThan(0);
      expect(findAll(root, (e) => e.attrs.class === 'markers').length, f).toBeGreaterThan(0);
    }
  }, 180_000);

  it('refuses a bad flag with a clear message and status 2, and an unwritable --json before it starts', () => {
    const r = spawnSync(process.execPath, [BIN, 'bench', 'scale', '--ues', '2,64'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--ues/);
    expect(r.stderr).toMatch(/32/);
    // A JSON path that cannot be written is refused before the sweep starts, not minutes later.
    const w = spawnSync(process.execPath, [BIN, 'bench', 'scale', '--json', join(dir, 'no-such-dir', 'x.json')], { encoding: 'utf8', timeout: 30_000 });
    expect(w.status).toBe(1);
    expect(w.stderr).toMatch(/cannot write .*x\.json: ENOENT/);
    expect(w.stderr).not.toMatch(/point 1\//);
  });
});
