/**
 * The source-authentication block of a PDU (docs/pdcp.md, "Source authentication"): who may send
 * in whose name inside a group. It sits in the ciphered part after the SDU and before the MAC-I,
 * so the MAC-I covers it (outsiders still die at the cheap MAC-I check), and it is parsed from
 * the end:
 *
 *   D = HMAC-SHA-256(K_SA, header || Group ID || GMI || SDU),  K_SA = HMAC-SHA-256(PGK, "sl-bridge source-auth v1")
 *
 *   pairwise-mac:  (recipient GMI, 3 octets || tag, 8 octets) x n, GMIs strictly ascending || n (1 octet)
 *                  tag = first 64 bits of AES-CMAC(K(sender, recipient), D)    (SP 800-38B, RFC 4493)
 *   signature:     Ed25519 signature of D with the sender's key, 64 octets      (RFC 8032 5.1.6)
 *
 * D covers the header (SDU Type, PGK Index, PTK ID and SN, so the COUNT), the inner Group ID and
 * GMI and the SDU, and through K_SA the PGK's value. The keys come built from the group key state
 * (src/keys/group-key-state.ts): one AES-CMAC per (PGK, peer GMI) and one Ed25519 KeyObject per
 * member, made at install; per PDU only D and the tags or the signature are computed.
 */
import { ED25519_SIGNATURE_BYTES } from '../crypto/ed25519.js';
import type { InstalledGroup, InstalledPgk, InstalledSourceAuth, PgkSourceAuth } from '../keys/group-key-state.js';
import { MAX_PAIRWISE_PEERS } from '../keys/group-key-state.js';
import { read24, write24 } from './pdu.js';

/** Octets of a pairwise tag (64 bits: SP 800-38B Appendix A's floor for general use). */
export const SOURCE_TAG_BYTES = 8;
/** One pairwise entry: recipient GMI (3 octets) and its tag. */
export const PAIRWISE_ENTRY_BYTES = 3 + SOURCE_TAG_BYTES;
export const SIGNATURE_BLOCK_BYTES = ED25519_SIGNATURE_BYTES;
/** The largest block of any group: 255 pairwise entries and their count. */
export const MAX_SOURCE_AUTH_BLOCK_BYTES = 1 + MAX_PAIRWISE_PEERS * PAIRWISE_ENTRY_BYTES;

/** Why the source check refused a PDU whose MAC-I verified (drop reasons of drop-reasons.ts). */
export type SourceFailure = 'bad-source-tag' | 'unknown-member';

/** Source authentication of one group under one PGK, for one UE: what its sender appends and its receiver checks. */
export interface SourceAuth {
  /** Octets this UE's sender appends after the SDU. */
  readonly blockBytes: number;
  /** False when this UE cannot make blocks (signature mode without a signing key: receive only). */
  readonly canSeal: boolean;
  /** Writes the block at `pdu[at..at+blockBytes)`; `pdu[0..at)` holds header, identity block and SDU in clear. */
  seal(pdu: Uint8Array, at: number): void;
  /**
   * Checks the block that ends at `plain[end]` (where the MAC-I starts) of a PDU claiming sender
   * `sender`. Returns where the block starts (the SDU's end), or why it fails. The SDU must keep
   * at least one octet after `sduOffset`. Never throws.
   */
  check(plain: Uint8Array, sduOffset: number, end: number, sender: number): number | SourceFailure;
}

/** The smallest block a PDU of `group` can carry (0 without source authentication). */
export function minSourceBlockBytes(group: InstalledGroup): number {
  const mode = group.sourceAuth?.mode;
  return mode === 'signature' ? SIGNATURE_BLOCK_BYTES : mode === 'pairwise-mac' ? 1 : 0;
}

/** The largest block a member of `group` sends under any of its PGKs (its membership as this UE knows it). */
export function maxSourceBlockBytes(group: InstalledGroup): number {
  const mode = group.sourceAuth?.mode;
  if (mode === 'signature') return SIGNATURE_BLOCK_BYTES;
  if (mode !== 'pairwise-mac') return 0;
  // A sender addresses every member but itself: this UE and its own peers, less the sender.
  let peers = 0;
  for (const pgk of group.pgksNewestFirst) peers = Math.max(peers, pgk.sourceAuth!.peers.length);
  return 1 + peers * PAIRWISE_ENTRY_BYTES;
}

