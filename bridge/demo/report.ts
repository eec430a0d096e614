/**
 * What the demo shows and writes: the live table (redrawn on a terminal, plain lines otherwise),
 * the end-of-run summary and the `--json` document. Pure functions over the daemons' status lines
 * and the ranging applications' counters.
 */
import type { SourceAuthMode } from '../../src/keys/types.js';
import type { RangingStats } from '../app/ranging.js';
import type { DaemonStatus, LatencyFigures } from '../daemon/daemon.js';
import type { DemoUe } from './setup.js';
import type { DemoSlices } from './slices.js';

export interface UeView {
  ue: DemoUe;
  /** The daemon's latest status line. */
  status: DaemonStatus | undefined;
  /** The ranging application's counters. */
  app: RangingStats | undefined;
  /** The daemon's CPU since the ranging started, % of one core (the summary's "CPU while ranging"). */
  rangingCpuPercent?: number;
}

/** GMI (hex) -> UE id, from every daemon's status. */
export function gmiDirectory(views: readonly UeView[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const v of views) {
    const gmi = v.status?.keys.groups[0]?.gmi;
    if (gmi) m.set(gmi, v.ue.id);
  }
  return m;
}

/** Per other UE: SDUs from it that this UE's daemon delivered. */
export function receivedFrom(view: UeView, directory: Map<string, string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [gmi, s] of Object.entries(view.status?.rxBySender ?? {})) out[directory.get(gmi) ?? gmi] = s.delivered;
  return out;
}

/** The other UEs this one has received nothing from. */
export function silentPeers(view: UeView, views: readonly UeView[], directory: Map<string, string>): string[] {
  const from = receivedFrom(view, directory);
  return views.filter((o) => o !== view && !((from[o.ue.id] ?? 0) > 0)).map((o) => o.ue.id);
}

function us(v: number): string {
  if (v >= 10_000) return `${Math.round(v / 1000)}ms`;
  if (v >= 100) return `${Math.round(v)}`;
  return v.toFixed(1);
}

function pair(l: LatencyFigures | undefined): string {
  return l && l.count > 0 ? `${us(l.p50Us)}/${us(l.p99Us)}` : '-';
}

export function formatDrops(dropped: Record<string, number> | undefined, max = 3): string {
  const entries = Object.entries(dropped ?? {}).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) return '0';
  const shown = entries.slice(0, max).map(([r, n]) => `${r}:${n}`);
  if (entries.length > max) shown.push(`+${entries.length - max} more`);
  return shown.join(' ');
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

/**
 * The table: one header and one row per UE. Latencies are the daemon's protect / unprotect call
 * (p50/p99 since it started), RTT the ranging application's; CPU the daemon's since the ranging
 * started, the same figure as the summary's "CPU while ranging".
 */
export function tableLines(views: readonly UeView[]): string[] {
  const directory = gmiDirectory(views);
  const cols: [string, number, boolean][] = [
    ['UE', 5, false],
    ['role', 8, false],
    ['GMI', 7, false],
    ['sent', 7, true],
    ['received', 9, true],
    ['heard', 6, true],
    ['protect µs p50/p99', 18, true],
    ['unprotect µs p50/p99', 20, true],
    ['RTT ms p50', 10, true],
    ['CPU %', 5, true],
    ['  dropped', 0, false],
  ];
  const header = cols.map(([t, w, r]) => pad(t, w, r)).join(' ');
  const rows = views.map((v) => {
    const s = v.status;
    const heard = s ? `${views.length - 1 - silentPeers(v, views, directory).length}/${views.length - 1}` : '-';
    const rtt = v.app && v.app.rtt.count > 0 ? (v.app.rtt.p50Us / 1000).toFixed(2) : '-';
    const cells: string[] = [
      v.ue.id,
      v.ue.roaming ? 'roaming' : 'home',
      s?.keys.groups[0]?.gmi ?? (s ? 'no keys' : '-'),
      s ? String(s.counters.pdusOut) : '-',
      s ? String(s.counters.delivered) : '-',
      heard,
      pair(s?.latency.protect),
      pair(s?.latency.unprotect),
      rtt,
      v.rangingCpuPercent === undefined ? '-' : v.rangingCpuPercent.toFixed(1),
      `  ${s ? formatDrops(s.dropped) : '-'}`,
    ];
    return cells.map((c, i) => pad(c, cols[i]![1], cols[i]![2])).join(' ');
  });
  return [header, ...rows];
}

