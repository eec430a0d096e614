/**
 * A small SVG chart module for the benchmark reports (no plotting library is installed): line
 * charts (linear or log axes, optional point markers, dashed series) and stacked bar charts, each
 * drawn as a panel; a figure puts panels in a grid under one title. Output is a self-contained
 * SVG 1.1 document (fonts: the system sans-serif), every text escaped.
 *
 *   const svg = figure({ title: 'Latency', columns: 2, panels: [lineChart({...}), stackedBars({...})] });
 */

export type Scale = 'linear' | 'log';

export interface AxisSpec {
  label: string;
  scale?: Scale;
  /** Range; default from the data (0-based for linear y axes of bar charts). */
  min?: number;
  max?: number;
  /** Tick label text (default: a compact number). */
  format?: (v: number) => string;
  /** Ticks at these values (e.g. the measured sizes on a log axis) instead of the automatic ones. */
  ticks?: readonly number[];
}

export interface LineSeries {
  name: string;
  points: ReadonlyArray<readonly [number, number]>;
  color?: string;
  /** Dashed line (e.g. the "security off" twin of a series). */
  dashed?: boolean;
  /** Draw a marker at each point. */
  markers?: boolean;
  /** Draw the line through the points (default true). */
  line?: boolean;
  /** Draw as a step function (a CDF): horizontal, then vertical. */
  step?: boolean;
  /** Leave out of the legend (e.g. the measured points under their fitted line). */
  hideInLegend?: boolean;
  /** A vertical error bar [low, high] per point (same order as `points`; null: none), e.g. a 95 % interval. */
  intervals?: ReadonlyArray<readonly [number, number] | null>;
}

export type LegendPlace = 'right' | 'top-left' | 'bottom-right';

export interface LineChartSpec {
  title: string;
  x: AxisSpec;
  y: AxisSpec;
  series: LineSeries[];
  /** Text under the title. */
  note?: string;
  /** Where the legend goes: right of the plot (default) or inside a corner the data leaves empty. */
  legend?: LegendPlace;
}

export interface StackedBar {
  /** Label under the bar ("\n" starts another line). */
  label: string;
  /** Bars with the same group sit together, the group's name under them. */
  group?: string;
  /** One value per layer, bottom first. */
  values: number[];
}

export interface StackedBarSpec {
  title: string;
  y: AxisSpec;
  /** Layer names, bottom first (the legend lists them top first, as stacked). */
  layers: string[];
  layerColors?: string[];
  bars: StackedBar[];
  note?: string;
  /** Print each bar's total above it, formatted with y.format. */
  totals?: boolean;
}

export interface Panel {
  /** SVG elements drawn in a `width` x `height` box at the origin. */
  render(width: number, height: number): string;
}

/** Colour-blind-friendly categorical palette (Okabe-Ito, then Tableau). */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#F0E442', '#000000', '#8C564B', '#7F7F7F'];

const FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"';

/** Escapes text for SVG character data and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Compact number: 1.5k, 20, 0.25, 1.2M. */
export function compactNumber(v: number): string {
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1e6) return `${trim(v / 1e6)}M`;
  if (a >= 1e4) return `${trim(v / 1e3)}k`;
  if (a >= 1) return trim(v);
  return String(Number(v.toPrecision(2)));
}

function trim(v: number): string {
  return String(Number(v.toFixed(Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2)));
}

