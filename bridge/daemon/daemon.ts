/**
 * The bridge daemon of one UE (`sl-bridge run`): moves SDUs between ranging applications and the
 * sidelink, protecting them on the way out and verifying them on the way in.
 *
 *   application --AppToDaemon--> ZmqAppServer --> PdcpTxEntity.protect --> StackTransport.send
 *     (PduEnvelope: L2 source = own GMI, L2 destination = Group ID, groupcast)
 *   StackTransport frame --> PdcpRxEntity.unprotect(pdu, L2 source, L2 destination, now)
 *     --> ZmqAppServer --DaemonToApp delivery (sender GMI)--> every attached application
 *
 * Keys come from the KeyClient ('keys' events -> GroupKeyState.install). Until a group has keys,
 * its SDUs are dropped (`tx-no-keys`) and the application is told: queueing stale ranging data
 * would only delay fresher data, and the application decides whether to resend.
 *
 * Nothing received can stop the daemon: the transports count what does not decode, the receive
 * entity never throws, and every SDU / envelope ends as sent, delivered or one counted drop.
 * Per-packet work is the two entity calls, the two socket calls, and two histogram records.
 */
import { join } from 'node:path';
import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { GroupKeyState } from '../../src/keys/group-key-state.js';
import type { GroupKeyMaterial } from '../../src/keys/types.js';
import type { PdcpProfiler } from '../../src/pdcp/profiler.js';
import { PdcpRxEntity } from '../../src/pdcp/rx-entity.js';
import { PdcpTxEntity, ProtectError } from '../../src/pdcp/tx-entity.js';
import { PtkIdAllocator } from '../../src/pdcp/ptk-allocator.js';
import { errorName, type ErrorCode } from '../../src/pkmf/errors.js';
import { hex24 } from '../../src/pkmf/identity.js';
import type { AppToDaemon } from '../../src/wire/app.js';
import type { PduEnvelope } from '../../src/wire/envelope.js';
import { SequenceTracker } from '../../src/wire/sequence.js';
import { KeyClient } from '../pkmf/key-client.js';
import type { HwProfile } from '../profiles/types.js';
import { FilePtkHighWaterStore, PTK_STATE_FILE } from '../state/ptk-high-water-file.js';
import { unixNowNs } from '../transport/clock.js';
import type { SerialStackTransport } from '../transport/serial.js';
import type { MalformedFrame, PeerHandle, StackTransport, TransportCounters } from '../transport/types.js';
import type { UdpStackTransport } from '../transport/udp.js';
import { ZmqAppServer } from '../transport/zmq-app-server.js';
import type { DaemonConfig } from './config.js';
import { flattenDrops, newDaemonCounters, securityDrops, type DaemonCounters, type DaemonDropReason } from './counters.js';

/** The state file of the PTK ID high-water marks, in the UE's state directory. */
/** Senders tracked for per-sender accounting (a flood of forged L2 sources cannot grow it further). */
export const MAX_TRACKED_SENDERS = 1024;
const PRUNE_INTERVAL_MS = 10_000;
/**
 * How often the replay floors of senders close to theirs are raised in one batched write
 * (src/pdcp/replay-marks.ts): a sender must send fewer than replayMarkStep / 2 PDUs in this
 * time for its PDUs never to wait for a write (64 / 2 per 100 ms: 320 PDUs/s).
 */
const REPLAY_FLOOR_INTERVAL_MS = 100;

export type SecurityMode = 'on' | 'off';

/** Something that sees every PDU on the stack side (the pcap writer). */
export interface StackTap {
  wrap(transport: StackTransport): StackTransport;
  close(): Promise<void>;
}

/** Something that records the PGKs in use (the keylog writer). */
export interface KeyTap {
  logGroup(material: GroupKeyMaterial): void;
  close(): void;
}

export interface DaemonOptions {
  config: DaemonConfig;
  profile: HwProfile;
  /** The stack-side transport, not opened (see transports.ts: built from the profile). */
  stack: StackTransport;
  /** The root logger; the daemon and the key client log through children tagged `svc`. */
  logger: Logger;
  security?: SecurityMode;
  /** Per-stage profiler of the PDCP entities and the hand-offs (live metrics). */
  profiler?: PdcpProfiler;
  stackTap?: StackTap;
  keyTap?: KeyTap;
  /** Wall clock in ms since the epoch, for key validity (default Date.now). */
  now?: () => number;
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
}

