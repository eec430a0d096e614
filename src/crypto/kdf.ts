/**
 * The 3GPP key derivation function, TS 33.220 Annex B.2, and the sidelink groupcast key hierarchy
 * built on it (docs/protocol.md section 3: TS 33.303 A.3/A.4 for the pCR, TS 33.533 A.3/A.4).
 *
 *   KDF(Key, S) = HMAC-SHA-256(Key, S),  S = FC || P0 || L0 || P1 || L1 || ...   (B.2.0)
 *
 * with each Li the length of Pi in octets as 2 bytes big-endian. A 128-bit algorithm key is the
 * last 16 bytes (128 least significant bits) of the 256-bit output (TS 33.501 A.8, same rule in
 * TS 33.303 A.4 and TS 33.533 A.4).
 *
 * Every key argument is either the key's bytes or the key already made ready for HMAC
 * ({@link hmacSha256Key}): the PDCP layer keeps each installed PGK keyed, so a new PTK costs the
 * HMAC of one short S and not the keying again (docs/pdcp.md, "Key derivation cost").
 */
import { checkBytes, checkInt } from './checks.js';
import { DEFAULT_KDF_BACKEND, hmacSha256Key, type HmacSha256Key, type KdfBackend } from './hmac-sha256.js';
import type { AlgId, HierarchyProfile } from './types.js';

/** FC values (first octet of S), one place for all of them, each with the clause defining it. */
export const FC = {
  /** PTK from PGK, TS 33.303 A.3 (profiles `pcr` and `lte-prose`). */
  PROSE_PTK: 0x4a,
  /** PEK / PIK from PTK, TS 33.303 A.4 (believed value, see docs/protocol.md 3.2). */
  PROSE_PEK_PIK: 0x4b,
  /** SLPTK from SLPGK, TS 33.533 A.3 (profile `ts33533`). */
  SL_PTK: 0x8d,
  /** SLPEK / SLPIK from SLPTK, TS 33.533 A.4. */
  SL_PEK_PIK: 0x8e,
  /** EPS algorithm keys (K_NASenc, K_RRCint, ...), TS 33.401 A.7; used by the test vectors. */
  EPS_ALG_KEY: 0x15,
  /** 5GS algorithm keys (K_NASenc, K_RRCenc, ...), TS 33.501 A.8; used by the test vectors. */
  NR_ALG_KEY: 0x69,
  /**
   * Pairwise source-authentication key from a group's secret (src/pkmf/source-auth.ts): a value of
   * sl-bridge's, not a 3GPP allocation; its key input (the group secret) is used with no other FC.
   */
  SLB_PAIRWISE_KEY: 0xf0,
} as const;
export type FcName = keyof typeof FC;

/** The clause of each FC value, for logs and documentation. */
export const FC_CLAUSE: Readonly<Record<FcName, string>> = {
  PROSE_PTK: 'TS 33.303 A.3',
  PROSE_PEK_PIK: 'TS 33.303 A.4',
  SL_PTK: 'TS 33.533 A.3',
  SL_PEK_PIK: 'TS 33.533 A.4',
  EPS_ALG_KEY: 'TS 33.401 A.7',
  NR_ALG_KEY: 'TS 33.501 A.8',
  SLB_PAIRWISE_KEY: 'sl-bridge, docs/pkmf.md (not 3GPP)',
};

/** Builds S = FC || P0 || L0 || P1 || L1 || ... (TS 33.220 B.2.0). */
export function kdfInput(fc: number, params: readonly Uint8Array[]): Uint8Array {
  checkInt('fc', fc, 0, 0xff);
  if (!Array.isArray(params)) throw new TypeError('params must be an array of Uint8Array');
  let size = 1;
  for (let i = 0; i < params.length; i++) {
    const p = params[i];
    // The label is built only for the error: this runs for every derived key.
    if (!(p instanceof Uint8Array)) checkBytes(`params[${i}]`, p);
    // B.2.0: Li is a 2-octet length, so one parameter is at most 65535 octets.
    if (p.length > 0xffff) throw new RangeError(`params[${i}] is ${p.length} bytes; at most 65535 fit in its 2-byte length`);
    size += p.length + 2;
  }
  const s = new Uint8Array(size);
  s[0] = fc;
  let off = 1;
  for (const p of params) {
    // A byte loop: parameters are a few octets, where TypedArray#set costs more than the copy.
    for (let j = 0; j < p.length; j++) s[off + j] = p[j]!;
    off += p.length;
    s[off++] = p.length >>> 8;
    s[off++] = p.length & 0xff;
  }
  return s;
}

/** HMAC-SHA-256 (RFC 2104 with FIPS 180-4), the PRF of TS 33.220 B.2.0. */
export function hmacSha256(key: Uint8Array, data: Uint8Array, backend: KdfBackend = DEFAULT_KDF_BACKEND): Uint8Array {
  return hmacSha256Key(key, backend).mac(data);
}