/** "Nice" linear ticks covering [min, max] (steps 1, 2, 2.5, 5 x 10^k). */
export function linearTicks(min: number, max: number, target = 6): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const first = Math.ceil(min / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let v = first; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** Log ticks: every power of ten in range, plus 2 and 5 times them when the range is narrow. */
export function logTicks(min: number, max: number): number[] {
  const lo = Math.floor(Math.log10(min));
  const hi = Math.ceil(Math.log10(max));
  const mults = hi - lo <= 2 ? [1, 2, 5] : [1];
  const ticks: number[] = [];
  for (let e = lo; e <= hi; e++) for (const m of mults) {
    const v = Number((m * 10 ** e).toPrecision(12));
    if (v >= min * (1 - 1e-9) && v <= max * (1 + 1e-9)) ticks.push(v);
  }
  return ticks;
}

interface Axis {
  scale: Scale;
  min: number;
  max: number;
  ticks: number[];
  format: (v: number) => string;
  /** Position in [0, 1]. */
  frac(v: number): number;
}

function makeAxis(spec: AxisSpec, values: number[], zeroBased: boolean): Axis {
  const scale = spec.scale ?? 'linear';
  const finite = values.filter((v) => Number.isFinite(v) && (scale === 'linear' || v > 0));
  let min = spec.min ?? (finite.length ? Math.min(...finite) : 0);
  let max = spec.max ?? (finite.length ? Math.max(...finite) : 1);
  if (scale === 'log') {
    if (!(min > 0)) min = max > 0 ? max / 10 : 1;
    if (!(max > min)) max = min * 10;
    // Widen to quarter decades so the data does not touch the frame.
    if (spec.min === undefined) min = 10 ** (Math.floor(Math.log10(min) * 4 + 1e-9) / 4);
    if (spec.max === undefined) max = 10 ** (Math.ceil(Math.log10(max) * 4 - 1e-9) / 4);
  } else {
    if (zeroBased && spec.min === undefined) min = Math.min(0, min);
    if (!(max > min)) max = min + 1;
    if (spec.min === undefined || spec.max === undefined) {
      const t = linearTicks(min, max);
      if (spec.min === undefined) min = Math.min(min, t[0]!);
      if (spec.max === undefined) {
        const step = t.length > 1 ? t[1]! - t[0]! : 1;
        const last = t[t.length - 1]!;
        max = last >= max - step * 1e-9 ? last : last + step;
      }
    }
  }
  const auto = scale === 'log' ? logTicks(min, max) : linearTicks(min, max);
  const ticks = spec.ticks ? spec.ticks.filter((t) => t >= min * (1 - 1e-9) && t <= max * (1 + 1e-9)) : auto;
  const frac =
    scale === 'log'
      ? (v: number): number => (Math.log10(Math.max(v, min * 1e-3)) - Math.log10(min)) / (Math.log10(max) - Math.log10(min))
      : (v: number): number => (v - min) / (max - min);
  return { scale, min, max, ticks, format: spec.format ?? compactNumber, frac };
}

const f1 = (v: number): string => (Math.round(v * 10) / 10).toString();

function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${f1(x)}" y="${f1(y)}" ${attrs}>${escapeXml(s)}</text>`;
}

/** Approximate width of a label in px at a font size (for layout; no font metrics here). */
function textWidth(s: string, size: number): number {
  return s.length * size * 0.58;
}

interface PlotBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Title, note, axes with ticks, grid and labels; returns the elements and the plot box. */
function frame(
  title: string,
  note: string | undefined,
  x: Axis | { categorical: true; labelLines: number },
  xLabel: string,
  y: Axis,
  yLabel: string,
  width: number,
  height: number,
  legendWidth: number,
): { svg: string[]; box: PlotBox } {
  const out: string[] = [];
  const yTickWidth = Math.max(...y.ticks.map((t) => textWidth(y.format(t), 11)), 10);
  // A note wider than the panel goes on as many lines as it needs.
  const noteLines = note ? wrapText(note, Math.floor((width - 20) / textWidth('x', 11))) : [];
  const top = 32 + noteLines.length * 14;
  const left = 22 + yTickWidth + 8;
  const bottom = 'categorical' in x ? 30 + 14 * x.labelLines : 44;
  // Without a legend on the right, room for half of the last x tick label.
  const right = legendWidth > 0 ? 12 + legendWidth : 26;
  const box: PlotBox = { left, top, width: Math.max(40, width - left - right), height: Math.max(40, height - top - bottom) };
  out.push(text(width / 2, 18, title, `text-anchor="middle" font-size="14" font-weight="bold"`));
  noteLines.forEach((line, i) => out.push(text(width / 2, 34 + i * 14, line, `text-anchor="middle" font-size="11" fill="#555"`)));
  out.push(`<rect x="${f1(box.left)}" y="${f1(box.top)}" width="${f1(box.width)}" height="${f1(box.height)}" fill="#fff" stroke="#999"/>`);
  for (const t of y.ticks) {
    const py = box.top + box.height * (1 - y.frac(t));
    out.push(`<line x1="${f1(box.left)}" y1="${f1(py)}" x2="${f1(box.left + box.width)}" y2="${f1(py)}" stroke="#e5e5e5"/>`);
    out.push(`<line x1="${f1(box.left - 4)}" y1="${f1(py)}" x2="${f1(box.left)}" y2="${f1(py)}" stroke="#666"/>`);
    out.push(text(box.left - 7, py + 4, y.format(t), `text-anchor="end" font-size="11"`));
  }
  if (!('categorical' in x)) {
    for (const t of x.ticks) {
      const px = box.left + box.width * x.frac(t);
      out.push(`<line x1="${f1(px)}" y1="${f1(box.top)}" x2="${f1(px)}" y2="${f1(box.top + box.height)}" stroke="#eee"/>`);
      out.push(`<line x1="${f1(px)}" y1="${f1(box.top + box.height)}" x2="${f1(px)}" y2="${f1(box.top + box.height + 4)}" stroke="#666"/>`);
      out.push(text(px, box.top + box.height + 17, x.format(t), `text-anchor="middle" font-size="11"`));
    }
  }
  out.push(text(box.left + box.width / 2, height - 8, xLabel, `text-anchor="middle" font-size="12"`));
  const ly = box.top + box.height / 2;
  out.push(text(14, ly, yLabel, `text-anchor="middle" font-size="12" transform="rotate(-90 14 ${f1(ly)})"`));
  return { svg: out, box };
}

