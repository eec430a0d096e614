/**
 * `demo --slices N`: the measured interval cut into N slices of equal length, with the figures of
 * each slice, so that a bench (`bench scale`) can give the median over the slices and its 95 %
 * interval instead of one figure from one long measurement (docs/profiling.md, "Statistics").
 *
 * Per slice: the round trips that ended in it (every UE pooled), the SDUs the ranging
 * applications sent and received, the CPU of every process and of the whole machine. The demo's
 * other figures are left as they are: this only watches.
 */
import { readFileSync } from 'node:fs';
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { summarizeLatency, type LatencySummary } from '../app/ranging.js';

/** Counters of one ranging application, cumulative (RangingStats' fields of the same names). */
export interface AppCounts {
  requestsSent: number;
  responsesSent: number;
  deliveries: number;
}

/** CPU time so far, ms, per process kind (undefined: not readable, e.g. no /proc). */
export interface CpuReading {
  daemons: ReadonlyArray<number | undefined>;
  medium: number | undefined;
  pkmfs: ReadonlyArray<number | undefined>;
  /** This process: the ranging applications (and the demo's own bookkeeping). */
  apps: number;
}

export interface SliceSources {
  apps: () => readonly AppCounts[];
  cpu: () => CpuReading;
  /** CPU time of all CPUs of the machine so far, ms (every process on it); undefined without /proc/stat. */
  machineCpuMs?: () => number | undefined;
}

/** CPU over one slice, % of one core; null where a reading was missing. */
export interface SliceCpu {
  daemons: Array<number | null>;
  medium: number | null;
  pkmfs: Array<number | null>;
  apps: number;
  /** Every process on the machine, ours or not (200 = both cores of a 2-core machine busy). */
  machine: number | null;
}

export interface DemoSlice {
  index: number;
  /** Wall time of the slice. */
  seconds: number;
  /** Round trips that ended in the slice, every UE pooled, µs; null when none did. */
  rttUs: LatencySummary | null;
  /** SDUs the ranging applications handed to their daemons (requests + responses), per second. */
  sentPerSecond: number;
  /** SDUs the daemons delivered to the ranging applications (each copy at each UE), per second. */
  deliveredPerSecond: number;
  cpuPercent: SliceCpu;
}

export interface DemoSlices {
  count: number;
  slices: DemoSlice[];
  /** Every round trip of the measured interval, every UE pooled, µs; null when none. */
  pooledRttUs: LatencySummary | null;
}

interface Mark {
  atMs: number;
  sent: number;
  delivered: number;
  cpu: CpuReading;
  machineMs: number | undefined;
}

/**
 * Records round trips into the open slice and cuts it when the demo's loop, which waits until
 * {@link nextCutMs}, calls `cutIfDue`. A slice is what lies between two readings, whatever their
 * delay: on a saturated machine the demo's own timers fire late (its one process runs every
 * ranging application and gets its share of the CPU like each daemon), so each cut aims at an
 * equal share of the time left rather than at a fixed grid (a late cut shortens the later slices
 * instead of leaving one nearly empty), and a last slice shorter than half the nominal one is
 * merged into the one before. Late enough, a run gets fewer slices than asked, and says so.
 */
export class SliceRecorder {
  private readonly done: DemoSlice[] = [];
  private readonly pooled: RecordableHistogram = createHistogram();
  private current: RecordableHistogram = createHistogram();
  private mark: Mark | undefined;
  /** Where the last closed slice began and its round trips, to merge a short tail into it. */
  private previous: { mark: Mark; rtt: RecordableHistogram } | undefined;
  private startMs = 0;

