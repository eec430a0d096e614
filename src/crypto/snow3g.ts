/**
 * SNOW 3G and the algorithms built on it:
 * - the keystream generator: ETSI/SAGE "Specification of the 3GPP Confidentiality and Integrity
 *   Algorithms UEA2 & UIA2, Document 2: SNOW 3G Specification" (SNOW 3G spec), clauses 3-4;
 * - f8 / UEA2 and f9 / UIA2: Document 1 (UEA2 & UIA2 Specification), clauses 3 and 4;
 * - 128-NEA1 = f8 and 128-NIA1 = f9 with FRESH = BEARER << 27: TS 33.501 D.4.2 / D.4.3
 *   (= TS 33.401 B.1.2 / B.2.2).
 *
 * Everything is 32-bit word arithmetic. The byte functions MULalpha / DIValpha and the 32-bit
 * S-boxes S1 / S2 are 256-entry word tables built once at module load; the GF(2^64) products of
 * f9 use a 256-entry table per multiplier P (built once per packet, reused for every 64-bit block).
 */
import { SBOX } from './aes-block.js';
import { checkBearer, checkCount, checkCountBearerDirection, checkDirection, checkInt, checkKey128, resolveLengthBits, resolveOut } from './checks.js';
import type { CipherEngine, IntegrityEngine } from './types.js';

// ---------------------------------------------------------------------------------------------
// Tables (SNOW 3G spec 3.1, 3.3, 3.4)

/** 3.1.1 MULx(V, c): V * x in GF(2^8) reduced with c. */
function mulx(v: number, c: number): number {
  return v & 0x80 ? ((v << 1) ^ c) & 0xff : (v << 1) & 0xff;
}
/** 3.1.2 MULxPOW(V, i, c). */
function mulxPow(v: number, i: number, c: number): number {
  for (; i > 0; i--) v = mulx(v, c);
  return v;
}

/** 3.3 S-box SQ: the Dickson polynomial g49(x) + 0x25 over GF(2^8) = GF(2)[x]/(x^8+x^6+x^5+x^3+1). */
function buildSq(): Uint8Array {
  const mul = (a: number, b: number): number => {
    let r = 0;
    for (; b; b >>>= 1, a = a & 0x80 ? ((a << 1) ^ 0x169) & 0xff : (a << 1) & 0xff) if (b & 1) r ^= a;
    return r;
  };
  const sq = new Uint8Array(256);
  const exps = [1, 9, 13, 15, 33, 41, 45, 47, 49];
  for (let x = 0; x < 256; x++) {
    const pow = new Uint8Array(50);
    pow[0] = 1;
    for (let e = 1; e <= 49; e++) pow[e] = mul(pow[e - 1]!, x);
    let g = 0x25;
    for (const e of exps) g ^= pow[e]!;
    sq[x] = g;
  }
  return sq;
}

const MUL_ALPHA = new Uint32Array(256);
const DIV_ALPHA = new Uint32Array(256);
/** S1 and S2 (3.4.1 / 3.4.2) split by input byte: S(w) = T0[w0] ^ T1[w1] ^ T2[w2] ^ T3[w3]. */
const S1T0 = new Uint32Array(256);
const S1T1 = new Uint32Array(256);
const S1T2 = new Uint32Array(256);
const S1T3 = new Uint32Array(256);
const S2T0 = new Uint32Array(256);
const S2T1 = new Uint32Array(256);
const S2T2 = new Uint32Array(256);
const S2T3 = new Uint32Array(256);

(() => {
  const sq = buildSq();
  for (let c = 0; c < 256; c++) {
    // 3.4.4 / 3.4.5: MULalpha(c) and DIValpha(c), 4 bytes each.
    MUL_ALPHA[c] =
      ((mulxPow(c, 23, 0xa9) << 24) | (mulxPow(c, 245, 0xa9) << 16) | (mulxPow(c, 48, 0xa9) << 8) | mulxPow(c, 239, 0xa9)) >>> 0;
    DIV_ALPHA[c] =
      ((mulxPow(c, 16, 0xa9) << 24) | (mulxPow(c, 39, 0xa9) << 16) | (mulxPow(c, 6, 0xa9) << 8) | mulxPow(c, 64, 0xa9)) >>> 0;
    // 3.4.1: r0 = MULx(SR(w0)) ^ SR(w1) ^ SR(w2) ^ MULx(SR(w3)) ^ SR(w3), and so on: each input
    // byte w_i contributes (a, b, c, d) to (r0, r1, r2, r3).
    for (const [sbox, poly, t] of [
      [SBOX, 0x1b, [S1T0, S1T1, S1T2, S1T3]],
      [sq, 0x69, [S2T0, S2T1, S2T2, S2T3]],
    ] as const) {
      const s = sbox[c]!;
      const s2 = mulx(s, poly);
      const s3 = s2 ^ s;
      t[0][c] = ((s2 << 24) | (s3 << 16) | (s << 8) | s) >>> 0;
      t[1][c] = ((s << 24) | (s2 << 16) | (s3 << 8) | s) >>> 0;
      t[2][c] = ((s << 24) | (s << 16) | (s2 << 8) | s3) >>> 0;
      t[3][c] = ((s3 << 24) | (s << 16) | (s << 8) | s2) >>> 0;
    }
  }
})();