/** The source authentication of `group` under `pgk`, or undefined when the group has none. */
export function sourceAuthFor(group: InstalledGroup, pgk: InstalledPgk): SourceAuth | undefined {
  const sa = group.sourceAuth;
  if (sa === undefined) return undefined;
  const keys = pgk.sourceAuth!;
  if (sa.mode === 'pairwise-mac') return new PairwiseMacAuth(keys, group.gmi);
  return new SignatureAuth(keys, sa);
}

/** `pairwise-mac`: one tag per other member; a receiver checks the one addressed to it. */
class PairwiseMacAuth implements SourceAuth {
  readonly blockBytes: number;
  readonly canSeal = true;

  constructor(
    private readonly keys: PgkSourceAuth,
    private readonly self: number,
  ) {
    this.blockBytes = 1 + keys.peers.length * PAIRWISE_ENTRY_BYTES;
  }

  seal(pdu: Uint8Array, at: number): void {
    const { peers, peerMacs } = this.keys;
    const d = this.keys.digest.mac(pdu.subarray(0, at));
    let o = at;
    for (let i = 0; i < peers.length; i++, o += PAIRWISE_ENTRY_BYTES) {
      write24(pdu, o, peers[i]!);
      peerMacs[i]!.writeTag(d, SOURCE_TAG_BYTES, pdu, o + 3);
    }
    pdu[o] = peers.length;
  }

  check(plain: Uint8Array, sduOffset: number, end: number, sender: number): number | SourceFailure {
    if (end - sduOffset < 2) return 'bad-source-tag';
    const n = plain[end - 1]!;
    const start = end - 1 - n * PAIRWISE_ENTRY_BYTES;
    if (start <= sduOffset) return 'bad-source-tag';
    // Well-formed first: strictly ascending recipients (one encoding per block), and ours found.
    let ours = -1;
    let previous = -1;
    for (let o = start; o < end - 1; o += PAIRWISE_ENTRY_BYTES) {
      const recipient = read24(plain, o);
      if (recipient <= previous) return 'bad-source-tag';
      previous = recipient;
      if (recipient === this.self) ours = o;
    }
    const pairwise = this.keys.pairwise;
    if (sender === this.self) return this.checkOwn(plain, start, end);
    const mac = pairwise.get(sender);
    if (mac === undefined || ours < 0) return 'unknown-member';
    const d = this.keys.digest.mac(plain.subarray(0, start));
    return mac.verifyTag(d, SOURCE_TAG_BYTES, plain, ours + 3) ? start : 'bad-source-tag';
  }

  /**
   * A PDU in this UE's own name (reachable only with own-source rejection off: captures, `pdu
   * unprotect`): the sender's view, every entry checked under this UE's key with its recipient.
   */
  private checkOwn(plain: Uint8Array, start: number, end: number): number | SourceFailure {
    if (start === end - 1) return 'unknown-member'; // addressed to nobody: nothing vouches for it
    const d = this.keys.digest.mac(plain.subarray(0, start));
    for (let o = start; o < end - 1; o += PAIRWISE_ENTRY_BYTES) {
      const mac = this.keys.pairwise.get(read24(plain, o));
      if (mac === undefined) return 'unknown-member';
      if (!mac.verifyTag(d, SOURCE_TAG_BYTES, plain, o + 3)) return 'bad-source-tag';
    }
    return start;
  }
}

/** `signature`: one Ed25519 signature, checked against the claimed sender's public key. */
class SignatureAuth implements SourceAuth {
  readonly blockBytes = SIGNATURE_BLOCK_BYTES;
  readonly canSeal: boolean;

  constructor(
    private readonly keys: PgkSourceAuth,
    private readonly members: Extract<InstalledSourceAuth, { mode: 'signature' }>,
  ) {
    this.canSeal = members.signer !== undefined;
  }

  seal(pdu: Uint8Array, at: number): void {
    const signer = this.members.signer;
    if (signer === undefined) throw new TypeError('sourceAuth: this UE holds no signing key (receive only)');
    pdu.set(signer.sign(this.keys.digest.mac(pdu.subarray(0, at))), at);
  }

  check(plain: Uint8Array, sduOffset: number, end: number, sender: number): number | SourceFailure {
    const start = end - SIGNATURE_BLOCK_BYTES;
    if (start <= sduOffset) return 'bad-source-tag';
    const verifier = this.members.verifiers.get(sender);
    if (verifier === undefined) return 'unknown-member';
    const d = this.keys.digest.mac(plain.subarray(0, start));
    return verifier.verify(d, plain.subarray(start, end)) ? start : 'bad-source-tag';
  }
}
