/**
 * The crypto core: 128-NEA0/1/2/3 and 128-NIA0/1/2/3 engines (TS 33.501 Annex D), the TS 33.220
 * Annex B KDF on HMAC-SHA-256 keyed once per key, and the groupcast key hierarchy of
 * docs/protocol.md section 3.
 *
 * Build one engine per key, then pass only COUNT, BEARER, DIRECTION and data per packet.
 */
import { createNea2, createNia2 } from './aes.js';
import { checkInt } from './checks.js';
import { Nea0, Nia0 } from './null-alg.js';
import { Nea1, Nia1 } from './snow3g.js';
import { Nea3, Nia3 } from './zuc.js';
import type { AlgId, CipherEngine, IntegrityEngine } from './types.js';

export type { AlgId, CipherEngine, IntegrityEngine, HierarchyProfile } from './types.js';
export { HIERARCHY_PROFILES } from './types.js';
export { FC, FC_CLAUSE, kdf, kdfInput, hmacSha256, derivePtk, deriveAlgKey } from './kdf.js';
export type { FcName, KdfKey } from './kdf.js';
export { DEFAULT_KDF_BACKEND, HMAC_SHA256_BYTES, KDF_BACKENDS, hmacSha256Key } from './hmac-sha256.js';
export type { HmacSha256Key, KdfBackend } from './hmac-sha256.js';
export { Snow3gF9, snow3gKeystream } from './snow3g.js';
export { zucKeystream } from './zuc.js';
export { AES_BACKENDS, DEFAULT_AES_BACKEND, createNea2, createNia2 } from './aes.js';
export type { AesBackend } from './aes.js';

/** Short names of the algorithms, by algorithm identity (TS 33.501 5.11). */
export const NEA_NAMES = ['nea0', 'nea1', 'nea2', 'nea3'] as const;
export const NIA_NAMES = ['nia0', 'nia1', 'nia2', 'nia3'] as const;

/** A 128-NEA`alg` engine bound to the 16-byte `key`. */
export function createCipherEngine(alg: AlgId, key: Uint8Array): CipherEngine {
  checkInt('alg', alg, 0, 3);
  switch (alg) {
    case 0:
      return new Nea0(key);
    case 1:
      return new Nea1(key);
    case 2:
      return createNea2(key);
    case 3:
      return new Nea3(key);
  }
}

/** A 128-NIA`alg` engine bound to the 16-byte `key`. */
export function createIntegrityEngine(alg: AlgId, key: Uint8Array): IntegrityEngine {
  checkInt('alg', alg, 0, 3);
  switch (alg) {
    case 0:
      return new Nia0(key);
    case 1:
      return new Nia1(key);
    case 2:
      return createNia2(key);
    case 3:
      return new Nia3(key);
  }
}
