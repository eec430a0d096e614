/**
 * `bench e2e --report DIR`: the run's figures as SVG, from its `--json` document (so a saved run
 * can be plotted again):
 *
 *   latency-cdf.svg        one panel per rate: the CDF of the one-way application-to-application
 *                          latency with security on (solid) and off (dashed), log time axis; the
 *                          subtitle says what security adds, or that no difference is measurable
 *   latency-breakdown.svg  where the time goes, as medians (robust to the outliers that dominate
 *                          means here): the one-way path per segment for each rate and mode (ms),
 *                          and the security layer's per-stage time per packet for each rate (µs)
 *
 * Figures are medians over the slices with their 95 % interval (e2e-results.ts); the footer
 * carries the run's metadata, and an unreliable run a warning under the title.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatDifference, formatInterval, type Interval } from '../../src/stats/interval.js';
import type { E2eReport } from '../bench/e2e-results.js';
import { runFooter } from '../bench/run-metadata.js';
import { formatReliability } from '../bench/stall-meter.js';
import { figure, lineChart, stackedBars, PALETTE, type Panel, type StackedBar } from './svg-chart.js';

function rateLabel(rate: number): string {
  return `${rate}/s per UE`;
}

/** A time in µs as "850 µs" / "12.3 ms" (3 significant digits). */
export function fmtUs(v: number): string {
  const sig = (x: number): string => String(Number(x.toPrecision(3)));
  return Math.abs(v) >= 1000 ? `${sig(v / 1000)} ms` : `${sig(v)} µs`;
}

export function cdfPanels(r: E2eReport): Panel[] {
  return r.rates.map((rate, i) => {
    const on = rate.security_on;
    const off = rate.security_off;
    const add = rate.security.added_us;
    const color = PALETTE[i % PALETTE.length]!;
    const pct = (f: typeof on): string => {
      const l = f.ci.latency_us;
      return l ? `p50 ${formatInterval(l.p50, fmtUs)}, p99 ${formatInterval(l.p99, fmtUs)}` : 'no data';
    };
    return lineChart({
      title: `${rateLabel(rate.rate_per_ue)} (${rate.offered_pps} probes/s offered)`,
      note: add
        ? `on − off: p50 ${formatDifference(add.p50, fmtUs)}, p99 ${formatDifference(add.p99, fmtUs)}; loss: on ${on.loss_pct}%, off ${off.loss_pct}%`
        : undefined,
      x: { label: 'one-way latency, application to application (log scale)', scale: 'log', format: fmtUs },
      y: { label: 'fraction of probes', min: 0, max: 1 },
      series: [
        { name: `security on: ${pct(on)}`, points: on.cdf, color, step: true },
        { name: `security off: ${pct(off)}`, points: off.cdf, color: '#555', dashed: true, step: true },
      ],
      legend: 'bottom-right',
    });
  });
}

const SEGMENT_LAYERS: Array<{ key: 'app_to_tx' | 'tx_to_rx' | 'rx_to_delivered' | 'delivered_to_app'; name: string }> = [
  { key: 'app_to_tx', name: 'app → daemon → protected, handed to transport' },
  { key: 'tx_to_rx', name: 'transport + medium emulator' },
  { key: 'rx_to_delivered', name: 'received → unprotected, to app socket' },
  { key: 'delivered_to_app', name: 'app socket → application' },
];

export function segmentPanel(r: E2eReport): Panel {
  const bars: StackedBar[] = [];
  for (const rate of r.rates) {
    for (const [label, f] of [['on', rate.security_on], ['off', rate.security_off]] as const) {
      const seg = f.ci.segments_p50_us;
      const p50 = f.ci.latency_us?.p50;
      bars.push({
        group: rateLabel(rate.rate_per_ue),
        label: `security ${label}${p50 ? `\np50 ${fmtUs(p50.median)}` : ''}`,
        values: SEGMENT_LAYERS.map((l) => (seg ? seg[l.key].median / 1000 : 0)),
      });
    }
  }
  return stackedBars({
    title: 'Where the one-way latency goes (median of each segment)',
    note: 'segments split at the daemons\u2019 envelope timestamps; medians over the slices: their sum is not the one-way p50 (under each bar, median of the slices)',
    y: { label: 'sum of segment medians (ms)', format: (v) => `${Number(v.toPrecision(3))}` },
    layers: SEGMENT_LAYERS.map((l) => l.name),
    bars,
    totals: true,
  });
}