// ---------------------------------------------------------------------------------------------
// Keystream generator (SNOW 3G spec clause 4)

/**
 * A SNOW 3G keystream generator with reusable state. The LFSR lives in `lfsr[t .. t+15]` and
 * grows by one word per clock (s_{t+16} is written, nothing is shifted), so one packet's
 * initialisation and keystream are a single pass over a scratch array kept between packets.
 */
export class Snow3g {
  private lfsr = new Uint32Array(16 + 33 + 64);

  /**
   * Writes `n` keystream words z1..zn to `out[0..n-1]` for key words (k0, k1, k2, k3) and IV words
   * (IV0, IV1, IV2, IV3) in the order of the spec's 4.1 initialisation.
   */
  generate(
    k0: number,
    k1: number,
    k2: number,
    k3: number,
    iv0: number,
    iv1: number,
    iv2: number,
    iv3: number,
    n: number,
    out: Uint32Array,
  ): void {
    const need = 16 + 33 + n;
    if (this.lfsr.length < need) this.lfsr = new Uint32Array(need * 2);
    const s = this.lfsr;
    // 4.1 Initialisation: 1 = all-ones word.
    s[15] = k3 ^ iv0;
    s[14] = k2;
    s[13] = k1;
    s[12] = k0 ^ iv1;
    s[11] = ~k3;
    s[10] = ~k2 ^ iv2;
    s[9] = ~k1 ^ iv3;
    s[8] = ~k0;
    s[7] = k3;
    s[6] = k2;
    s[5] = k1;
    s[4] = k0;
    s[3] = ~k3;
    s[2] = ~k2;
    s[1] = ~k1;
    s[0] = ~k0;
    let r1 = 0;
    let r2 = 0;
    let r3 = 0;
    let t = 0;
    // 32 clocks in initialisation mode (3.4.6 ClockFSM, 3.4.4 ClockLFSR with input F), then one
    // clock whose FSM output is discarded in keystream mode (4.2).
    for (; t < 33; t++) {
      const s0 = s[t]!;
      const s11 = s[t + 11]!;
      const f = ((s[t + 15]! + r1) ^ r2) >>> 0;
      const r = (r2 + (r3 ^ s[t + 5]!)) >>> 0;
      r3 = S2T0[r2 >>> 24]! ^ S2T1[(r2 >>> 16) & 0xff]! ^ S2T2[(r2 >>> 8) & 0xff]! ^ S2T3[r2 & 0xff]!;
      r2 = S1T0[r1 >>> 24]! ^ S1T1[(r1 >>> 16) & 0xff]! ^ S1T2[(r1 >>> 8) & 0xff]! ^ S1T3[r1 & 0xff]!;
      r1 = r;
      s[t + 16] =
        (s0 << 8) ^ MUL_ALPHA[s0 >>> 24]! ^ s[t + 2]! ^ (s11 >>> 8) ^ DIV_ALPHA[s11 & 0xff]! ^ (t < 32 ? f : 0);
    }
    // 4.2 Generation of keystream: z_t = F ^ s0, then clock the LFSR in keystream mode.
    for (let i = 0; i < n; i++, t++) {
      const s0 = s[t]!;
      const s11 = s[t + 11]!;
      const f = ((s[t + 15]! + r1) ^ r2) >>> 0;
      const r = (r2 + (r3 ^ s[t + 5]!)) >>> 0;
      r3 = S2T0[r2 >>> 24]! ^ S2T1[(r2 >>> 16) & 0xff]! ^ S2T2[(r2 >>> 8) & 0xff]! ^ S2T3[r2 & 0xff]!;
      r2 = S1T0[r1 >>> 24]! ^ S1T1[(r1 >>> 16) & 0xff]! ^ S1T2[(r1 >>> 8) & 0xff]! ^ S1T3[r1 & 0xff]!;
      r1 = r;
      out[i] = f ^ s0;
      s[t + 16] = (s0 << 8) ^ MUL_ALPHA[s0 >>> 24]! ^ s[t + 2]! ^ (s11 >>> 8) ^ DIV_ALPHA[s11 & 0xff]!;
    }
  }
}

