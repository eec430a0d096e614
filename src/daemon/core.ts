/**
 * The bridge daemon's logic with no I/O (in the style of quinn-proto or smoltcp): what happens to
 * an SDU from an application, an envelope from the stack side, a key update and a timer tick. The
 * daemon shell (bridge/daemon/daemon.ts) owns the sockets, the key client, the timers and the
 * clocks; it calls these inputs and carries out what the core hands to its {@link DaemonSink}.
 *
 *   onSdu(sdu, from)         -> protect -> sink.send(PDU)        | count a tx-* drop + sink.refuse
 *   onEnvelope(e, rxTimeNs)  -> checks -> unprotect -> sink.deliver | count a drop
 *   installKeys(groups)      -> group key state (withdrawn groups removed)
 *   prune(nowMs) / extendReplayFloors() / settleReplayMarks()    (timers and a clean stop)
 *   warm()                   -> latency mode's keep-warm pass (src/pdcp/keep-warm.ts; a timer)
 *
 * Clocks are handed in: the wall clock (key validity) is read by the PDCP protector once per
 * entity call, only when one is made (a clock reading costs ~0.1 µs on a VM, as much as the
 * rest of the security-off path, the baseline of the security-cost measurement); a monotonic
 * clock times the entity calls and the hand-offs around them.
 *
 * Every SDU and every envelope ends as sent / delivered or as one counted drop; the sink's answer
 * ('accepted' or why not) flows back, so `pdusOut` and `delivered` count only what the transport
 * and the application socket took, and a refused send is told to the application. Nothing on the
 * data path throws: an unexpected exception is counted as `internal-error`. Per packet: the
 * protector call, the sink call, a few readings of the injected clock, one histogram record and
 * (receiving) one sequence-number update; the sink is an interface, so no action object is built.
 */
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { GroupKeyState } from '../keys/group-key-state.js';
import type { GroupKeyMaterial, SourceAuthMode } from '../keys/types.js';
import type { RxCounters } from '../pdcp/drop-reasons.js';
import type { PdcpProfiler } from '../pdcp/profiler.js';
import { hex24 } from '../pkmf/identity.js';
import type { AppSendSdu } from '../wire/app.js';
import type { OutgoingPdu, PduEnvelope } from '../wire/envelope.js';
import { SequenceTracker } from '../wire/sequence.js';
import { newDaemonCounters, type DaemonCounters, type DaemonDropReason } from './counters.js';
import type { DaemonLog } from './log.js';
import { ClearProtector, PdcpProtector, type PdcpFigures, type PdcpStateStore, type Protector } from './protector.js';

/** Senders tracked for per-sender accounting (a flood of forged L2 sources cannot grow it further). */
export const MAX_TRACKED_SENDERS = 1024;

export type SecurityMode = 'on' | 'off';

/**
 * Where the core's outputs go. `send` and `deliver` return 'accepted' or why the transport /
 * application socket did not take the frame (they count that themselves).
 */
export interface DaemonSink<Peer> {
  send(pdu: OutgoingPdu): string;
  /** A verified SDU from `envelope` (sender, group, times and sequence number come from it). */
  deliver(envelope: PduEnvelope, sduType: number, sdu: Uint8Array, rxTimeNs: bigint): string;
  /** Tells the application that sent `appSeq` that its SDU was not sent, and why. */
  refuse(appSeq: number, peer: Peer, reason: string): void;
}

export interface PdcpSettings {
  /** Sender guard time before a PGK's expiry, ms. */
  txGuardMs: number;
  /** Receiver clock-skew grace after a PGK's expiry, ms. */
  rxExpiryGraceMs: number;
  ptkBlockSize: number;
  snPerPtk: number;
  replayMarkStep: number;
}

