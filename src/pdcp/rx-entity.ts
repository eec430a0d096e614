/**
 * Receive entity for groupcast PDCP PDUs (docs/protocol.md 6):
 *
 *   PDU + L2 source (sender GMI) + L2 destination (Group ID) + now
 *     -> SDU, SDU type and sender, or a typed drop reason with its counter.
 *
 * Order of checks, cheapest first, so that most garbage dies before any crypto:
 *   L2 IDs, length, SDU type, group, own source, PGK Index / expiry, replay pre-check,
 *   engine cache (or a rate-limited derivation), decipher + MAC-I, inner identity block,
 *   source-auth block (groups with source authentication), replay window update.
 * A PDU changes no state (engine cache, replay window) before it passed all of them, the source
 * check included: a member cannot move another member's replay window.
 *
 * Nothing from outside can make it throw: every failure is a {@link DropReason}; an unexpected
 * exception is caught and counted as `internal-error`.
 *
 * Memory and CPU are bounded against forged headers:
 * - engines enter the main LRU (per (PGK, GMI, PTK ID)) only after a PDU verified under them, so
 *   a flood of forged headers cannot evict a real sender's engines;
 * - engines derived for a PDU that did not (yet) verify wait in a small probation LRU, so
 *   repeating one forged header costs one derivation, not one per PDU;
 * - derivations draw on token buckets, so the flood's CPU cost is bounded: one bucket for the
 *   next PTK IDs of a sender that already has a verified PDU under the PGK (its normal PTK
 *   change), one for other PTK IDs of such senders, one for everyone else. A flood spoofing
 *   random headers thus mostly drains the last bucket and leaves real senders' PTK changes alone;
 * - replay windows are created only for verified senders, up to `maxSenders`.
 *
 * Replay protection needs authentication: only groups with integrity (NIA1-3) have replay windows.
 * Without it (`lte-prose`, `nia: null`, NIA0) there is none, as in TS 36.323: a window that
 * unauthenticated PDUs could move would let one forged header (PTK ID 0xFFFF, SN 0xFFFF) lock a
 * sender out for the PGK's life. With a {@link ReplayMarkStore}, windows survive restarts
 * (replay-marks.ts).
 */
import type { GroupKeyState, InstalledGroup, InstalledPgk } from '../keys/group-key-state.js';
import { lookupRxPgk, PGK_INDEX_COUNT } from '../keys/group-key-state.js';
import { DROP_REASONS, newRxCounters, type DropReason, type RxCounters } from './drop-reasons.js';
import { EngineLru, type CachedEngines } from './engine-cache.js';
import { DEFAULT_MAX_SDU_BYTES, HEADER_BYTES, MAC_I_BYTES, INNER_IDENTITY_BYTES, MAX_SDU_TYPE, pduLayout, type PduLayout } from './pdu.js';
import { SampleGate, StageMarks, type PdcpProfiler } from './profiler.js';
import { derivePtkEngines, type PtkEngines } from './ptk-engines.js';
import { COUNT_SPACE, type ReplayMarkKey, type ReplayMarkStore } from './replay-marks.js';
import { ReplayWindow } from './replay-window.js';
import { openPdu, warmEngines } from './seal.js';
import { MAX_SOURCE_AUTH_BLOCK_BYTES, maxSourceBlockBytes, minSourceBlockBytes, sourceAuthFor, type SourceAuth } from './source-auth.js';
import { TokenBucket } from './token-bucket.js';

export interface Accepted {
  readonly ok: true;
  readonly sdu: Uint8Array;
  readonly sduType: number;
  readonly senderGmi: number;
  readonly groupId: number;
  readonly pgkId: number;
  readonly ptkId: number;
  readonly sn: number;
}

export interface Dropped {
  readonly ok: false;
  readonly reason: DropReason;
}

export type UnprotectResult = Accepted | Dropped;

export interface DerivationLimit {
  /** Derivations allowed at once. */
  burst: number;
  /** Sustained derivations per second. */
  ratePerSec: number;
}

/** Header + identity block + a 9000-octet SDU (TS 38.323 4.3.1) + MAC-I: the default largest PDU without source authentication. */
export const DEFAULT_MAX_PDU_BYTES = HEADER_BYTES + INNER_IDENTITY_BYTES + DEFAULT_MAX_SDU_BYTES + MAC_I_BYTES;