/** One status line (`--status-interval`): everything a monitor or the demo needs, no key bytes. */
export interface DaemonStatus {
  event: 'ready' | 'status' | 'final';
  ue: string;
  pid: number;
  timeMs: number;
  uptimeMs: number;
  security: SecurityMode;
  stack: { kind: string; description: string; linkUp: boolean; counters: TransportCounters } & StackDetails;
  app: { endpoints: readonly string[]; peers: number; counters: TransportCounters };
  keys: {
    servingPlmn: string | null;
    consecutiveFailures: number;
    lastError: string | null;
    /** Key Responses this UE refused for being outside its algorithm policy (src/pkmf/policy.ts). */
    policyRefusals: number;
    /** Every carried group has keys. */
    ready: boolean;
    groups: GroupFigures[];
  };
  counters: Omit<DaemonCounters, 'dropped'>;
  /** Every drop, reason -> count (zero counts left out). */
  dropped: Record<string, number>;
  /** Drops by the PDCP receive entity (integrity, replay, identity, keys, malformed PDUs). */
  securityDrops: number;
  /** Per L2 source (GMI, hex). */
  rxBySender: Record<string, SenderFigures>;
  /** Whole protect / unprotect call per packet, measured in the daemon. */
  latency: { protect: LatencyFigures; unprotect: LatencyFigures };
  pdcp: { ptksStarted: number; derivations: number; cachedEngines: number; replayWindows: number };
  cpu: { userUs: number; systemUs: number; percentSinceStart: number; percentRecent: number };
  memory: { rssBytes: number };
  /** The Prometheus endpoint, when served (`--metrics`). */
  metricsUrl?: string;
}

/**
 * What a serial or UDP transport knows beyond the common counters: why the link is down, the
 * serial framing errors by code (line noise shows up here, not only as `malformed`), the UDP
 * own-frame filter. Only the fields the transport has are present.
 */
export interface StackDetails {
  lastError?: string | null;
  serial?: { frames: number; discardedBytes: number; errors: Record<string, number>; openFailures: number; lostInFlight: number; queuedBytes: number };
  udp?: { ownFiltered: number; joinFailures: number; lostInFlight: number };
}

/** Reads the transport-specific figures (duck-typed: the modules are loaded only for their kind). */
function stackDetails(t: StackTransport): StackDetails {
  const out: StackDetails = {};
  const x = t as StackTransport &
    Partial<Pick<SerialStackTransport, 'lastError' | 'framingCounters' | 'linkCounters' | 'queuedBytes'> & Pick<UdpStackTransport, 'udpCounters'>>;
  if ('lastError' in t) out.lastError = x.lastError ?? null;
  if (x.framingCounters && x.linkCounters) {
    const f = x.framingCounters;
    const errors = Object.fromEntries(Object.entries(f.errors).filter(([, n]) => n > 0));
    out.serial = { frames: f.frames, discardedBytes: f.discardedBytes, errors, ...x.linkCounters, queuedBytes: x.queuedBytes ?? 0 };
  }
  if (x.udpCounters) out.udp = { ...x.udpCounters };
  return out;
}

interface SenderState {
  readonly seq: SequenceTracker;
  envelopes: number;
  delivered: number;
}

function summarize(h: RecordableHistogram): LatencyFigures {
  if (h.count === 0) return { count: 0, p50Us: 0, p99Us: 0, p999Us: 0, maxUs: 0 };
  const us = (ns: number): number => Math.round(ns / 100) / 10;
  return { count: h.count, p50Us: us(h.percentile(50)), p99Us: us(h.percentile(99)), p999Us: us(h.percentile(99.9)), maxUs: us(h.max) };
}

/** Nanoseconds between two performance.now() readings, at least 1 (histograms take integers >= 1). */
function nsBetween(t0: number, t1: number): number {
  const ns = Math.round((t1 - t0) * 1e6);
  return ns >= 1 ? ns : 1;
}

