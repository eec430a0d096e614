/**
 * Public contract of the crypto core (TS 33.501 Annex D / TS 33.401 Annex B algorithms and the
 * TS 33.220 Annex B KDF). Everything above `src/crypto` depends only on these types and on the
 * functions re-exported by `src/crypto/index.ts`.
 */

/** Algorithm identity of TS 33.501 5.11: 0 = NEA0/NIA0 (null), 1 = SNOW 3G, 2 = AES, 3 = ZUC. */
export type AlgId = 0 | 1 | 2 | 3;

/**
 * A ciphering engine bound to one 128-bit key, built once (key schedule, cipher objects) and then
 * used for many packets: each call passes only COUNT, BEARER, DIRECTION and the data.
 */
export interface CipherEngine {
  readonly alg: AlgId;
  /**
   * XORs the 128-NEAx keystream for (COUNT, BEARER, DIRECTION) over the first `lengthBits` bits of
   * `data` (default: all of it) and writes the result to `out` (default: a new array; may be
   * `data` itself). Unused low-order bits of a last partial byte come out zero. Returns `out`.
   */
  apply(
    count: number,
    bearer: number,
    direction: number,
    data: Uint8Array,
    lengthBits?: number,
    out?: Uint8Array,
  ): Uint8Array;
}

/** An integrity engine bound to one 128-bit key; see {@link CipherEngine}. */
export interface IntegrityEngine {
  readonly alg: AlgId;
  /**
   * The 32-bit 128-NIAx MAC over the first `lengthBits` bits of `message` (default: all of it),
   * as an unsigned number (MAC-I octets big-endian). NIA0 gives 0.
   */
  mac(count: number, bearer: number, direction: number, message: Uint8Array, lengthBits?: number): number;
}

/** Key hierarchy profiles of docs/protocol.md 3.2 and 4.1. */
export type HierarchyProfile = 'pcr' | 'ts33533' | 'lte-prose';
export const HIERARCHY_PROFILES: readonly HierarchyProfile[] = ['pcr', 'ts33533', 'lte-prose'];
