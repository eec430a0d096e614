/**
 * Transmit entity for groupcast PDCP PDUs (docs/protocol.md 5):
 *
 *   SDU + SDU type + Group ID + now  ->  PDU, L2 source (= this UE's GMI), L2 destination (= Group ID)
 *
 * Per group it keeps one current PTK (PGK, PTK ID, engines, next SN). A new PTK is started when
 * the SNs of the current one run out (SN 0..0xFFFF, then the next PTK ID: TS 36.323 5.1.3, no TX
 * HFN on sidelink), when PGK selection moves to another PGK (newer key, guard time, expiry), when
 * the group's key material changes, and after a restart. PTK IDs come from a
 * {@link PtkIdAllocator}, which makes the reservation durable before an ID is used, so no
 * (PGK, GMI, PTK ID, SN) is ever emitted twice, also across crashes.
 */
import type { GroupKeyState, InstalledGroup, InstalledPgk } from '../keys/group-key-state.js';
import { nextTxSelectionChangeMs, selectTxPgk } from '../keys/group-key-state.js';
import { DEFAULT_MAX_SDU_BYTES, MAX_SDU_TYPE, pduLayout, sduTypeCode, type PduLayout } from './pdu.js';
import { SampleGate, StageMarks, type PdcpProfiler } from './profiler.js';
import type { PtkIdAllocator, PtkIdSpace } from './ptk-allocator.js';
import { derivePtkEngines, type PtkEngines } from './ptk-engines.js';
import { sealPdu, warmEngines } from './seal.js';
import { sourceAuthFor, type SourceAuth } from './source-auth.js';

export interface ProtectResult {
  readonly pdu: Uint8Array;
  /** L2 source ID to send with: this UE's GMI in the group. */
  readonly l2Src: number;
  /** L2 destination ID: the Group ID. */
  readonly l2Dst: number;
  readonly pgkId: number;
  readonly ptkId: number;
  readonly sn: number;
}

export type ProtectErrorCode = 'unknown-group' | 'no-usable-pgk' | 'no-signing-key';

/**
 * The sender cannot protect for a state reason (not a bad argument): no keys for the group, or
 * (source authentication `signature`) no signing key in the material.
 */
export class ProtectError extends Error {
  constructor(
    readonly code: ProtectErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ProtectError';
  }
}

export interface TxEntityOptions {
  /**
   * SNs used per PTK ID before moving to the next (1..65536, default 65536 = the whole 16-bit
   * SN space). Smaller values rotate PTKs sooner (tests use it to exercise PTK changes).
   */
  snPerPtk?: number;
  /** Largest SDU accepted (default 9000 octets, TS 38.323). */
  maxSduBytes?: number;
  /**
   * Largest PDU to emit, source-auth block included (the lower layer's bound, hw-profile
   * `pdu.max_bytes`): an SDU that would make a longer PDU is refused with a RangeError naming the
   * bound, instead of a PDU the layer below or the receivers drop. Default: no bound beyond
   * `maxSduBytes`.
   */
  maxPduBytes?: number;
  /**
   * Per-stage timing of `protect` (profiler.ts): key, encode, integrity, cipher, and the whole
   * call, for one PDU in `profiler.sampleEvery`. Without one no clock is read.
   */
  profiler?: PdcpProfiler;
}

interface TxTiming {
  readonly gate: SampleGate;
  readonly marks: StageMarks;
}

interface TxContext {
  group: InstalledGroup;
  readonly layout: PduLayout;
  /** The PGK as the current material installed it (its key value never changes within a context). */
  pgk: InstalledPgk;
  /** The group's source-auth block under this PGK, from the current material; undefined: none. */
  source: SourceAuth | undefined;
  readonly space: PtkIdSpace;
  readonly ptkId: number;
  readonly engines: PtkEngines;
  nextSn: number;
  /** Re-run PGK selection at or after this time (a PGK enters its guard time or expires). */
  recheckAtMs: number;
}

