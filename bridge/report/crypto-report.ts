/**
 * `bench crypto --report DIR`: cost per call against payload size, per algorithm, with the
 * fixed + per-byte least-squares fit of harness.ts drawn through the measured p50 points. Input is
 * the `--json` document of the run (crypto-run.ts `jsonReport`), so a saved JSON can be plotted
 * again later.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { figure, lineChart, PALETTE, type LineSeries, type Panel } from './svg-chart.js';

export interface CryptoReportInput {
  results: ReadonlyArray<{ name: string; size: number; p50_ns: number; p99_ns: number }>;
  fits: ReadonlyArray<{ name: string; fixed_ns: number; per_byte_ns: number; sizes: number[] }>;
}

/** Panels and which result rows go in each, in order. */
const PANELS: Array<{ title: string; match: (name: string) => boolean }> = [
  { title: 'Ciphering (128-NEA)', match: (n) => /^(baseline-)?nea\d/.test(n) },
  { title: 'Integrity (128-NIA)', match: (n) => /^(baseline-)?nia\d/.test(n) },
  { title: 'PDCP PDU, engines cached', match: (n) => /^(un)?protect-nea\d-nia\d$/.test(n) },
  { title: 'PDCP PDU, first of a new PTK (derivation)', match: (n) => /^(un)?protect-first-/.test(n) },
];

const us = (ns: number): number => ns / 1000;

function fmtFit(f: { fixed_ns: number; per_byte_ns: number }): string {
  const sign = f.per_byte_ns < 0 ? '−' : '+';
  return `${Math.round(f.fixed_ns)} ns ${sign} ${Math.abs(f.per_byte_ns).toFixed(2)} ns/B`;
}

export function cryptoPanels(input: CryptoReportInput): Panel[] {
  const panels: Panel[] = [];
  for (const p of PANELS) {
    let names = [...new Set(input.results.map((r) => r.name))].filter(p.match);
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
      const measured = rows.map((r) => [r.size, us(r.p50_ns)] as const);
      if (fit) {
        const lo = Math.min(...rows.map((r) => r.size));
        const hi = Math.max(...rows.map((r) => r.size));
        const at = (s: number): readonly [number, number] => [s, us(fit.fixed_ns + fit.per_byte_ns * s)];
        series.push({ name: `${name}: ${fmtFit(fit)}`, points: [at(lo), at(hi)], color, dashed: name.startsWith('baseline-') });
        series.push({ name: `${name} p50`, points: measured, color, line: false, hideInLegend: true });
      } else {
        series.push({ name: `${name} p50 (one size: no fit)`, points: measured, color, line: false });
      }
    });
    panels.push(
      lineChart({
        title: p.title,
        note: `points: measured p50 per call; lines: fixed + per-byte least-squares fit${hidden > 0 ? `; ${hidden} mixed pairs in the JSON only` : ''}`,
        x: { label: 'payload (bytes)', min: 0 },
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
      footer: [
        'Each point is the p50 of per-call times, measured in batches of ~30 µs (harness.ts) with engines built once and a fresh COUNT per call.',
        'baseline-nea2 / baseline-nia2 (dashed): a fresh node:crypto cipher per packet, measured in the same run.',
      ],
    }),
  );
  return [file];
}