interface LegendEntry {
  name: string;
  color: string;
  dashed?: boolean;
  kind: 'line' | 'box' | 'marker';
}

function legendWidthOf(entries: LegendEntry[]): number {
  return entries.length === 0 ? 0 : Math.max(...entries.map((e) => textWidth(e.name, 11))) + 40;
}

function legendHeightOf(entries: LegendEntry[]): number {
  return entries.length * 18 + 4;
}

function legend(entries: LegendEntry[], x: number, y: number, boxed = false): string {
  const out = [`<g class="legend">`];
  if (boxed) {
    out.push(`<rect x="${f1(x - 6)}" y="${f1(y - 4)}" width="${f1(legendWidthOf(entries) - 22)}" height="${f1(legendHeightOf(entries))}" fill="#fff" fill-opacity="0.9" stroke="#bbb"/>`);
  }
  entries.forEach((e, i) => {
    const cy = y + 8 + i * 18;
    if (e.kind === 'box') out.push(`<rect x="${f1(x)}" y="${f1(cy - 6)}" width="14" height="12" fill="${e.color}"/>`);
    else if (e.kind === 'marker') out.push(`<circle cx="${f1(x + 9)}" cy="${f1(cy)}" r="3.5" fill="${e.color}"/>`);
    else out.push(`<line x1="${f1(x)}" y1="${f1(cy)}" x2="${f1(x + 20)}" y2="${f1(cy)}" stroke="${e.color}" stroke-width="2.2"${e.dashed ? ' stroke-dasharray="6 3"' : ''}/>`);
    out.push(text(x + 26, cy + 4, e.name, `font-size="11"`));
  });
  out.push('</g>');
  return out.join('');
}

let clipCounter = 0;