export interface RxEntityOptions {
  /**
   * Largest PDU accepted, source-auth block included (the lower layer's bound, hw-profile
   * `pdu.max_bytes`). Default: per group, {@link DEFAULT_MAX_PDU_BYTES} plus the largest
   * source-auth block of the group, so that a 9000-octet SDU always fits.
   */
  maxPduBytes?: number;
  /** Engines kept, one per (PGK, sender GMI, PTK ID) (default 1024). */
  engineCacheSize?: number;
  /** Anti-replay ring size in 32-bit words, a power of two (default 64: window of 2016 COUNTs). */
  replayWindowWords?: number;
  /** Replay windows kept over all groups and PGKs, i.e. distinct verified senders (default 16384). */
  maxSenders?: number;
  /** Derivation budget for senders that already have a verified PDU under the PGK (default 64, 1000/s). */
  knownSenderDerivations?: DerivationLimit;
  /** Derivation budget for every other (sender, PTK ID) (default 32, 200/s). */
  newSenderDerivations?: DerivationLimit;
  /**
   * Derivation budget for PTK IDs just above the highest verified one of a known sender, up to
   * `nextPtkSpan` above it: the sender's regular move to its next PTK (default 16, 100/s).
   */
  nextPtkDerivations?: DerivationLimit;
  /** How far above a sender's highest verified PTK ID counts as its next PTK (default 64). */
  nextPtkSpan?: number;
  /** Engines derived for PDUs that have not verified yet, kept to avoid re-deriving (default 256). */
  probationCacheSize?: number;
  /** Drop PDUs whose L2 source is this UE's own GMI in the group (default true). */
  rejectOwnSource?: boolean;
  /** Durable replay floors (replay-marks.ts); without one, windows start empty after a restart. */
  replayMarks?: ReplayMarkStore;
  /**
   * How far ahead of the highest accepted COUNT the durable floor is kept (default 64): at most
   * `replayMarkStep - 1` PDUs of a sender are dropped after a crash of this receiver; without
   * `extendReplayFloors` from a timer, one synchronous save per `replayMarkStep` PDUs of a sender.
   */
  replayMarkStep?: number;
  /**
   * Per-stage timing of `unprotect` (profiler.ts): decode, key, cipher, integrity, and the whole
   * call, for accepted PDUs among one in `profiler.sampleEvery`. Without one no clock is read.
   */
  profiler?: PdcpProfiler;
}

interface RxTiming {
  readonly gate: SampleGate;
  readonly marks: StageMarks;
}

interface RxPgkState {
  readonly pgk: InstalledPgk;
  /** Verified engines of this PGK by `gmi * 65536 + ptkId` (entries also on the main LRU). */
  readonly engines: Map<number, CachedEngines>;
  /** Engines derived but not yet verified, same keys (entries also on the probation LRU). */
  readonly pending: Map<number, CachedEngines>;
  /** Anti-replay windows of this PGK by sender GMI. */
  readonly windows: Map<number, ReplayWindow>;
  /** The durable replay floor of each sender's window (with a ReplayMarkStore). */
  readonly floors: Map<number, number>;
  /** The group's source check under this PGK; undefined without source authentication. */
  readonly source: SourceAuth | undefined;
}

interface RxGroupState {
  readonly group: InstalledGroup;
  readonly layout: PduLayout;
  /** Integrity with a real MAC (NIA1-3): the only case with replay windows. */
  readonly replayProtected: boolean;
  /** Minimum PDU length: layout overhead + a 1-octet SDU + the smallest source-auth block. */
  readonly minPduBytes: number;
  /** Maximum PDU length: the configured bound, or the default one with the group's largest block. */
  readonly maxPduBytes: number;
  readonly byIndex: (RxPgkState | undefined)[];
}

const DROPPED: Readonly<Record<DropReason, Dropped>> = Object.freeze(
  Object.fromEntries(DROP_REASONS.map((reason) => [reason, Object.freeze({ ok: false, reason })])) as Record<DropReason, Dropped>,
);

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

function isL2Id(v: number): boolean {
  return typeof v === 'number' && (v & 0xffffff) === v;
}

