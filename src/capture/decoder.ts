/**
 * Deciphers and verifies the PDUs of a capture with the PGKs of a keylog, through the same
 * receive path as the daemon ({@link PdcpRxEntity}), so every drop reason is one the daemon
 * counts. I/O-free: records in, decoded frames out.
 *
 * Decisions (docs/captures-shim.md):
 * - One set of receive state per direction. A daemon's capture holds its own PDUs (tx) and the
 *   ones it received (rx); the same PDU may appear in both when captures of two daemons are
 *   merged. Each direction is decoded as a receiver of that direction would: a duplicate within
 *   one direction (e.g. the medium emulator's duplication) is reported as `replay`, like the
 *   daemon drops it, while a tx record and its rx twin both decode.
 * - Own-source rejection is off: tx records carry our own GMI as L2 source by definition.
 * - Expiry is judged at the record's capture time (with the daemon's default clock-skew grace),
 *   so a PDU the daemon would have dropped as `expired-pgk` shows that reason here too.
 * - Derivation rate limits are lifted (a capture is replayed at disk speed, not radio speed).
 * - Several keylog PGKs may share a group and PGK Index (PGK IDs 32 apart, or the same PGK ID
 *   from two runs): they are tried newest PGK ID first; the first that accepts wins. When none
 *   accepts, `replay` is reported if some candidate saw that COUNT verified before, else the
 *   newest candidate's reason.
 */
import type { AlgId } from '../crypto/types.js';
import { GroupKeyState } from '../keys/group-key-state.js';
import { DROP_REASONS, type DropReason } from '../pdcp/drop-reasons.js';
import { parseHeader, SDU_TYPE_NAMES, type PdcpHeader } from '../pdcp/pdu.js';
import { PdcpRxEntity, type RxEntityOptions } from '../pdcp/rx-entity.js';
import type { CastType } from '../wire/envelope.js';
import type { KeylogEntry } from './keylog.js';
import type { PcapRecord } from './pcap.js';
import { parseCaptureRecord, type CaptureDirection, type CaptureRecordErrorCode } from './record.js';

/** Why a frame was not deciphered although its record is well-formed. */
export type DecodeSkipReason =
  /** Broadcast or unicast: sl-bridge protects groupcast only; shown, not deciphered. */
  | 'not-groupcast'
  /** The record was cut by the snapshot length: the PDU is incomplete. */
  | 'truncated-capture';

export interface DecodedFrame {
  frame: number;
  /** Byte offset of the record in the pcap file. */
  offset: number;
  timeNs: bigint;
  /** Present unless the capture record itself is malformed. */
  direction?: CaptureDirection;
  castType?: CastType;
  l2SourceId?: number;
  l2DestinationId?: number;
  seq?: number;
  txTimeNs?: bigint;
  /** The clear PDCP header, when the PDU has at least 5 octets. */
  header?: PdcpHeader;
  pdu?: Uint8Array;
  outcome:
    | { kind: 'accepted'; sdu: Uint8Array; sduType: number; pgkId: number; ptkId: number; sn: number }
    | { kind: 'dropped'; reason: DropReason }
    | { kind: 'skipped'; reason: DecodeSkipReason }
    | { kind: 'malformed'; code: CaptureRecordErrorCode; message: string };
}

export interface DecodeCounters {
  frames: number;
  accepted: number;
  dropped: Record<DropReason, number>;
  skipped: Record<DecodeSkipReason, number>;
  malformed: number;
}

interface Candidate {
  readonly entry: KeylogEntry;
  readonly rx: Record<CaptureDirection, PdcpRxEntity>;
}

/** Derivation budgets that never run dry while replaying a file. */
const UNLIMITED = { burst: Number.MAX_SAFE_INTEGER, ratePerSec: Number.MAX_SAFE_INTEGER };
const RX_OPTIONS: RxEntityOptions = {
  rejectOwnSource: false,
  maxPduBytes: 0xffff,
  knownSenderDerivations: UNLIMITED,
  newSenderDerivations: UNLIMITED,
  nextPtkDerivations: UNLIMITED,
};

export function sduTypeName(sduType: number): string {
  return SDU_TYPE_NAMES[sduType] ?? `reserved-${sduType}`;
}

export class CaptureDecoder {
  readonly counters: DecodeCounters;
  /** Candidates per group, newest PGK ID first. */
  private readonly byGroup = new Map<number, Candidate[]>();
  /** Receive path for groups the keylog does not hold (gives the daemon's reason ordering). */
  private readonly keyless: Record<CaptureDirection, PdcpRxEntity>;

