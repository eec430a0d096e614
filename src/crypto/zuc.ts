/**
 * ZUC and the algorithms built on it:
 * - the ZUC keystream generator: ETSI/SAGE "Specification of the 3GPP Confidentiality and
 *   Integrity Algorithms 128-EEA3 & 128-EIA3, Document 2: ZUC Specification" (v1.6), clause 3;
 * - 128-EEA3 and 128-EIA3: Document 1 (128-EEA3 & 128-EIA3 Specification), clauses 3 and 4;
 * - 128-NEA3 = 128-EEA3 and 128-NIA3 = 128-EIA3: TS 33.501 D.4.6 / D.4.7.
 *
 * 32-bit word arithmetic throughout. EIA3's sum over message bits of the keystream window z_i
 * (Document 1, 4.4) is computed a message byte at a time: the windows starting inside one byte
 * are a carry-less product of the byte with the next 40 keystream bits, read from a byte-by-byte
 * carry-less product table built at module load. No per-bit loop, no BigInt.
 */
import { checkBytes, checkCountBearerDirection, checkInt, checkKey128, resolveLengthBits, resolveOut } from './checks.js';
import { xorWords } from './snow3g.js';
import type { CipherEngine, IntegrityEngine } from './types.js';

// ZUC spec 3.4.2: the S-boxes S0 and S1.
// prettier-ignore
const S0 = Uint8Array.from([
  0x3e,0x72,0x5b,0x47,0xca,0xe0,0x00,0x33,0x04,0xd1,0x54,0x98,0x09,0xb9,0x6d,0xcb,
  0x7b,0x1b,0xf9,0x32,0xaf,0x9d,0x6a,0xa5,0xb8,0x2d,0xfc,0x1d,0x08,0x53,0x03,0x90,
  0x4d,0x4e,0x84,0x99,0xe4,0xce,0xd9,0x91,0xdd,0xb6,0x85,0x48,0x8b,0x29,0x6e,0xac,
  0xcd,0xc1,0xf8,0x1e,0x73,0x43,0x69,0xc6,0xb5,0xbd,0xfd,0x39,0x63,0x20,0xd4,0x38,
  0x76,0x7d,0xb2,0xa7,0xcf,0xed,0x57,0xc5,0xf3,0x2c,0xbb,0x14,0x21,0x06,0x55,0x9b,
  0xe3,0xef,0x5e,0x31,0x4f,0x7f,0x5a,0xa4,0x0d,0x82,0x51,0x49,0x5f,0xba,0x58,0x1c,
  0x4a,0x16,0xd5,0x17,0xa8,0x92,0x24,0x1f,0x8c,0xff,0xd8,0xae,0x2e,0x01,0xd3,0xad,
  0x3b,0x4b,0xda,0x46,0xeb,0xc9,0xde,0x9a,0x8f,0x87,0xd7,0x3a,0x80,0x6f,0x2f,0xc8,
  0xb1,0xb4,0x37,0xf7,0x0a,0x22,0x13,0x28,0x7c,0xcc,0x3c,0x89,0xc7,0xc3,0x96,0x56,
  0x07,0xbf,0x7e,0xf0,0x0b,0x2b,0x97,0x52,0x35,0x41,0x79,0x61,0xa6,0x4c,0x10,0xfe,
  0xbc,0x26,0x95,0x88,0x8a,0xb0,0xa3,0xfb,0xc0,0x18,0x94,0xf2,0xe1,0xe5,0xe9,0x5d,
  0xd0,0xdc,0x11,0x66,0x64,0x5c,0xec,0x59,0x42,0x75,0x12,0xf5,0x74,0x9c,0xaa,0x23,
  0x0e,0x86,0xab,0xbe,0x2a,0x02,0xe7,0x67,0xe6,0x44,0xa2,0x6c,0xc2,0x93,0x9f,0xf1,
  0xf6,0xfa,0x36,0xd2,0x50,0x68,0x9e,0x62,0x71,0x15,0x3d,0xd6,0x40,0xc4,0xe2,0x0f,
  0x8e,0x83,0x77,0x6b,0x25,0x05,0x3f,0x0c,0x30,0xea,0x70,0xb7,0xa1,0xe8,0xa9,0x65,
  0x8d,0x27,0x1a,0xdb,0x81,0xb3,0xa0,0xf4,0x45,0x7a,0x19,0xdf,0xee,0x78,0x34,0x60,
]);
// prettier-ignore
const S1 = Uint8Array.from([
  0x55,0xc2,0x63,0x71,0x3b,0xc8,0x47,0x86,0x9f,0x3c,0xda,0x5b,0x29,0xaa,0xfd,0x77,
  0x8c,0xc5,0x94,0x0c,0xa6,0x1a,0x13,0x00,0xe3,0xa8,0x16,0x72,0x40,0xf9,0xf8,0x42,
  0x44,0x26,0x68,0x96,0x81,0xd9,0x45,0x3e,0x10,0x76,0xc6,0xa7,0x8b,0x39,0x43,0xe1,
  0x3a,0xb5,0x56,0x2a,0xc0,0x6d,0xb3,0x05,0x22,0x66,0xbf,0xdc,0x0b,0xfa,0x62,0x48,
  0xdd,0x20,0x11,0x06,0x36,0xc9,0xc1,0xcf,0xf6,0x27,0x52,0xbb,0x69,0xf5,0xd4,0x87,
  0x7f,0x84,0x4c,0xd2,0x9c,0x57,0xa4,0xbc,0x4f,0x9a,0xdf,0xfe,0xd6,0x8d,0x7a,0xeb,
  0x2b,0x53,0xd8,0x5c,0xa1,0x14,0x17,0xfb,0x23,0xd5,0x7d,0x30,0x67,0x73,0x08,0x09,
  0xee,0xb7,0x70,0x3f,0x61,0xb2,0x19,0x8e,0x4e,0xe5,0x4b,0x93,0x8f,0x5d,0xdb,0xa9,
  0xad,0xf1,0xae,0x2e,0xcb,0x0d,0xfc,0xf4,0x2d,0x46,0x6e,0x1d,0x97,0xe8,0xd1,0xe9,
  0x4d,0x37,0xa5,0x75,0x5e,0x83,0x9e,0xab,0x82,0x9d,0xb9,0x1c,0xe0,0xcd,0x49,0x89,
  0x01,0xb6,0xbd,0x58,0x24,0xa2,0x5f,0x38,0x78,0x99,0x15,0x90,0x50,0xb8,0x95,0xe4,
  0xd0,0x91,0xc7,0xce,0xed,0x0f,0xb4,0x6f,0xa0,0xcc,0xf0,0x02,0x4a,0x79,0xc3,0xde,
  0xa3,0xef,0xea,0x51,0xe6,0x6b,0x18,0xec,0x1b,0x2c,0x80,0xf7,0x74,0xe7,0xff,0x21,
  0x5a,0x6a,0x54,0x1e,0x41,0x31,0x92,0x35,0xc4,0x33,0x07,0x0a,0xba,0x7e,0x0e,0x34,
  0x88,0xb1,0x98,0x7c,0xf3,0x3d,0x60,0x6c,0x7b,0xca,0xd3,0x1f,0x32,0x65,0x04,0x28,
  0x64,0xbe,0x85,0x9b,0x2f,0x59,0x8a,0xd7,0xb0,0x25,0xac,0xaf,0x12,0x03,0xe2,0xf2,
]);

