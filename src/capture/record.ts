/**
 * The payload of one sl-bridge pcap record: a fixed 24-octet capture header carrying every field
 * of the PduEnvelope (proto/bridge.proto) plus the direction, then the PDCP PDU itself. Parse/emit
 * pair, no I/O. docs/captures-shim.md documents the layout; bridge/wireshark/sl-bridge.lua
 * dissects it.
 *
 *   octet 0       version = 1 (2 marks the deciphered records of deciphered-record.ts, which
 *                 share octets 2-23 with this layout)
 *   octet 1       header length in octets (24); the PDU starts there (later versions may append
 *                 fields before the PDU and raise this number; readers skip to it)
 *   octet 2       direction: 0 = tx (the daemon handed it to its stack transport),
 *                            1 = rx (the daemon received it from its stack transport)
 *   octet 3       cast type: 1 broadcast, 2 groupcast, 3 unicast (proto CastType codes)
 *   octets 4-6    L2 source ID, big-endian (the sender's GMI for groupcast)
 *   octets 7-9    L2 destination ID, big-endian (the Group ID for groupcast)
 *   octet 10      flags: bit 0 = `seq` and `tx_time_ns` are known (always for rx; for tx only when
 *                 the caller had them); other bits 0
 *   octet 11      reserved, 0
 *   octets 12-15  envelope seq, big-endian (0 when unknown)
 *   octets 16-23  envelope tx_time_ns, big-endian (0 when unknown)
 *   octets 24-    the PDCP PDU (PduEnvelope.pdu), header in clear, the rest ciphered
 *
 * A fixed binary header rather than the protobuf envelope so that the Lua dissector reads plain
 * offsets, and so that writing a record costs a few stores and one copy of the PDU.
 */
import type { CastType, OutgoingPdu, PduEnvelope } from '../wire/envelope.js';

export const CAPTURE_HEADER_VERSION = 1;
export const CAPTURE_HEADER_BYTES = 24;
export const FLAG_ENVELOPE_FIELDS = 0x01;
/**
 * Octet 0 of the records `pdu decode --write-pcap` writes (deciphered-record.ts): the same
 * envelope fields, then the decode result and the SDU in clear. This reader refuses them by name.
 */
export const DECIPHERED_RECORD_FORMAT = 2;

export type CaptureDirection = 'tx' | 'rx';
export const DIRECTION_CODE: Readonly<Record<CaptureDirection, number>> = { tx: 0, rx: 1 };
const DIRECTIONS: readonly CaptureDirection[] = ['tx', 'rx'];
const CAST_CODE: Readonly<Record<CastType, number>> = { broadcast: 1, groupcast: 2, unicast: 3 };
const CASTS: readonly CastType[] = ['broadcast', 'groupcast', 'unicast'];

/** One captured PDU with its envelope fields. */
export interface CaptureRecord {
  direction: CaptureDirection;
  castType: CastType;
  l2SourceId: number;
  l2DestinationId: number;
  /** Envelope seq and tx time, when the writer knew them. */
  seq: number | undefined;
  txTimeNs: bigint | undefined;
  /** The PDCP PDU (a view into the record). */
  pdu: Uint8Array;
}

export type CaptureRecordErrorCode = 'truncated' | 'unknown-version' | 'out-of-range' | 'empty-pdu';

export interface CaptureRecordError {
  readonly code: CaptureRecordErrorCode;
  /** Octet offset inside the record payload where the problem is. */
  readonly at: number;
  readonly message: string;
}

export type CaptureRecordResult = { readonly ok: true; readonly value: CaptureRecord } | { readonly ok: false; readonly error: CaptureRecordError };

/**
 * The envelope fields octets 2-23 carry (the same in the deciphered records of
 * deciphered-record.ts): a PduEnvelope, an OutgoingPdu (seq and tx time unknown), or a record
 * read back.
 */
export interface EnvelopeFields {
  castType: CastType;
  l2SourceId: number;
  l2DestinationId: number;
  seq?: number | undefined;
  txTimeNs?: bigint | undefined;
}

/** True when `seq` and `txTimeNs` are both there (a full PduEnvelope). */
function hasEnvelopeFields(e: EnvelopeFields): e is EnvelopeFields & { seq: number; txTimeNs: bigint } {
  return typeof e.txTimeNs === 'bigint' && typeof e.seq === 'number';
}

/**
 * Writes octets 2-23 (direction, cast type, L2 IDs, flags with bit 0, seq, tx time) at `offset`;
 * octets 0, 1 and 11 and any further flag bits are the caller's. Returns false, writing nothing,
 * when a field is out of range.
 */
