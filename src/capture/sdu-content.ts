/**
 * What a deciphered SDU holds, for people reading a capture: `pdu decode` prints the fields of a
 * RangingMessage (proto/bridge.proto, the bundled ranging application's payload) instead of bare
 * hex, and marks such SDUs in the records of `--write-pcap` so that the Wireshark dissector
 * decodes them field by field. No I/O.
 *
 * An SDU is taken as a RangingMessage when its SDU Type is non-IP (the type the ranging
 * application sends) and the project's own decoder (src/wire/ranging.ts) accepts it. Other
 * applications' non-IP payloads rarely pass: the decoder requires a `kind` and checks every
 * known field's wire type and range. A payload that does pass is shown both ways (fields and hex).
 */
import { SDU_TYPE_NAMES } from '../pdcp/pdu.js';
import { decodeRangingMessage, type RangingMessage } from '../wire/ranging.js';

export type SduContent = { readonly kind: 'ranging'; readonly message: RangingMessage } | { readonly kind: 'opaque' };

const NON_IP = SDU_TYPE_NAMES.indexOf('non-ip');
const OPAQUE: SduContent = { kind: 'opaque' };

/** `sduType` is the API's SDU type (0..4), as the decoder reports it for an accepted PDU. */
export function recognizeSdu(sduType: number, sdu: Uint8Array): SduContent {
  if (sduType !== NON_IP) return OPAQUE;
  const decoded = decodeRangingMessage(sdu);
  return decoded.ok ? { kind: 'ranging', message: decoded.value } : OPAQUE;
}
