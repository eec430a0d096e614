/**
 * `bench e2e --report DIR`: the run's figures as SVG, from its `--json` document (so a saved run
 * can be plotted again):
 *
 *   latency-cdf.svg        one panel per rate: the CDF of the one-way application-to-application
 *                          latency with security on (solid) and off (dashed), log time axis
 *   latency-breakdown.svg  where the time goes, as means (they add up): the one-way path per
 *                          segment for each rate and mode (ms), and the security layer's
 *                          per-stage time per packet for each rate (µs)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { E2eReport } from '../bench/e2e-results.js';
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
    const pct = (f: typeof on): string => (f.latency_us ? `p50 ${fmtUs(f.latency_us.p50)}, p99 ${fmtUs(f.latency_us.p99)}` : 'no data');
    return lineChart({
      title: `${rateLabel(rate.rate_per_ue)} (${rate.offered_pps} probes/s offered)`,
      note: add ? `on − off: ${fmtUs(add.p50)} at p50, ${fmtUs(add.p99)} at p99; loss: on ${on.loss_pct}%, off ${off.loss_pct}%` : undefined,
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
      const seg = f.segments_us;
      bars.push({ group: rateLabel(rate.rate_per_ue), label: `security ${label}`, values: SEGMENT_LAYERS.map((l) => (seg ? seg[l.key].mean / 1000 : 0)) });
    }
  }
  return stackedBars({
    title: 'Where the one-way latency goes (mean per probe)',
    note: 'segments split at the daemons\u2019 envelope timestamps; means, so they add up to the mean one-way latency',
    y: { label: 'mean one-way latency (ms)', format: (v) => `${Number(v.toPrecision(3))}` },
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
    const st = rate.security.stages;
    const v = (dir: 'tx' | 'rx', s: string): number => st?.[dir][s]?.mean_us ?? 0;
    const pp = rate.security.per_packet_us;
    const floor = rate.security.machine_floor_us;
    let label = rateLabel(rate.rate_per_ue);
    if (pp) label += `\np50 ${fmtUs(pp.p50)}, p99 ${fmtUs(pp.p99)}`;
    if (pp && floor) label += `\nmachine floor p99 ${fmtUs(floor.p99)}`;
    return {
      label,
      values: [...TX_STAGES.map((s) => v('tx', s)), ...RX_STAGES.map((s) => v('rx', s))],
    };
  });
  return stackedBars({
    title: 'Security layer per packet, by stage (protect + unprotect, mean)',
    note: `stage means (1 PDU in ${r.settings.sample_every ?? '?'} timed, preemptions in, socket hand-offs out); labels: p50/p99 per packet${r.rates.some((x) => x.security.machine_floor_us) ? ', machine floor = p99 of its stalls alone' : ''}`,
    y: { label: 'mean time per packet (µs)', format: (v) => `${Number(v.toPrecision(3))}` },
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
  const what = `${s.ues} UEs, ${s.sdu_bytes}-byte SDUs, ${s.algorithms}, ${s.medium}; ${s.seconds_per_rate_and_mode} s per rate and mode in alternating ${s.slice_ms} ms slices`;
  const cdf = join(dir, 'latency-cdf.svg');
  writeFileSync(
    cdf,
    figure({
      title: 'sl-bridge bench e2e: one-way latency CDF, security on vs off',
      panels: cdfPanels(r),
      columns: Math.min(2, r.rates.length),
      panelWidth: 620,
      panelHeight: 380,
      footer: [what, 'One-way = receiving application\u2019s clock minus the sending application\u2019s (same host); every copy at every other UE counts.'],
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
      footer: [what],
    }),
  );
  return [cdf, breakdown];
}
