/**
 * The groupcast PDCP data PDU of docs/protocol.md 4.1, built on TS 36.323 6.2.10 (PDCP Data PDU for
 * SLRB) and the pCR's inner identity block:
 *
 *   octet 0      SDU Type (3 MSBs) | PGK Index (5 LSBs)   TS 36.323 6.2.10, 6.3.12
 *   octets 1-2   PTK ID, big-endian                       TS 36.323 6.3.13
 *   octets 3-4   SN, big-endian (16-bit SN)               TS 36.323 6.2.10
 *   --- ciphered from here (profiles `pcr`, `ts33533`) ---
 *   octets 5-7   Group ID    \ inner identity block (pCR: anti-impersonation)
 *   octets 8-10  GMI         /
 *   ...          SDU
 *   last 4       MAC-I       (absent when integrity is off)
 *
 * Profile `lte-prose` (TS 33.303 as is): the 5-octet header, then the ciphered SDU, nothing else.
 *
 * This module is the parse/emit pair between bytes and typed records; no crypto here.
 */
import type { HierarchyProfile } from '../crypto/types.js';

export const HEADER_BYTES = 5;
export const INNER_IDENTITY_BYTES = 6;
export const MAC_I_BYTES = 4;
/** TS 38.323 4.3.1: the largest PDCP SDU is 9000 octets. */
export const DEFAULT_MAX_SDU_BYTES = 9000;

/** SDU Type values (docs/protocol.md 4.1, TS 38.323 6.3.12); 5..7 are reserved and rejected. */
export const SDU_TYPE = {
  IP: 0,
  NON_IP: 1,
  ETHERNET: 2,
  UNSTRUCTURED: 3,
  ARP: 4,
} as const;
export const SDU_TYPE_NAMES = ['ip', 'non-ip', 'ethernet', 'unstructured', 'arp'] as const;
export const MAX_SDU_TYPE = 4;

/** Not carried: the SDU type has no code in the profile, or the code is reserved. */
const NONE = -1;
/** NR (TS 38.323 6.3.12): the API's SDU types are its codes. */
const NR_TO_WIRE = [0, 1, 2, 3, 4] as const;
const NR_FROM_WIRE = [0, 1, 2, 3, 4, NONE, NONE, NONE] as const;
/**
 * LTE (TS 36.323 6.3.14), profile `lte-prose`: 000 IP, 001 ARP, 010 PC5 signalling, 011 non-IP,
 * 100-111 reserved. Ethernet and Unstructured have no LTE code (the sender refuses them); PC5
 * signalling is not a data SDU of ours (the receiver drops it as `reserved-sdu-type`).
 */
const LTE_TO_WIRE = [0, 3, NONE, NONE, 1] as const;
const LTE_FROM_WIRE = [0, 4, NONE, 1, NONE, NONE, NONE, NONE] as const;

/** The clear header of every profile. */
export interface PdcpHeader {
  /** 3 bits, 0..4 valid (5..7 reserved). */
  sduType: number;
  /** 5 bits: the 5 LSBs of the PGK ID. */
  pgkIndex: number;
  /** 16 bits. */
  ptkId: number;
  /** 16 bits. */
  sn: number;
}

/** Which optional parts a PDU carries. */
export interface PduLayout {
  /** Inner identity block (Group ID, GMI) after the header, ciphered. */
  readonly innerIdentity: boolean;
  /** 4-octet MAC-I at the end, ciphered. */
  readonly macI: boolean;
  /** Octets added around the SDU. */
  readonly overhead: number;
  /** Offset of the SDU in the PDU. */
  readonly sduOffset: number;
  /** The header's SDU Type code of each SDU type 0..4 ({@link SDU_TYPE}), -1 where the profile has none. */
  readonly sduTypeToWire: readonly number[];
  /** The SDU type (0..4) of each header code 0..7, -1 for reserved codes. */
  readonly sduTypeFromWire: readonly number[];
}

const LAYOUTS = {
  'lte-prose': {
    innerIdentity: false,
    macI: false,
    overhead: HEADER_BYTES,
    sduOffset: HEADER_BYTES,
    sduTypeToWire: LTE_TO_WIRE,
    sduTypeFromWire: LTE_FROM_WIRE,
  },
  'identity-only': {
    innerIdentity: true,
    macI: false,
    overhead: HEADER_BYTES + INNER_IDENTITY_BYTES,
    sduOffset: HEADER_BYTES + INNER_IDENTITY_BYTES,
    sduTypeToWire: NR_TO_WIRE,
    sduTypeFromWire: NR_FROM_WIRE,
  },
  full: {
    innerIdentity: true,
    macI: true,
    overhead: HEADER_BYTES + INNER_IDENTITY_BYTES + MAC_I_BYTES,
    sduOffset: HEADER_BYTES + INNER_IDENTITY_BYTES,
    sduTypeToWire: NR_TO_WIRE,
    sduTypeFromWire: NR_FROM_WIRE,
  },
} as const satisfies Record<string, PduLayout>;