export interface DaemonCoreOptions {
  security: SecurityMode;
  /** The groups this daemon carries. */
  groups: readonly number[];
  /** Own L2 source ID where no keys give a GMI (security off). */
  l2SourceId: number | undefined;
  maxSduBytes: number;
  maxPduBytes: number;
  pdcp: PdcpSettings;
  /** Wall clock in ms since the epoch, for key validity (Date.now). */
  now: () => number;
  /** The durable PTK ID marks and replay floors; required with security on. */
  store?: PdcpStateStore | undefined;
  log: DaemonLog;
  /** A monotonic clock in ms with sub-ms resolution (performance.now), for the latency figures. */
  perfNow: () => number;
  /** Per-stage profiler of the PDCP entities; the core times the hand-offs around them. */
  profiler?: PdcpProfiler | undefined;
  /** Called for each group whose keys were installed (the keylog). */
  onKeysInstalled?: ((material: GroupKeyMaterial) => void) | undefined;
}

export interface LatencyFigures {
  count: number;
  /** Microseconds. */
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
}

export interface SenderFigures {
  /** Envelopes from this L2 source (before any check). */
  envelopes: number;
  /** SDUs from it delivered to the application socket. */
  delivered: number;
  /** From the envelope sequence numbers: missing, duplicated, reordered, sender restarts. */
  lost: number;
  duplicates: number;
  reordered: number;
  restarts: number;
}

export interface GroupFigures {
  groupId: string;
  /** Own L2 source in the group: the GMI (or the configured L2 ID with security off). */
  gmi: string | null;
  /** PGK IDs held, newest first. */
  pgkIds: number[];
  /** The PGK / PTK the sender uses now (after the first SDU). */
  txPgkId: number | null;
  txPtkId: number | null;
  /** When the newest PGK held expires (ms since the epoch): keys must be refreshed before. */
  pgkExpiresAtMs: number | null;
  /** The group's source authentication, when it has one (absent: none)... */
  sourceAuth?: Exclude<SourceAuthMode, 'none'>;
  /** ...and the members its keys cover, this UE included: PDUs from others are refused. */
  members?: number;
}

/** The status figures the core computes from its state (no key bytes). */
export interface CoreFigures {
  /** Every carried group can be sent to. */
  keysReady: boolean;
  groups: GroupFigures[];
  /** Per L2 source (hex). */
  rxBySender: Record<string, SenderFigures>;
  /** The whole protect / unprotect call per packet. */
  latency: { protect: LatencyFigures; unprotect: LatencyFigures };
  pdcp: PdcpFigures;
}

interface SenderState {
  readonly seq: SequenceTracker;
  envelopes: number;
  delivered: number;
}

/** The members a group's source authentication knows (this UE included), for the log. */
function knownMembers(g: GroupKeyMaterial): number {
  if (g.sourceAuth?.mode === 'signature') return g.sourceAuth.publicKeys.size;
  return 1 + Math.max(0, ...g.pgks.map((p) => p.pairwiseKeys?.size ?? 0));
}

function summarize(h: RecordableHistogram): LatencyFigures {
  if (h.count === 0) return { count: 0, p50Us: 0, p99Us: 0, p999Us: 0, maxUs: 0 };
  const us = (ns: number): number => Math.round(ns / 100) / 10;
  return { count: h.count, p50Us: us(h.percentile(50)), p99Us: us(h.percentile(99)), p999Us: us(h.percentile(99.9)), maxUs: us(h.max) };
}

/** Nanoseconds between two clock readings in ms, at least 1 (histograms take integers >= 1). */
function nsBetween(t0: number, t1: number): number {
  const ns = Math.round((t1 - t0) * 1e6);
  return ns >= 1 ? ns : 1;
}

export class DaemonCore<Peer> {
  readonly security: SecurityMode;
  readonly counters: DaemonCounters = newDaemonCounters();
  private readonly keys: GroupKeyState;
  /** Per group with source authentication: the members its installed keys cover (figures and log). */
  private readonly knownMembers = new Map<number, number>();
  private readonly protector: Protector;
  private readonly bound: ReadonlySet<number>;
  private readonly l2SourceId: number | undefined;
  private readonly log: DaemonLog;
  private readonly perfNow: () => number;
  private readonly profiler: PdcpProfiler | undefined;
  private readonly onKeysInstalled: ((material: GroupKeyMaterial) => void) | undefined;
  /** With a profiler: hand-offs are timed for one PDU in `sampleEvery` per direction, like the entities' stages. */
  private readonly sampleEvery: number;
  private txHandoffCountdown = 1;
  private rxHandoffCountdown = 1;
  private readonly protectTime = createHistogram();
  private readonly unprotectTime = createHistogram();
  private readonly senders = new Map<number, SenderState>();
  private replayFloorFailing = false;
  /** The background replay-floor write in flight (extendReplayFloors). */
  private replayFloorWrite: Promise<void> | undefined;
  /** Keep-warm passes run (latency mode), and the scratch protect + unprotect round trips they made. */
  warmPasses = 0;
  warmRoundTrips = 0;