/** A line chart panel (CDFs, cost against size, ...). */
export function lineChart(spec: LineChartSpec): Panel {
  return {
    render(width, height) {
      const xs = spec.series.flatMap((s) => s.points.map((p) => p[0]));
      const ys = spec.series.flatMap((s) => [...s.points.map((p) => p[1]), ...(s.intervals ?? []).flatMap((i) => (i ? [i[0], i[1]] : []))]);
      const x = makeAxis(spec.x, xs, false);
      const y = makeAxis(spec.y, ys, true);
      const all: Array<LegendEntry & { hidden: boolean }> = spec.series.map((s, i) => ({
        name: s.name,
        color: s.color ?? PALETTE[i % PALETTE.length]!,
        dashed: s.dashed,
        kind: s.line === false ? 'marker' : 'line',
        hidden: s.hideInLegend === true,
      }));
      const entries = all.filter((e) => !e.hidden);
      const place = spec.legend ?? 'right';
      const lw = place === 'right' ? legendWidthOf(entries) : 0;
      const { svg, box } = frame(spec.title, spec.note, x, spec.x.label, y, spec.y.label, width, height, lw);
      const clipId = `clip${++clipCounter}`;
      svg.push(`<clipPath id="${clipId}"><rect x="${f1(box.left)}" y="${f1(box.top)}" width="${f1(box.width)}" height="${f1(box.height)}"/></clipPath>`);
      const px = (v: number): number => box.left + box.width * x.frac(v);
      const py = (v: number): number => box.top + box.height * (1 - y.frac(v));
      spec.series.forEach((s, i) => {
        const color = all[i]!.color;
        const drawable = ([a, b]: readonly [number, number]): boolean => Number.isFinite(a) && Number.isFinite(b) && (x.scale === 'linear' || a > 0) && (y.scale === 'linear' || b > 0);
        const pts = s.points.filter(drawable);
        const g = [`<g class="series" data-name="${escapeXml(s.name)}" clip-path="url(#${clipId})">`];
        if (s.line !== false && pts.length > 1) {
          const coords: string[] = [];
          pts.forEach(([a, b], k) => {
            if (s.step && k > 0) coords.push(`${f1(px(a))},${f1(py(pts[k - 1]![1]))}`);
            coords.push(`${f1(px(a))},${f1(py(b))}`);
          });
          g.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 3"' : ''} stroke-linejoin="round" points="${coords.join(' ')}"/>`);
        }
        g.push('</g>');
        // Markers stay visible on the frame's edge (not clipped).
        if (s.intervals) {
          g.push(`<g class="intervals" data-name="${escapeXml(s.name)}">`);
          s.points.forEach((p, k) => {
            const iv = s.intervals![k];
            if (!iv || !drawable(p) || !drawable([p[0], iv[0]]) || !drawable([p[0], iv[1]])) return;
            const cx = px(p[0]);
            const [y0, y1] = [py(iv[0]), py(iv[1])];
            g.push(
              `<path d="M${f1(cx)},${f1(y0)}V${f1(y1)}M${f1(cx - 3)},${f1(y0)}H${f1(cx + 3)}M${f1(cx - 3)},${f1(y1)}H${f1(cx + 3)}" stroke="${color}" stroke-width="1.2" fill="none"/>`,
            );
          });
          g.push('</g>');
        }
        if (s.markers || s.line === false) {
          g.push(`<g class="markers" data-name="${escapeXml(s.name)}">`);
          for (const [a, b] of pts) g.push(`<circle cx="${f1(px(a))}" cy="${f1(py(b))}" r="3.5" fill="${color}"/>`);
          g.push('</g>');
        }
        svg.push(g.join(''));
      });
      if (entries.length > 0) {
        if (place === 'right') svg.push(legend(entries, box.left + box.width + 12, box.top));
        else if (place === 'top-left') svg.push(legend(entries, box.left + 14, box.top + 10, true));
        else svg.push(legend(entries, box.left + box.width - legendWidthOf(entries) + 14, box.top + box.height - legendHeightOf(entries) - 6, true));
      }
      return svg.join('\n');
    },
  };
}

/** A stacked bar chart panel (a per-stage breakdown). */
export function stackedBars(spec: StackedBarSpec): Panel {
  for (const b of spec.bars) {
    if (b.values.length !== spec.layers.length) throw new RangeError(`bar ${JSON.stringify(b.label)}: expected ${spec.layers.length} values, got ${b.values.length}`);
  }
  return {
    render(width, height) {
      const totals = spec.bars.map((b) => b.values.reduce((a, v) => a + Math.max(0, v), 0));
      // Headroom above the tallest bar for its total label.
      const y = makeAxis({ ...spec.y, scale: 'linear' }, [0, ...totals.map((t) => t * (spec.totals ? 1.12 : 1))], true);
      const colors = spec.layers.map((_, i) => spec.layerColors?.[i] ?? PALETTE[i % PALETTE.length]!);
      const entries: LegendEntry[] = spec.layers.map((name, i) => ({ name, color: colors[i]!, kind: 'box' as const })).reverse();
      const lw = legendWidthOf(entries);
      const labelLines = Math.max(1, ...spec.bars.map((b) => b.label.split('\n').length)) + (spec.bars.some((b) => b.group !== undefined) ? 1 : 0);
      const { svg, box } = frame(spec.title, spec.note, { categorical: true, labelLines }, '', y, spec.y.label, width, height, lw);
      // Slots: one per bar, plus a gap between groups.
      const slots: Array<{ bar: StackedBar; index: number; slot: number }> = [];
      let slot = 0;
      spec.bars.forEach((bar, index) => {
        if (index > 0 && bar.group !== spec.bars[index - 1]!.group) slot += 0.6;
        slots.push({ bar, index, slot });
        slot += 1;
      });
      const slotWidth = box.width / Math.max(slot + 0.4, 1);
      const barWidth = Math.min(slotWidth * 0.78, 90);
      const py = (v: number): number => box.top + box.height * (1 - y.frac(v));
      for (const { bar, index, slot: s } of slots) {
        const x0 = box.left + slotWidth * (s + 0.2) + (slotWidth - barWidth) / 2;
        let base = 0;
        const g = [`<g class="bar" data-label="${escapeXml(`${bar.group ?? ''} ${bar.label}`.trim())}">`];
        bar.values.forEach((v, layer) => {
          const h = Math.max(0, v);
          if (h > 0) {
            const yTop = py(base + h);
            g.push(`<rect x="${f1(x0)}" y="${f1(yTop)}" width="${f1(barWidth)}" height="${f1(py(base) - yTop)}" fill="${colors[layer]}"><title>${escapeXml(`${spec.layers[layer]}: ${y.format(v)}`)}</title></rect>`);
          }
          base += h;
        });
        if (spec.totals) g.push(text(x0 + barWidth / 2, py(totals[index]!) - 4, y.format(totals[index]!), `text-anchor="middle" font-size="10"`));
        bar.label.split('\n').forEach((line, k) => g.push(text(x0 + barWidth / 2, box.top + box.height + 15 + 13 * k, line, `text-anchor="middle" font-size="11"`)));
        g.push('</g>');
        svg.push(g.join(''));
      }
      // Group labels centred under their bars.
      const groups = new Map<string, number[]>();
      for (const { bar, slot: s } of slots) if (bar.group !== undefined) groups.set(bar.group, [...(groups.get(bar.group) ?? []), s]);
      for (const [name, ss] of groups) {
        const mid = box.left + slotWidth * ((Math.min(...ss) + Math.max(...ss)) / 2 + 0.7);
        svg.push(text(mid, box.top + box.height + 18 + 13 * (labelLines - 1), name, `text-anchor="middle" font-size="11" font-weight="bold"`));
      }
      svg.push(legend(entries, box.left + box.width + 12, box.top));
      return svg.join('\n');
    },
  };
}