/** Reads the 128-bit key as words k3 = KEY[0..31] .. k0 = KEY[96..127] (UEA2/UIA2 3.2 / 4.2). */
function keyWords(key: Uint8Array): [number, number, number, number] {
  const w = (i: number): number => ((key[i]! << 24) | (key[i + 1]! << 16) | (key[i + 2]! << 8) | key[i + 3]!) >>> 0;
  return [w(12), w(8), w(4), w(0)];
}

/** The SNOW 3G keystream for raw key and IV words (k0..k3, IV0..IV3 as in the spec's test data). */
export function snow3gKeystream(kWords: readonly number[], ivWords: readonly number[], n: number): Uint32Array {
  if (kWords.length !== 4) throw new RangeError(`kWords must hold 4 words, got ${kWords.length}`);
  if (ivWords.length !== 4) throw new RangeError(`ivWords must hold 4 words, got ${ivWords.length}`);
  kWords.forEach((w, i) => checkInt(`kWords[${i}]`, w, 0, 0xffffffff));
  ivWords.forEach((w, i) => checkInt(`ivWords[${i}]`, w, 0, 0xffffffff));
  checkInt('n', n, 0, 1 << 24);
  const out = new Uint32Array(n);
  new Snow3g().generate(kWords[0]!, kWords[1]!, kWords[2]!, kWords[3]!, ivWords[0]!, ivWords[1]!, ivWords[2]!, ivWords[3]!, n, out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// f8 / 128-NEA1

/** 128-NEA1 (UEA2 f8, Document 1 clause 3): keystream words XORed big-endian over the data. */
export class Nea1 implements CipherEngine {
  readonly alg = 1 as const;
  private readonly k: [number, number, number, number];
  private readonly gen = new Snow3g();
  private ks = new Uint32Array(64);

  constructor(key: Uint8Array) {
    checkKey128(key);
    this.k = keyWords(key);
  }

  apply(count: number, bearer: number, direction: number, data: Uint8Array, lengthBits?: number, out?: Uint8Array): Uint8Array {
    checkCountBearerDirection(count, bearer, direction);
    const bits = resolveLengthBits(lengthBits, data, 'data');
    const nBytes = (bits + 7) >>> 3;
    const dst = resolveOut(out, nBytes);
    if (nBytes === 0) return dst;
    const nWords = (nBytes + 3) >>> 2;
    if (this.ks.length < nWords) this.ks = new Uint32Array(nWords * 2);
    const ks = this.ks;
    // 3.4: IV3 = COUNT, IV2 = BEARER || DIRECTION || 0^26, IV1 = COUNT, IV0 = IV2.
    const bd = ((bearer << 27) | (direction << 26)) >>> 0;
    const [k0, k1, k2, k3] = this.k;
    this.gen.generate(k0, k1, k2, k3, bd, count, bd, count, nWords, ks);
    xorWords(ks, data, dst, nBytes);
    const rem = bits & 7;
    if (rem !== 0) dst[nBytes - 1] = dst[nBytes - 1]! & ((0xff00 >>> rem) & 0xff);
    return dst;
  }
}

/** dst[i] = data[i] ^ keystream byte i (keystream words big-endian), for i < nBytes. */
export function xorWords(ks: Uint32Array, data: Uint8Array, dst: Uint8Array, nBytes: number): void {
  const full = nBytes & ~3;
  let i = 0;
  for (let w = 0; i < full; i += 4, w++) {
    const z = ks[w]!;
    dst[i] = data[i]! ^ (z >>> 24);
    dst[i + 1] = data[i + 1]! ^ ((z >>> 16) & 0xff);
    dst[i + 2] = data[i + 2]! ^ ((z >>> 8) & 0xff);
    dst[i + 3] = data[i + 3]! ^ (z & 0xff);
  }
  if (i < nBytes) {
    const z = ks[i >>> 2]!;
    for (let j = 0; i < nBytes; i++, j++) dst[i] = data[i]! ^ ((z >>> (24 - 8 * j)) & 0xff);
  }
}

// ---------------------------------------------------------------------------------------------
// f9 / 128-NIA1

/** x^64 = x^4 + x^3 + x + 1 (Document 1, 4.3: MUL64x with c = 0x1b): reduction of 8 / 4 overflow bits. */
const RED8 = new Uint32Array(256);
for (let o = 0; o < 256; o++) {
  let r = 0;
  for (let b = 0; b < 8; b++) if ((o >>> b) & 1) r ^= 0x1b << b;
  RED8[o] = r;
}

/**
 * Multiplication by a fixed P in GF(2^64) mod x^64 + x^4 + x^3 + x + 1 (Document 1, 4.3 Mul64
 * with c = 0x1b), by Horner's rule over the digits of the other factor with a table of P * d for
 * every digit d: 8-bit digits (256-entry table, 8 steps per product) when a packet has many
 * blocks, 4-bit digits (16 entries, 16 steps) when the table would cost more than it saves.
 */
class Gf64Multiplier {
  readonly hi8 = new Uint32Array(256);
  readonly lo8 = new Uint32Array(256);
  readonly hi4 = new Uint32Array(16);
  readonly lo4 = new Uint32Array(16);
  /** Result of the last multiplication (high word, low word). */
  rHi = 0;
  rLo = 0;
  private wide = false;

  /** Prepares tables for P = (hi, lo); `wide` selects 8-bit digits. */
  set(hi: number, lo: number, wide: boolean): void {
    this.wide = wide;
    const size = wide ? 256 : 16;
    const tHi = wide ? this.hi8 : this.hi4;
    const tLo = wide ? this.lo8 : this.lo4;
    tHi[0] = 0;
    tLo[0] = 0;
    for (let bit = 1; bit < size; bit <<= 1) {
      tHi[bit] = hi;
      tLo[bit] = lo;
      for (let j = 1; j < bit; j++) {
        tHi[bit + j] = hi ^ tHi[j]!;
        tLo[bit + j] = lo ^ tLo[j]!;
      }
      // P * x (4.3 MUL64x): shift left, reduce the bit shifted out with 0x1b.
      const carry = hi >>> 31;
      hi = ((hi << 1) | (lo >>> 31)) >>> 0;
      lo = ((lo << 1) ^ (carry ? 0x1b : 0)) >>> 0;
    }
  }

  /** (rHi, rLo) = X * P for X = (xHi, xLo). */
  mul(xHi: number, xLo: number): void {
    let hi = 0;
    let lo = 0;
    if (this.wide) {
      const tHi = this.hi8;
      const tLo = this.lo8;
      // Z = Z * x^8 ^ P * digit, most significant byte first; the 8 bits shifted out of Z
      // come back reduced as RED8[o] = o * (x^4 + x^3 + x + 1).
      for (let sh = 24; sh >= 0; sh -= 8) {
        const o = hi >>> 24;
        const d = (xHi >>> sh) & 0xff;
        hi = ((hi << 8) | (lo >>> 24)) ^ tHi[d]!;
        lo = (lo << 8) ^ RED8[o]! ^ tLo[d]!;
      }
      for (let sh = 24; sh >= 0; sh -= 8) {
        const o = hi >>> 24;
        const d = (xLo >>> sh) & 0xff;
        hi = ((hi << 8) | (lo >>> 24)) ^ tHi[d]!;
        lo = (lo << 8) ^ RED8[o]! ^ tLo[d]!;
      }
    } else {
      const tHi = this.hi4;
      const tLo = this.lo4;
      for (let sh = 28; sh >= 0; sh -= 4) {
        const o = hi >>> 28;
        const d = (xHi >>> sh) & 0xf;
        hi = ((hi << 4) | (lo >>> 28)) ^ tHi[d]!;
        lo = (lo << 4) ^ RED8[o]! ^ tLo[d]!;
      }
      for (let sh = 28; sh >= 0; sh -= 4) {
        const o = hi >>> 28;
        const d = (xLo >>> sh) & 0xf;
        hi = ((hi << 4) | (lo >>> 28)) ^ tHi[d]!;
        lo = (lo << 4) ^ RED8[o]! ^ tLo[d]!;
      }
    }
    this.rHi = hi >>> 0;
    this.rLo = lo >>> 0;
  }
}

/** Packets of at least this many 64-bit blocks use 8-bit digits (measured crossover, roughly). */
const WIDE_TABLE_MIN_BLOCKS = 24;

/**
 * UIA2 f9 (Document 1 clause 4) bound to one key, with FRESH explicit. 128-NIA1 is this with
 * FRESH = BEARER << 27 (TS 33.401 B.2.2).
 */
export class Snow3gF9 {
  private readonly k: [number, number, number, number];
  private readonly gen = new Snow3g();
  private readonly z = new Uint32Array(5);
  private readonly byP = new Gf64Multiplier();
  private readonly byQ = new Gf64Multiplier();
  private readonly tail = new Uint8Array(8);

  constructor(key: Uint8Array) {
    checkKey128(key);
    this.k = keyWords(key);
  }

  /** The 32-bit MAC-I for (COUNT-I, FRESH, DIRECTION) over the first `lengthBits` bits of `message`. */
  mac(count: number, fresh: number, direction: number, message: Uint8Array, lengthBits?: number): number {
    checkCount(count);
    checkInt('FRESH', fresh, 0, 0xffffffff);
    checkDirection(direction);
    const bits = resolveLengthBits(lengthBits, message, 'message');
    // 4.4: IV3 = COUNT-I, IV2 = FRESH, IV1 = COUNT-I ^ (DIRECTION << 31), IV0 = FRESH ^ (DIRECTION << 15).
    const [k0, k1, k2, k3] = this.k;
    const z = this.z;
    this.gen.generate(k0, k1, k2, k3, (fresh ^ (direction << 15)) >>> 0, (count ^ (direction << 31)) >>> 0, fresh, count, 5, z);
    // 4.4: P = z1 || z2, Q = z3 || z4; D = ceil(LENGTH / 64) + 1 blocks, the last being LENGTH.
    const fullBlocks = bits >>> 6;
    const byP = this.byP;
    byP.set(z[0]!, z[1]!, fullBlocks >= WIDE_TABLE_MIN_BLOCKS);
    // 4.5: EVAL = 0; for each message block M_i: EVAL = Mul64(EVAL ^ M_i, P, 0x1b).
    let eHi = 0;
    let eLo = 0;
    let off = 0;
    for (let i = 0; i < fullBlocks; i++, off += 8) {
      const mHi = ((message[off]! << 24) | (message[off + 1]! << 16) | (message[off + 2]! << 8) | message[off + 3]!) >>> 0;
      const mLo = ((message[off + 4]! << 24) | (message[off + 5]! << 16) | (message[off + 6]! << 8) | message[off + 7]!) >>> 0;
      byP.mul(eHi ^ mHi, eLo ^ mLo);
      eHi = byP.rHi;
      eLo = byP.rLo;
    }
    const restBits = bits & 63;
    if (restBits !== 0) {
      // The last message block is padded with zeros; bits beyond LENGTH must not count.
      const t = this.tail;
      t.fill(0);
      const restBytes = (restBits + 7) >>> 3;
      t.set(message.subarray(off, off + restBytes));
      if (restBits & 7) t[restBytes - 1] = t[restBytes - 1]! & ((0xff00 >>> (restBits & 7)) & 0xff);
      const mHi = ((t[0]! << 24) | (t[1]! << 16) | (t[2]! << 8) | t[3]!) >>> 0;
      const mLo = ((t[4]! << 24) | (t[5]! << 16) | (t[6]! << 8) | t[7]!) >>> 0;
      byP.mul(eHi ^ mHi, eLo ^ mLo);
      eHi = byP.rHi;
      eLo = byP.rLo;
    }
    // 4.5: EVAL ^= LENGTH (M_{D-1}); EVAL = Mul64(EVAL, Q, 0x1b); MAC-I = EVAL[0..31] ^ z5.
    eHi = (eHi ^ Math.floor(bits / 0x100000000)) >>> 0;
    eLo = (eLo ^ bits) >>> 0;
    this.byQ.set(z[2]!, z[3]!, false);
    this.byQ.mul(eHi, eLo);
    return (this.byQ.rHi ^ z[4]!) >>> 0;
  }
}

/** 128-NIA1: f9 with FRESH = BEARER << 27 (TS 33.401 B.2.2). */
export class Nia1 implements IntegrityEngine {
  readonly alg = 1 as const;
  private readonly f9: Snow3gF9;
  constructor(key: Uint8Array) {
    this.f9 = new Snow3gF9(key);
  }
  mac(count: number, bearer: number, direction: number, message: Uint8Array, lengthBits?: number): number {
    checkBearer(bearer);
    return this.f9.mac(count, (bearer << 27) >>> 0, direction, message, lengthBits);
  }
}
