/**
 * Source authentication inside a group, on the key-distribution side (docs/pkmf.md "Source
 * authentication"): what the owning PKMF derives and hands out per mode, and the checks every
 * decoder (protobuf, inter-PKMF JSON, the UE's keys.json) runs on what it receives. The PDU side
 * (tags, signatures, drop reasons) is src/pdcp's.
 *
 * - `pairwise-mac`: the owner keeps a 32-byte secret per group, never handed out, and gives each
 *   member, per PGK, K(member, other) for every other member with a GMI:
 *     K(a, b) = last 16 bytes of KDF(groupSecret, FC = 0xF0, P0 = Group ID (3 octets),
 *               P1 = PGK ID (4 octets), P2 = min(GMI a, GMI b) (3 octets), P3 = max(...) (3 octets))
 *   with the TS 33.220 B.2.0 KDF. Bound to the PGK ID, so a new PGK brings new keys, and to both
 *   GMIs, so a fresh GMI does too; a member left out of the answers has no key with anyone.
 * - `signature`: each member's Ed25519 public key, bound by the owner to the member it
 *   authenticated and to its GMI, is handed to every member (its own included).
 */
import { FC, kdf, type KdfKey } from '../crypto/kdf.js';
import type { PgkRecord, SourceAuthMode } from '../keys/types.js';
import { hex24, isGmi, isUint24, isUint32 } from './identity.js';

export const SOURCE_AUTH_MODES = ['none', 'pairwise-mac', 'signature'] as const satisfies readonly SourceAuthMode[];
/** The owner's per-group secret the pairwise keys are derived from. */
export const GROUP_SECRET_BYTES = 32;
export const PAIRWISE_KEY_BYTES = 16;
/** Ed25519 public key (RFC 8032). */
export const SIGNING_PUBLIC_KEY_BYTES = 32;
/** Ed25519 private key seed (RFC 8032). */
export const SIGNING_SEED_BYTES = 32;

export function isSourceAuthMode(v: unknown): v is SourceAuthMode {
  return typeof v === 'string' && (SOURCE_AUTH_MODES as readonly string[]).includes(v);
}

/**
 * Source authentication as the PKMF issues it: the UE's own signing seed is not part of it (it
 * never leaves the UE; the key client adds it, src/pkmf/key-state.ts). Absent: `none`.
 */
export type IssuedSourceAuth = { mode: 'pairwise-mac' } | { mode: 'signature'; publicKeys: ReadonlyMap<number, Uint8Array> };

/** The mode of issued (or held) material: `none` when it carries no source authentication. */
export function sourceAuthModeOf(sourceAuth: { mode: SourceAuthMode } | undefined): SourceAuthMode {
  return sourceAuth?.mode ?? 'none';
}

function be(value: number, bytes: 3 | 4): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = bytes - 1, v = value; i >= 0; i--, v = Math.floor(v / 256)) out[i] = v & 0xff;
  return out;
}

/** K(a, b) = K(b, a): the pairwise key of two members under one PGK (see the file comment). */
export function derivePairwiseKey(groupSecret: KdfKey, groupId: number, pgkId: number, gmiA: number, gmiB: number): Uint8Array {
  if (!isUint24(groupId)) throw new RangeError(`groupId: expected a 24-bit integer, got ${groupId}`);
  if (!isUint32(pgkId)) throw new RangeError(`pgkId: expected a 32-bit integer, got ${pgkId}`);
  if (!isGmi(gmiA) || !isGmi(gmiB)) throw new RangeError(`GMIs: expected 1..0xfffffe each, got ${gmiA} and ${gmiB}`);
  if (gmiA === gmiB) throw new RangeError(`GMIs: a member has no pairwise key with itself (${hex24(gmiA)})`);
  if (groupSecret instanceof Uint8Array && groupSecret.length !== GROUP_SECRET_BYTES) {
    throw new RangeError(`groupSecret: expected ${GROUP_SECRET_BYTES} bytes, got ${groupSecret.length}`);
  }
  const [lo, hi] = gmiA < gmiB ? [gmiA, gmiB] : [gmiB, gmiA];
  return kdf(groupSecret, FC.SLB_PAIRWISE_KEY, [be(groupId, 3), be(pgkId, 4), be(lo, 3), be(hi, 3)]).slice(32 - PAIRWISE_KEY_BYTES);
}

/** `ownGmi`'s pairwise keys under one PGK: one per other member GMI in `memberGmis` (own skipped). */
export function pairwiseKeysOf(groupSecret: KdfKey, groupId: number, pgkId: number, ownGmi: number, memberGmis: Iterable<number>): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  for (const gmi of memberGmis) if (gmi !== ownGmi) out.set(gmi, derivePairwiseKey(groupSecret, groupId, pgkId, ownGmi, gmi));
  return out;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * GMI -> key entries as received (any encoding, already turned into bytes; undefined: not bytes),
 * checked: every GMI 1..0xfffffe and listed once, every key `keyBytes` long. `what` names the list.
 */
export function gmiKeyMap(entries: Iterable<readonly [unknown, Uint8Array | undefined]>, keyBytes: number, what: string): Checked<Map<number, Uint8Array>> {
  const out = new Map<number, Uint8Array>();
  let i = 0;
  for (const [gmi, key] of entries) {
    if (!isGmi(gmi)) return { ok: false, reason: `${what}[${i}]: GMI is not 1..0xfffffe` };
    if (out.has(gmi)) return { ok: false, reason: `${what}[${i}]: GMI ${hex24(gmi)} listed twice` };
    if (key === undefined || key.length !== keyBytes) return { ok: false, reason: `${what}[${i}]: key of GMI ${hex24(gmi)} is not ${keyBytes} bytes` };
    out.set(gmi, Uint8Array.from(key));
    i++;
  }
  return { ok: true, value: out };
}

/**
 * Why the source-authentication parts of one group's issued keys break the contract, or
 * undefined: pairwise keys only in `pairwise-mac` (then on every PGK, never for the UE's own GMI),
 * member keys only in `signature` (then with the UE's own).
 */
export function sourceAuthViolation(sourceAuth: IssuedSourceAuth | undefined, gmi: number, pgks: readonly PgkRecord[]): string | undefined {
  const mode = sourceAuthModeOf(sourceAuth);
  for (const p of pgks) {
    if (mode !== 'pairwise-mac') {
      if (p.pairwiseKeys !== undefined && p.pairwiseKeys.size > 0) return `PGK ${p.pgkId} carries pairwise keys, but the group's source authentication is ${mode}`;
    } else if (p.pairwiseKeys === undefined) return `PGK ${p.pgkId} carries no pairwise key list`;
    else if (p.pairwiseKeys.has(gmi)) return `PGK ${p.pgkId} carries a pairwise key for this UE's own GMI ${hex24(gmi)}`;
  }
  if (sourceAuth?.mode === 'signature' && !sourceAuth.publicKeys.has(gmi)) return `member keys lack this UE's own GMI ${hex24(gmi)}`;
  return undefined;
}
