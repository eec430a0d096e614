/**
 * `bench scale`: the figures of one point (a number of UEs at a request rate) from the JSON of the
 * `sl-bridge demo --slices N` that ran it, and the printed tables. Pure functions.
 *
 * Every figure with an interval is the median over the demo's slices and its 95 % order-statistic
 * interval (src/stats/interval.ts); next to it the figure pooled over the whole measured interval.
 * Counts the demo keeps for the whole run (drops, requests answered) include its warm-up.
 */
import { formatInterval, mapInterval, medianInterval, type Interval } from '../../src/stats/interval.js';
import type { LatencySummary } from '../app/ranging.js';
import type { DemoResult } from '../demo/report.js';
import type { DemoSlice } from '../demo/slices.js';
import type { RunMetadata } from './run-metadata.js';
import type { StallSummary } from './stall-meter.js';
import { textTable } from './text-table.js';

export type ScaleSecurity = 'on' | 'off';

/** The process kinds whose CPU is reported, % of one core. */
export const CPU_KINDS = ['daemon_mean', 'daemon_max', 'daemons', 'medium', 'pkmfs', 'apps', 'machine', 'rest'] as const;
export type CpuKind = (typeof CPU_KINDS)[number];

export const CPU_KIND_TEXT: Readonly<Record<CpuKind, string>> = {
  daemon_mean: 'one daemon (mean over the daemons)',
  daemon_max: 'the busiest daemon',
  daemons: 'all daemons together',
  medium: 'medium emulator',
  pkmfs: 'PKMFs (home + visited)',
  apps: 'ranging apps (the demo process)',
  machine: 'whole machine (every process)',
  rest: 'rest of the machine (not ours)',
};

export interface ScalePoint {
  ues: number;
  rate_per_ue: number;
  security: ScaleSecurity;
  /** Why the demo gave no result (it failed to start, died, timed out); null when it did. */
  error: string | null;
  /** The demo's verdict: every UE heard every other, no security drop, every process stopped cleanly. */
  ok: boolean;
  problems: string[];
  /** Every UE received SDUs from every other UE. */
  all_heard_all: boolean;
  /**
   * What the ranging traffic asks for: requests/s (rate x UEs); SDUs the applications should send
   * per second, each request and the N-1 answers to it (rate x N^2); and SDUs they should receive
   * per second if every one reached every other UE: rate x N^2 x (N-1).
   */
  offered: { requests_per_s: number; sent_per_s: number; deliveries_per_s: number };
  /** Slices with figures, and their median length (s). */
  slices: number;
  slice_seconds: number | null;
  measured_seconds: number;
  warmup_seconds: number;
  /** Round trips, every UE pooled, µs: over the whole measured interval, and median over the slices [95 % CI]. */
  rtt_us: { pooled: LatencySummary | null; ci: { p50: Interval | null; p99: Interval | null } };
  /** SDUs the daemons delivered to the ranging applications, per second (every copy at every UE). */
  delivered_pps: { pooled: number; ci: Interval | null };
  /** SDUs the ranging applications sent (requests + answers), per second. */
  sent_pps: { pooled: number; ci: Interval | null };
  /** Pooled sent / offered sent: below 100 % the applications fell behind their own pace (the pacing skips what it missed). */
  sent_pct_of_offered: number | null;
  /** Pooled delivered / (sent x (N-1)): the share of what was sent that reached the other applications. */
  delivered_pct_of_sent: number | null;
  /** Pooled delivered / offered deliveries, %. */
  delivered_pct_of_offered: number | null;
  /** Answers received / (requests sent x (N-1)), whole run (warm-up included), %. */
  answered_pct: number | null;
  /** CPU per process kind, % of one core: mean over the measured interval, and median over the slices [95 % CI]. */
  cpu_pct: { pooled: Record<CpuKind, number | null>; ci: Record<CpuKind, Interval | null> };
  /** Drops by reason, all daemons together (warm-up included), plus the medium's full-queue drops. */
  drops: Record<string, number>;
  security_drops: number;
  /** The stall meter just before the point (null: not run); more than 5 % lost marks it unreliable. */
  stall_lost_pct: number | null;
  unreliable: boolean;
}

export interface ScaleReport {
  run: RunMetadata;
  unreliable: boolean;
  /** Over every point's stall measurement together. */
  stall_lost_pct: number | null;
  settings: {
    ues: number[];
    rates_per_ue: number[];
    security: ScaleSecurity[];
    seconds_per_point: number;
    warmup_seconds: number;
    slices: number;
    /** The demo command of one point, with placeholders. */
    demo_command: string;
    medium: string;
    algorithms: string;
  };
  machine: { cpus: number; node: string; stalls: StallSummary | null };
  points: ScalePoint[];
}

const r1 = (v: number): number => Math.round(v * 10) / 10;
const r2 = (v: number): number => Math.round(v * 100) / 100;

function sum(xs: ReadonlyArray<number | null>): number | null {
  const v = xs.filter((x): x is number => x !== null);
  return v.length === 0 ? null : v.reduce((a, b) => a + b, 0);
}

