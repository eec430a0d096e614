/**
 * Stateless protection of one PDU with given engines (docs/protocol.md 4.2):
 *
 *   COUNT      = PTK ID << 16 | SN, BEARER = 0, DIRECTION = 0
 *   MAC-I      = NIA(PIK, COUNT, 0, 0, header || inner identity block || SDU [|| source-auth block])
 *   ciphertext = NEA(PEK, COUNT, 0, 0) over inner identity block || SDU [|| source-auth block] || MAC-I
 *
 * The source-auth block (source-auth.ts) is there only in groups with source authentication.
 *
 * The entities (tx-entity.ts, rx-entity.ts) choose keys, PTK IDs and SNs and check replay; these
 * two functions only do the bytes. The `pdu` CLI calls them directly with hand-given fields.
 */
import type { PtkEngines } from './ptk-engines.js';
import type { StageMarks } from './profiler.js';
import type { SourceAuth, SourceFailure } from './source-auth.js';
import { HEADER_BYTES, MAC_I_BYTES, countOf, read24, write24, type PduLayout } from './pdu.js';

const BEARER = 0;
const DIRECTION = 0;

/**
 * Builds the protected PDU. Arguments are trusted (the transmit entity and the CLI validate
 * them); `sduType`, `pgkIndex`, `ptkId`, `sn` must already be in range. `marks` (profiling,
 * profiler.ts) receives the clock at the end of encode (2), integrity (3, source-auth block
 * included) and cipher (4). `source` appends the group's source-auth block after the SDU.
 */
export function sealPdu(
  engines: PtkEngines,
  layout: PduLayout,
  sduType: number,
  pgkIndex: number,
  ptkId: number,
  sn: number,
  groupId: number,
  gmi: number,
  sdu: Uint8Array,
  marks?: StageMarks,
  source?: SourceAuth,
): Uint8Array {
  const count = countOf(ptkId, sn);
  const blockBytes = source === undefined ? 0 : source.blockBytes;
  // Every octet is written below; allocUnsafe takes small PDUs from Node's buffer pool, which
  // is several times cheaper than a fresh off-heap Uint8Array per packet.
  const pdu: Uint8Array = Buffer.allocUnsafe(sdu.length + layout.overhead + blockBytes);
  // TS 36.323 6.2.10 header.
  pdu[0] = (sduType << 5) | pgkIndex;
  pdu[1] = ptkId >>> 8;
  pdu[2] = ptkId & 0xff;
  pdu[3] = sn >>> 8;
  pdu[4] = sn & 0xff;
  if (layout.innerIdentity) {
    // pCR: Group ID and GMI inside the ciphered part, so no member can pose as another.
    write24(pdu, HEADER_BYTES, groupId);
    write24(pdu, HEADER_BYTES + 3, gmi);
  }
  pdu.set(sdu, layout.sduOffset);
  if (marks !== undefined) marks.mark(2);
  if (source !== undefined) source.seal(pdu, layout.sduOffset + sdu.length);
  if (layout.macI) {
    const integrity = engines.integrity;
    if (integrity === null) throw new TypeError('engines.integrity: the layout has a MAC-I but no integrity engine was given');
    const macAt = pdu.length - MAC_I_BYTES;
    const mac = integrity.mac(count, BEARER, DIRECTION, pdu.subarray(0, macAt));
    pdu[macAt] = mac >>> 24;
    pdu[macAt + 1] = (mac >>> 16) & 0xff;
    pdu[macAt + 2] = (mac >>> 8) & 0xff;
    pdu[macAt + 3] = mac & 0xff;
    if (marks !== undefined) marks.mark(3);
  }
  // NR style (TS 38.323 5.8): the MAC-I is ciphered too. In place.
  const body = pdu.subarray(HEADER_BYTES);
  engines.cipher.apply(count, BEARER, DIRECTION, body, undefined, body);
  if (marks !== undefined) {
    if (!layout.macI) marks.at[3] = marks.at[2]!;
    marks.integrity = layout.macI;
    marks.mark(4);
  }
  return pdu;
}

export type OpenFailure = 'mac-failure' | 'wrong-group' | 'identity-mismatch' | SourceFailure;

