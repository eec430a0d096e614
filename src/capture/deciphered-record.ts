/**
 * The records `sl-bridge pdu decode --write-pcap FILE` writes: one per frame of the capture it
 * decoded that carried an sl-bridge envelope, with the SDU in clear when the PDU was deciphered,
 * so that Wireshark (bridge/wireshark/sl-bridge.lua) shows the plaintext field by field.
 * Parse/emit pair, no I/O. docs/captures-shim.md documents the layout.
 *
 * Same container and link type as a daemon's capture (LINKTYPE_USER0, record.ts octets 2-23 are
 * the same envelope fields); octet 0 = 2 tells the two record kinds apart, so one dissector and
 * one preference serve both, and `pdu decode` refuses such a file by name instead of "deciphering"
 * plaintext. All multi-octet fields big-endian:
 *
 *   octet 0       record format = 2 (deciphered record; 1 = the capture record of record.ts)
 *   octet 1       header length H = 40 + R; the body starts there
 *   octets 2-10   direction, cast type, L2 source ID, L2 destination ID, flags: as record.ts,
 *                 plus flags bit 1 = octets 24-28 hold the PDCP header (the PDU had 5 octets)
 *   octet 11      result: 0 deciphered, MAC-I verified; 1 deciphered, identity block verified
 *                 (integrity off); 2 deciphered, nothing to verify (lte-prose); 3 dropped;
 *                 4 not deciphered (not groupcast, or cut by the snapshot length)
 *   octets 12-23  envelope seq and tx_time_ns: as record.ts
 *   octets 24-28  the PDCP header as captured (SDU Type | PGK Index, PTK ID, SN), else 0
 *   octet 29      body content: 0 opaque octets, 1 a RangingMessage of proto/bridge.proto
 *   octet 30      results 0-2: the SDU type as deciphered, TS 38.323 code (0 IP, 1 non-IP,
 *                 2 Ethernet, 3 unstructured, 4 ARP; profile lte-prose's header carries LTE
 *                 codes, so octet 24 alone can mislead); else 0
 *   octet 31      R, the length of the reason at octet 40
 *   octets 32-35  PGK ID that deciphered the PDU (results 0-2), else 0
 *   octets 36-39  frame number of the record in the capture that was decoded
 *   octets 40-    the reason, R octets of ASCII: the drop reason (result 3, the daemon's codes of
 *                 docs/pdcp.md) or the skip reason (result 4); empty for results 0-2
 *   octets H-     results 0-2: the SDU in clear; results 3-4: the PDU as captured (ciphered)
 *
 * Frames with no envelope to show (malformed records, interface-capture traffic that is not
 * sl-bridge's) are not written; the frame number at octets 36-39 says where each record came from.
 * Interface captures' IP addresses and UDP ports are not carried (`pdu decode` prints them).
 */
import { HEADER_BYTES, MAX_SDU_TYPE } from '../pdcp/pdu.js';
import type { CastType } from '../wire/envelope.js';
import type { DecodedFrame, Verification } from './decoder.js';
import {
  DECIPHERED_RECORD_FORMAT,
  parseEnvelopeFields,
  recordError,
  writeEnvelopeFields,
  type CaptureDirection,
  type CaptureRecordError,
} from './record.js';
import { recognizeSdu } from './sdu-content.js';

export const DECIPHERED_FIXED_BYTES = 40;
export const FLAG_PDCP_HEADER = 0x02;
/** Longest reason that keeps the header length within its octet. */
export const MAX_REASON_BYTES = 255 - DECIPHERED_FIXED_BYTES;

/** Octet 11, in code order. */
export const DECIPHER_RESULTS = ['verified-mac-i', 'verified-identity-block', 'unverified', 'dropped', 'not-deciphered'] as const;
export type DecipherResult = (typeof DECIPHER_RESULTS)[number];
/** Octet 29, in code order. */
export const BODY_CONTENTS = ['opaque', 'ranging'] as const;
export type BodyContent = (typeof BODY_CONTENTS)[number];