/** ZUC spec 3.5: the 15-bit constants d_i of the key loading. */
// prettier-ignore
const D = [
  0x44d7, 0x26bc, 0x626b, 0x135e, 0x5789, 0x35e2, 0x7135, 0x09af,
  0x4d78, 0x2f13, 0x6bc4, 0x1af1, 0x5e26, 0x3c4d, 0x789a, 0x47ac,
];

/** S(L1(x)) / S(L2(x)) need S applied per byte after L; these word tables do S per byte position. */
const SW0 = new Uint32Array(256); // S0 in byte 0
const SW1 = new Uint32Array(256); // S1 in byte 1
const SW2 = new Uint32Array(256); // S0 in byte 2
const SW3 = new Uint32Array(256); // S1 in byte 3
for (let i = 0; i < 256; i++) {
  SW0[i] = (S0[i]! << 24) >>> 0;
  SW1[i] = S1[i]! << 16;
  SW2[i] = S0[i]! << 8;
  SW3[i] = S1[i]!;
}

/** a + b mod 2^31 - 1 for a, b < 2^31 (ZUC spec 3.2 / 3.3). */
function addM(a: number, b: number): number {
  const c = a + b;
  return (c & 0x7fffffff) + (c >>> 31);
}
/** 2^k * x mod 2^31 - 1: a 31-bit rotation. */
function mulPow2(x: number, k: number): number {
  return ((x << k) | (x >>> (31 - k))) & 0x7fffffff;
}

