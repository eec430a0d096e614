/**
 * Latency mode's keep-warm pass (docs/profiling.md, "Latency mode").
 *
 * Between packets a daemon sleeps, and whatever runs meanwhile evicts its code, data and TLB
 * entries: on the development VM the first protect after 100 ms idle took ~40 µs against ~3 µs
 * back to back, most of it in stages that do no cryptography (argument checks, map lookups, the
 * PDU buffer), i.e. in touching cold pages. Warming only the engines did not help those stages;
 * running the same code did. So a pass protects one scratch SDU and unprotects the PDU with a
 * scratch pair of entities of the same classes, engines of the same algorithms and profile as
 * the live groups, and no profiler (their timings stay out of the live histograms).
 *
 * That leaves the live engines' own key schedules cold (each its own allocation): with the live
 * entities given, a pass also runs the engines of the sender's current PTKs and of the receiver's
 * most recently verified PTKs over a scratch buffer, at a COUNT no PDU under those keys uses
 * (seal.ts, warmEngines), and wipes it.
 *
 * What it never changes: PTK IDs, SNs, replay windows, the engine cache's order, counters, the
 * durable state; nothing it computes leaves the process. The scratch group's PGK is random, made
 * here; its PDUs are dropped at once. A scratch pair that fails (its PTK ID space used up, the
 * clock far past its PGK's expiry) is replaced by a fresh one at the next pass. Source
 * authentication is not warmed (one signature would cost more than the pass saves).
 */
import { randomBytes } from 'node:crypto';
import type { AlgId, HierarchyProfile } from '../crypto/types.js';
import { GroupKeyState } from '../keys/group-key-state.js';
import { SDU_TYPE } from './pdu.js';
import { MemoryPtkHighWaterStore, PtkIdAllocator } from './ptk-allocator.js';
import { PdcpRxEntity } from './rx-entity.js';
import { PdcpTxEntity } from './tx-entity.js';

/** SDU of a pass: a short ranging message. The code a PDU runs does not depend on its length. */
export const KEEP_WARM_SDU_BYTES = 64;
/** Receive PTKs whose engines a pass runs, most recently verified first (each about 1 µs). */
export const KEEP_WARM_RX_ENGINES = 16;
/** Scratch the live engines run over: a ranging PDU's ciphered part. */
const LIVE_SCRATCH_BYTES = 128;

const SCRATCH_GROUP = 0xfffffe;
const SCRATCH_SENDER = 0x000001;
const SCRATCH_RECEIVER = 0x000002;
const SCRATCH_PGK_ID = 1;
/** How long a scratch PGK is valid from its pair's creation (then the pair is rebuilt). */
const SCRATCH_PGK_LIFETIME_MS = 365 * 86_400_000;

/** What a pass needs of a live group: the code its PDUs run. */
export interface WarmTarget {
  readonly profile: HierarchyProfile;
  readonly nea: AlgId;
  readonly nia: AlgId | null;
}

interface ScratchPair {
  readonly tx: PdcpTxEntity;
  readonly rx: PdcpRxEntity;
}

function targetKey(t: WarmTarget): string {
  return `${t.profile}/${t.nea}/${t.nia ?? '-'}`;
}

function scratchKeys(t: WarmTarget, gmi: number, pgk: Uint8Array, nowMs: number): GroupKeyState {
  const keys = new GroupKeyState();
  keys.install({
    groupId: SCRATCH_GROUP,
    gmi,
    nea: t.nea,
    nia: t.nia,
    profile: t.profile,
    // A live group with a null algorithm was let in by its own material: its code is warmed too.
    allowNullAlgorithms: t.nea === 0 || t.nia === 0,
    pgks: [{ pgkId: SCRATCH_PGK_ID, pgk, expiresAtMs: nowMs + SCRATCH_PGK_LIFETIME_MS }],
  });
  return keys;
}

/** The daemon's own entities, whose engines a pass runs (see the module comment). */
export interface LiveEntities {
  readonly tx: PdcpTxEntity;
  readonly rx: PdcpRxEntity;
}

export class KeepWarm {
  private readonly pairs = new Map<string, ScratchPair>();
  private readonly sdu = new Uint8Array(KEEP_WARM_SDU_BYTES);
  private readonly scratch = new Uint8Array(LIVE_SCRATCH_BYTES);
  /** Passes that found their pair failing and replaced it. */
  rebuilds = 0;
  /** Live PTKs whose engines passes ran, in all. */
  liveEnginesWarmed = 0;

  constructor(private readonly live?: LiveEntities) {}

  /**
   * One pass: per distinct (profile, NEA, NIA) of `targets`, protect a scratch SDU and unprotect
   * the PDU; then the live engines. Returns how many round trips ran. Never throws.
   */
  pass(targets: Iterable<WarmTarget>, nowMs: number): number {
    let ran = 0;
    const seen = new Set<string>();
    for (const t of targets) {
      const key = targetKey(t);
      if (seen.has(key)) continue;
      seen.add(key);
      if (this.roundTrip(key, t, nowMs)) ran++;
    }
    if (this.live !== undefined) {
      this.liveEnginesWarmed += this.live.tx.warmEngines(this.scratch) + this.live.rx.warmEngines(KEEP_WARM_RX_ENGINES, this.scratch);
    }
    return ran;
  }

  private roundTrip(key: string, t: WarmTarget, nowMs: number): boolean {
    try {
      let pair = this.pairs.get(key);
      if (pair === undefined) {
        pair = this.newPair(t, nowMs);
        this.pairs.set(key, pair);
      }
      const sent = pair.tx.protect(this.sdu, SDU_TYPE.IP, SCRATCH_GROUP, nowMs);
      if (pair.rx.unprotect(sent.pdu, sent.l2Src, sent.l2Dst, nowMs).ok) return true;
    } catch {
      // Falls through: the pair is replaced below.
    }
    this.pairs.delete(key);
    this.rebuilds++;
    return false;
  }

  private newPair(t: WarmTarget, nowMs: number): ScratchPair {
    const pgk = new Uint8Array(randomBytes(32));
    return {
      tx: new PdcpTxEntity(scratchKeys(t, SCRATCH_SENDER, pgk, nowMs), new PtkIdAllocator(new MemoryPtkHighWaterStore())),
      rx: new PdcpRxEntity(scratchKeys(t, SCRATCH_RECEIVER, pgk, nowMs)),
    };
  }
}
