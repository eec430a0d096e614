/**
 * 128-NEA0 and 128-NIA0, TS 33.501 D.1 / TS 33.401 5.1.3.2 / 5.1.4.2: the null algorithms. NEA0's
 * keystream is all zeros (the output equals the input); NIA0's MAC is 32 zero bits. Inputs are
 * checked exactly like the real algorithms so a misuse shows up before a real key is plugged in.
 */
import { checkBytes, checkCountBearerDirection, resolveLengthBits, resolveOut } from './checks.js';
import type { CipherEngine, IntegrityEngine } from './types.js';

export class Nea0 implements CipherEngine {
  readonly alg = 0 as const;
  constructor(key: Uint8Array) {
    // The null algorithm ignores its key, but a key of the wrong size is still a caller bug.
    checkBytes('KEY', key, 16);
  }
  apply(count: number, bearer: number, direction: number, data: Uint8Array, lengthBits?: number, out?: Uint8Array): Uint8Array {
    checkCountBearerDirection(count, bearer, direction);
    const bits = resolveLengthBits(lengthBits, data, 'data');
    const nBytes = (bits + 7) >>> 3;
    const dst = resolveOut(out, nBytes);
    if (dst !== data) dst.set(data.subarray(0, nBytes));
    const rem = bits & 7;
    if (rem !== 0) dst[nBytes - 1] = dst[nBytes - 1]! & ((0xff00 >>> rem) & 0xff);
    return dst;
  }
}

export class Nia0 implements IntegrityEngine {
  readonly alg = 0 as const;
  constructor(key: Uint8Array) {
    checkBytes('KEY', key, 16);
  }
  mac(count: number, bearer: number, direction: number, message: Uint8Array, lengthBits?: number): number {
    checkCountBearerDirection(count, bearer, direction);
    resolveLengthBits(lengthBits, message, 'message');
    return 0;
  }
}