export interface FigureSpec {
  title?: string;
  panels: Panel[];
  /** Panels per row (default 1). */
  columns?: number;
  panelWidth?: number;
  panelHeight?: number;
  /** Small print under everything (what the figures include, the run's metadata); long lines are wrapped. */
  footer?: string[];
  /** A warning in red under the title (an unreliable run). */
  warning?: string;
}

/** Splits `line` at spaces into lines of at most `max` characters (a longer word stays whole). */
export function wrapText(line: string, max: number): string[] {
  const out: string[] = [];
  let cur = '';
  for (const word of line.split(' ')) {
    if (cur !== '' && cur.length + 1 + word.length > max) {
      out.push(cur);
      cur = word;
    } else {
      cur = cur === '' ? word : `${cur} ${word}`;
    }
  }
  out.push(cur);
  return out;
}

/** An SVG document with the panels in a grid. */
export function figure(spec: FigureSpec): string {
  const columns = Math.max(1, spec.columns ?? 1);
  const pw = spec.panelWidth ?? 640;
  const ph = spec.panelHeight ?? 380;
  const rows = Math.ceil(spec.panels.length / columns);
  const width = pw * Math.min(columns, Math.max(spec.panels.length, 1));
  const warning = spec.warning ? wrapText(spec.warning, Math.floor((width - 20) / textWidth('x', 13))) : [];
  const titleH = (spec.title ? 34 : 0) + warning.length * 17;
  const footer = (spec.footer ?? []).flatMap((l) => wrapText(l, Math.floor((width - 20) / textWidth('x', 11))));
  const height = titleH + rows * ph + (footer.length ? footer.length * 15 + 10 : 0);
  const out = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT}>`,
    `<rect width="100%" height="100%" fill="#fafafa"/>`,
  ];
  if (spec.title) out.push(text(width / 2, 23, spec.title, `text-anchor="middle" font-size="17" font-weight="bold"`));
  warning.forEach((line, i) =>
    out.push(text(width / 2, (spec.title ? 34 : 0) + 14 + i * 17, line, `class="warning" text-anchor="middle" font-size="13" font-weight="bold" fill="#C00000"`)),
  );
  spec.panels.forEach((p, i) => {
    const x = (i % columns) * pw;
    const y = titleH + Math.floor(i / columns) * ph;
    out.push(`<g class="panel" transform="translate(${x} ${y})">`, p.render(pw, ph), '</g>');
  });
  footer.forEach((line, i) => out.push(text(10, titleH + rows * ph + 14 + i * 15, line, `font-size="11" fill="#444"`)));
  out.push('</svg>');
  return out.join('\n') + '\n';
}
