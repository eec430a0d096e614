/**
 * The in-process parts of the daemon metrics (bridge/metrics/): the stage recorder the PDCP
 * entities call, the prom-client Registry built on it (scraped as text and read back with the
 * strict parser of prom-text.ts), and the summary log line. The HTTP endpoint and the whole
 * composition under traffic: test/integration/metrics.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { LogLinearHistogram, PROM_BOUNDS_NS } from '../../bridge/metrics/histogram.js';
import { CALL_METRIC, DaemonPromRegistry, STAGE_METRIC, type CounterSample } from '../../bridge/metrics/prom-registry.js';
import { createDaemonMetrics } from '../../bridge/metrics/daemon-metrics.js';
import { histogramSeries, parsePrometheusText, type PromFamily } from '../../bridge/metrics/prom-text.js';
import { DEFAULT_SAMPLE_EVERY, RX_STAGES, StageRecorder, TX_STAGES } from '../../bridge/metrics/stage-recorder.js';
import { StageSummaryLog } from '../../bridge/metrics/summary-log.js';
import type { PdcpProfiler } from '../../src/pdcp/profiler.js';
import { GROUP_ID, NOW, bytes, pair } from '../fixtures/pdcp-helpers.js';
import { family, logSink } from '../fixtures/prom-helpers.js';


describe('stage recorder', () => {
  it('records what the entities time into one histogram per direction and stage', () => {
    const recorder = new StageRecorder('ue-1', 1);
    const { tx, rx } = pair({}, { tx: { profiler: recorder.profiler }, rx: { profiler: recorder.profiler } });
    for (let i = 0; i < 20; i++) {
      const p = tx.protect(bytes(64, i), 1, GROUP_ID, NOW);
      expect(rx.unprotect(p.pdu, p.l2Src, p.l2Dst, NOW).ok).toBe(true);
    }
    for (const stage of ['key', 'encode', 'integrity', 'cipher'] as const) expect(recorder.stages.tx[stage].count, stage).toBe(20);
    for (const stage of ['decode', 'key', 'cipher', 'integrity'] as const) expect(recorder.stages.rx[stage].count, stage).toBe(20);
    expect(recorder.stages.tx.handoff.count).toBe(0);
    expect(recorder.calls.tx.count).toBe(20);
    expect(recorder.calls.rx.count).toBe(20);
    // The stages of a PDU tile its call, so their sums add up to the calls' sum.
    const txStageSum = Object.values(recorder.stages.tx).reduce((a, h) => a + h.sumNs, 0);
    expect(txStageSum).toBeCloseTo(recorder.calls.tx.sumNs, 3);
  });

  it('times one PDU in sampleEvery (8 by default) and rejects other sampling values', () => {
    expect(new StageRecorder('u').profiler.sampleEvery).toBe(DEFAULT_SAMPLE_EVERY);
    const recorder = new StageRecorder('u', 4);
    const { tx } = pair({}, { tx: { profiler: recorder.profiler } });
    for (let i = 0; i < 20; i++) tx.protect(bytes(32, i), 1, GROUP_ID, NOW);
    expect(recorder.calls.tx.count).toBe(5);
    for (const bad of [0, -1, 1.5, NaN]) expect(() => new StageRecorder('u', bad), String(bad)).toThrow(/sampleEvery/);
  });

  it('ignores a stage or direction it does not know instead of throwing', () => {
    const recorder = new StageRecorder('u');
    const untyped = recorder.profiler as unknown as { tx(s: string, ns: number): void; call(d: string, ns: number): void };
    expect(() => untyped.tx('bogus', 5)).not.toThrow();
    expect(() => untyped.call('sideways', 5)).not.toThrow();
    const snap = recorder.snapshot();
    expect([...Object.values(snap.tx), snap.call.tx, snap.call.rx].every((h) => h.count === 0)).toBe(true);
  });

  it('snapshots every stage as a serialized histogram that reads back to what was recorded', () => {
    const recorder = new StageRecorder('ue-9', 2);
    const p: PdcpProfiler = recorder.profiler;
    p.tx('cipher', 1200);
    p.tx('cipher', 1800);
    p.rx('handoff', 40_000);
    p.call!('rx', 7000);
    const snap = JSON.parse(JSON.stringify(recorder.snapshot())) as ReturnType<StageRecorder['snapshot']>;
    expect(snap.ue).toBe('ue-9');
    expect(snap.sample_every).toBe(2);
    expect(snap.uptime_ms).toBeGreaterThanOrEqual(0);
    expect(Object.keys(snap.tx)).toEqual([...TX_STAGES]);
    expect(Object.keys(snap.rx)).toEqual([...RX_STAGES]);
    const cipher = LogLinearHistogram.fromJSON(snap.tx.cipher!);
    expect([cipher.count, cipher.sumNs]).toEqual([2, 3000]);
    expect(LogLinearHistogram.fromJSON(snap.rx.handoff!).count).toBe(1);
    expect(LogLinearHistogram.fromJSON(snap.call.rx).sumNs).toBe(7000);
    expect(snap.call.tx.count).toBe(0);
  });
});

describe('prom-client registry', () => {
  function setup(counters: () => CounterSample[]) {
    const { logger, lines } = logSink();
    const recorder = new StageRecorder('ue-3', 1);
    const prom = new DaemonPromRegistry({ ueId: 'ue-3', recorder, counters, logger });
    const scrape = async (): Promise<PromFamily[]> => parsePrometheusText(await prom.metrics());
    const warnings = (): string[] => lines.filter((l) => l.level === 40).map((l) => String(l.msg));
    return { recorder, prom, scrape, warnings };
  }

  it('renders the recorded histograms with le as an inclusive bound, in seconds, labelled with the UE', async () => {
    const { recorder, scrape, prom } = setup(() => []);
    expect(prom.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    recorder.profiler.tx('key', PROM_BOUNDS_NS[2]!); // exactly on the 200 ns bound
    recorder.profiler.tx('key', 250);
    recorder.profiler.rx('handoff', 1e12); // above every bound
    recorder.profiler.call!('tx', 450);
    const fams = await scrape();
    const stages = histogramSeries(family(fams, STAGE_METRIC));
    expect(stages.map((s) => `${s.labels.direction}/${s.labels.stage}`)).toEqual([
      ...TX_STAGES.map((s) => `tx/${s}`),
      ...RX_STAGES.map((s) => `rx/${s}`),
    ]);
    const key = stages.find((s) => s.labels.direction === 'tx' && s.labels.stage === 'key')!;
    expect(key.buckets.find(([le]) => le === 2e-7)![1]).toBe(1);
    expect(key.buckets.find(([le]) => le === 3e-7)![1]).toBe(2);
    expect([key.count, key.sum]).toEqual([2, 4.5e-7]);
    const handoff = stages.find((s) => s.labels.direction === 'rx' && s.labels.stage === 'handoff')!;
    expect(handoff.buckets.at(-2)![1]).toBe(0);
    expect(handoff.buckets.at(-1)).toEqual([Infinity, 1]);
    const calls = histogramSeries(family(fams, CALL_METRIC));
    expect(calls.map((c) => [c.labels.direction, c.count])).toEqual([
      ['tx', 1],
      ['rx', 0],
    ]);
    expect(family(fams, 'slbridge_profile_sample_every').samples[0]!.value).toBe(1);
    for (const f of fams) for (const s of f.samples) expect(s.labels.ue, s.name).toBe('ue-3');
  });

  it('serves prom-client standard process and Node.js metrics', async () => {
    const { scrape } = setup(() => []);
    const fams = await scrape();
    for (const name of ['process_cpu_user_seconds_total', 'process_cpu_system_seconds_total', 'process_cpu_seconds_total']) {
      expect(family(fams, name).type, name).toBe('counter');
    }
    expect(family(fams, 'process_resident_memory_bytes').samples[0]!.value).toBeGreaterThan(0);
    expect(family(fams, 'process_start_time_seconds').samples[0]!.value).toBeGreaterThan(0);
    expect(family(fams, 'nodejs_heap_size_used_bytes').type).toBe('gauge');
  });

  it('reads counters() once per scrape and serves what it returned then', async () => {
    let calls = 0;
    let sent = 0;
    const { scrape } = setup(() => {
      calls++;
      return [
        { name: 'pdus_out_total', help: 'PDUs sent', value: sent },
        { name: 'slbridge_dropped_total', help: 'drops', labels: { reason: 'replay' }, value: 2 * sent },
        { name: 'slbridge_dropped_total', help: 'drops', labels: { reason: 'mac' }, value: 1 },
        { name: 'slbridge_peers', help: 'peers', value: sent + 1 },
      ];
    });
    for (sent = 0; sent < 3; sent++) {
      const fams = await scrape();
      expect(calls).toBe(sent + 1);
      const out = family(fams, 'slbridge_pdus_out_total');
      expect([out.type, out.help, out.samples[0]!.value]).toEqual(['counter', 'PDUs sent', sent]);
      expect(family(fams, 'slbridge_dropped_total').samples.map((s) => [s.labels.reason, s.value])).toEqual([
        ['replay', 2 * sent],
        ['mac', 1],
      ]);
      const peers = family(fams, 'slbridge_peers');
      expect([peers.type, peers.samples[0]!.value]).toEqual(['gauge', sent + 1]);
    }
  });

  it('leaves out bad counters with one warning each and serves the rest', async () => {
    let round = 0;
    const { scrape, warnings } = setup(() => {
      round++;
      const samples: CounterSample[] = [
        { name: 'ok_total', help: 'fine', labels: { reason: 'a' }, value: 1 },
        { name: 'bad-name_total', help: 'bad metric name', value: 1 },
        { name: 'labels_total', help: 'bad label', labels: { ue: 'other' }, value: 1 },
        { name: 'negative_total', help: 'a counter cannot go down', value: -1 },
        { name: STAGE_METRIC, help: 'taken', value: 1 },
      ];
      // A label its family did not start with, from the second scrape on.
      if (round > 1) samples.push({ name: 'ok_total', help: 'fine', labels: { reason: 'b', extra: 'x' }, value: 5 });
      return samples;
    });
    for (let i = 0; i < 3; i++) {
      const fams = await scrape();
      expect(family(fams, 'slbridge_ok_total').samples.map((s) => s.value)).toEqual([1]);
      expect(fams.some((f) => /bad|labels_total/.test(f.name))).toBe(false);
      expect(family(fams, 'slbridge_negative_total').samples).toEqual([]);
      expect(histogramSeries(family(fams, STAGE_METRIC)).length).toBe(TX_STAGES.length + RX_STAGES.length);
    }
    const w = warnings();
    expect(w.filter((m) => m.includes('invalid metric or label name'))).toHaveLength(2);
    expect(w.filter((m) => m.includes('value its metric type cannot take'))).toHaveLength(1);
    expect(w.filter((m) => m.includes('built-in metrics'))).toHaveLength(1);
    expect(w.filter((m) => m.includes('did not start with'))).toHaveLength(1);
  });

  it('serves the histograms when counters() throws, and counters that stop appearing as empty families', async () => {
    let mode: 'ok' | 'throw' | 'gone' = 'ok';
    const { scrape, warnings } = setup(() => {
      if (mode === 'throw') throw new Error('daemon not ready');
      return mode === 'ok' ? [{ name: 'sent_total', help: 'sent', value: 4 }] : [];
    });
    expect(family(await scrape(), 'slbridge_sent_total').samples[0]!.value).toBe(4);
    mode = 'throw';
    for (let i = 0; i < 2; i++) {
      const fams = await scrape();
      expect(family(fams, 'slbridge_sent_total').samples).toEqual([]);
      expect(family(fams, STAGE_METRIC).samples.length).toBeGreaterThan(0);
    }
    expect(warnings().filter((m) => m.includes('counters() threw'))).toHaveLength(1);
    mode = 'gone';
    expect(family(await scrape(), 'slbridge_sent_total').samples).toEqual([]);
  });
});

describe('summary log line', () => {
  type StagesUs = Record<'tx' | 'rx', Record<string, { n: number; mean_us: number; p50_us: number; p99_us: number }>>;

  it('logs the PDUs timed since the previous line, per direction and stage, when stopped', () => {
    const { logger, lines } = logSink();
    const recorder = new StageRecorder('u', 3);
    const log = new StageSummaryLog(recorder, logger, 3_600_000);
    recorder.profiler.tx('key', 999_999); // before start: not in the first line
    log.start();
    // Values below 32 ns have exact buckets, so the figures are exact too.
    for (const ns of [10, 10, 30]) recorder.profiler.tx('key', ns);
    recorder.profiler.call!('tx', 20);
    recorder.profiler.rx('cipher', 7);
    log.stop();
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    expect(line.level).toBe(30);
    expect(line.sample_every).toBe(3);
    expect(line.interval_s).toBeGreaterThanOrEqual(0);
    expect(line.msg).toBe('pdcp stage latency p50/p99 µs: tx call 0.02/0.02, tx key 0.01/0.03, rx cipher 0.01/0.01');
    const stages = line.stages_us as StagesUs;
    expect(stages.tx.key).toEqual({ n: 3, mean_us: 0.02, p50_us: 0.01, p99_us: 0.03 });
    expect(Object.keys(stages.tx)).toEqual(['call', 'key']);
    expect(Object.keys(stages.rx)).toEqual(['cipher']);

    log.start();
    recorder.profiler.tx('key', 20);
    log.stop();
    expect((lines[1]!.stages_us as StagesUs).tx).toEqual({ key: { n: 1, mean_us: 0.02, p50_us: 0.02, p99_us: 0.02 } });
  });

  it('logs at debug level when no PDU was timed, and nothing at all with interval 0', () => {
    const { logger, lines } = logSink();
    const recorder = new StageRecorder('u');
    const log = new StageSummaryLog(recorder, logger, 60_000);
    log.start();
    log.stop();
    expect(lines.map((l) => [l.level, l.msg])).toEqual([[20, 'pdcp stage latency: no PDUs timed']]);
    const never = new StageSummaryLog(recorder, logger, 0);
    never.start();
    recorder.profiler.tx('key', 100);
    never.stop();
    expect(lines).toHaveLength(1);
    for (const bad of [-1, NaN]) expect(() => new StageSummaryLog(recorder, logger, bad)).toThrow(/summaryIntervalMs/);
  });
});

describe('createDaemonMetrics without listen', () => {
  it('profiles, snapshots and renders metrics without serving them', async () => {
    const { logger, lines } = logSink();
    const metrics = createDaemonMetrics({ ueId: 'solo', logger, counters: () => [{ name: 'sent_total', help: 'sent', value: 7 }], summaryIntervalMs: 60_000 });
    await metrics.start();
    expect(metrics.url).toBeUndefined();
    metrics.profiler.tx('encode', 10);
    expect(metrics.snapshot().tx.encode!.count).toBe(1);
    const fams = parsePrometheusText(await metrics.metricsText());
    expect(family(fams, 'slbridge_sent_total').samples[0]!.value).toBe(7);
    expect(histogramSeries(family(fams, STAGE_METRIC)).find((s) => s.labels.stage === 'encode')!.count).toBe(1);
    await metrics.stop();
    expect(lines.filter((l) => String(l.msg).startsWith('pdcp stage latency p50/p99'))).toHaveLength(1); // the last line, at stop
    expect(() => createDaemonMetrics({ ueId: '', logger, counters: () => [] })).toThrow(/ueId/);
  });
});
