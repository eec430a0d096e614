/**
 * How the daemon core protects an SDU and checks a received PDU: one interface, two
 * implementations, chosen once when the core is built, so that the data path has no
 * `if (secure)`:
 *
 * - {@link PdcpProtector}: the PDCP transmit and receive entities (src/pdcp), keys from the group
 *   key state, PTK ID marks and replay floors in a durable store handed in;
 * - {@link ClearProtector} (`--security off`, the baseline of the security-cost measurement): one
 *   octet SDU type and the SDU, in clear and unauthenticated.
 */
import type { GroupKeyState } from '../keys/group-key-state.js';
import type { RxCounters } from '../pdcp/drop-reasons.js';
import { KeepWarm } from '../pdcp/keep-warm.js';
import { MAX_SDU_TYPE } from '../pdcp/pdu.js';
import type { PdcpProfiler } from '../pdcp/profiler.js';
import { PtkIdAllocator, type PtkHighWaterStore, type PtkIdSpace } from '../pdcp/ptk-allocator.js';
import type { ReplayMarkKey, ReplayMarkStore } from '../pdcp/replay-marks.js';
import { PdcpRxEntity } from '../pdcp/rx-entity.js';
import { PdcpTxEntity, ProtectError } from '../pdcp/tx-entity.js';
import type { DaemonCounters, DaemonDropReason } from './counters.js';
import type { DaemonLog } from './log.js';

export interface Protected {
  readonly pdu: Uint8Array;
  /** The L2 source to send with: own GMI (security off: the own L2 source ID). */
  readonly l2Src: number;
}

/** Why an SDU was not protected: the core counts it and tells the application. */
export type ProtectRefusal = Extract<DaemonDropReason, 'tx-no-keys' | 'tx-no-usable-pgk' | 'tx-invalid-sdu' | 'tx-ptk-state'>;

export interface Unprotected {
  readonly ok: true;
  readonly sdu: Uint8Array;
  readonly sduType: number;
}

/** Not delivered; already counted by the protector under its reason. */
export interface Refused {
  readonly ok: false;
}

export interface PdcpFigures {
  ptksStarted: number;
  derivations: number;
  cachedEngines: number;
  replayWindows: number;
}

/**
 * The PDCP state the core needs durable (bridge/state/ptk-high-water-file.ts): the PTK ID
 * high-water marks, the replay floors, and pruning both when their PGK is gone.
 */
export interface PdcpStateStore extends PtkHighWaterStore, ReplayMarkStore {
  prune(keep: (space: PtkIdSpace) => boolean): number;
  pruneReplayFloors(keep: (key: ReplayMarkKey) => boolean): number;
}

/** The results of `protect` and `unprotect` may be reused by the next call: read them at once. */
export interface Protector {
  /** Protects one SDU, or says why not. Never throws for a state reason or a bad SDU. */
  protect(sdu: Uint8Array, sduType: number, groupId: number): Protected | ProtectRefusal;
  /** False while the group's envelopes cannot be checked at all (no keys yet: `rx-no-keys`). */
  canReceive(groupId: number): boolean;
  /** Checks one received PDU. Never throws; every drop is counted by the protector. */
  unprotect(pdu: Uint8Array, l2Src: number, l2Dst: number): Unprotected | Refused;
  /** True when SDUs for the group can be sent (keys held; security off: an own L2 source ID). */
  canSend(groupId: number): boolean;
  /** The PGK / PTK the sender uses now in the group (after its first SDU). */
  current(groupId: number): { pgkId: number; ptkId: number } | undefined;
  /** The receive entity's counters (PDCP drop reasons), when there is one. */
  readonly rxCounters: Readonly<RxCounters> | undefined;
  figures(): PdcpFigures;
  /**
   * Raises the durable replay floors of senders close to theirs, off the event loop where the
   * store can; resolves with the floors raised, rejects with what the store throws. One at a time.
   */
  extendReplayFloors(): Promise<number>;
  /** On a clean stop, once nothing more is offered: the exact replay floors. */
  settleReplayMarks(): void;
  /** Removes durable marks of PGKs `keep` says are gone; throws what the store throws. */
  pruneState(keep: (groupId: number, pgkId: number) => boolean): void;
  /** Latency mode's keep-warm pass (src/pdcp/keep-warm.ts; nothing with security off); returns the round trips run. */
  warm(): number;
}

export interface PdcpProtectorOptions {
  /**
   * Wall clock in ms since the epoch, for key validity. Read here, once per PDCP call, rather
   * than by the caller for every packet: a reading costs as much as the rest of the clear path.
   */
  now: () => number;
  ptkBlockSize: number;
  snPerPtk: number;
  maxSduBytes: number;
  maxPduBytes: number;
  replayMarkStep: number;
  profiler?: PdcpProfiler | undefined;
}

export class PdcpProtector implements Protector {
  private readonly tx: PdcpTxEntity;
  private readonly rx: PdcpRxEntity;
  private readonly now: () => number;
  private readonly keepWarm: KeepWarm;

