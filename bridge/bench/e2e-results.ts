/**
 * `bench e2e` figures: from the slices' accounts (e2e-traffic.ts), the daemons' stage profiles
 * (`/profile.json` of bridge/metrics, before and after each slice) and CPU readings, the per-rate
 * results of the `--json` document and the table on stdout. Pure functions.
 *
 * Each figure comes twice: pooled over all the slices of a rate and mode (the existing fields),
 * and as the median over the slices with its 95 % interval (`ci`: each slice is one
 * repetition). Differences on - off are taken per pair of adjacent slices (ABBA order: each pair
 * has one of each mode), judged by the interval of their median (src/stats/interval.ts).
 */
import type { ProfileSnapshot } from '../metrics/daemon-metrics.js';
import { LogLinearHistogram } from '../metrics/histogram.js';
import { percentile } from '../../src/stats/percentile.js';
import { formatDifference, formatInterval, mapInterval, medianInterval, pairedDifference, type Interval, type Judged } from '../../src/stats/interval.js';
import type { OverheadReport } from './e2e-overhead.js';
import type { RunMetadata } from './run-metadata.js';
import { floorWithInterval, type FloorWithInterval, type StallIntervals, type StallSummary, type StallTrace } from './stall-meter.js';
import { SEGMENTS, mergeSlices, type Segment, type SliceAccount } from './e2e-traffic.js';
import { textTable } from './text-table.js';

export type SecurityMode = 'on' | 'off';

/** Stage histograms of the timed PDUs of some daemons over some time. */
export interface ProfileDelta {
  tx: Record<string, LogLinearHistogram>;
  rx: Record<string, LogLinearHistogram>;
  call: { tx: LogLinearHistogram; rx: LogLinearHistogram };
}

export function emptyProfile(): ProfileDelta {
  return { tx: {}, rx: {}, call: { tx: new LogLinearHistogram(), rx: new LogLinearHistogram() } };
}

/** What one daemon's profile gained between two `/profile.json` snapshots. */
export function profileDelta(before: ProfileSnapshot, after: ProfileSnapshot): ProfileDelta {
  const diff = (a: ProfileSnapshot['tx'], b: ProfileSnapshot['tx']): Record<string, LogLinearHistogram> => {
    const out: Record<string, LogLinearHistogram> = {};
    for (const [stage, h] of Object.entries(b)) {
      const prev = a[stage];
      const hb = LogLinearHistogram.fromJSON(h);
      out[stage] = prev ? hb.since(LogLinearHistogram.fromJSON(prev)) : hb;
    }
    return out;
  };
  return {
    tx: diff(before.tx, after.tx),
    rx: diff(before.rx, after.rx),
    call: {
      tx: LogLinearHistogram.fromJSON(after.call.tx).since(LogLinearHistogram.fromJSON(before.call.tx)),
      rx: LogLinearHistogram.fromJSON(after.call.rx).since(LogLinearHistogram.fromJSON(before.call.rx)),
    },
  };
}

export function addProfile(into: ProfileDelta, d: ProfileDelta): void {
  for (const dir of ['tx', 'rx'] as const) {
    for (const [stage, h] of Object.entries(d[dir])) {
      const cur = into[dir][stage];
      if (cur) cur.add(h);
      else into[dir][stage] = h.copy();
    }
  }
  into.call.tx.add(d.call.tx);
  into.call.rx.add(d.call.rx);
}

/** CPU time of the processes of a stack over the slices of one rate and mode, ms. */
export interface CpuSample {
  daemonsMs: number;
  mediumMs: number;
  benchMs: number;
  wallMs: number;
}

/** One slice after it ran: its account and what the daemons and processes did meanwhile. */
export interface SliceRecord {
  rate: number;
  mode: SecurityMode;
  account: SliceAccount;
  /** Time probes were sent, ms. */
  trafficMs: number;
  cpu: CpuSample | null;
  /** Stage profiles of the stack's daemons over the slice (security on, metrics enabled). */
  profile: ProfileDelta | null;
  /** Drops by reason over the slice: the stack's daemons and the probe applications' sockets. */
  drops: Record<string, number> | null;
}