export class PdcpRxEntity {
  readonly counters: RxCounters = newRxCounters();
  /** Key derivations done (cache misses that got a token). */
  derivations = 0;
  /** The configured largest PDU; undefined: the default, per group. */
  private readonly configuredMaxPduBytes: number | undefined;
  /** Checked before the group is known: the configured bound, or the largest default of any group. */
  private readonly maxPduBytes: number;
  private readonly windowWords: number;
  private readonly maxSenders: number;
  private readonly rejectOwnSource: boolean;
  private readonly lru: EngineLru;
  private readonly probation: EngineLru;
  private readonly knownBucket: TokenBucket;
  private readonly newBucket: TokenBucket;
  private readonly nextPtkBucket: TokenBucket;
  private readonly nextPtkSpan: number;
  private readonly groups = new Map<number, RxGroupState>();
  private windowCount = 0;
  private readonly replayMarks: ReplayMarkStore | undefined;
  private readonly replayMarkStep: number;
  private readonly timing: RxTiming | undefined;

  constructor(
    private readonly keys: GroupKeyState,
    options: RxEntityOptions = {},
  ) {
    this.configuredMaxPduBytes = options.maxPduBytes;
    this.maxPduBytes = options.maxPduBytes ?? DEFAULT_MAX_PDU_BYTES + MAX_SOURCE_AUTH_BLOCK_BYTES;
    if (!Number.isInteger(this.maxPduBytes) || this.maxPduBytes < HEADER_BYTES + 1) {
      throw new RangeError(`options.maxPduBytes: expected an integer > ${HEADER_BYTES}, got ${this.maxPduBytes}`);
    }
    this.windowWords = options.replayWindowWords ?? 64;
    new ReplayWindow(this.windowWords); // validates
    this.maxSenders = options.maxSenders ?? 16384;
    if (!Number.isInteger(this.maxSenders) || this.maxSenders < 1) {
      throw new RangeError(`options.maxSenders: expected an integer >= 1, got ${this.maxSenders}`);
    }
    this.rejectOwnSource = options.rejectOwnSource ?? true;
    this.lru = new EngineLru(options.engineCacheSize ?? 1024);
    this.probation = new EngineLru(options.probationCacheSize ?? 256);
    const known = options.knownSenderDerivations ?? { burst: 64, ratePerSec: 1000 };
    const fresh = options.newSenderDerivations ?? { burst: 32, ratePerSec: 200 };
    const next = options.nextPtkDerivations ?? { burst: 16, ratePerSec: 100 };
    this.knownBucket = new TokenBucket(known.burst, known.ratePerSec);
    this.newBucket = new TokenBucket(fresh.burst, fresh.ratePerSec);
    this.nextPtkBucket = new TokenBucket(next.burst, next.ratePerSec);
    this.nextPtkSpan = options.nextPtkSpan ?? 64;
    if (!Number.isInteger(this.nextPtkSpan) || this.nextPtkSpan < 0) {
      throw new RangeError(`options.nextPtkSpan: expected an integer >= 0, got ${this.nextPtkSpan}`);
    }
    this.replayMarks = options.replayMarks;
    this.replayMarkStep = options.replayMarkStep ?? 64;
    if (!Number.isInteger(this.replayMarkStep) || this.replayMarkStep < 1 || this.replayMarkStep > 0x10000) {
      throw new RangeError(`options.replayMarkStep: expected an integer 1..65536, got ${this.replayMarkStep}`);
    }
    const profiler = options.profiler;
    this.timing = profiler && { gate: new SampleGate(profiler), marks: new StageMarks(profiler) };
  }

  /** Sizes of the bounded tables, for metrics. */
  stats(): { cachedEngines: number; probationEngines: number; evictions: number; replayWindows: number; derivations: number } {
    return {
      cachedEngines: this.lru.size,
      probationEngines: this.probation.size,
      evictions: this.lru.evictions,
      replayWindows: this.windowCount,
      derivations: this.derivations,
    };
  }

  /**
   * Verifies and deciphers one PDU received with L2 source `l2Src` (sender GMI) and destination
   * `l2Dst` (Group ID) at `nowMs`. Never throws.
   */
  unprotect(pdu: Uint8Array, l2Src: number, l2Dst: number, nowMs: number): UnprotectResult {
    const timing = this.timing;
    const marks = timing !== undefined && timing.gate.next() ? timing.marks : undefined;
    if (marks !== undefined) marks.mark(0);
    let result: UnprotectResult;
    try {
      result = this.receive(pdu, l2Src, l2Dst, nowMs, marks);
    } catch {
      result = DROPPED['internal-error'];
    }
    if (result.ok) {
      this.counters.accepted++;
      if (marks !== undefined) recordRx(marks);
    } else {
      this.counters[result.reason]++;
    }
    return result;
  }