/**
 * A ZUC keystream generator with reusable state: the LFSR lives in `lfsr[t .. t+15]` and s16 is
 * appended each clock, so nothing is shifted.
 */
export class Zuc {
  private lfsr = new Uint32Array(16 + 33 + 64);

  /** Writes `n` keystream words for the 16-byte key and 16-byte IV (ZUC spec 3.5, 3.6). */
  generate(key: Uint8Array, iv: Uint8Array, n: number, out: Uint32Array): void {
    const need = 16 + 33 + n;
    if (this.lfsr.length < need) this.lfsr = new Uint32Array(need * 2);
    const s = this.lfsr;
    // 3.5 Key loading: s_i = k_i || d_i || iv_i.
    for (let i = 0; i < 16; i++) s[i] = (key[i]! << 23) | (D[i]! << 8) | iv[i]!;
    let r1 = 0;
    let r2 = 0;
    let t = 0;
    // 3.6.1: 32 initialisation rounds (LFSRWithInitialisationMode(W >> 1)), then 3.6.2: one
    // round whose output is discarded (LFSRWithWorkMode), then one keystream word per round.
    for (let round = -33; round < n; round++, t++) {
      // 3.3 BitReorganization
      const x0 = ((s[t + 15]! & 0x7fff8000) << 1) | (s[t + 14]! & 0xffff);
      const x1 = ((s[t + 11]! & 0xffff) << 16) | (s[t + 9]! >>> 15);
      const x2 = ((s[t + 7]! & 0xffff) << 16) | (s[t + 5]! >>> 15);
      // 3.4 F
      const w = ((x0 ^ r1) + r2) >>> 0;
      const w1 = (r1 + x1) >>> 0;
      const w2 = (r2 ^ x2) >>> 0;
      let u = (w1 << 16) | (w2 >>> 16);
      let v = (w2 << 16) | (w1 >>> 16);
      // L1 / L2 (3.4.1)
      u = u ^ ((u << 2) | (u >>> 30)) ^ ((u << 10) | (u >>> 22)) ^ ((u << 18) | (u >>> 14)) ^ ((u << 24) | (u >>> 8));
      v = v ^ ((v << 8) | (v >>> 24)) ^ ((v << 14) | (v >>> 18)) ^ ((v << 22) | (v >>> 10)) ^ ((v << 30) | (v >>> 2));
      r1 = (SW0[u >>> 24]! | SW1[(u >>> 16) & 0xff]! | SW2[(u >>> 8) & 0xff]! | SW3[u & 0xff]!) >>> 0;
      r2 = (SW0[v >>> 24]! | SW1[(v >>> 16) & 0xff]! | SW2[(v >>> 8) & 0xff]! | SW3[v & 0xff]!) >>> 0;
      if (round >= 0) {
        const x3 = ((s[t + 2]! & 0xffff) << 16) | (s[t]! >>> 15);
        out[round] = (w ^ x3) >>> 0;
      }
      // 3.2 LFSR: s16 = 2^15 s15 + 2^17 s13 + 2^21 s10 + 2^20 s4 + (1 + 2^8) s0 mod 2^31 - 1.
      const s0 = s[t]!;
      let f = addM(s0, mulPow2(s0, 8));
      f = addM(f, mulPow2(s[t + 4]!, 20));
      f = addM(f, mulPow2(s[t + 10]!, 21));
      f = addM(f, mulPow2(s[t + 13]!, 17));
      f = addM(f, mulPow2(s[t + 15]!, 15));
      if (round < -1) f = addM(f, w >>> 1);
      s[t + 16] = f === 0 ? 0x7fffffff : f;
    }
  }
}

