/**
 * `bench crypto --report DIR`: cost per call against payload size (log scale), per algorithm,
 * the median p50 over the rounds with its 95 % interval, and the fixed + per-byte least-squares
 * fit of harness.ts drawn through them. Input is the `--json` document of the run (crypto-run.ts
 * `jsonReport`), so a saved JSON can be plotted again later; its `run` object becomes the footer,
 * an unreliable run gets a warning under the title.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Interval } from '../../src/stats/interval.js';
import { runFooter, type RunMetadata } from '../bench/run-metadata.js';
import { formatReliability } from '../bench/stall-meter.js';
import { figure, lineChart, PALETTE, type LineSeries, type Panel } from './svg-chart.js';

export interface CryptoReportInput {
  results: ReadonlyArray<{ name: string; size: number; p50_ns: number; p99_ns: number; ci?: { p50_ns: Interval } | null }>;
  fits: ReadonlyArray<{ name: string; fixed_ns: number; per_byte_ns: number; sizes: number[]; ci?: { fixed_ns: Interval; per_byte_ns: Interval } | null }>;
  /** Absent in a JSON of an older build. */
  run?: RunMetadata;
  unreliable?: boolean;
  stall_lost_pct?: number | null;
}

/** Panels and which result rows go in each, in order. */
const PANELS: Array<{ title: string; match: (name: string) => boolean }> = [
  { title: 'Ciphering (128-NEA)', match: (n) => /^(baseline-)?nea\d/.test(n) },
  { title: 'Integrity (128-NIA)', match: (n) => /^(baseline-)?nia\d/.test(n) },
  { title: 'PDCP PDU, engines cached', match: (n) => /^(un)?protect-nea\d-nia\d$/.test(n) },
  { title: 'PDCP PDU, first of a new PTK (derivation)', match: (n) => /^(un)?protect-first-/.test(n) },
];

const us = (ns: number): number => ns / 1000;

/** Points along the fit between two sizes, evenly spaced on the log axis (a straight line there would be wrong). */
const FIT_POINTS = 24;

function fmtFit(f: CryptoReportInput['fits'][number]): string {
  const fixed = f.ci ? f.ci.fixed_ns.median : f.fixed_ns;
  const perByte = f.ci ? f.ci.per_byte_ns.median : f.per_byte_ns;
  const sign = perByte < 0 ? '−' : '+';
  return `${Math.round(fixed)} ns ${sign} ${Math.abs(perByte).toFixed(2)} ns/B`;
}

export function cryptoPanels(input: CryptoReportInput): Panel[] {
  const panels: Panel[] = [];
  for (const p of PANELS) {
    let names = [...new Set(input.results.map((r) => r.name))].filter(p.match);
    const sizes = [...new Set(input.results.filter((r) => p.match(r.name)).map((r) => r.size))].sort((a, b) => a - b);
    if (names.length === 0) continue;
    // Of the 9 NEA x NIA pairs, the matched ones (neaX-niaX) when present: 18 lines are unreadable.
    const matched = names.filter((n) => !/nea\d-nia\d/.test(n) || /nea(\d)-nia\1$/.test(n));
    const hidden = names.length - matched.length;
    if (matched.length > 0) names = matched;
    const series: LineSeries[] = [];
    names.forEach((name, i) => {
      const color = PALETTE[i % PALETTE.length]!;
      const rows = input.results.filter((r) => r.name === name).sort((a, b) => a.size - b.size);
      const fit = input.fits.find((f) => f.name === name);
      // The median over the rounds and its interval; the pooled p50 for a JSON without rounds.
      const measured = rows.map((r) => [r.size, us(r.ci ? r.ci.p50_ns.median : r.p50_ns)] as const);
      const intervals = rows.map((r) => (r.ci ? ([us(r.ci.p50_ns.low), us(r.ci.p50_ns.high)] as const) : null));
      if (fit) {
        const fixed = fit.ci ? fit.ci.fixed_ns.median : fit.fixed_ns;
        const perByte = fit.ci ? fit.ci.per_byte_ns.median : fit.per_byte_ns;
        const lo = Math.log(Math.min(...rows.map((r) => r.size)));
        const hi = Math.log(Math.max(...rows.map((r) => r.size)));
        const line = Array.from({ length: FIT_POINTS }, (_, k) => {
          const size = Math.exp(lo + ((hi - lo) * k) / (FIT_POINTS - 1));
          return [size, us(fixed + perByte * size)] as const;
        });
        series.push({ name: `${name}: ${fmtFit(fit)}`, points: line, color, dashed: name.startsWith('baseline-') });
        series.push({ name: `${name} p50`, points: measured, intervals, color, line: false, hideInLegend: true });
      } else {
        series.push({ name: `${name} p50 (one size: no fit)`, points: measured, intervals, color, line: false });
      }
    });
    panels.push(
      lineChart({
        title: p.title,
        note: `points: p50 per call, median of the rounds [95 % CI]; lines: fixed + per-byte least-squares fit${hidden > 0 ? `; ${hidden} mixed pairs in the JSON only` : ''}`,
        x: { label: 'payload (bytes, log scale)', scale: 'log', ticks: sizes, format: String },
        y: { label: 'time per call (µs, p50)', min: 0 },
        series,
        legend: 'top-left',
      }),
    );
  }
  return panels;
}

/** Writes DIR/crypto-cost.svg; returns the files written. */
export function writeCryptoReport(dir: string, input: CryptoReportInput, title = 'sl-bridge bench crypto: cost against payload size'): string[] {
  const panels = cryptoPanels(input);
  if (panels.length === 0) throw new RangeError('nothing to plot: the run has no rows');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'crypto-cost.svg');
  writeFileSync(
    file,
    figure({
      title,
      columns: 2,
      panels,
      panelWidth: 620,
      panelHeight: 400,
      warning: input.unreliable ? formatReliability({ unreliable: true, stall_lost_pct: input.stall_lost_pct ?? null }) : undefined,
      footer: [
        'Each point is the p50 of per-call times, measured in batches of ~30 µs (harness.ts) with engines built once and a fresh COUNT per call; ' +
          'its median over the interleaved rounds, the bar its 95 % interval (order statistics, docs/profiling.md).',
        'baseline-nea2 / baseline-nia2 (dashed): a fresh node:crypto cipher per packet, measured in the same run.',
        ...(input.run ? runFooter(input.run) : []),
      ],
    }),
  );
  return [file];
}
