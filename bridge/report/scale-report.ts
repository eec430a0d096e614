/**
 * `bench scale --report DIR`: the sweep's figures as SVG, from its `--json` document.
 *
 *   scale-rtt.svg  ranging round trip p50 and p99 against the number of UEs, one colour per
 *                  request rate (log axes: both span decades), and SDUs delivered per second
 *                  against what the traffic offers (where they part, the machine stopped keeping up)
 *   scale-cpu.svg  CPU per process kind against the number of UEs, one panel per rate, with the
 *                  machine's capacity (cores x 100 %) drawn in
 *
 * Points are medians over the slices with their 95 % interval as bars (scale-results.ts); the
 * footer carries the run's metadata, and an unreliable run a warning under the title.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Interval } from '../../src/stats/interval.js';
import { runFooter } from '../bench/run-metadata.js';
import { CPU_KINDS, CPU_KIND_TEXT, type ScalePoint, type ScaleReport, type ScaleSecurity } from '../bench/scale-results.js';
import { formatReliability } from '../bench/stall-meter.js';
import { figure, lineChart, PALETTE, type LineSeries, type Panel } from './svg-chart.js';

interface Curve {
  rate: number;
  security: ScaleSecurity;
  label: string;
  points: ScalePoint[];
}

/** One curve per rate (and security mode), its points in UE order, failed points left out. */
export function curves(r: ScaleReport): Curve[] {
  const both = r.settings.security.length > 1;
  const out: Curve[] = [];
  for (const rate of r.settings.rates_per_ue) {
    for (const security of r.settings.security) {
      const points = r.points.filter((p) => p.rate_per_ue === rate && p.security === security && p.error === null).sort((a, b) => a.ues - b.ues);
      if (points.length > 0) out.push({ rate, security, label: `${rate}/s per UE${both ? `, security ${security}` : ''}`, points });
    }
  }
  return out;
}

function series(name: string, c: Curve, f: (p: ScalePoint) => Interval | null, scale: number, color: string, dashed = false): LineSeries {
  const iv = c.points.map(f);
  return {
    name,
    color,
    dashed,
    markers: true,
    points: c.points.map((p, k) => [p.ues, iv[k] ? iv[k].median * scale : NaN] as const),
    intervals: iv.map((i) => (i ? ([i.low * scale, i.high * scale] as const) : null)),
  };
}

const uesAxis = (r: ScaleReport): { label: string; scale: 'log'; ticks: number[]; format: (v: number) => string } => ({
  label: 'UEs (log scale)',
  scale: 'log',
  ticks: [...r.settings.ues].sort((a, b) => a - b),
  format: (v) => String(v),
});

export function rttPanel(r: ScaleReport): Panel {
  const cs = curves(r);
  return lineChart({
    title: 'Ranging round trip against the number of UEs',
    note: 'every UE pooled; median over the slices, bars: 95 % interval; solid p50, dashed p99',
    x: uesAxis(r),
    y: { label: 'round trip (ms, log scale)', scale: 'log' },
    series: cs.flatMap((c, i) => {
      const color = PALETTE[i % PALETTE.length]!;
      return [series(`${c.label}: p50`, c, (p) => p.rtt_us.ci.p50, 1e-3, color), series(`${c.label}: p99`, c, (p) => p.rtt_us.ci.p99, 1e-3, color, true)];
    }),
    legend: 'top-left',
  });
}

export function throughputPanel(r: ScaleReport): Panel {
  const cs = curves(r);
  return lineChart({
    title: 'SDUs delivered to the ranging applications per second',
    note: 'solid: delivered (median over the slices, 95 % interval); dashed: offered = rate x N² x (N−1), every request and answer to every other UE',
    x: uesAxis(r),
    y: { label: 'SDUs per second (log scale)', scale: 'log' },
    series: cs.flatMap((c, i) => {
      const color = PALETTE[i % PALETTE.length]!;
      return [
        series(`${c.label}: delivered`, c, (p) => p.delivered_pps.ci, 1, color),
        { name: `${c.label}: offered`, color, dashed: true, points: c.points.map((p) => [p.ues, p.offered.deliveries_per_s] as const) },
      ];
    }),
    legend: 'top-left',
  });
}

const CPU_COLORS: Record<(typeof CPU_KINDS)[number], string> = {
  daemon_mean: '#0072B2',
  daemon_max: '#56B4E9',
  daemons: '#009E73',
  medium: '#E69F00',
  pkmfs: '#CC79A7',
  apps: '#D55E00',
  machine: '#000000',
  rest: '#7F7F7F',
};

export function cpuPanels(r: ScaleReport): Panel[] {
  const capacity = r.machine.cpus * 100;
  return curves(r).map((c) =>
    lineChart({
      title: `CPU per process, ${c.label}`,
      note: 'median over the slices, bars: 95 % interval; % of one core',
      x: uesAxis(r),
      y: { label: 'CPU (% of one core)', min: 0, max: capacity * 1.1 },
      series: [
        ...CPU_KINDS.map((k) => ({ ...series(CPU_KIND_TEXT[k], c, (p) => p.cpu_pct.ci[k], 1, CPU_COLORS[k]), dashed: k === 'daemon_max' })),
        { name: `capacity: ${r.machine.cpus} cores`, color: '#999', dashed: true, points: c.points.map((p) => [p.ues, capacity] as const) },
      ],
      legend: 'top-left',
    }),
  );
}

/** Writes DIR/scale-rtt.svg and DIR/scale-cpu.svg; returns the files written. */
export function writeScaleReport(dir: string, r: ScaleReport): string[] {
  if (curves(r).length === 0) throw new RangeError('nothing to plot: no point of the run has a result');
  mkdirSync(dir, { recursive: true });
  const s = r.settings;
  const what =
    `each point: ${s.demo_command}; ${s.algorithms}; ${s.medium}; ${s.warmup_seconds} s warm-up left out, ${s.seconds_per_point} s measured in ${s.slices} slices; ` +
    'figures: median over the slices [95 % confidence interval, order statistics] (docs/profiling.md)';
  const warning = r.unreliable ? formatReliability({ unreliable: true, stall_lost_pct: r.stall_lost_pct }) : undefined;
  const footer = [what, ...runFooter(r.run)];
  const rtt = join(dir, 'scale-rtt.svg');
  writeFileSync(
    rtt,
    figure({ title: 'sl-bridge bench scale: round trips and throughput against the number of UEs', panels: [rttPanel(r), throughputPanel(r)], columns: 2, panelWidth: 640, panelHeight: 440, warning, footer }),
  );
  const cpu = join(dir, 'scale-cpu.svg');
  const panels = cpuPanels(r);
  writeFileSync(
    cpu,
    figure({ title: 'sl-bridge bench scale: CPU per process against the number of UEs', panels, columns: Math.min(2, panels.length), panelWidth: 640, panelHeight: 440, warning, footer }),
  );
  return [rtt, cpu];
}
