/**
 * `PduEnvelope` of proto/bridge.proto: one PDCP PDU with its Layer-2 IDs, cast type, transmit time
 * and per-sender sequence number, as it crosses the stack-side transport. Parse/emit pair; no I/O.
 */
import {
  Writer,
  parseFields,
  readBoundedBytes,
  readEnum,
  readFixed64,
  readUint24,
  writeBytes,
  writeFixed64,
  writeUint32,
  MAX_UINT24,
  readUint32,
} from './pb.js';
import { decoded, wireError, type Decoded } from './result.js';

export const CAST_TYPES = ['broadcast', 'groupcast', 'unicast'] as const;
export type CastType = (typeof CAST_TYPES)[number];

/** proto enum CastType: 0 is UNSPECIFIED (malformed), then broadcast, groupcast, unicast. */
const CAST_TYPE_CODE: Readonly<Record<CastType, number>> = { broadcast: 1, groupcast: 2, unicast: 3 };

/**
 * A sanity cap on the PDU field when the caller gives no limit: transports pass the hw-profile's
 * `pdu.max_bytes` instead.
 */
export const ENVELOPE_MAX_PDU_BYTES = 65_535;

export interface PduEnvelope {
  /** 24-bit Layer-2 source ID (the sender's GMI for groupcast). */
  l2SourceId: number;
  /** 24-bit Layer-2 destination ID (the Group ID for groupcast). */
  l2DestinationId: number;
  castType: CastType;
  /** The PDCP PDU (never empty). */
  pdu: Uint8Array;
  /** Unix epoch nanoseconds at which the sender handed the envelope to its transport. */
  txTimeNs: bigint;
  /** Per-sender transport sequence number, uint32, wrapping. */
  seq: number;
}

/** What a sender gives its stack transport: the transport adds `txTimeNs` and `seq`. */
export type OutgoingPdu = Pick<PduEnvelope, 'l2SourceId' | 'l2DestinationId' | 'castType' | 'pdu'>;

const M = 'PduEnvelope';
const F_SRC = 'PduEnvelope.l2_source_id';
const F_DST = 'PduEnvelope.l2_destination_id';
const F_CAST = 'PduEnvelope.cast_type';
const F_PDU = 'PduEnvelope.pdu';
const F_TX = 'PduEnvelope.tx_time_ns';
const F_SEQ = 'PduEnvelope.seq';

/**
 * Encodes an envelope. Throws RangeError/TypeError naming the field when the record itself is
 * invalid (a bug in the caller, not bad input from outside).
 */
export function encodePduEnvelope(e: PduEnvelope): Uint8Array {
  checkUint24(e.l2SourceId, 'l2SourceId');
  checkUint24(e.l2DestinationId, 'l2DestinationId');
  const cast = CAST_TYPE_CODE[e.castType];
  if (cast === undefined) throw new RangeError(`castType: expected one of ${CAST_TYPES.join(', ')}, got ${String(e.castType)}`);
  if (!(e.pdu instanceof Uint8Array) || e.pdu.length === 0) throw new TypeError('pdu: expected a non-empty Uint8Array');
  if (typeof e.txTimeNs !== 'bigint' || e.txTimeNs < 0n || e.txTimeNs >= 1n << 64n) {
    throw new RangeError('txTimeNs: expected a bigint from 0 to 2^64-1');
  }
  if (!Number.isInteger(e.seq) || e.seq < 0 || e.seq > 0xffff_ffff) throw new RangeError('seq: expected a uint32');
  const w = Writer.create();
  writeUint32(w, 1, e.l2SourceId);
  writeUint32(w, 2, e.l2DestinationId);
  writeUint32(w, 3, cast);
  writeBytes(w, 4, e.pdu);
  writeFixed64(w, 5, e.txTimeNs);
  writeUint32(w, 6, e.seq);
  return w.finish();
}

/**
 * Decodes an envelope received from outside. Never throws. The returned `pdu` is a view into
 * `bytes` (no copy). `maxPduBytes` bounds the PDU field (hw-profile `pdu.max_bytes`).
 */
export function decodePduEnvelope(bytes: Uint8Array, maxPduBytes = ENVELOPE_MAX_PDU_BYTES): Decoded<PduEnvelope> {
  let l2SourceId = 0;
  let l2DestinationId = 0;
  let cast = 0;
  let pdu: Uint8Array | undefined;
  let txTimeNs = 0n;
  let seq = 0;
  const parsed = parseFields(bytes, M, (r, field, wt) => {
    switch (field) {
      case 1:
        l2SourceId = readUint24(r, wt, F_SRC);
        return true;
      case 2:
        l2DestinationId = readUint24(r, wt, F_DST);
        return true;
      case 3:
        cast = readEnum(r, wt, F_CAST, 3);
        return true;
      case 4:
        pdu = readBoundedBytes(r, wt, F_PDU, maxPduBytes);
        return true;
      case 5:
        txTimeNs = readFixed64(r, wt, F_TX);
        return true;
      case 6:
        seq = readUint32(r, wt, F_SEQ);
        return true;
      default:
        return false;
    }
  });
  if (!parsed.ok) return parsed;
  if (cast === 0) return wireError('missing-field', F_CAST, `${F_CAST}: not set`);
  if (pdu === undefined || pdu.length === 0) return wireError('missing-field', F_PDU, `${F_PDU}: empty`);
  return decoded({ l2SourceId, l2DestinationId, castType: CAST_TYPES[cast - 1]!, pdu, txTimeNs, seq });
}

function checkUint24(v: number, name: string): void {
  if (!Number.isInteger(v) || v < 0 || v > MAX_UINT24) throw new RangeError(`${name}: expected a 24-bit ID (0..0xFFFFFF), got ${v}`);
}