function sameKeyInputs(ctx: TxContext, group: InstalledGroup, pgk: InstalledPgk): boolean {
  const old = ctx.group;
  if (old.gmi !== group.gmi || old.profile !== group.profile || old.nea !== group.nea || old.nia !== group.nia) return false;
  if (ctx.pgk.pgkId !== pgk.pgkId) return false;
  const a = ctx.pgk.pgk;
  const b = pgk.pgk;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class PdcpTxEntity {
  readonly snPerPtk: number;
  readonly maxSduBytes: number;
  readonly maxPduBytes: number | undefined;
  /** PTKs started (each one a derivation). */
  ptksStarted = 0;
  private readonly contexts = new Map<number, TxContext>();
  private readonly timing: TxTiming | undefined;

  constructor(
    private readonly keys: GroupKeyState,
    private readonly allocator: PtkIdAllocator,
    options: TxEntityOptions = {},
  ) {
    this.snPerPtk = options.snPerPtk ?? 0x10000;
    if (!Number.isInteger(this.snPerPtk) || this.snPerPtk < 1 || this.snPerPtk > 0x10000) {
      throw new RangeError(`options.snPerPtk: expected an integer 1..65536, got ${this.snPerPtk}`);
    }
    this.maxSduBytes = options.maxSduBytes ?? DEFAULT_MAX_SDU_BYTES;
    if (!Number.isInteger(this.maxSduBytes) || this.maxSduBytes < 1) {
      throw new RangeError(`options.maxSduBytes: expected an integer >= 1, got ${this.maxSduBytes}`);
    }
    this.maxPduBytes = options.maxPduBytes;
    if (this.maxPduBytes !== undefined && (!Number.isInteger(this.maxPduBytes) || this.maxPduBytes < 1)) {
      throw new RangeError(`options.maxPduBytes: expected an integer >= 1, got ${this.maxPduBytes}`);
    }
    const profiler = options.profiler;
    this.timing = profiler && { gate: new SampleGate(profiler), marks: new StageMarks(profiler) };
  }

  /**
   * Protects one SDU for `groupId` at `nowMs`. Throws TypeError/RangeError for bad arguments,
   * {@link ProtectError} when the group has no usable key, and whatever the PTK ID store throws
   * when it cannot persist (nothing is sent then).
   */
  protect(sdu: Uint8Array, sduType: number, groupId: number, nowMs: number): ProtectResult {
    const timing = this.timing;
    const marks = timing !== undefined && timing.gate.next() ? timing.marks : undefined;
    if (marks !== undefined) marks.mark(0);
    if (!(sdu instanceof Uint8Array)) throw new TypeError('sdu: expected a Uint8Array');
    if (sdu.length < 1 || sdu.length > this.maxSduBytes) {
      throw new RangeError(`sdu: expected 1..${this.maxSduBytes} octets, got ${sdu.length}`);
    }
    if (!Number.isInteger(sduType) || sduType < 0 || sduType > MAX_SDU_TYPE) {
      throw new RangeError(`sduType: expected 0..${MAX_SDU_TYPE} (5..7 are reserved), got ${sduType}`);
    }
    if (typeof nowMs !== 'number' || Number.isNaN(nowMs)) throw new TypeError('nowMs: expected a number');
    const group = this.keys.get(groupId);
    if (group === undefined) throw new ProtectError('unknown-group', `no key material for group 0x${Number(groupId).toString(16)}`);
    let ctx = this.contexts.get(groupId);
    if (ctx === undefined || ctx.group !== group || nowMs >= ctx.recheckAtMs || ctx.nextSn >= this.snPerPtk) {
      ctx = this.refresh(group, ctx, nowMs);
    }
    const sduTypeWire = sduTypeCode(ctx.layout, sduType);
    const source = ctx.source;
    if (this.maxPduBytes !== undefined) {
      const blockBytes = source === undefined ? 0 : source.blockBytes;
      const pduBytes = sdu.length + ctx.layout.overhead + blockBytes;
      if (pduBytes > this.maxPduBytes) {
        throw new RangeError(
          `sdu: ${sdu.length} octets make a ${pduBytes}-octet PDU (overhead ${ctx.layout.overhead}, source-auth block ${blockBytes}), over maxPduBytes ${this.maxPduBytes}`,
        );
      }
    }
    const sn = ctx.nextSn++;
    if (marks !== undefined) marks.mark(1);
    const pdu = sealPdu(ctx.engines, ctx.layout, sduTypeWire, ctx.pgk.index, ctx.ptkId, sn, group.groupId, group.gmi, sdu, marks, source);
    if (marks !== undefined) recordTx(marks);
    return { pdu, l2Src: group.gmi, l2Dst: group.groupId, pgkId: ctx.pgk.pgkId, ptkId: ctx.ptkId, sn };
  }

  /**
   * Latency mode (keep-warm.ts): runs the engines of each group's current PTK over `scratch` at a
   * COUNT no PDU under them uses (seal.ts, warmEngines). Changes nothing: no SN, no PTK, no
   * counter. Returns the PTKs warmed.
   */
  warmEngines(scratch: Uint8Array): number {
    for (const ctx of this.contexts.values()) warmEngines(ctx.engines, ctx.ptkId, scratch);
    return this.contexts.size;
  }

  /** Makes the next PDU of the group start a new PTK (e.g. on operator request). */
  rotatePtk(groupId: number): void {
    const ctx = this.contexts.get(groupId);
    if (ctx !== undefined) ctx.nextSn = this.snPerPtk;
  }

  /** Current PTK of a group, for logs and tests (no key material). */
  current(groupId: number): { pgkId: number; ptkId: number; nextSn: number } | undefined {
    const ctx = this.contexts.get(groupId);
    return ctx && { pgkId: ctx.pgk.pgkId, ptkId: ctx.ptkId, nextSn: ctx.nextSn };
  }

  private refresh(group: InstalledGroup, ctx: TxContext | undefined, nowMs: number): TxContext {
    const sa = group.sourceAuth;
    if (sa?.mode === 'signature' && sa.signer === undefined) {
      throw new ProtectError('no-signing-key', `group 0x${group.groupId.toString(16)} needs signed PDUs and its key material holds no signing key`);
    }
    const guardMs = this.keys.txGuardMs;
    const spaceOf = (pgk: InstalledPgk): PtkIdSpace => ({ groupId: group.groupId, gmi: group.gmi, pgkId: pgk.pgkId, pgkTag: pgk.tag });
    const continuable = (pgk: InstalledPgk): boolean =>
      ctx !== undefined && ctx.nextSn < this.snPerPtk && sameKeyInputs(ctx, group, pgk);
    // A PGK is usable while this sender has PTK IDs left under it, or SNs left in its current PTK.
    const usable = (pgk: InstalledPgk): boolean => continuable(pgk) || !this.allocator.isExhausted(spaceOf(pgk));
    for (;;) {
      const pgk = selectTxPgk(group, nowMs, guardMs, usable);
      if (pgk === undefined) {
        this.contexts.delete(group.groupId);
        throw new ProtectError(
          'no-usable-pgk',
          `group 0x${group.groupId.toString(16)} has no PGK that is valid now and has PTK IDs left; new keys are needed`,
        );
      }
      const recheckAtMs = nextTxSelectionChangeMs(group, nowMs, guardMs);
      if (ctx !== undefined && continuable(pgk)) {
        // Same key, same PTK and SNs; the source keys may have changed with the members.
        if (ctx.group !== group) ctx.source = sourceAuthFor(group, pgk);
        ctx.group = group;
        ctx.pgk = pgk;
        ctx.recheckAtMs = recheckAtMs;
        return ctx;
      }
      const space = spaceOf(pgk);
      const ptkId = this.allocator.allocate(space);
      if (ptkId === undefined) continue; // exhausted just now: select again without it
      const engines = derivePtkEngines(group, pgk.kdfKey, group.gmi, ptkId);
      this.ptksStarted++;
      const fresh: TxContext = {
        group,
        layout: pduLayout(group.profile, group.nia !== null),
        pgk,
        source: sourceAuthFor(group, pgk),
        space,
        ptkId,
        engines,
        nextSn: 0,
        recheckAtMs,
      };
      this.contexts.set(group.groupId, fresh);
      return fresh;
    }
  }
}

/** Hands the stages of one timed protect call to its profiler (marks 0..4, see profiler.ts). */
function recordTx(marks: StageMarks): void {
  const at = marks.at;
  const p = marks.profiler;
  p.tx('key', at[1]! - at[0]!);
  p.tx('encode', at[2]! - at[1]!);
  if (marks.integrity) p.tx('integrity', at[3]! - at[2]!);
  p.tx('cipher', at[4]! - at[3]!);
  p.call?.('tx', at[4]! - at[0]!);
}