  private receive(pdu: Uint8Array, l2Src: number, l2Dst: number, nowMs: number, marks: StageMarks | undefined): UnprotectResult {
    if (!(pdu instanceof Uint8Array)) return DROPPED['internal-error']; // a caller bug, not input
    if (!isL2Id(l2Src) || !isL2Id(l2Dst)) return DROPPED['invalid-l2-address'];
    const length = pdu.length;
    if (length <= HEADER_BYTES) return DROPPED.truncated;
    if (length > this.maxPduBytes) return DROPPED.oversized;
    const b0 = pdu[0]!;
    if (b0 >>> 5 > MAX_SDU_TYPE) return DROPPED['reserved-sdu-type'];

    const gs = this.groupState(l2Dst);
    if (gs === undefined) return DROPPED['unknown-group'];
    const sduType = gs.layout.sduTypeFromWire[b0 >>> 5]!;
    if (sduType < 0) return DROPPED['reserved-sdu-type'];
    const group = gs.group;
    if (length < gs.minPduBytes) return DROPPED.truncated;
    if (length > gs.maxPduBytes) return DROPPED.oversized;
    if (this.rejectOwnSource && l2Src === group.gmi) return DROPPED['own-source'];
    if (marks !== undefined) marks.mark(1);

    const pgkIndex = b0 & 0x1f;
    const pgk = lookupRxPgk(group, pgkIndex, nowMs, this.keys.rxExpiryGraceMs);
    if (typeof pgk === 'string') return DROPPED[pgk];
    const ps = gs.byIndex[pgkIndex]!;

    const ptkId = (pdu[1]! << 8) | pdu[2]!;
    const sn = (pdu[3]! << 8) | pdu[4]!;
    const count = ptkId * 0x10000 + sn;
    let window: ReplayWindow | undefined;
    let floor = 0;
    if (gs.replayProtected) {
      window = ps.windows.get(l2Src);
      if (window !== undefined) {
        if (!window.check(count)) return DROPPED.replay;
      } else if (this.windowCount >= this.maxSenders) {
        return DROPPED['sender-table-full'];
      } else if (this.replayMarks !== undefined) {
        floor = this.replayMarks.loadFloor(this.markKey(group, l2Src, pgk)) ?? 0;
        if (count < floor) return DROPPED.replay;
      }
    }

    const key = l2Src * 0x10000 + ptkId;
    const cached = this.lru.get(ps.engines, key);
    let pending: CachedEngines | undefined;
    let engines: PtkEngines;
    if (cached !== undefined) {
      engines = cached.engines;
    } else {
      pending = this.probation.get(ps.pending, key);
      if (pending === undefined) {
        if (!this.bucketFor(window, ptkId).tryTake(nowMs)) return DROPPED['derivation-rate-limited'];
        this.derivations++;
        pending = this.probation.add(
          ps.pending,
          key,
          derivePtkEngines(group, pgk.kdfKey, l2Src, ptkId),
        );
      }
      engines = pending.engines;
    }

    if (marks !== undefined) marks.mark(2);
    const opened = openPdu(engines, gs.layout, pdu, count, l2Src, l2Dst, marks, ps.source);
    if (typeof opened === 'string') return DROPPED[opened];

    // Authenticated (or, integrity off, identity block matched), its source too where the group
    // asks for it: now it may take memory and move the sender's replay window.
    if (pending !== undefined) {
      this.probation.remove(pending);
      this.lru.add(ps.engines, key, engines);
    }
    if (gs.replayProtected) {
      if (window === undefined) {
        window = new ReplayWindow(this.windowWords, floor);
        ps.windows.set(l2Src, window);
        ps.floors.set(l2Src, floor);
        this.windowCount++;
      }
      if (this.replayMarks !== undefined && count >= ps.floors.get(l2Src)!) {
        // Durable before the PDU is delivered: a crash right after must not let it in again.
        const next = Math.min(count + this.replayMarkStep, COUNT_SPACE);
        try {
          this.replayMarks.raiseFloors([{ key: this.markKey(group, l2Src, pgk), floor: next }]);
        } catch {
          return DROPPED['replay-state-error'];
        }
        ps.floors.set(l2Src, next);
      }
      window.update(count);
    }
    if (marks !== undefined) marks.mark(5);
    return { ok: true, sdu: opened, sduType, senderGmi: l2Src, groupId: l2Dst, pgkId: pgk.pgkId, ptkId, sn };
  }

