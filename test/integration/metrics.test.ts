/**
 * Live profiling (issue 7): the PDCP entities' stage hooks, the histograms behind them, the
 * Prometheus text parser, and a daemon-metrics endpoint scraped over HTTP while PDUs flow.
 * No wall-clock assertions: timings are checked for structure (counts, order, sums), never size.
 */
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  LOG_LINEAR_BUCKETS,
  LogLinearHistogram,
  PROM_BOUNDS_NS,
  StageHistogram,
  logLinearBounds,
  logLinearIndex,
} from '../../bridge/metrics/histogram.js';
import { createDaemonMetrics, type CounterSample, type DaemonMetrics } from '../../bridge/metrics/daemon-metrics.js';
import { parseListen } from '../../bridge/metrics/http-endpoint.js';
import { bucketQuantile, histogramSeries, parsePrometheusText, PromParseError, type PromFamily } from '../../bridge/metrics/prom-text.js';
import type { PdcpProfiler } from '../../src/pdcp/profiler.js';
import { GROUP_ID, NOW, SENDER_GMI, bytes, pair, rng } from '../fixtures/pdcp-helpers.js';
import { family, logSink } from '../fixtures/prom-helpers.js';

/** A profiler with a fake clock (+10 ns per reading) that records every call it gets. */
function recordingProfiler(sampleEvery?: number) {
  let clock = 0;
  const calls: Array<[string, string, number]> = [];
  const profiler: PdcpProfiler = {
    sampleEvery,
    nowNs: () => (clock += 10),
    tx: (stage, ns) => void calls.push(['tx', stage, ns]),
    rx: (stage, ns) => void calls.push(['rx', stage, ns]),
    call: (dir, ns) => void calls.push([dir, 'call', ns]),
  };
  return { profiler, calls, readings: () => clock / 10 };
}