  constructor(
    options: DaemonCoreOptions,
    private readonly sink: DaemonSink<Peer>,
  ) {
    this.security = options.security;
    this.bound = new Set(options.groups);
    this.l2SourceId = options.l2SourceId;
    this.log = options.log;
    this.perfNow = options.perfNow;
    this.profiler = options.profiler;
    this.onKeysInstalled = options.onKeysInstalled;
    this.sampleEvery = Math.max(1, Math.floor(options.profiler?.sampleEvery ?? 1));
    const { pdcp } = options;
    this.keys = new GroupKeyState({ txGuardMs: pdcp.txGuardMs, rxExpiryGraceMs: pdcp.rxExpiryGraceMs });
    if (options.security === 'off') {
      this.protector = new ClearProtector((groupId) => this.ownL2(groupId), this.counters.dropped);
    } else {
      if (options.store === undefined) throw new TypeError('store: the durable PDCP state is needed with security on');
      const { ptkBlockSize, snPerPtk, replayMarkStep } = pdcp;
      const settings = { now: options.now, ptkBlockSize, snPerPtk, replayMarkStep, maxSduBytes: options.maxSduBytes, maxPduBytes: options.maxPduBytes };
      this.protector = new PdcpProtector(this.keys, options.store, { ...settings, profiler: options.profiler }, options.log);
    }
  }

  // --- transmit ----------------------------------------------------------------------------------

  /** An SDU from an application (`from`: the application to tell about a refusal). */
  onSdu(m: AppSendSdu, from: Peer | undefined): void {
    const tIn = this.timeTxHandoff() ? this.perfNow() : -1;
    const c = this.counters;
    c.sdusIn++;
    try {
      if (!this.bound.has(m.groupId)) return this.refuse(m.appSeq, from, 'tx-unknown-group');
      const t0 = this.perfNow();
      const r = this.protector.protect(m.sdu, m.sduType, m.groupId);
      const t1 = this.perfNow();
      if (typeof r === 'string') return this.refuse(m.appSeq, from, r);
      this.protectTime.record(nsBetween(t0, t1));
      const outcome = this.sink.send({ l2SourceId: r.l2Src, l2DestinationId: m.groupId, castType: 'groupcast', pdu: r.pdu });
      // The daemon's own work around the entity call: SDU in -> protect, protect out -> send done.
      if (tIn >= 0) this.profiler!.tx('handoff', nsBetween(t1 - (t0 - tIn), this.perfNow()));
      // A transport refusal is counted by the transport (tx-transport-*); the application is told.
      if (outcome === 'accepted') c.pdusOut++;
      else if (from !== undefined) this.sink.refuse(m.appSeq, from, `tx-transport-${outcome}`);
    } catch (e) {
      this.internalError(e);
    }
  }

  private refuse(appSeq: number, from: Peer | undefined, reason: DaemonDropReason): void {
    this.counters.dropped[reason]++;
    if (from !== undefined) this.sink.refuse(appSeq, from, reason);
  }

  // --- receive -----------------------------------------------------------------------------------

