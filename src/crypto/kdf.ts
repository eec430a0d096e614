/**
 * The 3GPP key derivation function, TS 33.220 Annex B.2, and the sidelink groupcast key hierarchy
 * built on it (docs/protocol.md section 3: TS 33.303 A.3/A.4 for the pCR, TS 33.533 A.3/A.4).
 *
 *   KDF(Key, S) = HMAC-SHA-256(Key, S),  S = FC || P0 || L0 || P1 || L1 || ...   (B.2.0)
 *
 * with each Li the length of Pi in octets as 2 bytes big-endian. A 128-bit algorithm key is the
 * last 16 bytes (128 least significant bits) of the 256-bit output (TS 33.501 A.8, same rule in
 * TS 33.303 A.4 and TS 33.533 A.4).
 */
import { createHmac } from 'node:crypto';
import { checkBytes, checkInt } from './checks.js';
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
};

/** Builds S = FC || P0 || L0 || P1 || L1 || ... (TS 33.220 B.2.0). */
export function kdfInput(fc: number, params: readonly Uint8Array[]): Uint8Array {
  checkInt('fc', fc, 0, 0xff);
  if (!Array.isArray(params)) throw new TypeError('params must be an array of Uint8Array');
  let size = 1;
  params.forEach((p, i) => {
    checkBytes(`params[${i}]`, p);
    // B.2.0: Li is a 2-octet length, so one parameter is at most 65535 octets.
    if (p.length > 0xffff) throw new RangeError(`params[${i}] is ${p.length} bytes; at most 65535 fit in its 2-byte length`);
    size += p.length + 2;
  });
  const s = new Uint8Array(size);
  s[0] = fc;
  let off = 1;
  for (const p of params) {
    s.set(p, off);
    off += p.length;
    s[off++] = p.length >>> 8;
    s[off++] = p.length & 0xff;
  }
  return s;
}

/** HMAC-SHA-256 (RFC 2104 with FIPS 180-4), the PRF of TS 33.220 B.2.0. */
export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  checkBytes('key', key);
  checkBytes('data', data);
  return new Uint8Array(createHmac('sha256', key).update(data).digest());
}

/** KDF(key, FC || P0 || L0 || ...) of TS 33.220 B.2.0: 32 bytes. */
export function kdf(key: Uint8Array, fc: number, params: readonly Uint8Array[]): Uint8Array {
  checkBytes('key', key);
  if (key.length === 0) throw new RangeError('key must not be empty');
  return hmacSha256(key, kdfInput(fc, params));
}

/** Big-endian encoding of an unsigned integer on `bytes` octets (checked to fit). */
function be(name: string, value: number, bytes: number): Uint8Array {
  checkInt(name, value, 0, 2 ** (8 * bytes) - 1);
  const out = new Uint8Array(bytes);
  for (let i = bytes - 1, v = value; i >= 0; i--, v = Math.floor(v / 256)) out[i] = v & 0xff;
  return out;
}

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
  pgk: Uint8Array,
  gmi: number,
  ptkId: number,
  groupId: number,
): Uint8Array {
  checkProfile(profile);
  checkBytes('pgk', pgk, 32);
  const p0 = be('gmi', gmi, 3);
  const p1 = be('ptkId', ptkId, 2);
  const p2 = be('groupId', groupId, 3);
  return profile === 'ts33533' ? kdf(pgk, FC.SL_PTK, [p0, p1]) : kdf(pgk, FC.PROSE_PTK, [p0, p1, p2]);
}

/**
 * PEK / PIK (SLPEK / SLPIK) from PTK: the last 16 bytes of KDF(PTK, FC || P0 || L0 || P1 || L1),
 * P0 = 0x00 for the ciphering key or 0x01 for the integrity key, P1 = algorithm identity
 * (TS 33.303 A.4, FC = 0x4B; TS 33.533 A.4, FC = 0x8E).
 */
export function deriveAlgKey(
  profile: HierarchyProfile,
  ptk: Uint8Array,
  kind: 'enc' | 'int',
  alg: AlgId,
): Uint8Array {
  checkProfile(profile);
  checkBytes('ptk', ptk, 32);
  if (kind !== 'enc' && kind !== 'int') throw new RangeError(`kind must be 'enc' or 'int', got ${JSON.stringify(kind)}`);
  checkInt('alg', alg, 0, 3);
  const fc = profile === 'ts33533' ? FC.SL_PEK_PIK : FC.PROSE_PEK_PIK;
  const out = kdf(ptk, fc, [Uint8Array.of(kind === 'enc' ? 0x00 : 0x01), Uint8Array.of(alg)]);
  return out.slice(16);
}
