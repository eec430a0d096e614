/**
 * `bench e2e` (issue 7): probe codec, one-way and loss accounting, per-rate figures, the paced
 * load generator over real ZeroMQ sockets, the profiler-overhead measurement, and one short run
 * of the whole command (PKI, PKMFs, two media, daemons with security on and off as processes).
 * Shapes and invariants only: no wall-clock assertions.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { measureProfilingOverhead } from '../../bridge/bench/e2e-overhead.js';
import type { E2eReport } from '../../bridge/bench/e2e-results.js';
import { formatRateResults, thinCdf } from '../../bridge/bench/e2e-results.js';
import { slicesPerMode } from '../../bridge/bench/e2e-run.js';
import type { Interval } from '../../src/stats/interval.js';
import { E2eAccounting, PROBE_HEADER_BYTES, SEGMENTS, decodeProbe, encodeProbe, runProbes } from '../../bridge/bench/e2e-traffic.js';
import { ZmqAppServer } from '../../bridge/transport/zmq-app-server.js';
import { createZmqAppClient } from '../../bridge/transport/zmq-app-client.js';
import type { AppSendSdu } from '../../src/wire/app.js';
import { parseCommandLine } from '../fixtures/cli-parse.js';
import { T0, delivery, sampleRun } from '../fixtures/e2e-sample.js';
import { findAll, parseXml } from '../fixtures/e2e-xml.js';

const BIN = new URL('../../bin/sl-bridge.js', import.meta.url).pathname;

/** low <= median <= high over `n` repetitions. */
function expectInterval(i: Interval | null | undefined, n: number): void {
  expect(i).toBeTruthy();
  expect(i!.n).toBe(n);
  expect(i!.low).toBeLessThanOrEqual(i!.median);
  expect(i!.median).toBeLessThanOrEqual(i!.high);
}
const dir = mkdtempSync(join(tmpdir(), 'sl-bench-e2e-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('probes and accounting', () => {
  it('encodes and decodes probes, and recognises what is not one', () => {
    const p = { slice: 513, sender: 7, seq: 0xfffffffe, sendTimeNs: T0 + 123n };
    const b = encodeProbe(p, 128);
    expect(b.length).toBe(128);
    expect(decodeProbe(b)).toEqual(p);
    expect(decodeProbe(b.subarray(0, PROBE_HEADER_BYTES - 1))).toBeUndefined();
    const other = Uint8Array.from(b);
    other[0]! ^= 1;
    expect(decodeProbe(other)).toBeUndefined();
    expect(() => encodeProbe(p, PROBE_HEADER_BYTES - 1)).toThrow(RangeError);
  });

  it('attributes copies to the slice they were sent in, counts duplicates and loss', () => {
    const acc = new E2eAccounting();
    const s0 = acc.openSlice(0, 3);
    const s1 = acc.openSlice(1, 3);
    for (let q = 0; q < 10; q++) acc.recordSent(s0, 0, 'accepted');
    acc.recordSent(s0, 0, 'hwm');
    acc.recordSent(s1, 1, 'accepted');
    // Sender 0's probes 0..9 to receivers 1 and 2; receiver 2 misses 3 and 4 and gets 5 twice.
    for (let q = 0; q < 10; q++) {
      for (const r of [1, 2]) {
        if (r === 2 && (q === 3 || q === 4)) continue;
        const d = delivery(0, 0, q, T0 + BigInt(q * 1000), [100, 200, 300]);
        acc.recordDelivery(`on:${r}`, d, d.deliveredTimeNs + 400n);
        if (r === 2 && q === 5) acc.recordDelivery(`on:${r}`, d, d.deliveredTimeNs + 400n);
      }
    }
    // A late copy of slice 0 arriving "during" slice 1 still counts for slice 0.
    acc.recordDelivery('on:1', delivery(1, 1, 0, T0, [1, 1, 1]), T0 + 10n);
    acc.recordDelivery('on:1', { ...delivery(0, 0, 0, T0, [1, 1, 1]), sdu: new Uint8Array(40) }, T0);
    expect(s0.sentTotal).toBe(10);
    expect(s0.sendDropped).toEqual({ hwm: 1 });
    expect(s0.expected).toBe(20);
    expect(s0.received).toBe(19);
    expect(s0.duplicates).toBe(1);
    expect(s0.distinct).toBe(18);
    expect(s1.distinct).toBe(1);
    expect(acc.foreign).toBe(1);
    // One-way = 100 + 200 + 300 + 400 ns for every distinct copy, and the segments add up to it.
    expect(s0.oneWay).toEqual(new Array(18).fill(1000));
    expect(SEGMENTS.reduce((a, k) => a + s0.segments[k].sumNs, 0)).toBe(18 * 1000);
  });

  it('turns slices into per-rate figures: loss, what security adds, per-stage split, intervals over the slices', () => {
    const lose = (rate: number, mode: string, seq: number, receiver: number): boolean => rate === 1000 && mode === 'off' && seq < 5 && receiver === 0;
    const { results } = sampleRun({ ues: 3, rates: [100, 1000], perSender: 40, addedNs: 4000, lose });
    expect(results.map((r) => r.rate_per_ue)).toEqual([100, 1000]);
    const [a, b] = results;
    // 6 slices per rate and mode, 40 probes per sender each.
    expect(a!.offered_pps).toBe(300);
    expect(a!.security_on.slices).toBe(6);
    expect(a!.security_on.sent).toBe(6 * 120);
    expect(a!.security_on.expected).toBe(6 * 240);
    expect(a!.security_on.received).toBe(6 * 240);
    expect(a!.security_on.loss_pct).toBe(0);
    // Receiver 0 lost probes 0..4 of senders 1 and 2, in each slice.
    expect(b!.security_off.lost).toBe(6 * 10);
    expect(b!.security_off.loss_pct).toBeCloseTo((10 / 240) * 100, 2);
    // Security on adds 4 µs to every copy in the sample: in every pair of slices, so measurably.
    for (const k of ['mean', 'p50', 'p99', 'p999'] as const) {
      const d = a!.security.added_us![k];
      expect(d.median, k).toBeCloseTo(4, 1);
      expect(d.low, k).toBeGreaterThan(0);
      expect(d).toMatchObject({ n: 6, measurable: true });
    }
    // Protect and unprotect calls of 2 µs each: 4 µs per packet.
    expect(a!.security.per_packet_mean_us).toBe(4);
    expect(Math.abs(a!.security.per_packet_us!.p50 - 4)).toBeLessThan(0.15);
    expect(Math.abs(a!.security.ci!.per_packet_us!.p50.median - 4)).toBeLessThan(0.15);
    expectInterval(a!.security.ci!.protect_us!.p99, 6);
    expect(a!.security.stages!.tx.integrity!.mean_us).toBeCloseTo(0.9, 5);
    expect(Math.abs(a!.security.ci!.stages_p50_us!.tx.integrity!.median - 0.9)).toBeLessThan(0.03);
    expect(a!.security.stages!.rx.key!.n).toBe(6 * 240);
    expect(a!.security.share_of_one_way_pct).toBeCloseTo((4 / a!.security_on.latency_us!.mean) * 100, 1);
    expect(a!.security_on.cpu_pct).toEqual({ daemons: 30, medium: 10, bench: 5 });
    expect(a!.security_on.ci.cpu_pct!.daemons).toMatchObject({ median: 30, low: 30, high: 30, n: 6 });
    for (const f of [a!.security_on, a!.security_off, b!.security_on, b!.security_off]) {
      for (const k of ['p50', 'p99', 'p999', 'mean'] as const) expectInterval(f.ci.latency_us![k], 6);
      expect(f.ci.latency_us!.p50.median).toBeLessThanOrEqual(f.ci.latency_us!.p99.median);
      expectInterval(f.ci.delivered_pps, 6);
      expectInterval(f.ci.segments_p50_us!.tx_to_rx, 6);
    }
    expect(a!.security_on.drops).toEqual({});
    expect(a!.security_off.drops).toEqual({ 'app-hwm': 6 * 2 });
    expect(a!.unreliable).toBe(false);
    const text = formatRateResults(results);
    expect(text).toContain('per rate and mode: median over 6 slices [95 % confidence interval]');
    expect(text).toMatch(/on - off one-way p50 \+4 µs \[\+4, \+4\]/);
    const cdf = a!.security_on.cdf;
    expect(cdf.at(-1)![1]).toBe(1);
    for (let i = 1; i < cdf.length; i++) expect(cdf[i]![0] > cdf[i - 1]![0] && cdf[i]![1] >= cdf[i - 1]![1]).toBe(true);
  });

  it('thins a CDF but keeps its ends and a denser tail', () => {
    const n = 100_000;
    const pts = Array.from({ length: n }, (_, i) => [i + 1, (i + 1) / n] as [number, number]);
    const t = thinCdf(pts, 100);
    expect(t.length).toBeLessThanOrEqual(100 + 2);
    expect(t[0]).toEqual([1, 1 / n]);
    expect(t.at(-1)).toEqual([n, 1]);
    expect(t.filter((p) => p[1] >= 0.99).length).toBeGreaterThanOrEqual(7);
    for (let i = 1; i < t.length; i++) expect(t[i]![0]).toBeGreaterThan(t[i - 1]![0]);
  });

  it('reports a difference its interval cannot tell from 0 as no measurable difference', () => {
    // No security cost in the sample: every pair of slices differs by 0.
    const { results } = sampleRun({ ues: 3, rates: [1000], perSender: 20, addedNs: 0 });
    const d = results[0]!.security.added_us!.p50;
    expect(d.measurable).toBe(false);
    expect(formatRateResults(results)).toMatch(/on - off one-way p50 no measurable difference \(±[\d.]+ µs\)/);
  });

  it('runs at least 6 slices per mode, at most 1 s each', () => {
    expect(slicesPerMode(0.5)).toBe(6);
    expect(slicesPerMode(5)).toBe(6);
    expect(slicesPerMode(10)).toBe(10);
  });

  it('validates its flags', async () => {
    const e2e = async (...args: string[]) => parseCommandLine(['bench', 'e2e', ...args]);
    expect((await e2e()).opts).toMatchObject({ ues: 4, rates: [500, 1000, 2000], seconds: 5, sduBytes: 128 });
    const given = ['--ues', '2', '--rates', '1000, 5000,1000', '--seconds', '0.5', '--sdu-bytes', String(PROBE_HEADER_BYTES)];
    expect((await e2e(...given)).opts).toMatchObject({ ues: 2, rates: [1000, 5000], seconds: 0.5, sduBytes: PROBE_HEADER_BYTES });
    for (const bad of [['--ues', '1'], ['--ues', 'x'], ['--rates', '0'], ['--rates', '1000,'], ['--seconds', '0'], ['--sdu-bytes', String(PROBE_HEADER_BYTES - 1)]]) {
      expect((await e2e(...bad)).error?.code, bad.join(' ')).toBe('commander.invalidArgument');
    }
    expect((await e2e('--rates', '1000,0')).stderr).toContain(`option '--rates <list>' argument '1000,0' is invalid. "0": expected a positive number up to 100000`);
    expect((await e2e('--sdu-bytes', '19')).stderr).toContain(`option '--sdu-bytes <n>' argument '19' is invalid. expected an integer from ${PROBE_HEADER_BYTES} to 9000`);
    // Latency mode: a keep-warm period under 1 ms, a busy-poll window in whole µs, and only the
    // two together (refused before the run measures or starts anything).
    expect((await e2e('--keep-warm', '0.25', '--busy-poll', '5000')).opts).toMatchObject({ keepWarm: 0.25, busyPoll: 5000 });
    expect((await e2e('--busy-poll', '1.5')).error?.code).toBe('commander.invalidArgument');
    for (const [args, message] of [
      [['--busy-poll', '1000'], 'bench e2e: --busy-poll needs --keep-warm MS'],
      [['--keep-warm', '0.5'], 'bench e2e: --keep-warm below 1 ms needs --busy-poll US'],
    ] as const) {
      const r = spawnSync(process.execPath, [BIN, 'bench', 'e2e', ...args], { encoding: 'utf8', timeout: 20_000 });
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.stderr).not.toContain('measuring');
    }
  });
});