const RESULT_OF_VERIFICATION: Readonly<Record<Verification, DecipherResult>> = {
  'mac-i': 'verified-mac-i',
  'identity-block': 'verified-identity-block',
  none: 'unverified',
};

export interface DecipheredRecord {
  /** Frame number in the capture that was decoded. */
  sourceFrame: number;
  direction: CaptureDirection;
  castType: CastType;
  l2SourceId: number;
  l2DestinationId: number;
  seq: number | undefined;
  txTimeNs: bigint | undefined;
  /** The 5-octet PDCP header as captured, when the PDU had one. */
  pdcpHeader: Uint8Array | undefined;
  result: DecipherResult;
  /** Drop or skip reason; empty when deciphered. ASCII, at most {@link MAX_REASON_BYTES}. */
  reason: string;
  /** The PGK ID that deciphered the PDU; 0 when not deciphered. */
  pgkId: number;
  /** Deciphered: the SDU type, TS 38.323 code 0..4 (whatever the profile's header code); else 0. */
  sduType: number;
  content: BodyContent;
  /** Deciphered: the SDU in clear; otherwise the PDU as captured. */
  body: Uint8Array;
}

/** True for a deciphered result (the body is an SDU in clear). */
export function isDeciphered(result: DecipherResult): boolean {
  return result === 'verified-mac-i' || result === 'verified-identity-block' || result === 'unverified';
}

/** The record for one decoded frame; undefined when the frame has no envelope to show. */
export function decipheredRecordOf(f: DecodedFrame): DecipheredRecord | undefined {
  if (f.pdu === undefined || f.direction === undefined || f.castType === undefined || f.l2SourceId === undefined || f.l2DestinationId === undefined) {
    return undefined;
  }
  const o = f.outcome;
  if (o.kind === 'malformed') return undefined;
  const common = {
    sourceFrame: f.frame,
    direction: f.direction,
    castType: f.castType,
    l2SourceId: f.l2SourceId,
    l2DestinationId: f.l2DestinationId,
    seq: f.seq,
    txTimeNs: f.txTimeNs,
    pdcpHeader: f.pdu.length >= HEADER_BYTES ? f.pdu.subarray(0, HEADER_BYTES) : undefined,
  };
  if (o.kind === 'accepted') {
    return {
      ...common,
      result: RESULT_OF_VERIFICATION[f.verifiedBy ?? 'none'],
      reason: '',
      pgkId: o.pgkId,
      sduType: o.sduType,
      content: recognizeSdu(o.sduType, o.sdu).kind,
      body: o.sdu,
    };
  }
  return { ...common, result: o.kind === 'dropped' ? 'dropped' : 'not-deciphered', reason: o.reason, pgkId: 0, sduType: 0, content: 'opaque', body: f.pdu };
}

/** Octets the record of `r` takes. */
export function decipheredRecordLength(r: DecipheredRecord): number {
  return DECIPHERED_FIXED_BYTES + r.reason.length + r.body.length;
}

/**
 * Writes the record at `offset` of `out` (which must have {@link decipheredRecordLength} octets
 * there). Returns false, writing nothing, when a field is out of range; never throws for such input.
 */
export function writeDecipheredRecord(out: Uint8Array, view: DataView, offset: number, r: DecipheredRecord): boolean {
  const result = DECIPHER_RESULTS.indexOf(r.result);
  const content = BODY_CONTENTS.indexOf(r.content);
  const reason = r.reason;
  if (
    result < 0 ||
    content < 0 ||
    reason.length > MAX_REASON_BYTES ||
    !/^[\x20-\x7e]*$/.test(reason) ||
    !Number.isInteger(r.pgkId) || r.pgkId < 0 || r.pgkId > 0xffffffff ||
    !Number.isInteger(r.sduType) || r.sduType < 0 || r.sduType > MAX_SDU_TYPE ||
    !Number.isInteger(r.sourceFrame) || r.sourceFrame < 0 || r.sourceFrame > 0xffffffff ||
    (r.pdcpHeader !== undefined && r.pdcpHeader.length !== HEADER_BYTES) ||
    !(r.body instanceof Uint8Array)
  ) {
    return false;
  }
  if (!writeEnvelopeFields(out, view, offset, r.direction, r)) return false;
  const headerLength = DECIPHERED_FIXED_BYTES + reason.length;
  out[offset] = DECIPHERED_RECORD_FORMAT;
  out[offset + 1] = headerLength;
  if (r.pdcpHeader !== undefined) {
    out[offset + 10] = out[offset + 10]! | FLAG_PDCP_HEADER;
    out.set(r.pdcpHeader, offset + 24);
  } else {
    out.fill(0, offset + 24, offset + 24 + HEADER_BYTES);
  }
  out[offset + 11] = result;
  out[offset + 29] = content;
  out[offset + 30] = r.sduType;
  out[offset + 31] = reason.length;
  view.setUint32(offset + 32, r.pgkId, false);
  view.setUint32(offset + 36, r.sourceFrame, false);
  for (let i = 0; i < reason.length; i++) out[offset + DECIPHERED_FIXED_BYTES + i] = reason.charCodeAt(i);
  out.set(r.body, offset + headerLength);
  return true;
}