/** One slice's CPU per kind, % of one core. */
export function sliceCpu(s: DemoSlice): Record<CpuKind, number | null> {
  const c = s.cpuPercent;
  const d = c.daemons.filter((x): x is number => x !== null);
  const ours = (sum(d) ?? 0) + (c.medium ?? 0) + (sum(c.pkmfs) ?? 0) + c.apps;
  return {
    daemon_mean: d.length === 0 ? null : r1(d.reduce((a, b) => a + b, 0) / d.length),
    daemon_max: d.length === 0 ? null : Math.max(...d),
    daemons: sum(d) === null ? null : r1(sum(d)!),
    medium: c.medium,
    pkmfs: sum(c.pkmfs) === null ? null : r1(sum(c.pkmfs)!),
    apps: c.apps,
    machine: c.machine,
    // Other people's processes and interrupt time; CPU ticks of 10 ms make it a little noisy.
    rest: c.machine === null ? null : r1(Math.max(0, c.machine - ours)),
  };
}

/** Median over the slices [95 % CI] of `f`, slices where it is null left out. */
function over(slices: readonly DemoSlice[], f: (s: DemoSlice) => number | null | undefined, round: (v: number) => number): Interval | null {
  const i = medianInterval(slices.map((s) => f(s) ?? NaN));
  return i && mapInterval(i, round);
}

/** Mean over the slices weighted by their length: the figure over the whole measured interval. */
function weighted(slices: readonly DemoSlice[], f: (s: DemoSlice) => number | null): number | null {
  let w = 0;
  let acc = 0;
  for (const s of slices) {
    const v = f(s);
    if (v === null || !(s.seconds > 0)) continue;
    w += s.seconds;
    acc += v * s.seconds;
  }
  return w > 0 ? acc / w : null;
}

export function offeredLoad(ues: number, ratePerUe: number): ScalePoint['offered'] {
  return { requests_per_s: r1(ratePerUe * ues), sent_per_s: r1(ratePerUe * ues * ues), deliveries_per_s: r1(ratePerUe * ues * ues * (ues - 1)) };
}

export interface PointContext {
  ues: number;
  ratePerUe: number;
  security: ScaleSecurity;
  stallLostPct: number | null;
  unreliable: boolean;
}

/** A point whose demo gave no result. */
export function failedPoint(ctx: PointContext, error: string): ScalePoint {
  const nulls = Object.fromEntries(CPU_KINDS.map((k) => [k, null])) as Record<CpuKind, null>;
  return {
    ues: ctx.ues,
    rate_per_ue: ctx.ratePerUe,
    security: ctx.security,
    error,
    ok: false,
    problems: [error],
    all_heard_all: false,
    offered: offeredLoad(ctx.ues, ctx.ratePerUe),
    slices: 0,
    slice_seconds: null,
    measured_seconds: 0,
    warmup_seconds: 0,
    rtt_us: { pooled: null, ci: { p50: null, p99: null } },
    delivered_pps: { pooled: 0, ci: null },
    sent_pps: { pooled: 0, ci: null },
    sent_pct_of_offered: null,
    delivered_pct_of_sent: null,
    delivered_pct_of_offered: null,
    answered_pct: null,
    cpu_pct: { pooled: { ...nulls }, ci: { ...nulls } },
    drops: {},
    security_drops: 0,
    stall_lost_pct: ctx.stallLostPct,
    unreliable: ctx.unreliable,
  };
}