  constructor(
    private readonly keys: GroupKeyState,
    private readonly store: PdcpStateStore,
    options: PdcpProtectorOptions,
    private readonly log: DaemonLog,
  ) {
    this.now = options.now;
    const prof = options.profiler ? { profiler: options.profiler } : {};
    const allocator = new PtkIdAllocator(store, { blockSize: options.ptkBlockSize });
    this.tx = new PdcpTxEntity(keys, allocator, { snPerPtk: options.snPerPtk, maxSduBytes: options.maxSduBytes, maxPduBytes: options.maxPduBytes, ...prof });
    this.rx = new PdcpRxEntity(keys, { maxPduBytes: options.maxPduBytes, replayMarks: store, replayMarkStep: options.replayMarkStep, ...prof });
    this.keepWarm = new KeepWarm({ tx: this.tx, rx: this.rx });
  }

  get rxCounters(): Readonly<RxCounters> {
    return this.rx.counters;
  }

  protect(sdu: Uint8Array, sduType: number, groupId: number): Protected | ProtectRefusal {
    try {
      return this.tx.protect(sdu, sduType, groupId, this.now());
    } catch (e) {
      // Keys are looked up here, off the path of every protected SDU: without keys for the
      // group, the answer is tx-no-keys whatever else is wrong with the SDU.
      if (this.keys.get(groupId) === undefined) return 'tx-no-keys';
      if (e instanceof ProtectError) return e.code === 'no-usable-pgk' ? 'tx-no-usable-pgk' : 'tx-no-keys';
      if (e instanceof RangeError || e instanceof TypeError) return 'tx-invalid-sdu';
      // The PTK ID store could not persist: nothing was sent (a COUNT must never be reused).
      this.log.error({ err: (e as Error).message }, 'PTK ID reservation failed; SDU not sent');
      return 'tx-ptk-state';
    }
  }

  canReceive(groupId: number): boolean {
    return this.keys.get(groupId) !== undefined;
  }

  unprotect(pdu: Uint8Array, l2Src: number, l2Dst: number): Unprotected | Refused {
    return this.rx.unprotect(pdu, l2Src, l2Dst, this.now());
  }

  canSend(groupId: number): boolean {
    return this.keys.get(groupId) !== undefined;
  }

  current(groupId: number): { pgkId: number; ptkId: number } | undefined {
    return this.tx.current(groupId);
  }

  figures(): PdcpFigures {
    const rx = this.rx.stats();
    return { ptksStarted: this.tx.ptksStarted, derivations: rx.derivations, cachedEngines: rx.cachedEngines, replayWindows: rx.replayWindows };
  }

  extendReplayFloors(): Promise<number> {
    return this.rx.extendReplayFloorsInBackground();
  }

  settleReplayMarks(): void {
    this.rx.settleReplayMarks();
  }

  pruneState(keep: (groupId: number, pgkId: number) => boolean): void {
    this.store.prune((s) => keep(s.groupId, s.pgkId));
    this.store.pruneReplayFloors((k) => keep(k.groupId, k.pgkId));
  }

  warm(): number {
    return this.keepWarm.pass(this.keys.installed(), this.now());
  }
}

const REFUSED: Refused = Object.freeze({ ok: false });

/**
 * Security off: the PDU is the SDU type octet and the SDU. A received one is delivered when it has
 * an SDU, a valid SDU type and is not our own; anything else is `rx-insecure-malformed`.
 */
export class ClearProtector implements Protector {
  readonly rxCounters = undefined;
  // Results are reused, valid until the next call of the same method (the core reads them at
  // once): the clear path is the baseline of the security-cost measurement, so it allocates
  // nothing the inline code it replaced did not.
  private readonly sent: { pdu: Uint8Array; l2Src: number } = { pdu: new Uint8Array(0), l2Src: 0 };
  private readonly received: { ok: true; sdu: Uint8Array; sduType: number } = { ok: true, sdu: new Uint8Array(0), sduType: 0 };

  constructor(
    /** Own L2 source ID in a group (the GMI when keys are held, else the configured one). */
    private readonly ownL2: (groupId: number) => number | undefined,
    private readonly dropped: DaemonCounters['dropped'],
  ) {}

  protect(sdu: Uint8Array, sduType: number, groupId: number): Protected | ProtectRefusal {
    const l2Src = this.ownL2(groupId);
    if (l2Src === undefined) return 'tx-no-keys';
    const pdu = new Uint8Array(1 + sdu.length);
    pdu[0] = sduType;
    pdu.set(sdu, 1);
    const out = this.sent;
    out.pdu = pdu;
    out.l2Src = l2Src;
    return out;
  }

  canReceive(): boolean {
    return true;
  }

  unprotect(pdu: Uint8Array, l2Src: number, l2Dst: number): Unprotected | Refused {
    if (pdu.length >= 2 && pdu[0]! <= MAX_SDU_TYPE && l2Src !== this.ownL2(l2Dst)) {
      const out = this.received;
      out.sdu = pdu.subarray(1);
      out.sduType = pdu[0]!;
      return out;
    }
    this.dropped['rx-insecure-malformed']++;
    return REFUSED;
  }

  canSend(groupId: number): boolean {
    return this.ownL2(groupId) !== undefined;
  }

  current(): undefined {
    return undefined;
  }

  figures(): PdcpFigures {
    return { ptksStarted: 0, derivations: 0, cachedEngines: 0, replayWindows: 0 };
  }

  extendReplayFloors(): Promise<number> {
    return Promise.resolve(0);
  }

  settleReplayMarks(): void {}

  pruneState(): void {}

  warm(): number {
    return 0;
  }
}