export class BridgeDaemon {
  readonly security: SecurityMode;
  readonly counters: DaemonCounters = newDaemonCounters();
  private readonly config: DaemonConfig;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly keys: GroupKeyState;
  private readonly store: FilePtkHighWaterStore | undefined;
  private readonly tx: PdcpTxEntity | undefined;
  private readonly rx: PdcpRxEntity | undefined;
  private readonly stack: StackTransport;
  private readonly apps: ZmqAppServer;
  private readonly keyClient: KeyClient | undefined;
  private readonly bound: ReadonlySet<number>;
  private readonly profiler: PdcpProfiler | undefined;
  /** With a profiler: hand-offs are timed for one PDU in `sampleEvery` per direction, like the entities' stages. */
  private readonly sampleEvery: number;
  private txHandoffCountdown = 1;
  private rxHandoffCountdown = 1;
  private readonly protectTime = createHistogram();
  private readonly unprotectTime = createHistogram();
  private readonly senders = new Map<number, SenderState>();
  private readonly warnedMalformed = new Set<string>();
  private readonly startedAtMs = Date.now();
  private readonly startCpu = process.cpuUsage();
  private lastCpu = { at: performance.now(), usage: process.cpuUsage() };
  private pruneTimer: NodeJS.Timeout | undefined;
  private replayFloorTimer: NodeJS.Timeout | undefined;
  private replayFloorFailing = false;
  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  private stopped: Promise<DaemonStatus> | undefined;

  constructor(private readonly options: DaemonOptions) {
    const { config, profile } = options;
    this.config = config;
    this.log = options.logger.child({ svc: 'daemon' });
    this.now = options.now ?? Date.now;
    this.security = options.security ?? 'on';
    this.profiler = options.profiler;
    this.sampleEvery = Math.max(1, Math.floor(options.profiler?.sampleEvery ?? 1));
    this.bound = new Set(config.groups);
    if (this.security === 'on' && config.keys === undefined) {
      throw new ConfigurationError(`${config.file}: a keys: section is needed (security on); only --security off runs without keys`);
    }
    this.keys = new GroupKeyState({ txGuardMs: config.pdcp.txGuardMs, rxExpiryGraceMs: config.pdcp.rxExpiryGraceMs });
    if (this.security === 'on') {
      this.store = new FilePtkHighWaterStore(join(config.stateDir, PTK_STATE_FILE));
      const allocator = new PtkIdAllocator(this.store, { blockSize: config.pdcp.ptkBlockSize });
      const prof = this.profiler ? { profiler: this.profiler } : {};
      this.tx = new PdcpTxEntity(this.keys, allocator, { snPerPtk: config.pdcp.snPerPtk, maxSduBytes: config.maxSduBytes, ...prof });
      this.rx = new PdcpRxEntity(this.keys, { maxPduBytes: profile.pdu.maxBytes, replayMarks: this.store, replayMarkStep: config.pdcp.replayMarkStep, ...prof });
    }
    this.stack = options.stackTap ? options.stackTap.wrap(options.stack) : options.stack;
    this.apps = new ZmqAppServer({ endpoints: config.appEndpoints, maxSduBytes: config.maxSduBytes });
    if (config.keys) {
      // The PTK state is the GMI ledger: keys are used only under a GMI whose marks it holds.
      const ledger = this.store ? { ledger: this.store } : {};
      this.keyClient = new KeyClient(config.keys, { logger: options.logger.child({ svc: 'keys' }), ...ledger });
    }
  }