export interface DemoResult {
  version: 1;
  ok: boolean;
  /** Why not ok (empty when ok). */
  problems: string[];
  startedAt: string;
  /** Seconds of ranging traffic actually run (after the warm-up). */
  seconds: number;
  /** Seconds of traffic before, left out of the latency figures (the packet counters include them). */
  warmupSeconds: number;
  ratePerUe: number;
  group: string;
  /** `sourceAuth`: the mode the group was configured with (`--source-auth`). */
  algorithms: { nea: number; nia: number; profile: string; sourceAuth: SourceAuthMode };
  /** Every UE received SDUs from every other UE. */
  allReceivedFromAll: boolean;
  securityDrops: number;
  ues: Array<{
    id: string;
    supi: string;
    roaming: boolean;
    homePlmn: string;
    servingPlmn: string | null;
    gmi: string | null;
    /** The source authentication the daemon installed for the group (from its status). */
    sourceAuth: SourceAuthMode;
    /** PDUs the daemon protected and sent. */
    sent: number;
    /** SDUs the daemon verified and delivered. */
    received: number;
    dropped: Record<string, number>;
    securityDrops: number;
    /** SDUs delivered per sending UE. */
    receivedFrom: Record<string, number>;
    /** Envelope sequence accounting per sending UE. */
    lostFrom: Record<string, number>;
    ranging: {
      requestsSent: number;
      responsesSent: number;
      requestsReceived: number;
      responsesReceived: number;
      refused: Record<string, number>;
      rttUs: LatencyFigures | null;
      oneWayUs: LatencyFigures | null;
    } | null;
    /** Whole protect / unprotect call per packet in the daemon, µs. */
    latency: { protect: LatencyFigures; unprotect: LatencyFigures } | null;
    cpu: { percent: number; userMs: number; systemMs: number } | null;
    pdcp: DaemonStatus['pdcp'] | null;
  }>;
  medium: unknown;
  /**
   * Every process: CPU time over its life (ms), as a percentage of one core over its life, and
   * over the ranging traffic alone (Linux /proc; null elsewhere).
   */
  processes: Array<{ name: string; pid: number | null; cpuMs: number | null; cpuPercent: number | null; trafficCpuPercent: number | null }>;
  /** With `--slices N` only: the measured interval cut into N slices, each with its figures (slices.ts). */
  slices?: DemoSlices;
}

