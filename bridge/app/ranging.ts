/**
 * The bundled ranging application: attaches to a daemon's application socket, sends timestamped
 * ranging requests to a group at a set rate, answers every request it receives from another
 * member with a response to the group carrying the request's fields (so the requester computes
 * the round-trip time from its own clock), and counts everything. The demo starts one per UE.
 *
 * Payloads are RangingMessage (proto/bridge.proto) in non-IP SDUs (SDU Type 001).
 */
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { randomInt } from 'node:crypto';
import { decodeRangingMessage, encodeRangingMessage, type RangingMessage } from '../../src/wire/ranging.js';
import type { DaemonToApp } from '../../src/wire/app.js';
import { unixNowNs } from '../transport/clock.js';
import { createZmqAppClient } from '../transport/zmq-app-client.js';
import type { AppClientTransport, SendOutcome, TransportCounters } from '../transport/types.js';

/** SDU Type 001 non-IP (TS 38.323 6.3.12). */
export const RANGING_SDU_TYPE = 1;

export interface RangingAppOptions {
  /** The daemon's application endpoint (ipc:// or tcp://). */
  endpoint: string;
  /** 24-bit Group ID to range with. */
  groupId: number;
  /** Requests per second (0: only answer others' requests). */
  ratePerSecond: number;
  /** Pad each SDU to at least this many bytes (default: no padding). */
  sduBytes?: number;
  /** This instance's ID in requests/responses (default random). */
  instanceId?: number;
  /** Clock in Unix epoch ns (default clock.ts). */
  clock?: () => bigint;
  /** A transport to use instead of a ZeroMQ client to `endpoint` (another transport kind). */
  transport?: AppClientTransport;
  /**
   * Where in its period this instance's requests fall, 0 to 1 (default random). Independent UEs
   * are not in step; applications started together and paced from the same instant would send
   * in bursts (every request of every UE at once, then every answer), and the round trips would
   * measure the burst, not the path.
   */
  phase?: number;
  /**
   * Called with each round trip as it is recorded (ns), also during a warm-up: for a caller that
   * cuts the run into time slices (`demo --slices`), which one cumulative histogram cannot give.
   */
  onRoundTrip?: (rttNs: number) => void;
}

export interface LatencySummary {
  count: number;
  /** Microseconds. */
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
}

export interface PeerCounts {
  /** Requests received from this sender (its GMI). */
  requests: number;
  /** Responses received from this sender to our requests. */
  responses: number;
  /** Deliveries of any kind from this sender. */
  deliveries: number;
}

export interface RangingStats {
  instanceId: number;
  groupId: number;
  /** The daemon's socket is connected now. */
  connected: boolean;
  /** Requests / responses handed to the transport (`transport.dropped` counts any it then lost). */
  requestsSent: number;
  responsesSent: number;
  /** Sends the transport did not take (daemon away or not keeping up), by reason. */
  sendDropped: Partial<Record<Exclude<SendOutcome, 'accepted'>, number>>;
  /** SDUs the daemon refused (e.g. no keys yet), by reason. */
  refused: Record<string, number>;
  deliveries: number;
  requestsReceived: number;
  /** Responses to our own requests. */
  responsesReceived: number;
  /** Responses to other members' requests (groupcast: everybody hears them). */
  responsesForOthers: number;
  /** Deliveries for another group or whose SDU is not a RangingMessage. */
  ignored: number;
  /** Per sender GMI (hex). */
  bySender: Record<string, PeerCounts>;
  /** Request round trip, measured by the requester. */
  rtt: LatencySummary;
  /** Request one way, application to application (sender's and receiver's clocks). */
  oneWay: LatencySummary;
  transport: TransportCounters;
}