  /**
   * Latency mode (keep-warm.ts): runs the engines of the `limit` PTKs verified most recently over
   * `scratch` at a COUNT no PDU under them uses (seal.ts, warmEngines). Changes nothing: the
   * engine cache keeps its order, no window moves, no counter counts. Returns the PTKs warmed.
   */
  warmEngines(limit: number, scratch: Uint8Array): number {
    let warmed = 0;
    this.lru.forMostRecent(limit, (entry) => {
      warmEngines(entry.engines, entry.key & 0xffff, scratch);
      warmed++;
    });
    return warmed;
  }

  /**
   * Raises, in one durable write, the floors of the senders' windows to a step ahead of their
   * highest accepted COUNT, when one of them came within half a step of its floor: called from a
   * timer, it keeps steady traffic off the synchronous write in `unprotect`. Every window that has
   * used any of its lead rides along in that write, so senders at similar rates fall into step and
   * share one write, instead of one each (a write is an fsync: on the development VM 16 UEs at
   * 85 PDUs/s each made ~9 writes/s raised one by one, ~4 together, and the round trips' p99
   * fell from ~130 to 62-94 ms; docs/pdcp.md). Returns how many floors it raised; throws what
   * the store throws (the floors in force stay valid, and `unprotect` writes them itself when it
   * must).
   */
  extendReplayFloors(): number {
    const due = this.replayFloorsDue();
    if (due === undefined) return 0;
    this.replayMarks!.raiseFloors(due.floors);
    return due.commit();
  }

  /**
   * `extendReplayFloors` through the store's `raiseFloorsInBackground` where it has one, so the
   * event loop does not wait for the disk: the floors come in force only once the write is
   * durable, and PDUs that reach the floors in force meanwhile still wait for their own write.
   * Resolves with how many floors it raised (0 when the store wrote nothing); rejects with what
   * the store rejects with. One at a time.
   */
  async extendReplayFloorsInBackground(): Promise<number> {
    if (this.replayMarks?.raiseFloorsInBackground === undefined) return this.extendReplayFloors();
    const due = this.replayFloorsDue();
    if (due === undefined) return 0;
    return (await this.replayMarks.raiseFloorsInBackground(due.floors)) ? due.commit() : 0;
  }

  /** The floors `extendReplayFloors` would write now, and how to put them in force once durable. */
  private replayFloorsDue(): { floors: { key: ReplayMarkKey; floor: number }[]; commit(): number } | undefined {
    if (this.replayMarks === undefined) return undefined;
    const step = this.replayMarkStep;
    const floors: { key: ReplayMarkKey; floor: number }[] = [];
    const raises: { ps: RxPgkState; senderGmi: number; next: number }[] = [];
    let due = false;
    for (const gs of this.groups.values()) {
      for (const ps of gs.byIndex) {
        if (ps === undefined) continue;
        for (const [senderGmi, window] of ps.windows) {
          const floor = ps.floors.get(senderGmi)!;
          if (window.highest < 0) continue;
          const next = Math.min(window.highest + step, COUNT_SPACE);
          if (next <= floor) continue;
          if (floor - window.highest <= step / 2) due = true;
          floors.push({ key: this.markKey(gs.group, senderGmi, ps.pgk), floor: next });
          raises.push({ ps, senderGmi, next });
        }
      }
    }
    if (!due) return undefined;
    return {
      floors,
      // Never lowers a floor: `unprotect` may have raised one past `next` while a write ran.
      commit: () => {
        let raised = 0;
        for (const { ps, senderGmi, next } of raises) {
          const floor = ps.floors.get(senderGmi);
          if (floor === undefined || next <= floor) continue;
          ps.floors.set(senderGmi, next);
          raised++;
        }
        return raised;
      },
    };
  }

  /**
   * For a clean stop: hands the store the exact floor of every window (one past the highest COUNT
   * accepted, never below the floor it started from), so that a restart drops nothing live.
   * Returns how many windows it settled. Call it once no more PDUs are offered.
   */
  settleReplayMarks(): number {
    if (this.replayMarks === undefined) return 0;
    const floors: { key: ReplayMarkKey; floor: number }[] = [];
    for (const gs of this.groups.values()) {
      for (const ps of gs.byIndex) {
        if (ps === undefined) continue;
        for (const [senderGmi, window] of ps.windows) {
          floors.push({ key: this.markKey(gs.group, senderGmi, ps.pgk), floor: Math.max(window.highest + 1, window.floor) });
        }
      }
    }
    if (floors.length > 0) this.replayMarks.settleFloors(floors);
    return floors.length;
  }

