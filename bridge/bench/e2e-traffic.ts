/**
 * The traffic of `bench e2e`: probe SDUs, their one-way accounting, and the paced load generator.
 *
 * A probe is a non-IP SDU (type 1) of `sduBytes` bytes carrying who sent it, in which slice of the
 * run, its per-sender sequence number and the application's send time:
 *
 *   0  u32 magic "SLBE"   4 u16 slice   6 u16 sender index   8 u32 seq   12 u64 send time (Unix ns)
 *   20 zero padding up to sduBytes
 *
 * Each receiving application takes the one-way latency, application to application, as its own
 * receive time minus the probe's send time (both `unixNowNs()`, which agree between processes on
 * one host to a few µs, docs/transport.md), and splits it with the delivery's daemon timestamps:
 *
 *   send --(app -> daemon, protect, hand-off)--> tx_time_ns --(transport, medium)--> rx_time_ns
 *        --(unprotect, hand-off)--> delivered_time_ns --(app socket)--> receive
 *
 * Probes are attributed to the slice they were sent in (not the one they arrive in), so a late
 * arrival still counts where it belongs. Loss = expected copies (sent x other UEs) - distinct
 * copies received; duplicates are counted apart, per (receiver, sender) with a SequenceTracker.
 */
import { SequenceTracker } from '../../src/wire/sequence.js';
import type { Delivery } from '../../src/wire/app.js';
import { LogLinearHistogram } from '../metrics/histogram.js';
import { unixNowNs } from '../transport/clock.js';
import type { AppClientTransport, SendOutcome } from '../transport/types.js';

export const PROBE_MAGIC = 0x534c4245; // "SLBE"
export const PROBE_HEADER_BYTES = 20;
export const PROBE_SDU_TYPE = 1;

export interface Probe {
  slice: number;
  sender: number;
  seq: number;
  sendTimeNs: bigint;
}

/** Encodes a probe padded to `sduBytes` (at least {@link PROBE_HEADER_BYTES}). */
export function encodeProbe(p: Probe, sduBytes: number): Uint8Array {
  if (!Number.isInteger(sduBytes) || sduBytes < PROBE_HEADER_BYTES || sduBytes > 9000) {
    throw new RangeError(`sduBytes: expected ${PROBE_HEADER_BYTES}..9000, got ${sduBytes}`);
  }
  const b = new Uint8Array(sduBytes);
  const v = new DataView(b.buffer);
  v.setUint32(0, PROBE_MAGIC);
  v.setUint16(4, p.slice);
  v.setUint16(6, p.sender);
  v.setUint32(8, p.seq >>> 0);
  v.setBigUint64(12, p.sendTimeNs);
  return b;
}

/** The probe in an SDU, or undefined when the SDU is not one. Never throws. */
export function decodeProbe(sdu: Uint8Array): Probe | undefined {
  if (sdu.length < PROBE_HEADER_BYTES) return undefined;
  const v = new DataView(sdu.buffer, sdu.byteOffset, sdu.byteLength);
  if (v.getUint32(0) !== PROBE_MAGIC) return undefined;
  return { slice: v.getUint16(4), sender: v.getUint16(6), seq: v.getUint32(8), sendTimeNs: v.getBigUint64(12) };
}

/** The one-way path split at the daemons' timestamps (see the file comment). */
export const SEGMENTS = ['app_to_tx', 'tx_to_rx', 'rx_to_delivered', 'delivered_to_app'] as const;
export type Segment = (typeof SEGMENTS)[number];

/** Everything measured for one slice (one rate, one security mode, one stretch of time). */
export class SliceAccount {
  /** Probes handed to the application transport, per sender index. */
  readonly sent = new Map<number, number>();
  /** Sends the application transport refused at once, by reason. */
  readonly sendDropped: Partial<Record<Exclude<SendOutcome, 'accepted'>, number>> = {};
  /** Copies received (duplicates included). */
  received = 0;
  duplicates = 0;
  /**
   * One-way latency of each distinct copy, ns, kept raw: percentiles and their on - off
   * differences must resolve microseconds on top of milliseconds, finer than a histogram bucket.
   */
  readonly oneWay: number[] = [];
  readonly segments: Record<Segment, LogLinearHistogram> = {
    app_to_tx: new LogLinearHistogram(),
    tx_to_rx: new LogLinearHistogram(),
    rx_to_delivered: new LogLinearHistogram(),
    delivered_to_app: new LogLinearHistogram(),
  };

  constructor(
    readonly id: number,
    /** UEs on the stack this slice ran on: each probe is expected at every other one. */
    readonly ues: number,
  ) {}

  get sentTotal(): number {
    let n = 0;
    for (const v of this.sent.values()) n += v;
    return n;
  }

  get expected(): number {
    return this.sentTotal * (this.ues - 1);
  }

  get distinct(): number {
    return this.received - this.duplicates;
  }
}

/** Slices by id, and duplicate detection per (receiver, sender) across the whole run. */
export class E2eAccounting {
  readonly slices = new Map<number, SliceAccount>();
  /** Deliveries that were not probes of a known slice (other traffic on the group). */
  foreign = 0;
  private readonly trackers = new Map<string, SequenceTracker>();