  /** An envelope from the stack side, received at `rxTimeNs` (Unix ns). */
  onEnvelope(e: PduEnvelope, rxTimeNs: bigint): void {
    const tIn = this.timeRxHandoff() ? this.perfNow() : -1;
    const c = this.counters;
    c.envelopesIn++;
    try {
      if (e.castType !== 'groupcast') return void c.dropped['rx-not-groupcast']++;
      if (!this.bound.has(e.l2DestinationId)) return void c.dropped['rx-other-group']++;
      if (!this.protector.canReceive(e.l2DestinationId)) return void c.dropped['rx-no-keys']++;
      const sender = this.sender(e.l2SourceId);
      if (sender) {
        sender.envelopes++;
        sender.seq.observe(e.seq);
      }
      const t0 = this.perfNow();
      const r = this.protector.unprotect(e.pdu, e.l2SourceId, e.l2DestinationId);
      const t1 = this.perfNow();
      this.unprotectTime.record(nsBetween(t0, t1));
      if (!r.ok) return; // counted by the protector
      const outcome = this.sink.deliver(e, r.sduType, r.sdu, rxTimeNs);
      if (tIn >= 0) this.profiler!.rx('handoff', nsBetween(t1 - (t0 - tIn), this.perfNow()));
      // Not delivered: counted by the application socket (app-*).
      if (outcome === 'accepted') {
        c.delivered++;
        if (sender) sender.delivered++;
      }
    } catch (err) {
      this.internalError(err);
    }
  }

  private sender(l2Src: number): SenderState | undefined {
    let s = this.senders.get(l2Src);
    if (s === undefined && this.senders.size < MAX_TRACKED_SENDERS) {
      s = { seq: new SequenceTracker(), envelopes: 0, delivered: 0 };
      this.senders.set(l2Src, s);
    }
    return s;
  }

  private timeTxHandoff(): boolean {
    if (this.profiler === undefined || --this.txHandoffCountdown > 0) return false;
    this.txHandoffCountdown = this.sampleEvery;
    return true;
  }

  private timeRxHandoff(): boolean {
    if (this.profiler === undefined || --this.rxHandoffCountdown > 0) return false;
    this.rxHandoffCountdown = this.sampleEvery;
    return true;
  }

  private internalError(e: unknown): void {
    this.counters.dropped['internal-error']++;
    this.log.error({ err: (e as Error)?.stack ?? String(e) }, 'internal error on the data path (dropped, carrying on)');
  }

  // --- keys and state ----------------------------------------------------------------------------

  /**
   * The key source's complete view: every carried group in it is installed (bad material is
   * refused and what was held kept), every group held but not in it is withdrawn.
   */
  installKeys(groups: readonly GroupKeyMaterial[]): void {
    const seen = new Set<number>();
    for (const g of groups) {
      if (!this.bound.has(g.groupId)) continue;
      seen.add(g.groupId);
      try {
        this.keys.install(g);
        this.knownMembers.set(g.groupId, knownMembers(g));
        this.onKeysInstalled?.(g);
      } catch (e) {
        this.log.error({ group: hex24(g.groupId), err: (e as Error).message }, 'key material refused; keeping what was held');
        continue;
      }
      this.log.info(
        {
          group: hex24(g.groupId),
          gmi: hex24(g.gmi),
          nea: g.nea,
          nia: g.nia,
          profile: g.profile,
          ...(g.sourceAuth === undefined ? {} : { sourceAuth: g.sourceAuth.mode, members: this.knownMembers.get(g.groupId) }),
          pgks: g.pgks.map((p) => ({ pgkId: p.pgkId, expiresAt: new Date(p.expiresAtMs).toISOString(), ...(p.activeFromMs !== undefined ? { activeFrom: new Date(p.activeFromMs).toISOString() } : {}) })),
        },
        'group keys installed',
      );
    }
    for (const id of this.keys.groupIds()) {
      if (!seen.has(id)) {
        this.keys.remove(id);
        this.knownMembers.delete(id);
        this.log.warn({ group: hex24(id) }, 'group keys withdrawn (expired or refused)');
      }
    }
  }