  private markKey(group: InstalledGroup, senderGmi: number, pgk: InstalledPgk): ReplayMarkKey {
    return { groupId: group.groupId, senderGmi, pgkId: pgk.pgkId, pgkTag: pgk.tag };
  }

  private bucketFor(window: ReplayWindow | undefined, ptkId: number): TokenBucket {
    if (window === undefined) return this.newBucket;
    const lastPtkId = Math.floor(window.highest / 0x10000);
    return ptkId > lastPtkId && ptkId <= lastPtkId + this.nextPtkSpan ? this.nextPtkBucket : this.knownBucket;
  }

  /** The receive state of a group, rebuilt when the key state installed new material for it. */
  private groupState(groupId: number): RxGroupState | undefined {
    const group = this.keys.get(groupId);
    const old = this.groups.get(groupId);
    if (group === undefined) {
      if (old !== undefined) this.dropGroupState(old);
      this.groups.delete(groupId);
      return undefined;
    }
    if (old !== undefined && old.group === group) return old;
    const fresh = this.rebuild(group, old);
    this.groups.set(groupId, fresh);
    return fresh;
  }

  private rebuild(group: InstalledGroup, old: RxGroupState | undefined): RxGroupState {
    const layout = pduLayout(group.profile, group.nia !== null);
    const enginesStillValid =
      old !== undefined &&
      old.group.profile === group.profile &&
      old.group.nea === group.nea &&
      old.group.nia === group.nia;
    const byIndex = new Array<RxPgkState | undefined>(PGK_INDEX_COUNT).fill(undefined);
    const kept = new Set<RxPgkState>();
    for (const pgk of group.pgksNewestFirst) {
      const prev = old?.byIndex[pgk.index];
      if (prev !== undefined && prev.pgk.pgkId === pgk.pgkId && sameBytes(prev.pgk.pgk, pgk.pgk)) {
        // Same PGK: keep its replay windows (forgetting them would re-open replays).
        if (!enginesStillValid) {
          this.lru.dropOwner(prev.engines);
          this.probation.dropOwner(prev.pending);
        }
        // The source keys come from the new material (members may have left or joined).
        const source = sourceAuthFor(group, pgk);
        byIndex[pgk.index] = { pgk, engines: prev.engines, pending: prev.pending, windows: prev.windows, floors: prev.floors, source };
        kept.add(prev);
      } else {
        byIndex[pgk.index] = { pgk, engines: new Map(), pending: new Map(), windows: new Map(), floors: new Map(), source: sourceAuthFor(group, pgk) };
      }
    }
    if (old !== undefined) {
      for (const prev of old.byIndex) {
        if (prev !== undefined && !kept.has(prev)) this.dropPgkState(prev);
      }
    }
    const replayProtected = group.nia !== null && group.nia !== 0;
    const minPduBytes = layout.overhead + 1 + minSourceBlockBytes(group);
    const maxPduBytes = this.configuredMaxPduBytes ?? DEFAULT_MAX_PDU_BYTES + maxSourceBlockBytes(group);
    return { group, layout, replayProtected, minPduBytes, maxPduBytes, byIndex };
  }

  private dropGroupState(gs: RxGroupState): void {
    for (const ps of gs.byIndex) if (ps !== undefined) this.dropPgkState(ps);
  }

  private dropPgkState(ps: RxPgkState): void {
    this.lru.dropOwner(ps.engines);
    this.probation.dropOwner(ps.pending);
    this.windowCount -= ps.windows.size;
    ps.windows.clear();
    ps.floors.clear();
  }
}

/** Hands the stages of one timed, accepted unprotect call to its profiler (marks 0..5, see profiler.ts). */
function recordRx(marks: StageMarks): void {
  const at = marks.at;
  const p = marks.profiler;
  p.rx('decode', at[1]! - at[0]!);
  p.rx('key', at[2]! - at[1]! + (at[5]! - at[4]!));
  p.rx('cipher', at[3]! - at[2]!);
  if (marks.integrity) p.rx('integrity', at[4]! - at[3]!);
  p.call?.('rx', at[5]! - at[0]!);
}