describe('PDCP entity stage hooks', () => {
  it('times each transmit and receive stage of a PDU between consecutive clock readings', () => {
    const t = recordingProfiler();
    const r = recordingProfiler();
    const { tx, rx } = pair({}, { tx: { profiler: t.profiler }, rx: { profiler: r.profiler } });
    const sent = tx.protect(bytes(128, 1), 1, GROUP_ID, NOW);
    // 5 readings: start, key done, encode done, MAC done, cipher done.
    expect(t.readings()).toBe(5);
    expect(t.calls).toEqual([
      ['tx', 'key', 10],
      ['tx', 'encode', 10],
      ['tx', 'integrity', 10],
      ['tx', 'cipher', 10],
      ['tx', 'call', 40],
    ]);
    const got = rx.unprotect(sent.pdu, sent.l2Src, sent.l2Dst, NOW);
    expect(got.ok).toBe(true);
    // 6 readings: start, decode done, key done, decipher done, MAC done, replay update done.
    expect(r.readings()).toBe(6);
    expect(r.calls).toEqual([
      ['rx', 'decode', 10],
      ['rx', 'key', 20],
      ['rx', 'cipher', 10],
      ['rx', 'integrity', 10],
      ['rx', 'call', 50],
    ]);
  });

  it('produces the same PDUs and results with and without a profiler', () => {
    const plain = pair();
    const timed = pair({}, { tx: { profiler: recordingProfiler().profiler }, rx: { profiler: recordingProfiler().profiler } });
    const r32 = rng(5);
    const next = (): number => r32() / 2 ** 32;
    for (let i = 0; i < 50; i++) {
      const sdu = bytes(1 + Math.floor(next() * 300), i);
      const a = plain.tx.protect(sdu, 1, GROUP_ID, NOW);
      const b = timed.tx.protect(sdu, 1, GROUP_ID, NOW);
      expect(b.pdu).toEqual(a.pdu);
      const ra = plain.rx.unprotect(a.pdu, a.l2Src, a.l2Dst, NOW);
      const rb = timed.rx.unprotect(b.pdu, b.l2Src, b.l2Dst, NOW);
      expect(rb).toEqual(ra);
    }
  });

  it('times one PDU in sampleEvery and records nothing for drops', () => {
    const t = recordingProfiler(3);
    const r = recordingProfiler(1);
    const { tx, rx } = pair({}, { tx: { profiler: t.profiler }, rx: { profiler: r.profiler } });
    const pdus = Array.from({ length: 9 }, (_, i) => tx.protect(bytes(64, i), 1, GROUP_ID, NOW));
    expect(t.calls.filter(([, stage]) => stage === 'call')).toHaveLength(3);
    for (const p of pdus) expect(rx.unprotect(p.pdu, p.l2Src, p.l2Dst, NOW).ok).toBe(true);
    expect(r.calls.filter(([, stage]) => stage === 'call')).toHaveLength(9);
    const before = r.calls.length;
    expect(rx.unprotect(pdus[0]!.pdu, SENDER_GMI, GROUP_ID, NOW)).toEqual({ ok: false, reason: 'replay' });
    const forged = Uint8Array.from(pdus[1]!.pdu);
    forged[forged.length - 1]! ^= 1;
    expect(rx.unprotect(forged, SENDER_GMI, GROUP_ID, NOW).ok).toBe(false);
    expect(r.calls.length).toBe(before);
  });

  it('records no integrity stage when NIA is off', () => {
    const t = recordingProfiler();
    const r = recordingProfiler();
    const { tx, rx } = pair({ profile: 'lte-prose' }, { tx: { profiler: t.profiler }, rx: { profiler: r.profiler } });
    const p = tx.protect(bytes(32, 1), 1, GROUP_ID, NOW);
    expect(rx.unprotect(p.pdu, p.l2Src, p.l2Dst, NOW).ok).toBe(true);
    expect(t.calls.map(([, s]) => s)).toEqual(['key', 'encode', 'cipher', 'call']);
    expect(r.calls.map(([, s]) => s)).toEqual(['decode', 'key', 'cipher', 'call']);
    // The stages still tile the call.
    expect(t.calls.at(-1)![2]).toBe(t.calls.slice(0, -1).reduce((a, c) => a + c[2], 0));
    expect(t.readings()).toBe(4);
  });

  it('rejects a bad sampleEvery', () => {
    expect(() => pair({}, { tx: { profiler: recordingProfiler(0).profiler } })).toThrow(/sampleEvery/);
    expect(() => pair({}, { rx: { profiler: recordingProfiler(1.5).profiler } })).toThrow(RangeError);
  });
});