/** The record payload for one frame (allocating; the pcap writer uses {@link writeDecipheredRecord}). */
export function emitDecipheredRecord(r: DecipheredRecord): Uint8Array {
  const out = new Uint8Array(decipheredRecordLength(r));
  if (!writeDecipheredRecord(out, new DataView(out.buffer), 0, r)) {
    throw new RangeError('deciphered record: a field is out of range (L2 IDs 24-bit, reason printable ASCII up to 215 octets, PGK ID and frame uint32, SDU type 0..4, header 5 octets)');
  }
  return out;
}

export type DecipheredRecordResult = { readonly ok: true; readonly value: DecipheredRecord } | { readonly ok: false; readonly error: CaptureRecordError };

/** Parses one record payload. Never throws. `body` and `pdcpHeader` are views into `data`. */
export function parseDecipheredRecord(data: Uint8Array): DecipheredRecordResult {
  if (data.length < DECIPHERED_FIXED_BYTES) return recordError('truncated', data.length, `deciphered record truncated: ${data.length} of ${DECIPHERED_FIXED_BYTES} octets`);
  if (data[0] !== DECIPHERED_RECORD_FORMAT) return recordError('unknown-version', 0, `record format ${data[0]} is not ${DECIPHERED_RECORD_FORMAT} (a deciphered record)`);
  const reasonLength = data[31]!;
  const headerLength = data[1]!;
  if (headerLength < DECIPHERED_FIXED_BYTES + reasonLength) {
    return recordError('out-of-range', 1, `header length ${headerLength} is below the ${DECIPHERED_FIXED_BYTES} octets plus the ${reasonLength}-octet reason`);
  }
  if (data.length < headerLength) return recordError('truncated', data.length, `deciphered record truncated: ${data.length} of ${headerLength} header octets`);
  const fields = parseEnvelopeFields(data);
  if (!fields.ok) return fields;
  const result = DECIPHER_RESULTS[data[11]!];
  if (result === undefined) return recordError('out-of-range', 11, `result ${data[11]} is not 0..${DECIPHER_RESULTS.length - 1}`);
  const content = BODY_CONTENTS[data[29]!];
  if (content === undefined) return recordError('out-of-range', 29, `body content ${data[29]} is not 0..${BODY_CONTENTS.length - 1}`);
  const sduType = data[30]!;
  if (sduType > MAX_SDU_TYPE) return recordError('out-of-range', 30, `SDU type ${sduType} is not 0..${MAX_SDU_TYPE}`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return {
    ok: true,
    value: {
      sourceFrame: view.getUint32(36, false),
      ...fields.value,
      pdcpHeader: (data[10]! & FLAG_PDCP_HEADER) !== 0 ? data.subarray(24, 24 + HEADER_BYTES) : undefined,
      result,
      reason: String.fromCharCode(...data.subarray(DECIPHERED_FIXED_BYTES, DECIPHERED_FIXED_BYTES + reasonLength)),
      pgkId: view.getUint32(32, false),
      sduType,
      content,
      body: data.subarray(headerLength),
    },
  };
}