export function writeEnvelopeFields(out: Uint8Array, view: DataView, offset: number, direction: CaptureDirection, e: EnvelopeFields): boolean {
  const src = e.l2SourceId;
  const dst = e.l2DestinationId;
  const cast = CAST_CODE[e.castType];
  if ((src & 0xffffff) !== src || (dst & 0xffffff) !== dst || cast === undefined) return false;
  const full = hasEnvelopeFields(e);
  out[offset + 2] = direction === 'rx' ? 1 : 0;
  out[offset + 3] = cast;
  out[offset + 4] = src >>> 16;
  out[offset + 5] = (src >>> 8) & 0xff;
  out[offset + 6] = src & 0xff;
  out[offset + 7] = dst >>> 16;
  out[offset + 8] = (dst >>> 8) & 0xff;
  out[offset + 9] = dst & 0xff;
  out[offset + 10] = full ? FLAG_ENVELOPE_FIELDS : 0;
  if (full) {
    view.setUint32(offset + 12, e.seq >>> 0, false);
    view.setBigUint64(offset + 16, BigInt.asUintN(64, e.txTimeNs), false);
  } else {
    view.setUint32(offset + 12, 0, false);
    view.setBigUint64(offset + 16, 0n, false);
  }
  return true;
}

/**
 * Writes the capture header and the PDU at `offset` of `out` (which must have
 * CAPTURE_HEADER_BYTES + pdu.length octets there). Returns false, writing nothing, when a field is
 * out of range (the caller counts the record as invalid); never throws for such input.
 */
export function writeCaptureRecord(
  out: Uint8Array,
  view: DataView,
  offset: number,
  direction: CaptureDirection,
  envelope: OutgoingPdu | PduEnvelope,
): boolean {
  const pdu = envelope.pdu;
  if (!(pdu instanceof Uint8Array) || !writeEnvelopeFields(out, view, offset, direction, envelope)) return false;
  out[offset] = CAPTURE_HEADER_VERSION;
  out[offset + 1] = CAPTURE_HEADER_BYTES;
  out[offset + 11] = 0;
  out.set(pdu, offset + CAPTURE_HEADER_BYTES);
  return true;
}

/** The record payload for one PDU (allocating; the writer uses {@link writeCaptureRecord}). */
export function emitCaptureRecord(direction: CaptureDirection, envelope: OutgoingPdu | PduEnvelope): Uint8Array {
  const out = new Uint8Array(CAPTURE_HEADER_BYTES + envelope.pdu.length);
  if (!writeCaptureRecord(out, new DataView(out.buffer), 0, direction, envelope)) {
    throw new RangeError('envelope: L2 IDs must be 24-bit, castType one of broadcast/groupcast/unicast, pdu a Uint8Array');
  }
  return out;
}

/** The failure value of this file's parsers (and deciphered-record.ts's). */
export function recordError(code: CaptureRecordErrorCode, at: number, message: string): { readonly ok: false; readonly error: CaptureRecordError } {
  return { ok: false, error: { code, at, message } };
}

export type EnvelopeFieldsResult = { readonly ok: true; readonly value: Omit<CaptureRecord, 'pdu'> } | { readonly ok: false; readonly error: CaptureRecordError };

/** Reads octets 2-23 of a record of at least 24 octets. Never throws. */
export function parseEnvelopeFields(data: Uint8Array): EnvelopeFieldsResult {
  const direction = DIRECTIONS[data[2]!];
  if (direction === undefined) return recordError('out-of-range', 2, `direction ${data[2]} is neither 0 (tx) nor 1 (rx)`);
  const castType = CASTS[data[3]! - 1];
  if (castType === undefined) return recordError('out-of-range', 3, `cast type ${data[3]} is not 1 (broadcast), 2 (groupcast) or 3 (unicast)`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const full = (data[10]! & FLAG_ENVELOPE_FIELDS) !== 0;
  return {
    ok: true,
    value: {
      direction,
      castType,
      l2SourceId: (data[4]! << 16) | (data[5]! << 8) | data[6]!,
      l2DestinationId: (data[7]! << 16) | (data[8]! << 8) | data[9]!,
      seq: full ? view.getUint32(12, false) : undefined,
      txTimeNs: full ? view.getBigUint64(16, false) : undefined,
    },
  };
}

/** Parses one record payload. Never throws. `pdu` is a view into `data`. */
export function parseCaptureRecord(data: Uint8Array): CaptureRecordResult {
  if (data.length < 2) return recordError('truncated', data.length, `capture header truncated: ${data.length} octets`);
  const version = data[0]!;
  const headerLength = data[1]!;
  if (version === DECIPHERED_RECORD_FORMAT) {
    return recordError('unknown-version', 0, 'this is a deciphered record written by `pdu decode --write-pcap` (already in clear): open it with the Wireshark dissector');
  }
  if (version !== CAPTURE_HEADER_VERSION) {
    return recordError('unknown-version', 0, `capture header version ${version} is not supported (this reader knows version ${CAPTURE_HEADER_VERSION})`);
  }
  if (headerLength < CAPTURE_HEADER_BYTES) {
    return recordError('out-of-range', 1, `capture header length ${headerLength} is below the ${CAPTURE_HEADER_BYTES} octets of version 1`);
  }
  if (data.length < headerLength) {
    return recordError('truncated', data.length, `capture header truncated: ${data.length} of ${headerLength} octets`);
  }
  const fields = parseEnvelopeFields(data);
  if (!fields.ok) return fields;
  const pdu = data.subarray(headerLength);
  if (pdu.length === 0) return recordError('empty-pdu', headerLength, 'the record holds no PDU after its capture header');
  return { ok: true, value: { ...fields.value, pdu } };
}