  /**
   * Expired PGKs leave the key state, and their PTK marks and replay floors leave the durable
   * state. PGK IDs only grow, so a PGK ID below the oldest one a group holds is never used again;
   * groups without keys (not fetched yet) keep everything.
   */
  prune(nowMs: number): void {
    this.keys.pruneExpired(nowMs);
    const oldest = new Map<number, number>();
    for (const groupId of this.bound) {
      const g = this.keys.get(groupId);
      if (g !== undefined && g.pgksNewestFirst.length > 0) oldest.set(groupId, g.pgksNewestFirst[g.pgksNewestFirst.length - 1]!.pgkId);
    }
    try {
      this.protector.pruneState((groupId, pgkId) => !oldest.has(groupId) || pgkId >= oldest.get(groupId)!);
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'pruning the PDCP state file failed (retried later)');
    }
  }

  /**
   * Raises, in one write, the replay floors of senders close to theirs (from a timer, so that
   * steady traffic never waits for a write), off the event loop where the store can: a tick while
   * that write runs does nothing. Returns the write in flight, which never rejects: a failure is
   * logged once until a write works again.
   */
  extendReplayFloors(): Promise<void> {
    this.replayFloorWrite ??= this.protector
      .extendReplayFloors()
      .then(
        () => {
          if (this.replayFloorFailing) this.log.info({}, 'replay floors written again');
          this.replayFloorFailing = false;
        },
        (e: unknown) => {
          // unprotect writes the floor itself when a PDU reaches it (and drops the PDU if that fails).
          if (!this.replayFloorFailing) this.log.error({ err: (e as Error).message }, 'cannot write replay floors; PDUs that reach their floor are dropped (replay-state-error)');
          this.replayFloorFailing = true;
        },
      )
      .finally(() => {
        this.replayFloorWrite = undefined;
      });
    return this.replayFloorWrite;
  }

  /**
   * Latency mode (docs/profiling.md): a scratch SDU through the same PDCP code as the live groups'
   * PDUs, so that a PDU after a quiet spell finds it in the caches. Sends, delivers and counts
   * nothing of the data path.
   */
  warm(): void {
    this.warmPasses++;
    this.warmRoundTrips += this.protector.warm();
  }

  /**
   * On a clean stop, once the stack side is closed: the exact replay floors, so that a clean
   * restart drops no live PDU, after the floor write in flight, if any. Rejects with what the
   * store throws.
   */
  async settleReplayMarks(): Promise<void> {
    await this.replayFloorWrite;
    this.protector.settleReplayMarks();
  }

  // --- status ------------------------------------------------------------------------------------

  /** Own L2 source ID in a group: the GMI, or (security off) the configured ID. */
  private ownL2(groupId: number): number | undefined {
    return this.keys.get(groupId)?.gmi ?? this.l2SourceId;
  }

  /** True when every carried group can be sent to: it has key material (security off: an L2 source ID). */
  get keysReady(): boolean {
    return [...this.bound].every((g) => this.protector.canSend(g));
  }

  /** The PDCP receive entity's drop counters (security on). */
  get rxCounters(): Readonly<RxCounters> | undefined {
    return this.protector.rxCounters;
  }

  figures(): CoreFigures {
    const rxBySender: Record<string, SenderFigures> = {};
    for (const [gmi, s] of this.senders) {
      const q = s.seq.counters;
      rxBySender[hex24(gmi)] = { envelopes: s.envelopes, delivered: s.delivered, lost: q.lost, duplicates: q.duplicates, reordered: q.reordered, restarts: q.restarts };
    }
    return {
      keysReady: this.keysReady,
      groups: [...this.bound].map((id): GroupFigures => {
        const g = this.keys.get(id);
        const cur = this.protector.current(id);
        const own = this.ownL2(id);
        return {
          groupId: hex24(id),
          gmi: own === undefined ? null : hex24(own),
          pgkIds: g ? g.pgksNewestFirst.map((p) => p.pgkId) : [],
          txPgkId: cur?.pgkId ?? null,
          txPtkId: cur?.ptkId ?? null,
          pgkExpiresAtMs: g?.pgksNewestFirst[0]?.expiresAtMs ?? null,
          ...(g?.sourceAuth === undefined ? {} : { sourceAuth: g.sourceAuth.mode, members: this.knownMembers.get(id) ?? 1 }),
        };
      }),
      rxBySender,
      latency: { protect: summarize(this.protectTime), unprotect: summarize(this.unprotectTime) },
      pdcp: this.protector.figures(),
    };
  }
}