/** The ZUC keystream for a raw 16-byte key and IV (as in the test data). */
export function zucKeystream(key: Uint8Array, iv: Uint8Array, n: number): Uint32Array {
  checkBytes('key', key, 16);
  checkBytes('iv', iv, 16);
  checkInt('n', n, 0, 1 << 24);
  const out = new Uint32Array(n);
  new Zuc().generate(key, iv, n, out);
  return out;
}

/** 128-NEA3 = 128-EEA3 (Document 1 clause 3). */
export class Nea3 implements CipherEngine {
  readonly alg = 3 as const;
  private readonly key: Uint8Array;
  private readonly gen = new Zuc();
  private readonly iv = new Uint8Array(16);
  private ks = new Uint32Array(64);

  constructor(key: Uint8Array) {
    checkKey128(key);
    this.key = key.slice();
  }

  apply(count: number, bearer: number, direction: number, data: Uint8Array, lengthBits?: number, out?: Uint8Array): Uint8Array {
    checkCountBearerDirection(count, bearer, direction);
    const bits = resolveLengthBits(lengthBits, data, 'data');
    const nBytes = (bits + 7) >>> 3;
    const dst = resolveOut(out, nBytes);
    if (nBytes === 0) return dst;
    const nWords = (nBytes + 3) >>> 2;
    if (this.ks.length < nWords) this.ks = new Uint32Array(nWords * 2);
    // 3.3: IV = COUNT || BEARER || DIRECTION || 0^26, twice.
    const iv = this.iv;
    iv[0] = iv[8] = count >>> 24;
    iv[1] = iv[9] = (count >>> 16) & 0xff;
    iv[2] = iv[10] = (count >>> 8) & 0xff;
    iv[3] = iv[11] = count & 0xff;
    iv[4] = iv[12] = (bearer << 3) | (direction << 2);
    this.gen.generate(this.key, iv, nWords, this.ks);
    xorWords(this.ks, data, dst, nBytes);
    const rem = bits & 7;
    if (rem !== 0) dst[nBytes - 1] = dst[nBytes - 1]! & ((0xff00 >>> rem) & 0xff);
    return dst;
  }
}

/**
 * CLMUL[a << 8 | m]: the sum of (a << k) over the bits k of m counted from its most significant
 * bit (bit 7 - k of m set). For a message byte m at bit offset p, the EIA3 windows z_{p+k} it
 * selects are the 32-bit slices of keystream bits p+k .. p+k+31, and the XOR of the selected ones
 * is the carry-less product of the 40 keystream bits (5 bytes a0..a4) with m, read at byte
 * granularity from this table.
 */
const CLMUL = new Uint16Array(65536);
for (let a = 0; a < 256; a++) {
  for (let m = 0; m < 256; m++) {
    let r = 0;
    for (let k = 0; k < 8; k++) if ((m >>> (7 - k)) & 1) r ^= a << k;
    CLMUL[(a << 8) | m] = r;
  }
}