/** A key's bytes, or the same key already keyed for HMAC-SHA-256 (kept to derive many keys from). */
export type KdfKey = Uint8Array | HmacSha256Key;

/**
 * `key` keyed for the KDF, checked under the argument's `name`: `bytes` long when given, never
 * empty (B.2.0 derives from a secret key).
 */
function keyedForKdf(name: string, key: KdfKey, bytes?: number): HmacSha256Key {
  if (key instanceof Uint8Array) {
    checkBytes(name, key, bytes);
    if (key.length === 0) throw new RangeError(`${name} must not be empty`);
    return hmacSha256Key(key);
  }
  if (typeof key !== 'object' || key === null || typeof key.mac !== 'function') checkBytes(name, key);
  if (bytes !== undefined && key.keyBytes !== bytes) {
    throw new RangeError(`${name} must be ${bytes} bytes (${bytes * 8} bits), got a key of ${key.keyBytes} bytes`);
  }
  if (key.keyBytes === 0) throw new RangeError(`${name} must not be empty`);
  return key;
}

/** KDF(key, FC || P0 || L0 || ...) of TS 33.220 B.2.0: 32 bytes. */
export function kdf(key: KdfKey, fc: number, params: readonly Uint8Array[]): Uint8Array {
  const keyed = keyedForKdf('key', key);
  return keyed.mac(kdfInput(fc, params));
}

/** Big-endian encoding of an unsigned integer on `bytes` (1..3) octets, checked to fit. */
function be(name: string, value: number, bytes: 1 | 2 | 3): Uint8Array {
  checkInt(name, value, 0, (1 << (8 * bytes)) - 1);
  const out = new Uint8Array(bytes);
  for (let i = bytes - 1, v = value; i >= 0; i--, v >>>= 8) out[i] = v & 0xff;
  return out;
}

/** P0 of A.4 by key kind (0x00 ciphering, 0x01 integrity) and P1 by algorithm identity, made once. */
const ALG_KEY_KIND = { enc: Uint8Array.of(0x00), int: Uint8Array.of(0x01) } as const;
const ALG_ID = [Uint8Array.of(0), Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3)] as const;

function checkProfile(profile: unknown): asserts profile is HierarchyProfile {
  if (profile !== 'pcr' && profile !== 'ts33533' && profile !== 'lte-prose') {
    throw new RangeError(`profile must be 'pcr', 'ts33533' or 'lte-prose', got ${JSON.stringify(profile)}`);
  }
}

/**
 * PTK (SLPTK) from PGK (SLPGK), 32 bytes.
 * - `pcr`, `lte-prose`: TS 33.303 A.3, FC = 0x4A, P0 = GMI (3 octets), P1 = PTK ID (2 octets),
 *   P2 = Group ID (3 octets).
 * - `ts33533`: TS 33.533 A.3, FC = 0x8D, P0 = GMI, P1 = SLPTK ID; no Group ID parameter
 *   (`groupId` is still range-checked, then unused).
 */
export function derivePtk(
  profile: HierarchyProfile,
  pgk: KdfKey,
  gmi: number,
  ptkId: number,
  groupId: number,
): Uint8Array {
  checkProfile(profile);
  const keyed = keyedForKdf('pgk', pgk, 32);
  const p0 = be('gmi', gmi, 3);
  const p1 = be('ptkId', ptkId, 2);
  const p2 = be('groupId', groupId, 3);
  return profile === 'ts33533' ? kdf(keyed, FC.SL_PTK, [p0, p1]) : kdf(keyed, FC.PROSE_PTK, [p0, p1, p2]);
}

/**
 * PEK / PIK (SLPEK / SLPIK) from PTK: the last 16 bytes of KDF(PTK, FC || P0 || L0 || P1 || L1),
 * P0 = 0x00 for the ciphering key or 0x01 for the integrity key, P1 = algorithm identity
 * (TS 33.303 A.4, FC = 0x4B; TS 33.533 A.4, FC = 0x8E).
 */
export function deriveAlgKey(
  profile: HierarchyProfile,
  ptk: KdfKey,
  kind: 'enc' | 'int',
  alg: AlgId,
): Uint8Array {
  checkProfile(profile);
  const keyed = keyedForKdf('ptk', ptk, 32);
  if (kind !== 'enc' && kind !== 'int') throw new RangeError(`kind must be 'enc' or 'int', got ${JSON.stringify(kind)}`);
  checkInt('alg', alg, 0, 3);
  const fc = profile === 'ts33533' ? FC.SL_PEK_PIK : FC.PROSE_PEK_PIK;
  const out = kdf(keyed, fc, [ALG_KEY_KIND[kind], ALG_ID[alg]]);
  return out.slice(16);
}