/** The figures of one point from its demo's JSON (which must have been run with --slices). */
export function scalePoint(ctx: PointContext, demo: DemoResult): ScalePoint {
  if (!demo.slices) return failedPoint(ctx, 'the demo wrote no slices (is this sl-bridge too old for demo --slices?)');
  const slices = demo.slices.slices;
  const cpuPerSlice = new Map(slices.map((s) => [s, sliceCpu(s)]));
  const cpuPooled = {} as Record<CpuKind, number | null>;
  const cpuCi = {} as Record<CpuKind, Interval | null>;
  for (const k of CPU_KINDS) {
    const p = weighted(slices, (s) => cpuPerSlice.get(s)![k]);
    cpuPooled[k] = p === null ? null : r1(p);
    cpuCi[k] = over(slices, (s) => cpuPerSlice.get(s)![k], r1);
  }
  const seconds = slices.reduce((a, s) => a + s.seconds, 0);
  const delivered = weighted(slices, (s) => s.deliveredPerSecond) ?? 0;
  const sent = weighted(slices, (s) => s.sentPerSecond) ?? 0;
  const offered = offeredLoad(ctx.ues, ctx.ratePerUe);
  const drops: Record<string, number> = {};
  for (const u of demo.ues) for (const [r, n] of Object.entries(u.dropped)) if (n > 0) drops[r] = (drops[r] ?? 0) + n;
  const mediumFull = (demo.medium as { hub?: { hwmDrops?: unknown } } | null)?.hub?.hwmDrops;
  if (typeof mediumFull === 'number' && mediumFull > 0) drops['medium-queue-full'] = mediumFull;
  let requests = 0;
  let answers = 0;
  for (const u of demo.ues) {
    requests += u.ranging?.requestsSent ?? 0;
    answers += u.ranging?.responsesReceived ?? 0;
  }
  const lengths = slices.map((s) => s.seconds).sort((a, b) => a - b);
  return {
    ues: ctx.ues,
    rate_per_ue: ctx.ratePerUe,
    security: ctx.security,
    error: null,
    ok: demo.ok,
    problems: demo.problems,
    all_heard_all: demo.allReceivedFromAll,
    offered,
    slices: slices.length,
    slice_seconds: lengths.length === 0 ? null : lengths[lengths.length >> 1]!,
    measured_seconds: r2(seconds),
    warmup_seconds: demo.warmupSeconds,
    rtt_us: {
      pooled: demo.slices.pooledRttUs,
      ci: { p50: over(slices, (s) => s.rttUs?.p50Us, r1), p99: over(slices, (s) => s.rttUs?.p99Us, r1) },
    },
    delivered_pps: { pooled: r1(delivered), ci: over(slices, (s) => s.deliveredPerSecond, r1) },
    sent_pps: { pooled: r1(sent), ci: over(slices, (s) => s.sentPerSecond, r1) },
    sent_pct_of_offered: offered.sent_per_s > 0 ? r1((100 * sent) / offered.sent_per_s) : null,
    delivered_pct_of_sent: sent > 0 ? r1((100 * delivered) / (sent * (ctx.ues - 1))) : null,
    delivered_pct_of_offered: offered.deliveries_per_s > 0 ? r1((100 * delivered) / offered.deliveries_per_s) : null,
    answered_pct: requests > 0 && ctx.ues > 1 ? r1((100 * answers) / (requests * (ctx.ues - 1))) : null,
    cpu_pct: { pooled: cpuPooled, ci: cpuCi },
    drops,
    security_drops: demo.securityDrops,
    stall_lost_pct: ctx.stallLostPct,
    unreliable: ctx.unreliable,
  };
}

/** 3 significant digits: 0.0123, 1.23, 12.3, 123, 1234. */
export function sig3(v: number): string {
  if (v === 0) return '0';
  return Math.abs(v) >= 1000 ? String(Math.round(v)) : String(Number(v.toPrecision(3)));
}

const ms = (us: number): string => sig3(us / 1000);

const pct = (v: number | null): string => (v === null ? '-' : `${v}%`);

function dropsText(d: Record<string, number>): string {
  const e = Object.entries(d).sort((a, b) => b[1] - a[1]);
  return e.length === 0 ? '0' : e.map(([r, n]) => `${r}:${n}`).join(' ');
}

/** The two tables `bench scale` prints: latency and throughput, then CPU. */
export function formatScaleTables(points: readonly ScalePoint[]): string {
  const bothModes = new Set(points.map((p) => p.security)).size > 1;
  const key = (p: ScalePoint): string[] => [String(p.rate_per_ue), String(p.ues), ...(bothModes ? [p.security] : [])];
  const keyHeader = ['rate/UE', 'UEs', ...(bothModes ? ['security'] : [])];
  const figuresRight = (i: number): boolean => i >= keyHeader.length;
  const lat = textTable(
    [...keyHeader, 'RTT p50 ms [95% CI]', 'RTT p99 ms [95% CI]', 'RTTs', 'sent/s', 'of asked', 'delivered/s [95% CI]', 'reached', 'answered', 'heard all', 'drops (warm-up included)'],
    points.map((p) =>
      p.error !== null
        ? [...key(p), 'FAILED', p.error, '', '', '', '', '', '', '', '']
        : [
            ...key(p),
            formatInterval(p.rtt_us.ci.p50, ms),
            formatInterval(p.rtt_us.ci.p99, ms),
            String(p.rtt_us.pooled?.count ?? 0),
            sig3(p.sent_pps.pooled),
            pct(p.sent_pct_of_offered),
            formatInterval(p.delivered_pps.ci, sig3),
            pct(p.delivered_pct_of_sent),
            pct(p.answered_pct),
            p.all_heard_all ? 'yes' : 'NO',
            dropsText(p.drops),
          ],
    ),
    figuresRight,
  );
  const cpu = textTable(
    [...keyHeader, 'daemon mean', 'daemon max', 'daemons', 'medium', 'PKMFs', 'apps', 'machine', 'not ours', 'stalls lost'],
    points.map((p) => [
      ...key(p),
      ...CPU_KINDS.map((k) => {
        const i = p.cpu_pct.ci[k];
        return i === null ? '-' : sig3(i.median);
      }),
      p.stall_lost_pct === null ? '-' : `${p.stall_lost_pct}%${p.unreliable ? ' (!)' : ''}`,
    ]),
    figuresRight,
  );
  return [
    'Round trips and throughput (median over the slices [95 % CI]; RTTs: round trips measured, all UEs pooled):',
    ...lat,
    '',
    'CPU, % of one core (median over the slices; intervals in the JSON):',
    ...cpu,
    '',
  ].join('\n');
}