/** 128-NIA3 = 128-EIA3 (Document 1 clause 4). */
export class Nia3 implements IntegrityEngine {
  readonly alg = 3 as const;
  private readonly key: Uint8Array;
  private readonly gen = new Zuc();
  private readonly iv = new Uint8Array(16);
  private ks = new Uint32Array(64);
  private ksBytes = new Uint8Array(256);

  constructor(key: Uint8Array) {
    checkKey128(key);
    this.key = key.slice();
  }

  mac(count: number, bearer: number, direction: number, message: Uint8Array, lengthBits?: number): number {
    checkCountBearerDirection(count, bearer, direction);
    const bits = resolveLengthBits(lengthBits, message, 'message');
    // 4.3: IV0..3 = COUNT, IV4 = BEARER || 000, IV8 = IV0 ^ (DIRECTION << 7), IV9..11 = IV1..3,
    // IV12 = IV4, IV14 = DIRECTION << 7, the rest 0.
    const iv = this.iv;
    iv[0] = count >>> 24;
    iv[1] = iv[9] = (count >>> 16) & 0xff;
    iv[2] = iv[10] = (count >>> 8) & 0xff;
    iv[3] = iv[11] = count & 0xff;
    iv[4] = iv[12] = bearer << 3;
    iv[8] = (count >>> 24) ^ (direction << 7);
    iv[14] = direction << 7;
    // 4.4: N = LENGTH + 64, L = ceil(N / 32) keystream words.
    const nWords = Math.ceil((bits + 64) / 32);
    if (this.ks.length < nWords) {
      this.ks = new Uint32Array(nWords * 2);
      this.ksBytes = new Uint8Array(nWords * 8);
    }
    const z = this.ks;
    this.gen.generate(this.key, iv, nWords, z);
    const zb = this.ksBytes;
    for (let i = 0, o = 0; i < nWords; i++, o += 4) {
      const w = z[i]!;
      zb[o] = w >>> 24;
      zb[o + 1] = (w >>> 16) & 0xff;
      zb[o + 2] = (w >>> 8) & 0xff;
      zb[o + 3] = w & 0xff;
    }
    // 4.4: T = XOR of z_i over the message bits i that are 1 (i < LENGTH), a byte at a time.
    let tag = 0;
    const fullBytes = bits >>> 3;
    for (let q = 0; q < fullBytes; q++) {
      const m = message[q]!;
      if (m === 0) continue;
      tag ^=
        (CLMUL[(zb[q]! << 8) | m]! << 24) ^
        (CLMUL[(zb[q + 1]! << 8) | m]! << 16) ^
        (CLMUL[(zb[q + 2]! << 8) | m]! << 8) ^
        CLMUL[(zb[q + 3]! << 8) | m]! ^
        (CLMUL[(zb[q + 4]! << 8) | m]! >>> 8);
    }
    const rem = bits & 7;
    if (rem !== 0) {
      // Only the first `rem` bits of the last byte are message bits.
      const q = fullBytes;
      const m = message[q]! & ((0xff00 >>> rem) & 0xff);
      tag ^=
        (CLMUL[(zb[q]! << 8) | m]! << 24) ^
        (CLMUL[(zb[q + 1]! << 8) | m]! << 16) ^
        (CLMUL[(zb[q + 2]! << 8) | m]! << 8) ^
        CLMUL[(zb[q + 3]! << 8) | m]! ^
        (CLMUL[(zb[q + 4]! << 8) | m]! >>> 8);
    }
    // T ^= z_LENGTH; MAC = T ^ z_{32(L-1)}.
    tag ^= windowAt(z, bits);
    return (tag ^ z[nWords - 1]!) >>> 0;
  }
}

/** The 32 keystream bits starting at bit `i` (Document 1, 4.4: z_i). */
function windowAt(z: Uint32Array, i: number): number {
  const w = i >>> 5;
  const sh = i & 31;
  return sh === 0 ? z[w]! : ((z[w]! << sh) | (z[w + 1]! >>> (32 - sh))) >>> 0;
}