const TX_STAGES = ['key', 'encode', 'integrity', 'cipher'];
const RX_STAGES = ['decode', 'key', 'cipher', 'integrity'];

export function stagePanel(r: E2eReport): Panel | undefined {
  if (!r.rates.some((x) => x.security.stages)) return undefined;
  const layers = [...TX_STAGES.map((s) => `protect: ${s}`), ...RX_STAGES.map((s) => `unprotect: ${s}`)];
  const colors = ['#9ecae1', '#6baed6', '#3182bd', '#08519c', '#fdd0a2', '#fdae6b', '#e6550d', '#a63603'];
  const bars: StackedBar[] = r.rates.map((rate) => {
    const st = rate.security.ci?.stages_p50_us;
    const v = (dir: 'tx' | 'rx', s: string): number => st?.[dir][s]?.median ?? 0;
    const pp = rate.security.ci?.per_packet_us;
    const floor = rate.security.machine_floor_us;
    const short = (i: Interval): string => `${fmtUs(i.median)} [${fmtUs(i.low)}, ${fmtUs(i.high)}]`;
    let label = rateLabel(rate.rate_per_ue);
    if (pp) label += `\np50 ${short(pp.p50)}\np99 ${short(pp.p99)}`;
    if (pp && floor) label += `\nmachine floor p99 ${floor.ci ? short(floor.ci.p99) : fmtUs(floor.p99)}`;
    return {
      label,
      values: [...TX_STAGES.map((s) => v('tx', s)), ...RX_STAGES.map((s) => v('rx', s))],
    };
  });
  return stackedBars({
    title: 'Security layer per packet, by stage (protect + unprotect, medians)',
    note: `median of each stage (1 PDU in ${r.settings.sample_every ?? '?'} timed, preemptions in, socket hand-offs out); labels: per-packet p50 and p99 [95 % CI]${r.rates.some((x) => x.security.machine_floor_us) ? ', machine floor = p99 of its stalls alone' : ''}`,
    y: { label: 'sum of stage medians per packet (µs)', format: (v) => `${Number(v.toPrecision(3))}` },
    layers,
    layerColors: colors,
    bars,
    totals: true,
  });
}

/** Writes DIR/latency-cdf.svg and DIR/latency-breakdown.svg; returns the files written. */
export function writeE2eReport(dir: string, r: E2eReport): string[] {
  if (r.rates.length === 0) throw new RangeError('nothing to plot: the run has no rates');
  mkdirSync(dir, { recursive: true });
  const s = r.settings;
  const what =
    `${s.ues} UEs, ${s.sdu_bytes}-byte SDUs, ${s.algorithms}, ${s.medium}; ${s.seconds_per_rate_and_mode} s per rate and mode in alternating ${s.slice_ms} ms slices; ` +
    'figures: median over the slices [95 % confidence interval, order statistics]; on − off per adjacent pair of slices (docs/profiling.md)';
  const warning = r.unreliable ? formatReliability({ unreliable: true, stall_lost_pct: r.stall_lost_pct }) : undefined;
  const footer = (...lines: string[]): string[] => [...lines, ...runFooter(r.run)];
  const cdf = join(dir, 'latency-cdf.svg');
  writeFileSync(
    cdf,
    figure({
      title: 'sl-bridge bench e2e: one-way latency CDF, security on vs off',
      panels: cdfPanels(r),
      columns: Math.min(2, r.rates.length),
      panelWidth: 620,
      panelHeight: 380,
      warning,
      footer: footer(what, 'One-way = receiving application\u2019s clock minus the sending application\u2019s (same host); every copy at every other UE counts; curves: all probes pooled.'),
    }),
  );
  const breakdown = join(dir, 'latency-breakdown.svg');
  const stage = stagePanel(r);
  writeFileSync(
    breakdown,
    figure({
      title: 'sl-bridge bench e2e: latency breakdown',
      panels: stage ? [segmentPanel(r), stage] : [segmentPanel(r)],
      columns: 1,
      panelWidth: 980,
      panelHeight: 400,
      warning,
      footer: footer(what),
    }),
  );
  return [cdf, breakdown];
}