describe('load generator over ZeroMQ', () => {
  it('sends paced probes that arrive intact, and counts what it sent', async () => {
    const server = new ZmqAppServer({ endpoints: [`ipc://${join(dir, 'app.sock')}`] });
    const got: AppSendSdu[] = [];
    await server.open({ frame: (m) => void got.push(m) });
    const clients = [0, 1].map((index) => ({ index, transport: createZmqAppClient({ endpoint: `ipc://${join(dir, 'app.sock')}` }), groupId: 0x0d0001 }));
    for (const c of clients) await c.transport.open({ frame: () => undefined });
    while (server.peerCount < 2) await new Promise((r) => setTimeout(r, 20));
    const acc = new E2eAccounting();
    const slice = acc.openSlice(9, 2);
    const seqs = new Map<number, number>([[1, 1000]]);
    await runProbes({ clients, accounting: acc, slice, ratePerClient: 400, durationMs: 500, sduBytes: 128, seqs });
    await new Promise((r) => setTimeout(r, 200));
    for (const c of clients) await c.transport.close();
    await server.close();
    // At most rate x time each; a stall on a loaded machine may skip some, never add.
    for (const i of [0, 1]) expect(slice.sent.get(i)! > 0 && slice.sent.get(i)! <= 200).toBe(true);
    expect(got.length).toBe(slice.sentTotal);
    const probes = got.map((m) => ({ m, p: decodeProbe(m.sdu)! }));
    for (const { m, p } of probes) {
      expect(m.sdu.length).toBe(128);
      expect(m.groupId).toBe(0x0d0001);
      expect(p.slice).toBe(9);
    }
    // Sequence numbers continue from where each client was, without gaps.
    const seq1 = probes.filter(({ p }) => p.sender === 1).map(({ p }) => p.seq);
    expect(seq1[0]).toBe(1000);
    expect(seq1.every((s, i) => s === 1000 + i)).toBe(true);
    expect(seqs.get(1)).toBe(1000 + seq1.length);
  });
});