describe('histograms', () => {
  it('maps every value into the log-linear bucket that contains it', () => {
    const r32 = rng(11);
    const next = (): number => r32() / 2 ** 32;
    for (let i = 0; i < 20_000; i++) {
      const v = Math.floor(2 ** (next() * 31));
      const idx = logLinearIndex(v);
      const [lo, hi] = logLinearBounds(idx);
      expect(v >= lo && v < hi, `${v} in [${lo}, ${hi}) (bucket ${idx})`).toBe(true);
      expect((hi - lo) / lo <= 1 / 16 || hi - lo === 1).toBe(true);
    }
    expect(logLinearIndex(-5)).toBe(0);
    expect(logLinearIndex(NaN)).toBe(0);
    expect(logLinearIndex(1e12)).toBe(LOG_LINEAR_BUCKETS - 1);
    // Buckets are contiguous.
    for (let i = 1; i < LOG_LINEAR_BUCKETS; i++) expect(logLinearBounds(i)[0]).toBe(logLinearBounds(i - 1)[1]);
  });

  it('gives percentiles within the bucket resolution of the exact ones', () => {
    const r32 = rng(3);
    const next = (): number => r32() / 2 ** 32;
    const h = new LogLinearHistogram();
    const xs: number[] = [];
    for (let i = 0; i < 10_000; i++) {
      const v = 200 + Math.floor(-Math.log(1 - next()) * 3000);
      xs.push(v);
      h.record(v);
    }
    xs.sort((a, b) => a - b);
    for (const p of [1, 50, 90, 99, 99.9]) {
      const exact = xs[Math.ceil((p / 100) * xs.length) - 1]!;
      expect(Math.abs(h.percentile(p) - exact) / exact).toBeLessThan(1 / 32 + 1e-9);
    }
    expect(h.count).toBe(10_000);
    expect(h.sumNs).toBe(xs.reduce((a, b) => a + b, 0));
    const cdf = h.cdf();
    expect(cdf.at(-1)![1]).toBe(1);
    for (let i = 1; i < cdf.length; i++) expect(cdf[i]![0] > cdf[i - 1]![0] && cdf[i]![1] > cdf[i - 1]![1]).toBe(true);
  });

  it('subtracts snapshots and survives a JSON round trip', () => {
    const h = new LogLinearHistogram();
    for (let i = 1; i <= 100; i++) h.record(i * 100);
    const snap = h.copy();
    for (let i = 1; i <= 50; i++) h.record(1_000_000 + i);
    const d = h.since(snap);
    expect(d.count).toBe(50);
    expect(d.sumNs).toBe(50 * 1_000_000 + (50 * 51) / 2);
    expect(d.percentile(50)).toBeGreaterThan(900_000);
    const back = LogLinearHistogram.fromJSON(JSON.parse(JSON.stringify(h.toJSON())));
    expect([...back.counts]).toEqual([...h.counts]);
    expect(back.sumNs).toBe(h.sumNs);
    expect(() => LogLinearHistogram.fromJSON({ scheme: 'log-linear-16', count: 1, sum_ns: 1, buckets: [[9999, 1]] })).toThrow(RangeError);
  });

  it('convolves two histograms into the distribution of their sum', () => {
    const a = new LogLinearHistogram();
    const b = new LogLinearHistogram();
    for (let i = 0; i < 1000; i++) a.record(i < 900 ? 2000 : 20_000); // 90% 2 µs, 10% 20 µs
    for (let i = 0; i < 500; i++) b.record(3000);
    const c = a.convolve(b);
    expect(c.count).toBe(1000);
    expect(c.sumNs / c.count).toBeCloseTo(0.9 * 2000 + 0.1 * 20_000 + 3000, 6);
    expect(Math.abs(c.percentile(50) - 5000) / 5000).toBeLessThan(1 / 32);
    expect(Math.abs(c.percentile(99) - 23_000) / 23_000).toBeLessThan(1 / 32);
    expect(a.convolve(new LogLinearHistogram()).count).toBe(0);
  });

  it('counts Prometheus buckets with le as an inclusive upper bound', () => {
    const h = new StageHistogram();
    h.record(PROM_BOUNDS_NS[0]!); // exactly on the first bound
    h.record(PROM_BOUNDS_NS[0]! + 0.5);
    h.record(1e12); // above every bound
    expect(h.promCounts[0]).toBe(1);
    expect(h.promCounts[1]).toBe(1);
    expect(h.promCounts[PROM_BOUNDS_NS.length]).toBe(1);
    expect(h.count).toBe(3);
  });
});

