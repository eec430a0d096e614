/**
 * SVG reports (issue 7): the chart module's output is well-formed XML (parsed strictly), with the
 * expected panels, series, bars, legend entries and escaped text; the crypto and e2e reports are
 * built from run data; `bench crypto --report` writes its plot. No timing assertions.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cryptoPanels, writeCryptoReport, type CryptoReportInput } from '../../bridge/report/crypto-report.js';
import { fmtUs, writeE2eReport } from '../../bridge/report/e2e-report.js';
import { escapeXml, figure, lineChart, linearTicks, logTicks, stackedBars, wrapText } from '../../bridge/report/svg-chart.js';
import { runFooter, runMetadata } from '../../bridge/bench/run-metadata.js';
import { judge, medianInterval } from '../../src/stats/interval.js';
import { allText, findAll, parseXml, type XmlElement } from '../fixtures/e2e-xml.js';
import { sampleReport } from '../fixtures/e2e-sample.js';

const BIN = new URL('../../bin/sl-bridge.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'sl-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const byClass = (root: XmlElement, cls: string): XmlElement[] => findAll(root, (e) => e.attrs.class === cls);
/** Every text element below `el`, one space between them: a note wrapped onto several lines reads as one. */
const words = (el: XmlElement): string => findAll(el, (e) => e.name === 'text').map(allText).join(' ');