/**
 * Deciphers and verifies a PDU whose header was already checked (length fits `layout`, COUNT
 * from its PTK ID and SN). Returns the SDU (a view into a new buffer; `pdu` is not modified) or
 * why it fails. `l2Src` / `l2Dst` are the sender GMI and Group ID the layer below reported; the
 * inner identity block must equal them. With `source`, the source-auth block before the MAC-I is
 * checked after them and cut off the SDU. `marks` (profiling, profiler.ts) receives the clock at
 * the end of cipher (3) and integrity (4, source check included).
 */
export function openPdu(
  engines: PtkEngines,
  layout: PduLayout,
  pdu: Uint8Array,
  count: number,
  l2Src: number,
  l2Dst: number,
  marks?: StageMarks,
  source?: SourceAuth,
): Uint8Array | OpenFailure {
  // Fully written below (header copy + deciphering of the rest); pooled, see sealPdu.
  const plain: Uint8Array = Buffer.allocUnsafe(pdu.length);
  plain[0] = pdu[0]!;
  plain[1] = pdu[1]!;
  plain[2] = pdu[2]!;
  plain[3] = pdu[3]!;
  plain[4] = pdu[4]!;
  engines.cipher.apply(count, BEARER, DIRECTION, pdu.subarray(HEADER_BYTES), undefined, plain.subarray(HEADER_BYTES));
  if (marks !== undefined) marks.mark(3);
  let sduEnd = plain.length;
  if (layout.macI) {
    const integrity = engines.integrity;
    if (integrity === null) return 'mac-failure';
    sduEnd -= MAC_I_BYTES;
    const expected = integrity.mac(count, BEARER, DIRECTION, plain.subarray(0, sduEnd));
    const received =
      ((plain[sduEnd]! << 24) | (plain[sduEnd + 1]! << 16) | (plain[sduEnd + 2]! << 8) | plain[sduEnd + 3]!) >>> 0;
    // One XOR and one comparison of two 32-bit numbers: no data-dependent early exit.
    if ((expected ^ received) !== 0) return 'mac-failure';
  }
  if (source === undefined) {
    if (marks !== undefined) {
      if (layout.macI) marks.mark(4);
      else marks.at[4] = marks.at[3]!;
      marks.integrity = layout.macI;
    }
  }
  if (layout.innerIdentity) {
    if (read24(plain, HEADER_BYTES) !== l2Dst) return 'wrong-group';
    if (read24(plain, HEADER_BYTES + 3) !== l2Src) return 'identity-mismatch';
  }
  if (source !== undefined) {
    const checked = source.check(plain, layout.sduOffset, sduEnd, l2Src);
    if (typeof checked === 'string') return checked;
    sduEnd = checked;
    if (marks !== undefined) {
      marks.mark(4);
      marks.integrity = true;
    }
  }
  return plain.subarray(layout.sduOffset, sduEnd);
}

/**
 * The COUNT a keep-warm pass uses with the engines of PTK `ptkId`: its PTK ID half flipped. Every
 * PDU protected with these engines carries `ptkId` in the high half of its COUNT (COUNT = PTK ID
 * << 16 | SN, and the PEK / PIK are derived from that PTK ID), so no PDU under them uses this COUNT.
 */
export function warmCountOf(ptkId: number): number {
  return countOf(ptkId ^ 0x8000, 0);
}

/**
 * Latency mode (keep-warm.ts): runs the live engines of PTK `ptkId`, integrity then cipher, over
 * `scratch` (in place) so that their key schedules are in the caches when the next PDU comes. At
 * {@link warmCountOf}: the keystream made here never protects data, and it is wiped before
 * returning. Nothing leaves: no output, no state, no counter.
 */
export function warmEngines(engines: PtkEngines, ptkId: number, scratch: Uint8Array): void {
  const count = warmCountOf(ptkId);
  if (engines.integrity !== null) engines.integrity.mac(count, BEARER, DIRECTION, scratch);
  engines.cipher.apply(count, BEARER, DIRECTION, scratch, undefined, scratch);
  scratch.fill(0);
}