describe('Prometheus text parser', () => {
  const good = [
    '# HELP x_seconds Some "help" \\\\ text',
    '# TYPE x_seconds histogram',
    'x_seconds_bucket{a="1",le="0.5"} 1',
    'x_seconds_bucket{a="1",le="1"} 3',
    'x_seconds_bucket{a="1",le="+Inf"} 4',
    'x_seconds_sum{a="1"} 2.5',
    'x_seconds_count{a="1"} 4',
    '# a comment',
    '# TYPE y_total counter',
    'y_total{msg="q\\"uote\\\\ and \\n"} 7 1700000000000',
    'z NaN',
    '',
  ].join('\n');

  it('parses families, labels with escapes, special values and histograms', () => {
    const fams = parsePrometheusText(good);
    expect(fams.map((f) => [f.name, f.type])).toEqual([
      ['x_seconds', 'histogram'],
      ['y_total', 'counter'],
      ['z', 'untyped'],
    ]);
    expect(fams[0]!.help).toBe('Some "help" \\ text');
    expect(fams[1]!.samples[0]!.labels.msg).toBe('q"uote\\ and \n');
    expect(Number.isNaN(fams[2]!.samples[0]!.value)).toBe(true);
    const [s] = histogramSeries(fams[0]!);
    expect(s).toEqual({ labels: { a: '1' }, buckets: [[0.5, 1], [1, 3], [Infinity, 4]], sum: 2.5, count: 4 });
    expect(bucketQuantile(0.5, s!.buckets)).toBeCloseTo(0.75, 10);
  });

  it('rejects what Prometheus rejects', () => {
    const bad = (text: string, what: RegExp): void => {
      expect(() => parsePrometheusText(text), text).toThrow(what);
    };
    bad('x 1', /newline/);
    bad('x{a="1} 1\n', /unterminated/);
    bad('x{a="\\t"} 1\n', /escape/);
    bad('x{a="1",a="2"} 1\n', /twice/);
    bad('x 1\nx 2\n', /twice/);
    bad('x one\n', /not a number/);
    bad('x 1\n# TYPE x gauge\n', /after its samples/);
    bad('# TYPE x histogram\nx_bucket{le="1"} 2\nx_bucket{le="+Inf"} 1\nx_sum 1\nx_count 1\n', /cumulative/);
    bad('# TYPE x histogram\nx_bucket{le="1"} 1\nx_bucket{le="+Inf"} 2\nx_sum 1\nx_count 3\n', /_count/);
    bad('# TYPE x histogram\nx_bucket{le="1"} 1\nx_sum 1\nx_count 1\n', /\+Inf/);
    expect(() => parsePrometheusText('9x 1\n')).toThrow(PromParseError);
  });
});