export class RangingApp {
  private readonly transport: AppClientTransport;
  private readonly clock: () => bigint;
  readonly instanceId: number;
  private readonly padding: Uint8Array;
  private readonly rtt: RecordableHistogram = createHistogram();
  private readonly oneWay: RecordableHistogram = createHistogram();
  private timer: NodeJS.Timeout | undefined;
  private startedAtMs = 0;
  private wantRequests = false;
  private requestSeq = 0;
  private appSeq = 0;
  private readonly s = {
    requestsSent: 0,
    responsesSent: 0,
    sendDropped: {} as Partial<Record<Exclude<SendOutcome, 'accepted'>, number>>,
    refused: {} as Record<string, number>,
    deliveries: 0,
    requestsReceived: 0,
    responsesReceived: 0,
    responsesForOthers: 0,
    ignored: 0,
    bySender: new Map<number, PeerCounts>(),
  };

  private readonly phase: number;

  constructor(private readonly options: RangingAppOptions) {
    if (!Number.isInteger(options.groupId) || options.groupId < 0 || options.groupId > 0xffffff) {
      throw new RangeError(`groupId: expected a 24-bit Group ID, got ${options.groupId}`);
    }
    if (!(options.ratePerSecond >= 0 && options.ratePerSecond <= 1_000_000)) {
      throw new RangeError(`ratePerSecond: expected 0 to 1000000, got ${options.ratePerSecond}`);
    }
    this.transport = options.transport ?? createZmqAppClient({ endpoint: options.endpoint });
    this.clock = options.clock ?? unixNowNs;
    this.instanceId = options.instanceId ?? randomInt(1, 0xffff_ffff);
    const phase = options.phase ?? Math.random();
    if (!(phase >= 0 && phase < 1)) throw new RangeError(`phase: expected 0 to 1 (excluded), got ${options.phase}`);
    this.phase = phase;
    // A RangingMessage without padding is at most ~40 bytes; pad the rest.
    this.padding = new Uint8Array(Math.max(0, (options.sduBytes ?? 0) - 40));
  }

  /** Connects to the daemon and starts answering other members' requests. */
  async start(): Promise<void> {
    await this.transport.open({
      frame: (m) => this.onMessage(m),
      link: (up) => {
        if (up && this.wantRequests && this.startedAtMs === 0) this.startPacing();
      },
    });
  }

  /**
   * Starts sending requests at the configured rate, as soon as the daemon's socket is connected
   * (so that the first ones are not refused for want of a peer).
   */
  startRequests(): void {
    this.wantRequests = true;
    if (this.transport.linkUp && this.startedAtMs === 0) this.startPacing();
  }

  private startPacing(): void {
    this.startedAtMs = performance.now();
    if (this.options.ratePerSecond <= 0) return;
    // Pace by credit: each tick sends what the rate allows since the start, so timer
    // granularity does not lower the rate; after a stall at most 100 ms worth goes at once.
    const tickMs = Math.max(1, Math.min(20, 1000 / this.options.ratePerSecond));
    this.timer = setInterval(() => this.tick(), tickMs);
  }