  openSlice(id: number, ues: number): SliceAccount {
    if (this.slices.has(id)) throw new RangeError(`slice ${id} opened twice`);
    const s = new SliceAccount(id, ues);
    this.slices.set(id, s);
    return s;
  }

  recordSent(slice: SliceAccount, sender: number, outcome: SendOutcome): void {
    if (outcome === 'accepted') slice.sent.set(sender, (slice.sent.get(sender) ?? 0) + 1);
    else slice.sendDropped[outcome] = (slice.sendDropped[outcome] ?? 0) + 1;
  }

  /** One delivery at application `receiver` (a stack-qualified key, e.g. "on:2") at `recvNs`. */
  recordDelivery(receiver: string, d: Delivery, recvNs: bigint): void {
    const p = d.sduType === PROBE_SDU_TYPE ? decodeProbe(d.sdu) : undefined;
    const slice = p && this.slices.get(p.slice);
    if (p === undefined || slice === undefined) {
      this.foreign++;
      return;
    }
    const key = `${receiver}<${p.sender}`;
    let t = this.trackers.get(key);
    if (t === undefined) this.trackers.set(key, (t = new SequenceTracker()));
    const verdict = t.observe(p.seq);
    slice.received++;
    if (verdict === 'duplicate') {
      slice.duplicates++;
      return;
    }
    slice.oneWay.push(Number(recvNs - p.sendTimeNs));
    // Differences of two processes' clocks may come out slightly negative: the histograms put
    // those in their first bucket but keep the signed sum, so segment means add up to the
    // one-way mean.
    const seg = slice.segments;
    seg.app_to_tx.record(Number(d.txTimeNs - p.sendTimeNs));
    seg.tx_to_rx.record(Number(d.rxTimeNs - d.txTimeNs));
    seg.rx_to_delivered.record(Number(d.deliveredTimeNs - d.rxTimeNs));
    seg.delivered_to_app.record(Number(recvNs - d.deliveredTimeNs));
  }
}

/** Merges slices (the slices of one rate and one mode) into one account. */
export function mergeSlices(slices: readonly SliceAccount[]): SliceAccount {
  const out = new SliceAccount(-1, slices[0]?.ues ?? 0);
  for (const s of slices) {
    for (const [k, v] of s.sent) out.sent.set(k, (out.sent.get(k) ?? 0) + v);
    for (const [k, v] of Object.entries(s.sendDropped)) {
      const r = k as Exclude<SendOutcome, 'accepted'>;
      out.sendDropped[r] = (out.sendDropped[r] ?? 0) + v;
    }
    out.received += s.received;
    out.duplicates += s.duplicates;
    for (const v of s.oneWay) out.oneWay.push(v);
    for (const seg of SEGMENTS) out.segments[seg].add(s.segments[seg]);
  }
  return out;
}

/** One application: its index among the UEs of its stack, its transport, the group it sends to. */
export interface ProbeClient {
  readonly index: number;
  readonly transport: AppClientTransport;
  readonly groupId: number;
}

/**
 * Sends probes from every client at `ratePerClient` per second for `durationMs`, paced by credit
 * (each tick sends what the rate allows since the start, so timer granularity does not lower the
 * rate; after a stall at most 50 ms worth goes at once and the rest is skipped, as a real
 * application would). Resolves when the time is up.
 */
export function runProbes(opts: {
  clients: readonly ProbeClient[];
  accounting: E2eAccounting;
  slice: SliceAccount;
  ratePerClient: number;
  durationMs: number;
  sduBytes: number;
  /** Next sequence number per client index (kept across slices, so duplicates are found across them). */
  seqs: Map<number, number>;
  clock?: () => bigint;
}): Promise<void> {
  const clock = opts.clock ?? unixNowNs;
  const { clients, slice, accounting } = opts;
  const t0 = performance.now();
  const sentHere = new Map<number, number>(clients.map((c) => [c.index, 0]));
  const burst = Math.max(1, Math.ceil(opts.ratePerClient / 20));
  const tick = (): boolean => {
    const elapsed = Math.min(performance.now() - t0, opts.durationMs);
    const due = Math.floor((elapsed * opts.ratePerClient) / 1000);
    for (const c of clients) {
      let done = sentHere.get(c.index)!;
      if (due - done > burst) done = due - burst; // skip what a stall made us miss
      while (done < due) {
        const seq = opts.seqs.get(c.index) ?? 0;
        opts.seqs.set(c.index, (seq + 1) >>> 0);
        const sdu = encodeProbe({ slice: slice.id, sender: c.index, seq, sendTimeNs: clock() }, opts.sduBytes);
        const outcome = c.transport.send({ kind: 'send', groupId: c.groupId, sduType: PROBE_SDU_TYPE, sdu, appSeq: seq, appTimeNs: clock() });
        accounting.recordSent(slice, c.index, outcome);
        done++;
      }
      sentHere.set(c.index, done);
    }
    return elapsed >= opts.durationMs;
  };
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (tick()) {
        clearInterval(timer);
        resolve();
      }
    }, Math.max(1, Math.min(10, 1000 / Math.max(opts.ratePerClient, 1))));
  });
}