  constructor(
    private readonly count: number,
    private readonly seconds: number,
    private readonly sources: SliceSources,
  ) {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`count: expected an integer >= 1, got ${count}`);
    if (!(seconds > 0)) throw new RangeError(`seconds: expected > 0, got ${seconds}`);
  }

  /** A round trip (ns) that just ended; ignored before {@link start} (the warm-up). */
  roundTrip(ns: number): void {
    if (this.mark === undefined || this.done.length >= this.count) return;
    const v = Math.max(1, Math.round(ns));
    this.current.record(v);
    this.pooled.record(v);
  }

  /** The measured interval starts now. */
  start(nowMs: number): void {
    this.startMs = nowMs;
    this.mark = this.read(nowMs);
  }

  private get endMs(): number {
    return this.startMs + this.seconds * 1000;
  }

  /** When the open slice should end (performance.now() ms): an equal share of the time left; Infinity once all are closed. */
  get nextCutMs(): number {
    if (this.mark === undefined || this.done.length >= this.count) return Infinity;
    // The last slice ends with the traffic (finish), never on a timer of its own.
    const left = this.count - this.done.length;
    return left === 1 ? this.endMs : this.mark.atMs + (this.endMs - this.mark.atMs) / left;
  }

  /** Closes the open slice if its end has passed. */
  cutIfDue(nowMs: number): void {
    if (nowMs >= this.nextCutMs && nowMs < this.endMs) this.cut(nowMs);
  }

  /**
   * The traffic ended (on time or early): closes the open slice, merged into the one before when
   * shorter than half a nominal slice, and returns them all.
   */
  finish(nowMs: number): DemoSlices {
    if (this.mark !== undefined && this.done.length < this.count && nowMs > this.mark.atMs) {
      const nominalMs = (this.seconds * 1000) / this.count;
      if (this.previous !== undefined && nowMs - this.mark.atMs < nominalMs / 2) {
        this.done.pop();
        this.previous.rtt.add(this.current);
        this.current = this.previous.rtt;
        this.mark = this.previous.mark;
      }
      this.cut(nowMs);
      this.mark = undefined;
    }
    return { count: this.done.length, slices: [...this.done], pooledRttUs: summarize(this.pooled) };
  }

  private read(atMs: number): Mark {
    let sent = 0;
    let delivered = 0;
    for (const a of this.sources.apps()) {
      sent += a.requestsSent + a.responsesSent;
      delivered += a.deliveries;
    }
    return { atMs, sent, delivered, cpu: this.sources.cpu(), machineMs: this.sources.machineCpuMs?.() };
  }

  private cut(nowMs: number): void {
    const before = this.mark!;
    const after = this.read(nowMs);
    this.previous = { mark: before, rtt: this.current };
    const wallMs = after.atMs - before.atMs;
    const pct = (a: number | undefined, b: number | undefined): number | null =>
      a === undefined || b === undefined || !(wallMs > 0) ? null : Math.round(((b - a) / wallMs) * 1000) / 10;
    const perSecond = (n: number): number => (wallMs > 0 ? Math.round((n / wallMs) * 10_000) / 10 : 0);
    this.done.push({
      index: this.done.length,
      seconds: Math.round(wallMs) / 1000,
      rttUs: summarize(this.current),
      sentPerSecond: perSecond(after.sent - before.sent),
      deliveredPerSecond: perSecond(after.delivered - before.delivered),
      cpuPercent: {
        daemons: after.cpu.daemons.map((ms, i) => pct(before.cpu.daemons[i], ms)),
        medium: pct(before.cpu.medium, after.cpu.medium),
        pkmfs: after.cpu.pkmfs.map((ms, i) => pct(before.cpu.pkmfs[i], ms)),
        apps: pct(before.cpu.apps, after.cpu.apps) ?? 0,
        machine: pct(before.machineMs, after.machineMs),
      },
    });
    this.mark = after;
    this.current = createHistogram();
  }
}

function summarize(h: RecordableHistogram): LatencySummary | null {
  return h.count === 0 ? null : summarizeLatency(h);
}

/**
 * Busy time of all CPUs since boot, ms, from the first line of /proc/stat (user, nice, system,
 * irq, softirq; not idle, iowait or steal: time the hypervisor gave to someone else is not work
 * done here). Clock ticks of 10 ms (USER_HZ = 100). Undefined where /proc is not mounted.
 */
export function machineCpuMs(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const ticks = f[0]! + f[1]! + f[2]! + f[5]! + f[6]!;
    return Number.isFinite(ticks) ? ticks * 10 : undefined;
  } catch {
    return undefined;
  }
}