  /** Stops sending; keeps answering until {@link close}. */
  stopRequests(): void {
    this.wantRequests = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  async close(): Promise<void> {
    this.stopRequests();
    await this.transport.close();
  }

  /** True while the daemon's socket is connected. */
  get connected(): boolean {
    return this.transport.linkUp;
  }

  /** Forgets the round-trip and one-way samples so far (a warm-up), keeping every counter. */
  resetLatency(): void {
    this.rtt.reset();
    this.oneWay.reset();
  }

  stats(): RangingStats {
    const s = this.s;
    const bySender: Record<string, PeerCounts> = {};
    for (const [gmi, c] of s.bySender) bySender[gmi.toString(16).padStart(6, '0')] = { ...c };
    return {
      instanceId: this.instanceId,
      groupId: this.options.groupId,
      connected: this.transport.linkUp,
      requestsSent: s.requestsSent,
      responsesSent: s.responsesSent,
      sendDropped: { ...s.sendDropped },
      refused: { ...s.refused },
      deliveries: s.deliveries,
      requestsReceived: s.requestsReceived,
      responsesReceived: s.responsesReceived,
      responsesForOthers: s.responsesForOthers,
      ignored: s.ignored,
      bySender,
      rtt: summarizeLatency(this.rtt),
      oneWay: summarizeLatency(this.oneWay),
      transport: { ...this.transport.counters, dropped: { ...this.transport.counters.dropped } },
    };
  }

  /** Sends one request now (the paced loop calls this; tests may too). */
  sendRequest(): SendOutcome {
    const outcome = this.sendSdu({
      kind: 'request',
      requesterId: this.instanceId,
      requestSeq: this.requestSeq,
      requestTimeNs: this.clock(),
      responderId: 0,
      responseTimeNs: 0n,
      padding: this.padding,
    });
    this.requestSeq = (this.requestSeq + 1) >>> 0;
    if (outcome === 'accepted') this.s.requestsSent++;
    return outcome;
  }

  private tick(): void {
    const elapsedMs = performance.now() - this.startedAtMs;
    const due = Math.floor((elapsedMs * this.options.ratePerSecond) / 1000 + this.phase);
    let owed = due - this.requestSeq;
    const burst = Math.max(1, Math.ceil(this.options.ratePerSecond / 10));
    if (owed > burst) {
      // Skip what a stall made us miss instead of bursting it out.
      this.requestSeq = (due - burst) >>> 0;
      owed = burst;
    }
    for (let i = 0; i < owed; i++) this.sendRequest();
  }

  private sendSdu(m: RangingMessage): SendOutcome {
    const outcome = this.transport.send({
      kind: 'send',
      groupId: this.options.groupId,
      sduType: RANGING_SDU_TYPE,
      sdu: encodeRangingMessage(m),
      appSeq: this.appSeq,
      appTimeNs: this.clock(),
    });
    this.appSeq = (this.appSeq + 1) >>> 0;
    if (outcome !== 'accepted') this.s.sendDropped[outcome] = (this.s.sendDropped[outcome] ?? 0) + 1;
    return outcome;
  }

  private onMessage(m: DaemonToApp): void {
    const s = this.s;
    if (m.kind === 'refused') {
      s.refused[m.reason] = (s.refused[m.reason] ?? 0) + 1;
      return;
    }
    s.deliveries++;
    if (m.groupId !== this.options.groupId || m.sduType !== RANGING_SDU_TYPE) {
      s.ignored++;
      return;
    }
    const d = decodeRangingMessage(m.sdu);
    if (!d.ok) {
      s.ignored++;
      return;
    }
    const r = d.value;
    const now = this.clock();
    let peer = s.bySender.get(m.senderGmi);
    if (peer === undefined) {
      peer = { requests: 0, responses: 0, deliveries: 0 };
      s.bySender.set(m.senderGmi, peer);
    }
    peer.deliveries++;
    if (r.kind === 'request') {
      if (r.requesterId === this.instanceId) return; // our own request looped back (not expected)
      s.requestsReceived++;
      peer.requests++;
      record(this.oneWay, now - r.requestTimeNs);
      const outcome = this.sendSdu({ ...r, kind: 'response', responderId: this.instanceId, responseTimeNs: this.clock() });
      if (outcome === 'accepted') s.responsesSent++;
      return;
    }
    if (r.requesterId !== this.instanceId) {
      s.responsesForOthers++;
      return;
    }
    s.responsesReceived++;
    peer.responses++;
    const rttNs = record(this.rtt, now - r.requestTimeNs);
    this.options.onRoundTrip?.(rttNs);
  }
}

/** Records `ns` and returns the value recorded. */
function record(h: RecordableHistogram, ns: bigint): number {
  // Histograms take integers >= 1; a clock step backwards would give <= 0.
  const v = Number(ns);
  const recorded = v >= 1 ? Math.round(v) : 1;
  h.record(recorded);
  return recorded;
}

/** Percentiles of a histogram of ns values, in µs (all 0 when it is empty). */
export function summarizeLatency(h: RecordableHistogram): LatencySummary {
  if (h.count === 0) return { count: 0, p50Us: 0, p99Us: 0, p999Us: 0, maxUs: 0 };
  const us = (ns: number): number => Math.round(ns / 100) / 10;
  return { count: h.count, p50Us: us(h.percentile(50)), p99Us: us(h.percentile(99)), p999Us: us(h.percentile(99.9)), maxUs: us(h.max) };
}