/**
 * The header code of SDU type `sduType` (0..4) in `layout`; throws RangeError when the profile
 * has no code for it (lte-prose: Ethernet, Unstructured).
 */
export function sduTypeCode(layout: PduLayout, sduType: number): number {
  const code = layout.sduTypeToWire[sduType];
  if (code === undefined || code < 0) {
    throw new RangeError(`sduType: ${SDU_TYPE_NAMES[sduType] ?? sduType} has no SDU Type code in this profile (lte-prose carries ip, non-ip and arp)`);
  }
  return code;
}

/** The layout of a profile with integrity on (`integrity`) or off. */
export function pduLayout(profile: HierarchyProfile, integrity: boolean): PduLayout {
  if (profile === 'lte-prose') return LAYOUTS['lte-prose'];
  return integrity ? LAYOUTS.full : LAYOUTS['identity-only'];
}

/** COUNT = PTK ID << 16 | SN (docs/protocol.md 4.2, TS 36.323 5.6.1), as an unsigned 32-bit number. */
export function countOf(ptkId: number, sn: number): number {
  return ptkId * 0x10000 + sn;
}

function checkField(value: number, max: number, name: string): void {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`${name}: expected an integer, got ${String(value)}`);
  if (value < 0 || value > max) throw new RangeError(`${name}: expected 0..${max}, got ${value}`);
}

/** Writes the 5-octet header at `offset` of `out`. Fields are range-checked (reserved SDU types included). */
export function writeHeader(out: Uint8Array, offset: number, header: PdcpHeader): void {
  checkField(header.sduType, 7, 'header.sduType');
  checkField(header.pgkIndex, 31, 'header.pgkIndex');
  checkField(header.ptkId, 0xffff, 'header.ptkId');
  checkField(header.sn, 0xffff, 'header.sn');
  out[offset] = (header.sduType << 5) | header.pgkIndex;
  out[offset + 1] = header.ptkId >>> 8;
  out[offset + 2] = header.ptkId & 0xff;
  out[offset + 3] = header.sn >>> 8;
  out[offset + 4] = header.sn & 0xff;
}

/** The 5-octet header alone. */
export function emitHeader(header: PdcpHeader): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES);
  writeHeader(out, 0, header);
  return out;
}

/** Reads the header; undefined when fewer than 5 octets. Reserved SDU types are reported as is. */
export function parseHeader(pdu: Uint8Array): PdcpHeader | undefined {
  if (pdu.length < HEADER_BYTES) return undefined;
  const b0 = pdu[0]!;
  return {
    sduType: b0 >>> 5,
    pgkIndex: b0 & 0x1f,
    ptkId: (pdu[1]! << 8) | pdu[2]!,
    sn: (pdu[3]! << 8) | pdu[4]!,
  };
}

/** Writes a 24-bit big-endian value. */
export function write24(out: Uint8Array, offset: number, value: number): void {
  out[offset] = (value >>> 16) & 0xff;
  out[offset + 1] = (value >>> 8) & 0xff;
  out[offset + 2] = value & 0xff;
}

export function read24(buf: Uint8Array, offset: number): number {
  return (buf[offset]! << 16) | (buf[offset + 1]! << 8) | buf[offset + 2]!;
}

/**
 * A PDU split into its parts without deciphering (for `pdu decode` and captures): the header
 * and the ciphered remainder, whose inner structure is only visible after deciphering.
 */
export interface DecodedPdu {
  header: PdcpHeader;
  /** Everything after the header (ciphered: identity block, SDU, MAC-I as the layout says). */
  ciphered: Uint8Array;
  /** SDU length implied by the layout, or a negative number when the PDU is too short for it. */
  sduLength: number;
}

export function decodePdu(pdu: Uint8Array, layout: PduLayout): DecodedPdu | undefined {
  const header = parseHeader(pdu);
  if (header === undefined) return undefined;
  return { header, ciphered: pdu.subarray(HEADER_BYTES), sduLength: pdu.length - layout.overhead };
}