  /** Opens both sockets and starts the key client (which retries in the background). */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error('start() called twice');
    this.state = 'running';
    if (this.security === 'off') {
      this.log.warn('SECURITY OFF: SDUs go in clear and unauthenticated in the envelope, no PDCP protection (for measurements only)');
    }
    try {
      await this.stack.open({
        frame: (e) => this.onEnvelope(e),
        malformed: (e) => this.onMalformed('envelope', e),
        link: (up, detail) => this.log[up ? 'info' : 'warn']({ detail }, up ? 'stack link up' : 'stack link down'),
      });
      await this.apps.open({
        frame: (m, from) => this.onSdu(m, from),
        malformed: (e) => this.onMalformed('sdu', e),
        link: (up, detail) => this.log.info({ detail }, up ? 'application attached' : 'no application attached'),
      });
    } catch (e) {
      await this.release();
      throw e;
    }
    this.pruneTimer = setInterval(() => this.prune(), PRUNE_INTERVAL_MS);
    this.pruneTimer.unref();
    if (this.rx) {
      this.replayFloorTimer = setInterval(() => this.extendReplayFloors(), REPLAY_FLOOR_INTERVAL_MS);
      this.replayFloorTimer.unref();
    }
    if (this.keyClient) {
      this.keyClient.on('keys', (groups: GroupKeyMaterial[]) => this.installKeys(groups));
      this.keyClient.on('group-error', (e: { groupId: number; code: ErrorCode }) =>
        this.log.warn({ group: hex24(e.groupId), code: errorName(e.code) }, 'the PKMF refused keys for a group'),
      );
      // Resolves after the first attempt; a PKMF that is down is retried in the background.
      void this.keyClient.start().catch((e: unknown) => this.log.error({ err: (e as Error).message }, 'key client failed to start'));
    }
    this.log.info(
      {
        stack: this.stack.description,
        app: this.apps.endpoints,
        groups: [...this.bound].map(hex24),
        security: this.security,
        stateDir: this.config.stateDir,
      },
      'daemon running',
    );
  }

  /** Stops cleanly: key client, sockets, captures, PTK state. Idempotent; resolves with the final status. */
  stop(): Promise<DaemonStatus> {
    this.stopped ??= (async () => {
      this.state = 'stopping';
      if (this.pruneTimer) clearInterval(this.pruneTimer);
      if (this.replayFloorTimer) clearInterval(this.replayFloorTimer);
      await this.keyClient?.stop();
      await this.release();
      // After the release: frames the transports dropped while closing (still queued: `closed`)
      // are in the final counters, and the links show down.
      const final = this.status('final');
      this.state = 'stopped';
      this.log.info(
        { sdusIn: final.counters.sdusIn, pdusOut: final.counters.pdusOut, envelopesIn: final.counters.envelopesIn, delivered: final.counters.delivered, dropped: final.dropped },
        'daemon stopped',
      );
      return final;
    })();
    return this.stopped;
  }

  private async release(): Promise<void> {
    const errors: unknown[] = [];
    const attempt = async (what: string, fn: () => unknown): Promise<void> => {
      try {
        await fn();
      } catch (e) {
        errors.push(e);
        this.log.error({ err: (e as Error).message }, `closing ${what} failed`);
      }
    };
    await attempt('application socket', () => this.apps.close());
    await attempt('stack transport', () => this.stack.close());
    await attempt('capture', () => this.options.stackTap?.close());
    await attempt('keylog', () => this.options.keyTap?.close());
    // Every PTK ID mark is already durable (saved before use). The replay floors are ahead of
    // what was accepted; with the stack closed nothing more arrives, so they can be made exact
    // (a clean restart then drops no live PDU). Closing releases the lock.
    await attempt('replay floors', () => this.rx?.settleReplayMarks());
    await attempt('PTK state', () => this.store?.close());
  }

  private extendReplayFloors(): void {
    try {
      this.rx?.extendReplayFloors();
      if (this.replayFloorFailing) this.log.info('replay floors written again');
      this.replayFloorFailing = false;
    } catch (e) {
      // unprotect writes the floor itself when a PDU reaches it (and drops the PDU if that fails).
      if (!this.replayFloorFailing) this.log.error({ err: (e as Error).message }, 'cannot write replay floors; PDUs that reach their floor are dropped (replay-state-error)');
      this.replayFloorFailing = true;
    }
  }

  /**
   * Every PRUNE_INTERVAL_MS: expired PGKs leave the key state, and their PTK marks and replay
   * floors leave the PDCP state file. PGK IDs only grow, so a PGK ID below the oldest one a group
   * holds is never used again; groups without keys (not fetched yet) keep everything.
   */
  private prune(): void {
    const now = this.now();
    this.keys.pruneExpired(now);
    if (this.store === undefined) return;
    const oldest = new Map<number, number>();
    for (const groupId of this.bound) {
      const g = this.keys.get(groupId);
      if (g !== undefined && g.pgksNewestFirst.length > 0) oldest.set(groupId, g.pgksNewestFirst[g.pgksNewestFirst.length - 1]!.pgkId);
    }
    const keep = (groupId: number, pgkId: number): boolean => !oldest.has(groupId) || pgkId >= oldest.get(groupId)!;
    try {
      this.store.prune((s) => keep(s.groupId, s.pgkId));
      this.store.pruneReplayFloors((k) => keep(k.groupId, k.pgkId));
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'pruning the PDCP state file failed (retried later)');
    }
  }

  // --- keys ------------------------------------------------------------------------------------

  private installKeys(groups: GroupKeyMaterial[]): void {
    const seen = new Set<number>();
    for (const g of groups) {
      if (!this.bound.has(g.groupId)) continue;
      seen.add(g.groupId);
      try {
        this.keys.install(g);
        this.options.keyTap?.logGroup(g);
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
          pgks: g.pgks.map((p) => ({ pgkId: p.pgkId, expiresAt: new Date(p.expiresAtMs).toISOString(), ...(p.activeFromMs !== undefined ? { activeFrom: new Date(p.activeFromMs).toISOString() } : {}) })),
        },
        'group keys installed',
      );
    }
    for (const id of this.keys.groupIds()) {
      if (!seen.has(id)) {
        this.keys.remove(id);
        this.log.warn({ group: hex24(id) }, 'group keys withdrawn (expired or refused)');
      }
    }
  }

  /** Own L2 source ID in a group: the GMI, or (security off) the configured ID. */
  private ownL2(groupId: number): number | undefined {
    return this.keys.get(groupId)?.gmi ?? this.config.l2SourceId;
  }

  // --- transmit ----------------------------------------------------------------------------------

  /**
   * Hand-off timing (with a profiler, one PDU in `sampleEvery`): the daemon's own work around the
   * entity call, from the SDU arriving to `protect`, and from its return to the end of the
   * transport's `send` (the same stage boundaries as src/pdcp/profiler.ts describes).
   */
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

  private onSdu(m: AppToDaemon, from: PeerHandle | undefined): void {
    const tIn = this.timeTxHandoff() ? performance.now() : -1;
    const c = this.counters;
    c.sdusIn++;
    try {
      if (!this.bound.has(m.groupId)) return this.refuse(m, from, 'tx-unknown-group');
      let l2Src: number;
      let pdu: Uint8Array;
      let t0: number;
      let t1: number;
      if (this.tx) {
        if (this.keys.get(m.groupId) === undefined) return this.refuse(m, from, 'tx-no-keys');
        t0 = performance.now();
        let r;
        try {
          r = this.tx.protect(m.sdu, m.sduType, m.groupId, this.now());
        } catch (e) {
          return this.refuse(m, from, this.protectFailure(e));
        }
        t1 = performance.now();
        l2Src = r.l2Src;
        pdu = r.pdu;
      } else {
        const own = this.ownL2(m.groupId);
        if (own === undefined) return this.refuse(m, from, 'tx-no-keys');
        t0 = performance.now();
        pdu = new Uint8Array(1 + m.sdu.length);
        pdu[0] = m.sduType;
        pdu.set(m.sdu, 1);
        t1 = performance.now();
        l2Src = own;
      }
      this.protectTime.record(nsBetween(t0, t1));
      const outcome = this.stack.send({ l2SourceId: l2Src, l2DestinationId: m.groupId, castType: 'groupcast', pdu });
      if (tIn >= 0) this.profiler!.tx('handoff', nsBetween(t1 - (t0 - tIn), performance.now()));
      // A transport refusal is counted by the transport (tx-transport-*); the application is told.
      if (outcome === 'accepted') c.pdusOut++;
      else if (from) this.apps.sendTo(from, { kind: 'refused', appSeq: m.appSeq, reason: `tx-transport-${outcome}` });
    } catch (e) {
      this.internalError(e);
    }
  }

  private protectFailure(e: unknown): DaemonDropReason {
    if (e instanceof ProtectError) return e.code === 'no-usable-pgk' ? 'tx-no-usable-pgk' : 'tx-no-keys';
    if (e instanceof RangeError || e instanceof TypeError) return 'tx-invalid-sdu';
    // The PTK ID store could not persist: nothing was sent (a COUNT must never be reused).
    this.log.error({ err: (e as Error).message }, 'PTK ID reservation failed; SDU not sent');
    return 'tx-ptk-state';
  }

  private refuse(m: AppToDaemon, from: PeerHandle | undefined, reason: DaemonDropReason): void {
    this.counters.dropped[reason]++;
    if (from) this.apps.sendTo(from, { kind: 'refused', appSeq: m.appSeq, reason });
  }

  // --- receive -----------------------------------------------------------------------------------

  private onEnvelope(e: PduEnvelope): void {
    const tIn = this.timeRxHandoff() ? performance.now() : -1;
    const c = this.counters;
    c.envelopesIn++;
    try {
      const rxTimeNs = unixNowNs();
      if (e.castType !== 'groupcast') return void c.dropped['rx-not-groupcast']++;
      if (!this.bound.has(e.l2DestinationId)) return void c.dropped['rx-other-group']++;
      if (this.rx && this.keys.get(e.l2DestinationId) === undefined) return void c.dropped['rx-no-keys']++;
      const sender = this.sender(e.l2SourceId);
      if (sender) {
        sender.envelopes++;
        sender.seq.observe(e.seq);
      }
      let sdu: Uint8Array;
      let sduType: number;
      let t0: number;
      let t1: number;
      if (this.rx) {
        t0 = performance.now();
        const r = this.rx.unprotect(e.pdu, e.l2SourceId, e.l2DestinationId, this.now());
        t1 = performance.now();
        this.unprotectTime.record(nsBetween(t0, t1));
        if (!r.ok) return; // counted by the receive entity
        sdu = r.sdu;
        sduType = r.sduType;
      } else {
        t0 = performance.now();
        const ok = e.pdu.length >= 2 && e.pdu[0]! <= 4 && e.l2SourceId !== this.ownL2(e.l2DestinationId);
        t1 = performance.now();
        this.unprotectTime.record(nsBetween(t0, t1));
        if (!ok) return void c.dropped['rx-insecure-malformed']++;
        sduType = e.pdu[0]!;
        sdu = e.pdu.subarray(1);
      }
      const outcome = this.apps.send({
        kind: 'delivery',
        groupId: e.l2DestinationId,
        sduType,
        sdu,
        senderGmi: e.l2SourceId,
        txTimeNs: e.txTimeNs,
        rxTimeNs,
        deliveredTimeNs: unixNowNs(),
        envelopeSeq: e.seq,
      });
      if (tIn >= 0) this.profiler!.rx('handoff', nsBetween(t1 - (t0 - tIn), performance.now()));
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

  private onMalformed(where: 'envelope' | 'sdu', e: MalformedFrame): void {
    // Counted by the transport (malformed-*). Log each kind once at warn, then at debug.
    const key = `${where}:${e.code}`;
    const first = !this.warnedMalformed.has(key);
    if (first) this.warnedMalformed.add(key);
    this.log[first ? 'warn' : 'debug']({ code: e.code, err: e.message }, `malformed ${where} dropped`);
  }

  private internalError(e: unknown): void {
    this.counters.dropped['internal-error']++;
    this.log.error({ err: (e as Error)?.stack ?? String(e) }, 'internal error on the data path (dropped, carrying on)');
  }

  // --- status ------------------------------------------------------------------------------------

  /** True when every carried group can be sent to: it has key material (security off: an L2 source ID). */
  get keysReady(): boolean {
    return [...this.bound].every((g) => (this.tx ? this.keys.get(g) !== undefined : this.ownL2(g) !== undefined));
  }

  status(event: DaemonStatus['event'] = 'status'): DaemonStatus {
    const nowPerf = performance.now();
    const usage = process.cpuUsage();
    const total = process.cpuUsage(this.startCpu);
    const recent = process.cpuUsage(this.lastCpu.usage);
    const recentWallUs = (nowPerf - this.lastCpu.at) * 1000;
    this.lastCpu = { at: nowPerf, usage };
    const uptimeMs = Date.now() - this.startedAtMs;
    const pct = (cpuUs: number, wallUs: number): number => (wallUs > 0 ? Math.round((cpuUs / wallUs) * 1000) / 10 : 0);

    const stackCounters = { ...this.stack.counters, dropped: { ...this.stack.counters.dropped } };
    const appCounters = this.apps.counters;
    const dropped = flattenDrops(this.counters, this.rx?.counters, stackCounters, appCounters);
    const ks = this.keyClient?.status();
    const rxBySender: Record<string, SenderFigures> = {};
    for (const [gmi, s] of this.senders) {
      const q = s.seq.counters;
      rxBySender[hex24(gmi)] = { envelopes: s.envelopes, delivered: s.delivered, lost: q.lost, duplicates: q.duplicates, reordered: q.reordered, restarts: q.restarts };
    }
    const rxStats = this.rx?.stats();
    const { sdusIn, pdusOut, envelopesIn, delivered } = this.counters;
    return {
      event,
      ue: this.config.name,
      pid: process.pid,
      timeMs: Date.now(),
      uptimeMs,
      security: this.security,
      // Details from the transport itself: the capture tap (this.stack) wraps it and hides them.
      stack: { kind: this.stack.kind, description: this.stack.description, linkUp: this.stack.linkUp, counters: stackCounters, ...stackDetails(this.options.stack) },
      app: { endpoints: this.apps.endpoints, peers: this.apps.peerCount, counters: appCounters },
      keys: {
        servingPlmn: ks?.servingPlmn ?? null,
        consecutiveFailures: ks?.consecutiveFailures ?? 0,
        lastError: ks?.lastError ? `${ks.lastError.code}: ${ks.lastError.message}` : null,
        policyRefusals: ks?.policyRefusals ?? 0,
        ready: this.keysReady,
        groups: [...this.bound].map((id): GroupFigures => {
          const g = this.keys.get(id);
          const cur = this.tx?.current(id);
          const own = this.ownL2(id);
          return {
            groupId: hex24(id),
            gmi: own === undefined ? null : hex24(own),
            pgkIds: g ? g.pgksNewestFirst.map((p) => p.pgkId) : [],
            txPgkId: cur?.pgkId ?? null,
            txPtkId: cur?.ptkId ?? null,
          };
        }),
      },
      counters: { sdusIn, pdusOut, envelopesIn, delivered },
      dropped,
      securityDrops: securityDrops(dropped),
      rxBySender,
      latency: { protect: summarize(this.protectTime), unprotect: summarize(this.unprotectTime) },
      pdcp: {
        ptksStarted: this.tx?.ptksStarted ?? 0,
        derivations: rxStats?.derivations ?? 0,
        cachedEngines: rxStats?.cachedEngines ?? 0,
        replayWindows: rxStats?.replayWindows ?? 0,
      },
      cpu: {
        userUs: total.user,
        systemUs: total.system,
        percentSinceStart: pct(total.user + total.system, uptimeMs * 1000),
        percentRecent: pct(recent.user + recent.system, recentWallUs),
      },
      memory: { rssBytes: process.memoryUsage.rss() },
    };
  }

  /** Drop and delivery counters in the shape of Prometheus-style samples (for the metrics module). */
  counterSamples(): Array<{ name: string; help: string; labels?: Record<string, string>; value: number }> {
    const c = this.counters;
    const out: Array<{ name: string; help: string; labels?: Record<string, string>; value: number }> = [
      { name: 'slbridge_sdus_in_total', help: 'SDUs received from applications', value: c.sdusIn },
      { name: 'slbridge_pdus_out_total', help: 'PDUs accepted by the stack transport', value: c.pdusOut },
      { name: 'slbridge_envelopes_in_total', help: 'envelopes received from the stack side', value: c.envelopesIn },
      { name: 'slbridge_delivered_total', help: 'SDUs delivered to the application socket', value: c.delivered },
    ];
    const flat = flattenDrops(c, this.rx?.counters, this.stack.counters, this.apps.counters, true);
    for (const [reason, value] of Object.entries(flat)) {
      out.push({ name: 'slbridge_dropped_total', help: 'packets dropped, by reason', labels: { reason }, value });
    }
    return out;
  }
}

/** The daemon cannot run with this configuration (a user error, not a bug). */
export class ConfigurationError extends Error {
  readonly code = 'ECONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigurationError';
  }
}