describe('daemon metrics endpoint', () => {
  let metrics: DaemonMetrics | undefined;
  afterEach(async () => {
    await metrics?.stop();
    metrics = undefined;
  });


  it('serves valid Prometheus text whose counts follow the PDUs while traffic flows', async () => {
    const { logger, lines } = logSink();
    const state = { protected: 0, accepted: 0, dropped: 0 };
    const counters = (): CounterSample[] => [
      { name: 'pdus_protected_total', help: 'PDUs protected', value: state.protected },
      { name: 'slbridge_pdus_received_total', help: 'PDUs accepted', labels: { result: 'accepted' }, value: state.accepted },
      { name: 'slbridge_pdus_received_total', help: 'PDUs dropped', labels: { result: 'replay' }, value: state.dropped },
      { name: 'slbridge_peers', help: 'peers with "quotes" \\ and a\nnewline', labels: { link: 'medium "a"\\b' }, value: 3 },
      { name: 'bad-name', help: 'skipped', value: 1 },
    ];
    metrics = createDaemonMetrics({ ueId: 'ue-7', listen: '127.0.0.1:0', summaryIntervalMs: 150, logger, counters, sampleEvery: 1 });
    await metrics.start();
    expect(metrics.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const { tx, rx } = pair({}, { tx: { profiler: metrics.profiler }, rx: { profiler: metrics.profiler } });

    let running = true;
    let aroundNs = 0;
    const around = new LogLinearHistogram();
    const traffic = (async () => {
      const sdu = bytes(128, 9);
      while (running) {
        for (let i = 0; i < 200; i++) {
          const t0 = performance.now();
          const p = tx.protect(sdu, 1, GROUP_ID, NOW);
          const ns = (performance.now() - t0) * 1e6;
          aroundNs += ns;
          around.record(ns);
          state.protected++;
          const r = rx.unprotect(p.pdu, p.l2Src, p.l2Dst, NOW);
          if (r.ok) state.accepted++;
          if (i === 0 && rx.unprotect(p.pdu, p.l2Src, p.l2Dst, NOW).ok === false) state.dropped++; // a replay
        }
        await new Promise((res) => setImmediate(res));
      }
    })();

    const scrape = async (): Promise<PromFamily[]> => {
      const res = await fetch(metrics!.url!);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      return parsePrometheusText(await res.text());
    };
    const check = (fams: PromFamily[]): number => {
      const protectedNow = family(fams, 'slbridge_pdus_protected_total').samples[0]!.value;
      const acceptedNow = family(fams, 'slbridge_pdus_received_total').samples.find((s) => s.labels.result === 'accepted')!.value;
      const stages = histogramSeries(family(fams, 'slbridge_stage_seconds'));
      for (const s of stages) {
        const expected = s.labels.stage === 'handoff' ? 0 : s.labels.direction === 'tx' ? protectedNow : acceptedNow;
        expect(s.count, `${s.labels.direction}/${s.labels.stage}`).toBe(expected);
        expect(s.sum).toBeGreaterThanOrEqual(0);
        expect(s.buckets.length).toBe(PROM_BOUNDS_NS.length + 1);
      }
      const calls = histogramSeries(family(fams, 'slbridge_pdcp_call_seconds'));
      expect(calls.map((c) => [c.labels.direction, c.count])).toEqual([
        ['tx', protectedNow],
        ['rx', acceptedNow],
      ]);
      // Every series carries the UE label.
      for (const f of fams) for (const s of f.samples) expect(s.labels.ue, `${s.name}`).toBe('ue-7');
      return protectedNow;
    };

    const seen: number[] = [];
    for (let i = 0; i < 6; i++) {
      const results = await Promise.all([scrape(), scrape()]);
      for (const fams of results) seen.push(check(fams));
      await new Promise((res) => setTimeout(res, 60));
    }
    running = false;
    await traffic;
    expect(seen.some((n) => n > 0 && n < state.protected)).toBe(true); // scraped mid-traffic

    const fams = await scrape();
    expect(check(fams)).toBe(state.protected);
    expect(family(fams, 'slbridge_pdus_received_total').type).toBe('counter');
    expect(family(fams, 'slbridge_pdus_received_total').samples.find((s) => s.labels.result === 'replay')!.value).toBe(state.dropped);
    const peers = family(fams, 'slbridge_peers');
    expect(peers.type).toBe('gauge');
    expect(peers.help).toBe('peers with "quotes" \\ and a\nnewline');
    expect(peers.samples[0]!.labels.link).toBe('medium "a"\\b');
    expect(fams.some((f) => f.name.includes('bad'))).toBe(false);
    expect(lines.some((l) => l.level === 40 && l.name === 'slbridge_bad-name')).toBe(true);
    expect(family(fams, 'slbridge_profile_sample_every').samples[0]!.value).toBe(1);
    // prom-client's standard process collector, with the UE label like every other series.
    for (const name of ['process_cpu_user_seconds_total', 'process_cpu_system_seconds_total', 'process_cpu_seconds_total']) {
      expect(family(fams, name).type).toBe('counter');
      expect(family(fams, name).samples.map((s) => s.labels)).toEqual([{ ue: 'ue-7' }]);
    }
    expect(family(fams, 'process_resident_memory_bytes').samples[0]!.value).toBeGreaterThan(0);

    // Stage sums vs the time measured around each protect call (a reported figure, not asserted).
    const txStages = histogramSeries(family(fams, 'slbridge_stage_seconds')).filter((s) => s.labels.direction === 'tx');
    const stageSumNs = txStages.reduce((a, s) => a + s.sum * 1e9, 0);
    const callP50 = metrics.snapshot().call.tx;
    const stageP50 = LogLinearHistogram.fromJSON(callP50).percentile(50);
    console.log(
      `metrics: ${state.protected} PDUs; protect time around the calls mean ${(aroundNs / state.protected).toFixed(0)} ns, p50 ${around.percentile(50).toFixed(0)} ns; ` +
        `stage sums mean ${(stageSumNs / state.protected).toFixed(0)} ns (${((stageSumNs / aroundNs) * 100).toFixed(1)}%), p50 ${stageP50.toFixed(0)} ns ` +
        `(${((stageP50 / around.percentile(50)) * 100).toFixed(1)}%)`,
    );
    expect(stageSumNs).toBeGreaterThan(0);
    expect(stageSumNs).toBeLessThanOrEqual(aroundNs); // the stages lie inside the call

    // /profile.json agrees with the Prometheus counts.
    const prof = (await (await fetch(metrics.url!.replace('/metrics', '/profile.json'))).json()) as {
      sample_every: number;
      tx: Record<string, { count: number }>;
      call: { rx: { count: number } };
    };
    expect(prof.sample_every).toBe(1);
    expect(prof.tx.cipher!.count).toBe(state.protected);
    expect(prof.call.rx.count).toBe(state.accepted);

    // The periodic summary line.
    await new Promise((res) => setTimeout(res, 200));
    const summary = lines.find((l) => typeof l.msg === 'string' && (l.msg as string).startsWith('pdcp stage latency p50/p99'));
    expect(summary, JSON.stringify(lines.slice(0, 5))).toBeDefined();
    const stagesUs = summary!.stages_us as Record<string, Record<string, { n: number; p50_us: number; p99_us: number }>>;
    expect(Object.keys(stagesUs.tx!).sort()).toEqual(['call', 'cipher', 'encode', 'integrity', 'key']);
    expect(stagesUs.rx!.cipher!.n).toBeGreaterThan(0);
    expect(stagesUs.rx!.cipher!.p99_us).toBeGreaterThanOrEqual(stagesUs.rx!.cipher!.p50_us);
  });

  it('answers other paths and methods, records handoff, and stops listening on stop()', async () => {
    const { logger } = logSink();
    metrics = createDaemonMetrics({ ueId: 'u', listen: '127.0.0.1:0', logger, counters: () => [] });
    await metrics.start();
    const base = metrics.url!.replace('/metrics', '');
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
    const head = await fetch(`${base}/metrics`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    metrics.profiler.tx('handoff', 1500);
    metrics.profiler.rx('handoff', 2500);
    const fams = parsePrometheusText(await (await fetch(`${base}/metrics`)).text());
    const handoff = histogramSeries(fams.find((f) => f.name === 'slbridge_stage_seconds')!).filter((s) => s.labels.stage === 'handoff');
    expect(handoff.map((s) => [s.labels.direction, s.count, s.sum])).toEqual([
      ['tx', 1, 1.5e-6],
      ['rx', 1, 2.5e-6],
    ]);
    await metrics.stop();
    await expect(fetch(`${base}/metrics`)).rejects.toThrow();
    metrics = undefined;
  });

  it('validates listen and reports a port in use', async () => {
    expect(parseListen('127.0.0.1:9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
    for (const bad of ['9464', 'host:', 'h:70000', ':1', 'a b:1']) expect(() => parseListen(bad), bad).toThrow(/HOST:PORT/);
    const { logger } = logSink();
    expect(() => createDaemonMetrics({ ueId: 'u', listen: 'nope', logger, counters: () => [] })).toThrow(RangeError);
    expect(() => createDaemonMetrics({ ueId: 'u', logger, counters: () => [], sampleEvery: 0 })).toThrow(/sampleEvery/);
    const blocker = createServer();
    await new Promise<void>((res) => blocker.listen(0, '127.0.0.1', () => res()));
    const port = (blocker.address() as { port: number }).port;
    const m = createDaemonMetrics({ ueId: 'u', listen: `127.0.0.1:${port}`, logger, counters: () => [] });
    await expect(m.start()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await m.stop();
    await new Promise((res) => blocker.close(res));
  });
});