/** `after - before` of two drop-counter snapshots (reasons with no change left out). */
export function dropDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

export interface Percentiles {
  count: number;
  mean: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

export interface ModeFigures {
  slices: number;
  traffic_s: number;
  sent: number;
  /** sent x (UEs - 1): every other UE should get each probe. */
  expected: number;
  /** Distinct copies received by the applications. */
  received: number;
  duplicates: number;
  lost: number;
  loss_pct: number;
  /** Probes the application socket refused at once, by reason (not in `sent`). */
  send_refused: Record<string, number>;
  /**
   * Drops by reason during these slices in the stack's daemons (`slbridge_dropped_total`) and
   * the probe applications' sockets after accepting (`probe-app-*`): where loss happened, short
   * of the medium (whose counts are in the report's `medium`). Null without metrics.
   */
  drops: Record<string, number> | null;
  sent_pps: number;
  /** Distinct copies delivered per second, all receivers together. */
  delivered_pps: number;
  /** One-way, application to application, µs. */
  latency_us: Percentiles | null;
  /** The one-way path split at the daemons' timestamps (e2e-traffic.ts), µs. */
  segments_us: Record<Segment, { mean: number; p50: number; p99: number }> | null;
  /** [µs, fraction of copies with a one-way latency <= it]. */
  cdf: Array<[number, number]>;
  /** CPU over the slices' wall time, % of one core: the stack's daemons, its medium, this process. */
  cpu_pct: { daemons: number; medium: number; bench: number } | null;
  /** The same figures per slice: their median over the slices and its 95 % interval. */
  ci: ModeIntervals;
}

/** Figures of a mode as the median over its slices and the 95 % interval (null: no slice had the figure). */
export interface ModeIntervals {
  latency_us: { p50: Interval; p99: Interval; p999: Interval; mean: Interval } | null;
  /** Median of each segment of the one-way path. */
  segments_p50_us: Record<Segment, Interval> | null;
  delivered_pps: Interval | null;
  cpu_pct: { daemons: Interval; medium: Interval; bench: Interval } | null;
}

export interface StageFigure {
  n: number;
  mean_us: number;
  p50_us: number;
  p99_us: number;
}

export interface SecurityFigures {
  /**
   * One-way latency with security on minus off, at each percentile and for the mean, µs: the
   * median of the differences of adjacent on/off slices, its 95 % interval and whether it is
   * measurable (the interval excludes 0).
   */
  added_us: { mean: Judged; p50: Judged; p99: Judged; p999: Judged } | null;
  /** Stage histograms of the timed PDUs (one in `sample_every`) of the security-on daemons. */
  stages: { tx: Record<string, StageFigure>; rx: Record<string, StageFigure> } | null;
  /** Whole protect / accepted unprotect calls of those PDUs (= the sum of their stages). */
  protect_us: StageFigure | null;
  unprotect_us: StageFigure | null;
  /** Mean protect + mean unprotect: the security layer's work on one delivered copy. */
  per_packet_mean_us: number | null;
  /**
   * Distribution of protect + unprotect of one delivered copy: the two call histograms convolved
   * (a protect and an unprotect drawn independently), µs.
   */
  per_packet_us: { p50: number; p99: number; p999: number } | null;
  /** per_packet_mean_us / mean one-way latency with security on, %. */
  share_of_one_way_pct: number | null;
  /**
   * The machine's floor for the same work: wall time of a protect and an unprotect of their p50
   * CPU time each, started at random moments of the stall trace recorded before the run
   * (stall-meter.ts), and per window of that trace for its interval. Null without a stall trace
   * or a stage profile.
   */
  machine_floor_us: FloorWithInterval | null;
  /** The figures above per slice: median over the security-on slices and 95 % interval. */
  ci: SecurityIntervals | null;
}

export interface SecurityIntervals {
  protect_us: { p50: Interval; p99: Interval } | null;
  unprotect_us: { p50: Interval; p99: Interval } | null;
  per_packet_us: { p50: Interval; p99: Interval; p999: Interval; mean: Interval } | null;
  /** The median (p50) of each stage, per direction. */
  stages_p50_us: { tx: Record<string, Interval>; rx: Record<string, Interval> } | null;
}

export interface RateResult {
  rate_per_ue: number;
  offered_pps: number;
  security_on: ModeFigures;
  security_off: ModeFigures;
  security: SecurityFigures;
  /** The run's verdict (the stall meter before it), repeated per rate. */
  unreliable: boolean;
}

/** The `--json` document. */
export interface E2eReport {
  run: RunMetadata;
  /** More than 5 % of the time lost to stalls before the run (stall-meter.ts); false when not measured. */
  unreliable: boolean;
  stall_lost_pct: number | null;
  settings: {
    ues: number;
    rates_per_ue: number[];
    seconds_per_rate_and_mode: number;
    slice_ms: number;
    drain_ms: number;
    sdu_bytes: number;
    algorithms: string;
    profile: 'pcr';
    medium: string;
    metrics: boolean;
    sample_every: number | null;
    /** Latency mode: the daemons' keep-warm period (`run --keep-warm`), 0 when off. */
    keep_warm_ms: number;
    /** Latency mode: the daemons' busy-poll window after each message (`run --busy-poll`), µs; 0 when off. */
    busy_poll_us: number;
  };
  machine: {
    cpus: number;
    node: string;
    loadavg_before: number[];
    loadavg_after: number[];
    /** Stalls of a running thread, measured before the stacks start (null with --no-stall-meter). */
    stalls: StallSummary | null;
    /** The same per window of that measurement: median and 95 % interval. */
    stall_windows: StallIntervals | null;
  };
  rates: RateResult[];
  /** Stage sums against the daemons' own protect / unprotect timing (status lines), whole run. */
  stage_check: StageCheck | null;
  /** Each medium emulator's final statistics (channel: loss decisions; hub: send drops), whole run. */
  medium: Partial<Record<SecurityMode, unknown>>;
  overhead: OverheadReport | null;
  /**
   * Latency mode (settings.keep_warm_ms > 0): per security-on daemon, the keep-warm passes it ran
   * and the scratch protect + unprotect round trips they made, from its last status line.
   */
  keep_warm: {
    passes: number[];
    round_trips: number[];
    /** With settings.busy_poll_us > 0: per daemon, the spells it spun, for how long (ms), and the passes the spin ran. */
    busy_poll: { spells: number[]; spinning_ms: number[]; passes: number[] } | null;
  } | null;
  problems: string[];
}

export interface StageCheck {
  /** Per direction: the profile's whole-call p50 (= the sum of the stages of a PDU) vs the daemon's timing around the call (every PDU). */
  protect: { stage_sum_p50_us: number; daemon_measured_p50_us: number; stage_sum_p99_us: number; daemon_measured_p99_us: number };
  unprotect: { stage_sum_p50_us: number; daemon_measured_p50_us: number; stage_sum_p99_us: number; daemon_measured_p99_us: number };
  /** The security-on daemons' /metrics parsed as Prometheus text; _count of the stage histograms. */
  prometheus_ok: boolean;
}

const r2 = (v: number): number => Math.round(v * 100) / 100;
const r1 = (v: number): number => Math.round(v * 10) / 10;

/** Exact percentiles of raw samples (ns), in µs. */
export function percentiles(samplesNs: readonly number[]): Percentiles | null {
  if (samplesNs.length === 0) return null;
  const sorted = Float64Array.from(samplesNs).sort();
  const us = (ns: number): number => r2(ns / 1000);
  let sum = 0;
  for (const v of sorted) sum += v;
  return { count: sorted.length, mean: us(sum / sorted.length), p50: us(percentile(sorted, 50)), p99: us(percentile(sorted, 99)), p999: us(percentile(sorted, 99.9)), max: us(sorted[sorted.length - 1]!) };
}

/** The empirical CDF of raw samples (ns) as [µs, fraction], thinned. */
export function sampleCdf(samplesNs: readonly number[]): Array<[number, number]> {
  const sorted = Float64Array.from(samplesNs).sort();
  const n = sorted.length;
  const pts: Array<[number, number]> = [];
  for (let i = 0; i < n; i++) {
    // One point per distinct value, at the fraction of samples <= it.
    if (i + 1 < n && sorted[i + 1] === sorted[i]) continue;
    pts.push([r2(sorted[i]! / 1000), Math.round(((i + 1) / n) * 1e5) / 1e5]);
  }
  return thinCdf(pts);
}

function stageFigure(h: LogLinearHistogram | undefined): StageFigure | null {
  if (!h || h.count === 0) return null;
  return { n: h.count, mean_us: r2(h.sumNs / h.count / 1000), p50_us: r2(h.percentile(50) / 1000), p99_us: r2(h.percentile(99) / 1000) };
}

/**
 * About `max` points of a CDF: the first and the last, then points at least 1/(0.7 max) apart in
 * fraction, ten times denser in the tail (fraction >= 0.99) where p99 and p99.9 live.
 */
export function thinCdf(points: Array<[number, number]>, max = 160): Array<[number, number]> {
  if (points.length <= max) return points;
  const out: Array<[number, number]> = [];
  let lastFrac = -1;
  const step = 1 / (max * 0.7);
  points.forEach((p, i) => {
    const need = p[1] >= 0.99 ? step / 10 : step;
    if (i === 0 || i === points.length - 1 || p[1] - lastFrac >= need) {
      out.push(p);
      lastFrac = p[1];
    }
  });
  return out;
}

/** Median and interval of per-slice values, rounded to 0.01 (null when no slice had one). */
function across(values: readonly number[]): Interval | null {
  const i = medianInterval(values);
  return i && mapInterval(i, r2);
}

/** Like `across`, for a figure every slice has or none does. */
function acrossAll<K extends string>(keys: readonly K[], per: ReadonlyArray<Record<K, number> | null>): Record<K, Interval> | null {
  const have = per.filter((x): x is Record<K, number> => x !== null);
  if (have.length === 0) return null;
  return Object.fromEntries(keys.map((k) => [k, across(have.map((x) => x[k]))!])) as Record<K, Interval>;
}

/** One-way latency figures of one slice, µs. */
function sliceLatency(r: SliceRecord): Record<'p50' | 'p99' | 'p999' | 'mean', number> | null {
  const p = percentiles(r.account.oneWay);
  return p && { p50: p.p50, p99: p.p99, p999: p.p999, mean: p.mean };
}

function modeIntervals(records: readonly SliceRecord[]): ModeIntervals {
  const cpu = records.map((r) => (r.cpu && r.cpu.wallMs > 0 ? { daemons: (100 * r.cpu.daemonsMs) / r.cpu.wallMs, medium: (100 * r.cpu.mediumMs) / r.cpu.wallMs, bench: (100 * r.cpu.benchMs) / r.cpu.wallMs } : null));
  const segs = records.map((r) =>
    r.account.oneWay.length === 0 ? null : (Object.fromEntries(SEGMENTS.map((k) => [k, r.account.segments[k].percentile(50) / 1000])) as Record<Segment, number>),
  );
  return {
    latency_us: acrossAll(['p50', 'p99', 'p999', 'mean'], records.map(sliceLatency)),
    segments_p50_us: acrossAll(SEGMENTS, segs),
    delivered_pps: across(records.filter((r) => r.trafficMs > 0).map((r) => Math.round((r.account.distinct * 1000) / r.trafficMs))),
    cpu_pct: acrossAll(['daemons', 'medium', 'bench'], cpu),
  };
}

export function modeFigures(records: readonly SliceRecord[]): ModeFigures {
  const acc = mergeSlices(records.map((r) => r.account));
  const trafficS = records.reduce((a, r) => a + r.trafficMs, 0) / 1000;
  const sent = acc.sentTotal;
  const expected = acc.expected;
  const received = acc.distinct;
  const lost = Math.max(0, expected - received);
  const segs = acc.oneWay.length === 0 ? null : (Object.fromEntries(
    SEGMENTS.map((s) => {
      const h = acc.segments[s];
      return [s, { mean: r2(h.sumNs / h.count / 1000), p50: r2(h.percentile(50) / 1000), p99: r2(h.percentile(99) / 1000) }];
    }),
  ) as ModeFigures['segments_us']);
  const cpus = records.map((r) => r.cpu).filter((c): c is CpuSample => c !== null);
  const wall = cpus.reduce((a, c) => a + c.wallMs, 0);
  const pct = (ms: number): number => r1((ms / wall) * 100);
  return {
    slices: records.length,
    traffic_s: r2(trafficS),
    sent,
    expected,
    received,
    duplicates: acc.duplicates,
    lost,
    loss_pct: expected > 0 ? Math.round((lost / expected) * 1e5) / 1e3 : 0,
    send_refused: { ...acc.sendDropped },
    drops: records.some((r) => r.drops === null) ? null : sumDrops(records.map((r) => r.drops!)),
    sent_pps: trafficS > 0 ? Math.round(sent / trafficS) : 0,
    delivered_pps: trafficS > 0 ? Math.round(received / trafficS) : 0,
    latency_us: percentiles(acc.oneWay),
    segments_us: segs,
    cdf: sampleCdf(acc.oneWay),
    cpu_pct: wall > 0 ? { daemons: pct(cpus.reduce((a, c) => a + c.daemonsMs, 0)), medium: pct(cpus.reduce((a, c) => a + c.mediumMs, 0)), bench: pct(cpus.reduce((a, c) => a + c.benchMs, 0)) } : null,
    ci: modeIntervals(records),
  };
}

function sumDrops(list: ReadonlyArray<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const d of list) for (const [k, v] of Object.entries(d)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** Whole-call and per-packet figures of one profile, µs (null without both calls). */
function callFigures(p: ProfileDelta): { protect: StageFigure; unprotect: StageFigure; perPacket: { p50: number; p99: number; p999: number; mean: number } } | null {
  const protect = stageFigure(p.call.tx);
  const unprotect = stageFigure(p.call.rx);
  if (!protect || !unprotect) return null;
  const both = p.call.tx.convolve(p.call.rx);
  return {
    protect,
    unprotect,
    perPacket: { p50: r2(both.percentile(50) / 1000), p99: r2(both.percentile(99) / 1000), p999: r2(both.percentile(99.9) / 1000), mean: r2(protect.mean_us + unprotect.mean_us) },
  };
}

function securityIntervals(profiles: readonly ProfileDelta[]): SecurityIntervals | null {
  if (profiles.length === 0) return null;
  const calls = profiles.map(callFigures);
  const stageP50 = (dir: 'tx' | 'rx'): Record<string, Interval> => {
    const names = [...new Set(profiles.flatMap((p) => Object.keys(p[dir])))];
    const out: Record<string, Interval> = {};
    for (const n of names) {
      const i = across(profiles.map((p) => stageFigure(p[dir][n])?.p50_us ?? NaN));
      if (i) out[n] = i;
    }
    return out;
  };
  return {
    protect_us: acrossAll(['p50', 'p99'], calls.map((c) => c && { p50: c.protect.p50_us, p99: c.protect.p99_us })),
    unprotect_us: acrossAll(['p50', 'p99'], calls.map((c) => c && { p50: c.unprotect.p50_us, p99: c.unprotect.p99_us })),
    per_packet_us: acrossAll(['p50', 'p99', 'p999', 'mean'], calls.map((c) => c && c.perPacket)),
    stages_p50_us: { tx: stageP50('tx'), rx: stageP50('rx') },
  };
}

/**
 * On - off per pair of adjacent slices: the i-th slice of each mode belong to the same ABBA pair
 * (on off | off on | ...), so differences within a pair share the machine's state.
 */
function addedLatency(on: readonly SliceRecord[], off: readonly SliceRecord[]): SecurityFigures['added_us'] {
  const n = Math.min(on.length, off.length);
  const a = on.slice(0, n).map(sliceLatency);
  const b = off.slice(0, n).map(sliceLatency);
  const pairs = a.flatMap((x, i) => (x && b[i] ? [[x, b[i]!] as const] : []));
  if (pairs.length === 0) return null;
  const diff = (k: 'p50' | 'p99' | 'p999' | 'mean'): Judged => mapInterval(pairedDifference(pairs.map((p) => p[0][k]), pairs.map((p) => p[1][k]))!, r2);
  return { mean: diff('mean'), p50: diff('p50'), p99: diff('p99'), p999: diff('p999') };
}

export function securityFigures(on: readonly SliceRecord[], off: readonly SliceRecord[], fOn: ModeFigures, stalls?: StallTrace): SecurityFigures {
  const profiles = on.map((r) => r.profile).filter((x): x is ProfileDelta => x !== null);
  const p = emptyProfile();
  for (const d of profiles) addProfile(p, d);
  const hasProfile = profiles.length > 0 && (p.call.tx.count > 0 || p.call.rx.count > 0);
  const stages = (dir: Record<string, LogLinearHistogram>): Record<string, StageFigure> => {
    const out: Record<string, StageFigure> = {};
    for (const [k, h] of Object.entries(dir)) {
      const f = stageFigure(h);
      if (f) out[k] = f;
    }
    return out;
  };
  const call = callFigures(p);
  const protect = call?.protect ?? null;
  const unprotect = call?.unprotect ?? null;
  const perPacket = call ? call.perPacket.mean : null;
  const a = fOn.latency_us;
  return {
    added_us: addedLatency(on, off),
    stages: hasProfile ? { tx: stages(p.tx), rx: stages(p.rx) } : null,
    protect_us: protect,
    unprotect_us: unprotect,
    per_packet_mean_us: perPacket,
    per_packet_us: call ? { p50: call.perPacket.p50, p99: call.perPacket.p99, p999: call.perPacket.p999 } : null,
    share_of_one_way_pct: perPacket !== null && a ? Math.round((perPacket / a.mean) * 1e4) / 100 : null,
    machine_floor_us: stalls && protect && unprotect && protect.p50_us > 0 && unprotect.p50_us > 0 ? floorWithInterval(stalls, [protect.p50_us, unprotect.p50_us]) : null,
    ci: hasProfile ? securityIntervals(profiles) : null,
  };
}

/**
 * Groups slice records by rate into results (rates in the order given); with the stall trace of
 * the run, each rate also gets the machine's floor for its protect + unprotect. `unreliable` is
 * the run's verdict (stall-meter.ts), repeated in each rate.
 */
export function rateResults(records: readonly SliceRecord[], rates: readonly number[], ues: number, stalls?: StallTrace, unreliable = false): RateResult[] {
  return rates.map((rate) => {
    const on = records.filter((r) => r.rate === rate && r.mode === 'on');
    const off = records.filter((r) => r.rate === rate && r.mode === 'off');
    const fOn = modeFigures(on);
    const fOff = modeFigures(off);
    return {
      rate_per_ue: rate,
      offered_pps: rate * ues,
      security_on: fOn,
      security_off: fOff,
      security: securityFigures(on, off, fOn, stalls),
      unreliable,
    };
  });
}

function fmt(v: number | null | undefined, digits = 1): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '-';
  return Math.abs(v) >= 1000 ? String(Math.round(v)) : v.toFixed(digits);
}

const fmt0 = (v: number): string => fmt(v, 0);
const fmt2 = (v: number): string => fmt(v, 2);
/** A latency in µs, 3 significant digits (ms-scale figures have no meaningful sub-µs digits). */
const sig3 = (v: number): string => (Math.abs(v) >= 100 ? String(Math.round(v)) : String(Number(v.toPrecision(3))));

/** The two key columns and the last (drops, text) on the left, figures on the right. */
function table(header: string[], rows: string[][]): string[] {
  return textTable(header, rows, (i) => !(i < 2 || i === header.length - 1));
}

/** The stdout table: per rate and mode, the median over the slices [95 % interval] of each measured figure; counts are totals. */
export function formatRateResults(results: readonly RateResult[]): string {
  const rows: string[][] = [];
  for (const r of results) {
    for (const [mode, f] of [['on', r.security_on], ['off', r.security_off]] as const) {
      const ci = f.ci;
      rows.push([
        String(r.rate_per_ue),
        mode,
        String(f.sent),
        String(f.received),
        `${f.loss_pct.toFixed(3)}%`,
        formatInterval(ci.latency_us?.p50 ?? null, sig3),
        formatInterval(ci.latency_us?.p99 ?? null, sig3),
        formatInterval(ci.latency_us?.p999 ?? null, sig3),
        formatInterval(ci.delivered_pps, fmt0),
        formatInterval(ci.cpu_pct?.daemons ?? null, fmt0),
        formatInterval(ci.cpu_pct?.medium ?? null, fmt0),
        formatInterval(ci.cpu_pct?.bench ?? null, fmt0),
        f.drops === null ? '-' : Object.entries(f.drops).map(([k, v]) => `${k}:${v}`).join(' ') || '0',
      ]);
    }
  }
  const slices = results[0]?.security_on.slices ?? 0;
  const lines = [`per rate and mode: median over ${slices} slices [95 % confidence interval]; sent, received, loss and drops: totals`];
  lines.push(
    ...table(
      ['rate/UE', 'security', 'sent', 'received', 'loss', 'p50_us', 'p99_us', 'p99.9_us', 'delivered/s', 'cpu_daemons%', 'cpu_medium%', 'cpu_bench%', 'drops'],
      rows,
    ),
  );
  lines.push('', 'security layer (protect + unprotect), per rate:');
  for (const r of results) {
    const s = r.security;
    const parts = [`  ${r.rate_per_ue}/s per UE:`];
    if (s.added_us) {
      const d = s.added_us;
      parts.push(`on - off one-way p50 ${formatDifference(d.p50, sig3, 'µs')}, p99 ${formatDifference(d.p99, sig3, 'µs')}, mean ${formatDifference(d.mean, sig3, 'µs')};`);
    }
    const ci = s.ci;
    if (ci?.protect_us && ci.unprotect_us && ci.per_packet_us) {
      parts.push(
        `protect p50 ${formatInterval(ci.protect_us.p50, fmt2)}, p99 ${formatInterval(ci.protect_us.p99, fmt2)} µs; unprotect p50 ${formatInterval(ci.unprotect_us.p50, fmt2)}, p99 ${formatInterval(ci.unprotect_us.p99, fmt2)} µs;`,
        `per packet (protect + unprotect) p50 ${formatInterval(ci.per_packet_us.p50, fmt2)}, p99 ${formatInterval(ci.per_packet_us.p99, fmt2)}, ` +
          `mean ${formatInterval(ci.per_packet_us.mean, fmt2)} µs (pooled mean = ${fmt(s.share_of_one_way_pct, 2)}% of the mean one-way latency)`,
      );
      if (s.machine_floor_us) {
        const f = s.machine_floor_us;
        parts.push(
          f.ci
            ? `(the machine's floor for the same CPU time, its stalls alone: p50 ${formatInterval(f.ci.p50, fmt2)}, p99 ${formatInterval(f.ci.p99, fmt2)}, p99.9 ${formatInterval(f.ci.p999, fmt2)} µs)`
            : `(the machine's floor for the same CPU time, its stalls alone: p50/p99/p99.9 ${fmt(f.p50, 2)}/${fmt(f.p99, 2)}/${fmt(f.p999, 2)} µs)`,
        );
      }
    } else {
      parts.push('no stage profile (daemons without metrics)');
    }
    lines.push(parts.join(' '));
  }
  return lines.join('\n') + '\n';
}