describe('profiling overhead measurement', () => {
  it('reports every variant and stage sums that lie inside the calls', () => {
    const r = measureProfilingOverhead({ sduBytes: 128, nea: 2, nia: 2, rounds: 1, roundMs: 10, checkPdus: 3000 });
    expect(r.rows.map((x) => [x.op, x.sample_every])).toEqual([
      ['protect', 0],
      ['protect', 1],
      ['protect', 8],
      ['unprotect', 0],
      ['unprotect', 1],
      ['unprotect', 8],
    ]);
    for (const row of r.rows) {
      expect(row.ops_per_s).toBeGreaterThan(0);
      expectInterval(row.ops_per_s_ci, 1);
      // The no-profiler row is the reference; one round cannot tell a cost from noise.
      if (row.sample_every === 0) expect(row.overhead_pct).toBeNull();
      else expect(row.overhead_pct).toMatchObject({ n: 1, measurable: false });
    }
    for (const s of r.stage_sums) {
      expect(s.pdus).toBe(3000);
      expect(s.stage_sum_us).toBe(s.call_sum_us); // the stages tile the call
      expect(s.stage_sum_us).toBeLessThanOrEqual(s.around_call_us);
    }
  });
});

describe('sl-bridge bench e2e', () => {
  // In latency mode (`--keep-warm` under 1 ms with `--busy-poll`): the scratch passes and the
  // spinning must leave the figures whole (no drop, no loss, every delivery a probe of the run)
  // and be seen in every daemon's status.
  it('runs daemons with security on and off and reports per rate, with plots', () => {
    const json = join(dir, 'e2e.json');
    const report = join(dir, 'report');
    const args = ['bench', 'e2e', '--ues', '2', '--rates', '200', '--seconds', '1', '--no-overhead', '--keep-warm', '0.5', '--busy-poll', '1000', '--json', json, '--report', report];
    const r = spawnSync(process.execPath, [BIN, ...args], {
      encoding: 'utf8',
      timeout: 80_000,
    });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/^rate\/UE\s+security/m);
    const doc = JSON.parse(readFileSync(json, 'utf8')) as E2eReport;
    // Run metadata, the reliability verdict from the stall meter, per-rate intervals.
    expect(doc.run).toMatchObject({ command: 'bench e2e', node: process.version, flags: { ues: 2, rates: [200], seconds: 1 } });
    expect(doc.run.commit).toBe(execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim());
    expect(doc.run.cores).toBeGreaterThan(0);
    expect(doc.stall_lost_pct).toBe(doc.machine.stalls!.lost_pct);
    expect(doc.unreliable).toBe(doc.stall_lost_pct! > 5);
    expect(r.stdout).toContain(doc.unreliable ? `UNRELIABLE RUN: this machine lost ${doc.stall_lost_pct} %` : `machine check: ${doc.stall_lost_pct} %`);
    expectInterval(doc.machine.stall_windows!.lost_pct, 6);
    expect(r.stdout).toContain('per rate and mode: median over 6 slices [95 % confidence interval]');
    expect(doc.settings).toMatchObject({ ues: 2, rates_per_ue: [200], sdu_bytes: 128, metrics: true, algorithms: '128-NEA2/128-NIA2' });
    expect(doc.settings.sample_every).toBeGreaterThanOrEqual(1);
    expect(doc.settings.keep_warm_ms).toBe(0.5);
    expect(doc.settings.busy_poll_us).toBe(1000);
    expect(r.stdout).toContain(
      'latency mode: every daemon of both stacks runs a keep-warm pass every 0.5 ms (run --keep-warm), and after each message polls instead of sleeping for 1000 µs (run --busy-poll)',
    );
    // Each security-on daemon warmed many times over the run (1 ms timer while asleep, 0.5 ms
    // while spinning, several seconds), one scratch round trip per pass (one group, one algorithm
    // pair); its messages started spells of busy-polling, whose passes are among all the passes.
    expect(doc.keep_warm!.passes).toHaveLength(2);
    const spin = doc.keep_warm!.busy_poll!;
    for (const [i, passes] of doc.keep_warm!.passes.entries()) {
      expect(passes).toBeGreaterThan(100);
      expect(doc.keep_warm!.round_trips[i]).toBeGreaterThan(0);
      expect(doc.keep_warm!.round_trips[i]).toBeLessThanOrEqual(passes);
      expect(spin.spells[i]).toBeGreaterThan(0);
      expect(spin.passes[i]).toBeGreaterThan(0);
      expect(spin.passes[i]).toBeLessThanOrEqual(passes);
      expect(spin.spinning_ms[i]).toBeGreaterThanOrEqual(spin.spells[i]! * 1); // a spell lasts at least its 1 ms window
    }
    expect(doc.rates).toHaveLength(1);
    const rate = doc.rates[0]!;
    expect(rate.unreliable).toBe(doc.unreliable);
    for (const f of [rate.security_on, rate.security_off]) {
      expect(f.slices).toBe(6);
      for (const k of ['p50', 'p99', 'p999', 'mean'] as const) expectInterval(f.ci.latency_us![k], 6);
      expectInterval(f.ci.delivered_pps, 6);
      expect(f.sent).toBeGreaterThan(0);
      expect(f.expected).toBe(f.sent); // 2 UEs: each probe goes to the one other
      expect(f.received).toBe(f.expected); // no loss on a medium without impairments
      expect(f.latency_us!.p50).toBeGreaterThan(0);
      expect(f.latency_us!.p99).toBeGreaterThanOrEqual(f.latency_us!.p50);
      expect(f.cdf.at(-1)![1]).toBe(1);
    }
    const sec = rate.security;
    for (const k of ['p50', 'p99', 'p999', 'mean'] as const) {
      const d = sec.added_us![k];
      expectInterval(d, 6);
      // Measurable exactly when the interval excludes 0.
      expect(d.measurable).toBe(d.low > 0 || d.high < 0);
    }
    for (const k of ['p50', 'p99', 'p999', 'mean'] as const) expectInterval(sec.ci!.per_packet_us![k], 6);
    expect(Object.keys(sec.stages!.tx).sort()).toEqual(['cipher', 'encode', 'handoff', 'integrity', 'key']);
    expect(Object.keys(sec.stages!.rx).sort()).toEqual(['cipher', 'decode', 'handoff', 'integrity', 'key']);
    expect(sec.protect_us!.n).toBeGreaterThan(0);
    expect(sec.per_packet_us!.p99).toBeGreaterThanOrEqual(sec.per_packet_us!.p50);
    // The machine's floor for the same CPU time: from the stall trace taken before the run.
    expect(doc.machine.stalls!.duration_ms).toBeGreaterThanOrEqual(2000);
    const floor = sec.machine_floor_us!;
    expect(floor.cpu_us).toBeCloseTo(sec.protect_us!.p50_us + sec.unprotect_us!.p50_us, 1);
    expect(floor.p50).toBeGreaterThanOrEqual(floor.cpu_us);
    expect(floor.p99).toBeGreaterThanOrEqual(floor.p50);
    expectInterval(floor.ci!.p99, 6);
    expect(r.stdout).toMatch(/the machine's floor for the same CPU time/);
    expect(r.stdout).toMatch(/^this machine, before the run: stalls over /m);
    expect(doc.stage_check!.prometheus_ok).toBe(true);
    expect(rate.security_on.drops).toEqual({});
    expect(rate.security_off.drops).toEqual({});
    expect(doc.medium.on).toMatchObject({ channel: { lost: 0 } });
    expect(doc.problems).toEqual([]);
    for (const f of ['latency-cdf.svg', 'latency-breakdown.svg']) {
      const root = parseXml(readFileSync(join(report, f), 'utf8'));
      expect(findAll(root, (e) => e.attrs.class === 'panel').length).toBeGreaterThan(0);
    }
  });
});