  constructor(entries: readonly KeylogEntry[]) {
    const dropped = {} as Record<DropReason, number>;
    for (const r of DROP_REASONS) dropped[r] = 0;
    this.counters = { frames: 0, accepted: 0, dropped, skipped: { 'not-groupcast': 0, 'truncated-capture': 0 }, malformed: 0 };
    const empty = new GroupKeyState();
    this.keyless = { tx: new PdcpRxEntity(empty, RX_OPTIONS), rx: new PdcpRxEntity(empty, RX_OPTIONS) };
    for (const entry of entries) {
      const keys = new GroupKeyState();
      const nullAlg = entry.nea === 0 || entry.nia === 0;
      keys.install({
        groupId: entry.groupId,
        gmi: 0, // our own GMI does not matter: own-source rejection is off
        nea: entry.nea as AlgId,
        nia: entry.nia,
        profile: entry.profile,
        allowNullAlgorithms: nullAlg,
        pgks: [{ pgkId: entry.pgkId, pgk: entry.pgk, expiresAtMs: entry.expiresAtMs }],
      });
      const list = this.byGroup.get(entry.groupId) ?? [];
      list.push({ entry, rx: { tx: new PdcpRxEntity(keys, RX_OPTIONS), rx: new PdcpRxEntity(keys, RX_OPTIONS) } });
      this.byGroup.set(entry.groupId, list);
    }
    for (const list of this.byGroup.values()) list.sort((a, b) => b.entry.pgkId - a.entry.pgkId);
  }

  /** Decodes one pcap record. Never throws. */
  decode(record: PcapRecord): DecodedFrame {
    this.counters.frames++;
    const base = { frame: record.frame, offset: record.offset, timeNs: record.timeNs };
    const parsed = parseCaptureRecord(record.data);
    if (!parsed.ok) {
      this.counters.malformed++;
      return { ...base, outcome: { kind: 'malformed', code: parsed.error.code, message: parsed.error.message } };
    }
    const r = parsed.value;
    const frame: DecodedFrame = {
      ...base,
      direction: r.direction,
      castType: r.castType,
      l2SourceId: r.l2SourceId,
      l2DestinationId: r.l2DestinationId,
      seq: r.seq,
      txTimeNs: r.txTimeNs,
      header: parseHeader(r.pdu),
      pdu: r.pdu,
      outcome: { kind: 'skipped', reason: 'not-groupcast' },
    };
    if (record.capturedLength < record.originalLength) {
      this.counters.skipped['truncated-capture']++;
      frame.outcome = { kind: 'skipped', reason: 'truncated-capture' };
      return frame;
    }
    if (r.castType !== 'groupcast') {
      this.counters.skipped['not-groupcast']++;
      return frame;
    }
    const nowMs = Number(record.timeNs / 1_000_000n);
    const result = this.unprotect(r.pdu, r.l2SourceId, r.l2DestinationId, r.direction, nowMs);
    if (result.ok) {
      this.counters.accepted++;
      frame.outcome = { kind: 'accepted', sdu: result.sdu, sduType: result.sduType, pgkId: result.pgkId, ptkId: result.ptkId, sn: result.sn };
    } else {
      this.counters.dropped[result.reason]++;
      frame.outcome = { kind: 'dropped', reason: result.reason };
    }
    return frame;
  }

  private unprotect(pdu: Uint8Array, src: number, dst: number, direction: CaptureDirection, nowMs: number) {
    const candidates = this.byGroup.get(dst);
    if (candidates === undefined) return this.keyless[direction].unprotect(pdu, src, dst, nowMs);
    const index = pdu.length > 0 ? pdu[0]! & 0x1f : -1;
    const matching = candidates.filter((c) => (c.entry.pgkId & 0x1f) === index);
    // No PGK of the group has this index: any of the group's entities gives the daemon's reason.
    if (matching.length === 0) return candidates[0]!.rx[direction].unprotect(pdu, src, dst, nowMs);
    let first: ReturnType<PdcpRxEntity['unprotect']> | undefined;
    let sawReplay = false;
    for (const c of matching) {
      const result = c.rx[direction].unprotect(pdu, src, dst, nowMs);
      if (result.ok) return result;
      first ??= result;
      if (result.reason === 'replay') sawReplay = true;
    }
    return sawReplay ? ({ ok: false, reason: 'replay' } as const) : first!;
  }
}