describe('svg-chart', () => {
  it('escapes text and picks readable ticks', () => {
    expect(escapeXml(`a<b>&"c'`)).toBe('a&lt;b&gt;&amp;&quot;c&#39;');
    expect(linearTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(linearTicks(0, 1500)).toEqual([0, 250, 500, 750, 1000, 1250, 1500]);
    expect(logTicks(100, 100_000)).toEqual([100, 1000, 10_000, 100_000]);
    expect(logTicks(1, 50)).toEqual([1, 2, 5, 10, 20, 50]);
    expect(wrapText('aa bb cc dd', 5)).toEqual(['aa bb', 'cc dd']);
    expect(wrapText('a-very-long-word b', 4)).toEqual(['a-very-long-word', 'b']);
  });

  it('draws given ticks on a log axis, error bars, a warning and wrapped footers', () => {
    const svg = figure({
      title: 'T',
      warning: 'UNRELIABLE <run>',
      panels: [
        lineChart({
          title: 'p',
          x: { label: 'size', scale: 'log', ticks: [16, 64, 128, 512, 1500, 99999], format: String },
          y: { label: 'µs', min: 0 },
          series: [{ name: 's', points: [[16, 1], [128, 2], [1500, 5]], intervals: [[0.9, 1.2], null, [4, 7]], line: false }],
        }),
      ],
      footer: [`${'word '.repeat(60)}end`],
    });
    const root = parseXml(svg);
    const texts = findAll(root, (e) => e.name === 'text').map((e) => allText(e));
    // The ticks asked for, inside the axis range only.
    for (const t of ['16', '64', '128', '512', '1500']) expect(texts).toContain(t);
    expect(texts).not.toContain('99999');
    const bars = byClass(root, 'intervals');
    expect(bars).toHaveLength(1);
    expect(findAll(bars[0]!, (e) => e.name === 'path')).toHaveLength(2); // the point without an interval has none
    expect(allText(byClass(root, 'warning')[0]!)).toBe('UNRELIABLE <run>');
    // 305 characters of footer at 640 px: wrapped onto more than one line.
    expect(texts.filter((t) => t.startsWith('word') || t.endsWith('end')).length).toBeGreaterThan(1);
  });

  it('draws a well-formed line chart: one group per series, legend entries, escaped title', () => {
    const svg = figure({
      title: 'T <&> "quoted"',
      panels: [
        lineChart({
          title: 'p1 <a&b>',
          x: { label: 'x', scale: 'log' },
          y: { label: 'y', min: 0, max: 1 },
          series: [
            { name: 'one & only', points: [[1, 0.1], [10, 0.5], [100, 1]], step: true },
            { name: 'two', points: [[2, 0.2], [20, 0.9]], dashed: true },
            { name: 'hidden points', points: [[3, 0.3]], line: false, hideInLegend: true },
            { name: 'dropped on a log axis', points: [[0, 0.3], [-1, 0.5]] },
          ],
          legend: 'bottom-right',
        }),
      ],
      footer: ['footer <1>'],
    });
    const root = parseXml(svg);
    expect(root.name).toBe('svg');
    expect(allText(root)).toContain('T <&> "quoted"');
    expect(allText(root)).toContain('p1 <a&b>');
    expect(allText(root)).toContain('footer <1>');
    expect(byClass(root, 'panel')).toHaveLength(1);
    const series = byClass(root, 'series');
    expect(series.map((s) => s.attrs['data-name'])).toEqual(['one & only', 'two', 'hidden points', 'dropped on a log axis']);
    const polylines = findAll(root, (e) => e.name === 'polyline');
    expect(polylines).toHaveLength(2); // hidden points: markers only; non-positive x on a log axis: nothing
    // A step line has 2 coordinates per point after the first.
    expect(polylines[0]!.attrs.points!.split(' ')).toHaveLength(5);
    expect(polylines[1]!.attrs['stroke-dasharray']).toBeDefined();
    expect(byClass(root, 'markers')).toHaveLength(1);
    const legend = byClass(root, 'legend');
    expect(legend).toHaveLength(1);
    expect(allText(legend[0]!)).toBe('one & onlytwodropped on a log axis');
  });

  it('draws stacked bars: one group per bar, one rect per non-zero layer, groups labelled', () => {
    const svg = figure({
      panels: [
        stackedBars({
          title: 'bars',
          y: { label: 'ms' },
          layers: ['a', 'b', 'c'],
          bars: [
            { group: 'g1', label: 'on', values: [1, 2, 3] },
            { group: 'g1', label: 'off', values: [1, 0, 3] },
            { group: 'g2', label: 'on', values: [0.5, 0.5, 0.5] },
          ],
          totals: true,
        }),
      ],
    });
    const root = parseXml(svg);
    const bars = byClass(root, 'bar');
    expect(bars.map((b) => b.attrs['data-label'])).toEqual(['g1 on', 'g1 off', 'g2 on']);
    expect(bars.map((b) => findAll(b, (e) => e.name === 'rect').length)).toEqual([3, 2, 3]);
    // Heights of one bar's layers are in proportion to its values.
    const h = findAll(bars[0]!, (e) => e.name === 'rect').map((r) => Number(r.attrs.height));
    expect(h[1]! / h[0]!).toBeCloseTo(2, 1);
    expect(h[2]! / h[0]!).toBeCloseTo(3, 1);
    expect(allText(root)).toContain('g1');
    expect(allText(root)).toContain('g2');
    expect(allText(byClass(root, 'legend')[0]!)).toBe('cba'); // top layer first, as stacked
    expect(() => stackedBars({ title: 'x', y: { label: 'y' }, layers: ['a'], bars: [{ label: 'b', values: [1, 2] }] })).toThrow(RangeError);
  });
});

/** Six rounds' p50 around a value: an interval as crypto-run.ts writes it. */
const ci = (p50: number) => ({ p50_ns: medianInterval([0.98, 0.99, 1, 1, 1.02, 1.05].map((f) => f * p50))! });

const cryptoInput: CryptoReportInput = {
  results: [
    ...[16, 128, 1500].flatMap((size) => [
      { name: 'nea2', size, p50_ns: 233 + 4.33 * size, p99_ns: 500 + 5 * size },
      { name: 'baseline-nea2', size, p50_ns: 2000 + 0.4 * size, p99_ns: 3000 },
      { name: 'nia2', size, p50_ns: 900 + 1.3 * size, p99_ns: 2000 },
      { name: 'protect-nea2-nia2', size, p50_ns: 1400 + 2.4 * size, p99_ns: 3000 },
      { name: 'protect-nea1-nia2', size, p50_ns: 1400 + 2.4 * size, p99_ns: 3000 },
    ]),
    { name: 'nea3', size: 128, p50_ns: 1000, p99_ns: 2000 },
  ],
  fits: [
    { name: 'nea2', fixed_ns: 233, per_byte_ns: 4.33, sizes: [16, 128, 1500] },
    { name: 'baseline-nea2', fixed_ns: 2000, per_byte_ns: 0.4, sizes: [16, 128, 1500] },
    { name: 'nia2', fixed_ns: 900, per_byte_ns: 1.3, sizes: [16, 128, 1500] },
    { name: 'protect-nea2-nia2', fixed_ns: 1400, per_byte_ns: 2.4, sizes: [16, 128, 1500] },
    { name: 'protect-nea1-nia2', fixed_ns: 1400, per_byte_ns: 2.4, sizes: [16, 128, 1500] },
  ],
};

describe('crypto report', () => {
  it('plots each algorithm with its fit, matched NEA/NIA pairs only', () => {
    expect(cryptoPanels(cryptoInput)).toHaveLength(3); // NEA, NIA, PDCP (no first-PDU rows)
    const [file] = writeCryptoReport(dir, cryptoInput);
    const root = parseXml(readFileSync(file!, 'utf8'));
    const panels = byClass(root, 'panel');
    expect(panels).toHaveLength(3);
    const names = (p: XmlElement): string[] => byClass(p, 'series').map((s) => s.attrs['data-name']!);
    // NEA panel: a fit line and measured points for nea2 and its baseline; points only for nea3 (one size).
    expect(names(panels[0]!)).toEqual([
      'nea2: 233 ns + 4.33 ns/B',
      'nea2 p50',
      'baseline-nea2: 2000 ns + 0.40 ns/B',
      'baseline-nea2 p50',
      'nea3 p50 (one size: no fit)',
    ]);
    expect(names(panels[2]!)).toEqual(['protect-nea2-nia2: 1400 ns + 2.40 ns/B', 'protect-nea2-nia2 p50']);
    expect(allText(panels[2]!)).toContain('1 mixed pairs in the JSON only');
    // The fit of nea2 runs from the smallest to the largest size, as a curve on the log size axis.
    const nea2Line = findAll(panels[0]!, (e) => e.name === 'polyline')[0]!;
    const xs = nea2Line.attrs.points!.split(' ').map((p) => Number(p.split(',')[0]));
    expect(xs.length).toBeGreaterThan(10);
    // Evenly spaced on the log axis: the 16-128 B decade gets as much room as 128-1500 B.
    const at = (size: number): number => xs[0]! + ((xs.at(-1)! - xs[0]!) * Math.log(size / 16)) / Math.log(1500 / 16);
    expect(at(128) - xs[0]!).toBeGreaterThan(0.4 * (xs.at(-1)! - xs[0]!));
    expect(allText(panels[0]!)).toContain('payload (bytes, log scale)');
    expect(byClass(panels[0]!, 'markers').map((m) => findAll(m, (e) => e.name === 'circle').length)).toEqual([3, 3, 1]);
    // No interval in this input (a JSON of an older build): no error bars, no warning, no run footer.
    expect(byClass(root, 'intervals').every((g) => findAll(g, (e) => e.name === 'path').length === 0)).toBe(true);
    expect(byClass(root, 'warning')).toHaveLength(0);
  });

  it('draws each point at the median of its rounds with its interval, the run in the footer, a warning when unreliable', () => {
    const run = runMetadata('bench crypto', { sizes: [16, 128, 1500], rounds: 6 });
    const input: CryptoReportInput = {
      ...cryptoInput,
      results: cryptoInput.results.map((r) => ({ ...r, ci: ci(r.p50_ns) })),
      run,
      unreliable: true,
      stall_lost_pct: 9.5,
    };
    const [file] = writeCryptoReport(join(dir, 'with-ci'), input);
    const root = parseXml(readFileSync(file!, 'utf8'));
    const panels = byClass(root, 'panel');
    expect(findAll(byClass(panels[0]!, 'intervals')[0]!, (e) => e.name === 'path')).toHaveLength(3);
    expect(byClass(root, 'warning').map(allText).join(' ')).toContain('UNRELIABLE RUN: this machine lost 9.5 % of the time to stalls');
    const text = words(root);
    for (const line of runFooter(run)) for (const word of line.split(' ').slice(0, 4)) expect(text).toContain(word);
    expect(text).toContain(`commit ${run.commit_describe!.slice(0, 12)}`);
  });

  it('`bench crypto --report DIR` writes a well-formed plot', () => {
    const out = join(dir, 'cli');
    const r = spawnSync(process.execPath, [BIN, 'bench', 'crypto', '--sizes', '16,64', '--algs', 'nea2,nia2', '--no-baseline', '--min-time', '5', '--warmup', '5', '--report', out], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`wrote ${join(out, 'crypto-cost.svg')}`);
    const root = parseXml(readFileSync(join(out, 'crypto-cost.svg'), 'utf8'));
    expect(byClass(root, 'panel').length).toBe(4); // NEA, NIA, PDCP, first PDU of a PTK
  });
});

describe('e2e report', () => {
  it('writes a CDF panel per rate (on and off) and the two breakdowns', () => {
    const report = sampleReport([500, 1000, 2000]);
    const files = writeE2eReport(join(dir, 'e2e'), report);
    expect(files.map((f) => f.split('/').pop())).toEqual(['latency-cdf.svg', 'latency-breakdown.svg']);
    const cdf = parseXml(readFileSync(files[0]!, 'utf8'));
    const panels = byClass(cdf, 'panel');
    expect(panels).toHaveLength(3);
    for (const p of panels) {
      const series = byClass(p, 'series');
      expect(series).toHaveLength(2);
      expect(series[0]!.attrs['data-name']).toMatch(/^security on: p50 /);
      expect(series[1]!.attrs['data-name']).toMatch(/^security off: p50 /);
    }
    expect(allText(panels[0]!)).toContain('500/s per UE');
    // The sample adds 4 µs to every copy: the subtitle says so with its interval; the run is in the footer.
    expect(words(panels[0]!)).toContain('on − off: p50 +4 µs [+4 µs, +4 µs]');
    expect(words(cdf)).toContain(`sl-bridge bench e2e ues=3`);
    expect(byClass(cdf, 'warning')).toHaveLength(0);
    const bd = parseXml(readFileSync(files[1]!, 'utf8'));
    const [segments, stages] = byClass(bd, 'panel');
    expect(byClass(segments!, 'bar')).toHaveLength(6); // on and off per rate
    expect(byClass(stages!, 'bar')).toHaveLength(3); // one per rate
    // The stage bar has the 8 protect/unprotect stages of the sample (all non-zero).
    expect(findAll(byClass(stages!, 'bar')[0]!, (e) => e.name === 'rect')).toHaveLength(8);
    expect(allText(stages!)).not.toContain('machine floor');
  });

  it("labels each stage bar with the machine's floor when the run measured it", () => {
    const report = sampleReport([1000, 2000]);
    report.rates[1]!.security.machine_floor_us = { cpu_us: 7.5, p50: 7.5, p99: 43.5, p999: 70, hit_pct: 1.9, ci: null };
    const [, breakdown] = writeE2eReport(join(dir, 'e2e-floor'), report);
    const [, stages] = byClass(parseXml(readFileSync(breakdown!, 'utf8')), 'panel');
    const labels = byClass(stages!, 'bar').map((b) => b.attrs['data-label']);
    expect(labels[1]).toContain('machine floor p99 43.5 µs');
    expect(labels[0]).not.toContain('machine floor'); // only the rate that has one
    expect(words(stages!)).toContain('machine floor = p99 of its stalls alone');
  });

  it('says "no measurable difference" for noise, never a negative cost, and warns when the run is unreliable', () => {
    const report = sampleReport([1000]);
    const noise = judge(medianInterval([-3316, 1200, -800, 2500, -1500, 900])!);
    report.rates[0]!.security.added_us = { p50: noise, p99: noise, p999: noise, mean: noise };
    report.unreliable = true;
    report.stall_lost_pct = 15;
    const [cdfFile, breakdown] = writeE2eReport(join(dir, 'e2e-noise'), report);
    const cdf = parseXml(readFileSync(cdfFile!, 'utf8'));
    const note = words(byClass(cdf, 'panel')[0]!);
    expect(note).toContain('on − off: p50 no measurable difference (±3.32 ms), p99 no measurable difference (±3.32 ms)');
    expect(note).not.toContain('-3.32');
    for (const f of [cdf, parseXml(readFileSync(breakdown!, 'utf8'))]) {
      expect(byClass(f, 'warning').map(allText).join(' ')).toContain('UNRELIABLE RUN: this machine lost 15 % of the time to stalls');
    }
  });

  it('plots stage and segment medians, labelled as such', () => {
    const report = sampleReport([1000]);
    const [, breakdown] = writeE2eReport(join(dir, 'e2e-medians'), report);
    const [segments, stages] = byClass(parseXml(readFileSync(breakdown!, 'utf8')), 'panel');
    expect(words(segments!)).toContain('median of each segment');
    expect(words(stages!)).toContain('medians');
    expect(allText(stages!)).not.toContain('mean');
    // The sample's protect stages: key 100, encode 200, integrity 900, cipher 800 ns.
    const h = findAll(byClass(stages!, 'bar')[0]!, (e) => e.name === 'rect').map((r) => Number(r.attrs.height));
    expect(h[2]! / h[0]!).toBeCloseTo(9, 0);
  });

  it('formats times for people', () => {
    expect(fmtUs(850)).toBe('850 µs');
    expect(fmtUs(12_345)).toBe('12.3 ms');
    expect(fmtUs(3.14159)).toBe('3.14 µs');
  });
});
