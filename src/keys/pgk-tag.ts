/**
 * The PGK tag: a 64-bit name of a PGK's *value*, for keying state that depends on the key and not
 * only on its PGK ID (an sl-bridge addition, docs/protocol.md section 5).
 *
 * PTK ID high-water marks are kept per (Group ID, GMI, PGK ID, PGK tag): a PKMF that lost its
 * database hands out PGK IDs again, with new values; keyed by the ID alone, a sender would then
 * either skip PTK IDs it never used under the new key or, worse, a mark kept for a new value could
 * be taken for the old one. The tag is HMAC-SHA-256 under the PGK of a fixed label, truncated to 64
 * bits: it names the key without revealing anything usable about it, so it may be stored and
 * logged (the PGK itself never is).
 */
import { hmacSha256 } from '../crypto/kdf.js';

const LABEL = new TextEncoder().encode('sl-bridge PGK tag v1');
export const PGK_TAG_HEX_DIGITS = 16;

/** 16 lower-case hex digits naming the 256-bit `pgk`. */
export function pgkTag(pgk: Uint8Array): string {
  return Buffer.from(hmacSha256(pgk, LABEL).subarray(0, PGK_TAG_HEX_DIGITS / 2)).toString('hex');
}