/** The JSON document of one run (also the source of the printed summary). */
export function buildResult(opts: {
  views: readonly UeView[];
  startedAt: Date;
  seconds: number;
  warmupSeconds: number;
  rate: number;
  group: string;
  algorithms: DemoResult['algorithms'];
  medium: unknown;
  processes: DemoResult['processes'];
  problems: string[];
  slices?: DemoSlices;
}): DemoResult {
  const { views } = opts;
  const directory = gmiDirectory(views);
  const problems = [...opts.problems];
  const ues = views.map((v) => {
    const s = v.status;
    const lostFrom: Record<string, number> = {};
    for (const [gmi, f] of Object.entries(s?.rxBySender ?? {})) lostFrom[directory.get(gmi) ?? gmi] = f.lost;
    const a = v.app;
    const sourceAuth: SourceAuthMode = s?.keys.groups[0]?.sourceAuth ?? 'none';
    return {
      id: v.ue.id,
      supi: v.ue.supi,
      roaming: v.ue.roaming,
      homePlmn: v.ue.homePlmn,
      servingPlmn: s?.keys.servingPlmn ?? null,
      gmi: s?.keys.groups[0]?.gmi ?? null,
      sourceAuth,
      sent: s?.counters.pdusOut ?? 0,
      received: s?.counters.delivered ?? 0,
      dropped: s?.dropped ?? {},
      securityDrops: s?.securityDrops ?? 0,
      receivedFrom: receivedFrom(v, directory),
      lostFrom,
      ranging: a
        ? {
            requestsSent: a.requestsSent,
            responsesSent: a.responsesSent,
            requestsReceived: a.requestsReceived,
            responsesReceived: a.responsesReceived,
            refused: a.refused,
            rttUs: a.rtt.count > 0 ? a.rtt : null,
            oneWayUs: a.oneWay.count > 0 ? a.oneWay : null,
          }
        : null,
      latency: s ? s.latency : null,
      cpu: s ? { percent: s.cpu.percentSinceStart, userMs: Math.round(s.cpu.userUs / 1000), systemMs: Math.round(s.cpu.systemUs / 1000) } : null,
      pdcp: s ? s.pdcp : null,
    };
  });
  let allReceivedFromAll = true;
  for (const v of views) {
    if (!v.status) {
      allReceivedFromAll = false;
      problems.push(`${v.ue.id}: no status from its daemon`);
      continue;
    }
    const silent = silentPeers(v, views, directory);
    if (silent.length > 0) {
      allReceivedFromAll = false;
      problems.push(`${v.ue.id} received nothing from ${silent.join(', ')}`);
    }
  }
  const securityDrops = ues.reduce((n, u) => n + u.securityDrops, 0);
  if (securityDrops > 0) problems.push(`${securityDrops} security drops (${ues.filter((u) => u.securityDrops > 0).map((u) => `${u.id}: ${formatDrops(u.dropped, 6)}`).join('; ')})`);
  return {
    version: 1,
    ok: problems.length === 0,
    problems,
    startedAt: opts.startedAt.toISOString(),
    seconds: opts.seconds,
    warmupSeconds: opts.warmupSeconds,
    ratePerUe: opts.rate,
    group: opts.group,
    algorithms: opts.algorithms,
    allReceivedFromAll,
    securityDrops,
    ues,
    medium: opts.medium,
    processes: opts.processes,
    ...(opts.slices ? { slices: opts.slices } : {}),
  };
}

/** The printed end-of-run summary. */
export function summaryLines(r: DemoResult, views: readonly UeView[]): string[] {
  const a = r.algorithms;
  const algs = a.profile === 'security off' ? 'SECURITY OFF' : `NEA${a.nea}/NIA${a.nia} (profile ${a.profile}${a.sourceAuth === 'none' ? '' : `, source authentication ${a.sourceAuth}`})`;
  const lines = ['', `sl-bridge demo: ${r.ues.length} UEs, group ${r.group}, ${algs}, ${r.ratePerUe} ranging requests/s per UE for ${r.seconds.toFixed(1)} s${r.warmupSeconds > 0 ? ` (round trips after a ${r.warmupSeconds} s warm-up)` : ''}`, ''];
  lines.push(...tableLines(views), '');
  for (const u of r.ues) {
    const from = Object.entries(u.receivedFrom)
      .map(([id, n]) => `${id} ${n}`)
      .join(', ');
    const rtt = u.ranging?.rttUs ? `; RTT p50 ${(u.ranging.rttUs.p50Us / 1000).toFixed(2)} ms p99 ${(u.ranging.rttUs.p99Us / 1000).toFixed(2)} ms` : '';
    lines.push(
      `${u.id} (${u.roaming ? `roaming, served by ${u.servingPlmn ?? '?'}` : `home ${u.servingPlmn ?? '?'}`}, GMI ${u.gmi ?? '-'}): sent ${u.sent}, received ${u.received} (from ${from || 'nobody'})${rtt}; dropped ${formatDrops(u.dropped, 8)}`,
    );
  }
  lines.push('');
  const cpu = r.processes.map((p) => `${p.name} ${p.trafficCpuPercent === null ? '?' : `${p.trafficCpuPercent.toFixed(1)}%`}`).join(', ');
  lines.push(`CPU while ranging (% of one core): ${cpu}`);
  lines.push(
    r.ok
      ? `OK: every UE received every other UE's traffic (the roaming one too), ${r.securityDrops} security drops`
      : `NOT OK:\n  ${r.problems.join('\n  ')}`,
  );
  return lines;
}
