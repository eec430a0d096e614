/**
 * HMAC-SHA-256 (RFC 2104 over the SHA-256 of FIPS 180-4) with the key's state computed once: the
 * PRF of the TS 33.220 B.2 KDF (kdf.ts), built for deriving keys in microseconds.
 *
 *   HMAC(K, m) = H((K0 ^ opad) || H((K0 ^ ipad) || m))      (RFC 2104 2, FIPS 198-1 4)
 *
 * (K0 ^ ipad) and (K0 ^ opad) are one 64-byte block each, so the SHA-256 chaining values after
 * them depend on the key only. A {@link HmacSha256Key} keeps those two 8-word states; each MAC
 * then costs the compressions of the message (one for a KDF input under 56 bytes) plus one for
 * the outer hash, whose message (the 32-byte inner digest) always fits one block. node:crypto's
 * `createHmac` redoes the keying and pays a native call and its Buffers per MAC (1.7 us at best
 * on the development VM, a new PTK's three of them 6-7 us; docs/pdcp.md, "Key derivation cost");
 * the `node` backend keeps that path for comparison.
 */
import { createHmac } from 'node:crypto';
import { checkBytes } from './checks.js';

/** Where the HMAC-SHA-256 of the KDF is computed: this module's TypeScript, or node:crypto. */
export type KdfBackend = 'ts' | 'node';
export const KDF_BACKENDS: readonly KdfBackend[] = ['ts', 'node'];
/** Chosen by the measurement in docs/pdcp.md ("Key derivation cost"). */
export const DEFAULT_KDF_BACKEND: KdfBackend = 'ts';

/** SHA-256 block size B (RFC 2104 2: B = 64 for SHA-256). */
const BLOCK_BYTES = 64;
export const HMAC_SHA256_BYTES = 32;

/** FIPS 180-4 4.2.2: the 64 constants K0..K63 (as signed int32, see aes-block.ts on why). */
const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
/** FIPS 180-4 5.3.3: the initial hash value H(0). */
const IV = Int32Array.from([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

// Scratch shared by every call: nothing here awaits, so calls never interleave.
/**
 * The words of the block(s) to compress (FIPS 180-4 6.2.2 step 1, W0..W15): one block, or the
 * padded last two of a message (5.1.1).
 */
const W = new Int32Array(32);
/** The running hash value H(i). */
const H = new Int32Array(8);
/** K0 of RFC 2104 2 as 16 words, while a key is being set up (zeroed right after). */
const K0 = new Int32Array(16);
/** RFC 2104 2: ipad = 0x36 and opad = 0x5C repeated B times, here one word's worth. */
const IPAD_WORD = 0x36363636;
const OPAD_WORD = 0x5c5c5c5c;

/**
 * FIPS 180-4 6.2.2: one SHA-256 compression of the block in w[o..o+15] into `state`.
 *
 * Written out 16 rounds at a time, the message schedule in 16 locals and the working variables
 * renamed instead of moved each round: measured 1.6x faster than the plain loop over a 64-word
 * schedule array (~240 ns against ~360 ns a block on the development VM). Sigma0/Sigma1/sigma0/
 * sigma1/Ch/Maj (4.1.2) are inline because V8 does not inline that many calls of helpers here
 * (4x slower with them).
 */
function compress(state: Int32Array, w: Int32Array, o: number): void {
  let w0 = w[o]!, w1 = w[o + 1]!, w2 = w[o + 2]!, w3 = w[o + 3]!, w4 = w[o + 4]!, w5 = w[o + 5]!, w6 = w[o + 6]!, w7 = w[o + 7]!;
  let w8 = w[o + 8]!, w9 = w[o + 9]!, w10 = w[o + 10]!, w11 = w[o + 11]!, w12 = w[o + 12]!, w13 = w[o + 13]!;
  let w14 = w[o + 14]!, w15 = w[o + 15]!;
  let a = state[0]!, b = state[1]!, c = state[2]!, d = state[3]!;
  let e = state[4]!, f = state[5]!, g = state[6]!, h = state[7]!;
  let x = 0;
  let y = 0;
  for (let t = 0; t < 64; t += 16) {
    if (t > 0) {
      // Step 1, W(t)..W(t+15) in place: Wj = sigma1(W[j-2]) + W[j-7] + sigma0(W[j-15]) + W[j-16].
      x = w1;
      y = w14;
      w0 = (w0 + w9 + (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) + (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10))) | 0;
      x = w2;
      y = w15;
      w1 = (w1 + w10 + (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) + (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10))) | 0;
      x = w3;
      y = w0;
      w2 = (w2 + w11 + (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) + (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10))) | 0;
      x = w4;
      y = w1;
      w3 = (w3 + w12 + (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) + (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10))) | 0;
      x = w5;
      y = w2;
      w4 = (w4 + w13 + (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) + (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10))) | 0;
      x = w6;
      y = w3;
      w5 = (w5 + w14 + (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) + (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10))) | 0;
      x = w7;
      y = w4;
      w6 = (w6 + w15 + (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) + (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10))) | 0;
      x = w8;
      y = w5;
      w7 = (w7 + w0 + (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) + (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10))) | 0;
      x = w9;
      y = w6;
      w8 = (w8 + w1 + (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) + (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10))) | 0;
      x = w10;
      y = w7;
      w9 = (w9 + w2 + (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) + (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10))) | 0;
      x = w11;
      y = w8;
      w10 = (w10 + w3 + (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) + (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10))) | 0;
      x = w12;
      y = w9;
      w11 = (w11 + w4 + (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) + (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10))) | 0;
      x = w13;
      y = w10;
      w12 = (w12 + w5 + (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) + (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10))) | 0;
      x = w14;
      y = w11;
      w13 = (w13 + w6 + (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) + (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10))) | 0;
      x = w15;
      y = w12;
      w14 = (w14 + w7 + (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) + (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10))) | 0;
      x = w0;
      y = w13;
      w15 = (w15 + w8 + (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) + (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10))) | 0;
    }
    // Step 3, rounds t..t+15: h += Sigma1(e) + Ch(e, f, g) + K[t] + W[t]; d += h; h += Sigma0(a) + Maj(a, b, c);
    // then the letters shift by one (the next round's h is this round's g, and so on).
    h = (h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) + ((e & f) ^ (~e & g)) + K[t + 0]! + w0) | 0;
    d = (d + h) | 0;
    h = (h + (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    g = (g + (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7))) + ((d & e) ^ (~d & f)) + K[t + 1]! + w1) | 0;
    c = (c + g) | 0;
    g = (g + (((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10))) + ((h & a) ^ (h & b) ^ (a & b))) | 0;
    f = (f + (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7))) + ((c & d) ^ (~c & e)) + K[t + 2]! + w2) | 0;
    b = (b + f) | 0;
    f = (f + (((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))) + ((g & h) ^ (g & a) ^ (h & a))) | 0;
    e = (e + (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7))) + ((b & c) ^ (~b & d)) + K[t + 3]! + w3) | 0;
    a = (a + e) | 0;
    e = (e + (((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))) + ((f & g) ^ (f & h) ^ (g & h))) | 0;
    d = (d + (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7))) + ((a & b) ^ (~a & c)) + K[t + 4]! + w4) | 0;
    h = (h + d) | 0;
    d = (d + (((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))) + ((e & f) ^ (e & g) ^ (f & g))) | 0;
    c = (c + (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7))) + ((h & a) ^ (~h & b)) + K[t + 5]! + w5) | 0;
    g = (g + c) | 0;
    c = (c + (((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))) + ((d & e) ^ (d & f) ^ (e & f))) | 0;
    b = (b + (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7))) + ((g & h) ^ (~g & a)) + K[t + 6]! + w6) | 0;
    f = (f + b) | 0;
    b = (b + (((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))) + ((c & d) ^ (c & e) ^ (d & e))) | 0;
    a = (a + (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7))) + ((f & g) ^ (~f & h)) + K[t + 7]! + w7) | 0;
    e = (e + a) | 0;
    a = (a + (((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))) + ((b & c) ^ (b & d) ^ (c & d))) | 0;
    h = (h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) + ((e & f) ^ (~e & g)) + K[t + 8]! + w8) | 0;
    d = (d + h) | 0;
    h = (h + (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    g = (g + (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7))) + ((d & e) ^ (~d & f)) + K[t + 9]! + w9) | 0;
    c = (c + g) | 0;
    g = (g + (((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10))) + ((h & a) ^ (h & b) ^ (a & b))) | 0;
    f = (f + (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7))) + ((c & d) ^ (~c & e)) + K[t + 10]! + w10) | 0;
    b = (b + f) | 0;
    f = (f + (((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))) + ((g & h) ^ (g & a) ^ (h & a))) | 0;
    e = (e + (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7))) + ((b & c) ^ (~b & d)) + K[t + 11]! + w11) | 0;
    a = (a + e) | 0;
    e = (e + (((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))) + ((f & g) ^ (f & h) ^ (g & h))) | 0;
    d = (d + (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7))) + ((a & b) ^ (~a & c)) + K[t + 12]! + w12) | 0;
    h = (h + d) | 0;
    d = (d + (((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))) + ((e & f) ^ (e & g) ^ (f & g))) | 0;
    c = (c + (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7))) + ((h & a) ^ (~h & b)) + K[t + 13]! + w13) | 0;
    g = (g + c) | 0;
    c = (c + (((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))) + ((d & e) ^ (d & f) ^ (e & f))) | 0;
    b = (b + (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7))) + ((g & h) ^ (~g & a)) + K[t + 14]! + w14) | 0;
    f = (f + b) | 0;
    b = (b + (((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))) + ((c & d) ^ (c & e) ^ (d & e))) | 0;
    a = (a + (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7))) + ((f & g) ^ (~f & h)) + K[t + 15]! + w15) | 0;
    e = (e + a) | 0;
    a = (a + (((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))) + ((b & c) ^ (b & d) ^ (c & d))) | 0;
  }
  // Step 4: H(i) = H(i-1) + (a, ..., h).
  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
  state[4] = (state[4]! + e) | 0;
  state[5] = (state[5]! + f) | 0;
  state[6] = (state[6]! + g) | 0;
  state[7] = (state[7]! + h) | 0;
}

/** FIPS 180-4 6.2.2 step 1 (W0..W15): the 16 big-endian words of the block at `bytes[off..]`. */
function loadBlock(w: Int32Array, bytes: Uint8Array, off: number): void {
  for (let t = 0; t < 16; t++, off += 4) {
    w[t] = (bytes[off]! << 24) | (bytes[off + 1]! << 16) | (bytes[off + 2]! << 8) | bytes[off + 3]!;
  }
}

/**
 * Hashes `data` into `h`, which already holds the state after `prefixBytes` bytes (whole
 * blocks), and pads the message (FIPS 180-4 5.1.1: 1, zeros, 64-bit length of everything).
 * The padded tail is built in words: a KDF input is one short block, and this skips a byte copy.
 */
function hashFinal(h: Int32Array, data: Uint8Array, prefixBytes: number): void {
  const n = data.length;
  let off = 0;
  for (; n - off >= BLOCK_BYTES; off += BLOCK_BYTES) {
    loadBlock(W, data, off);
    compress(h, W, 0);
  }
  const rem = n - off;
  const tailWords = rem < BLOCK_BYTES - 8 ? 16 : 32;
  for (let t = 0; t < tailWords; t++) W[t] = 0;
  for (let i = 0; i < rem; i++) W[i >>> 2]! |= data[off + i]! << (24 - ((i & 3) << 3));
  W[rem >>> 2]! |= 0x80 << (24 - ((rem & 3) << 3));
  const bits = (prefixBytes + n) * 8;
  W[tailWords - 2] = Math.floor(bits / 0x100000000);
  W[tailWords - 1] = bits | 0;
  compress(h, W, 0);
  if (tailWords === 32) compress(h, W, 16);
}

/** Writes the 8 words of `h` big-endian to `out[off..off+32]` (FIPS 180-4 6.2.2: H0 || ... || H7). */
function storeWords(h: Int32Array, out: Uint8Array, off: number): void {
  for (let i = 0; i < 8; i++, off += 4) {
    const x = h[i]!;
    out[off] = x >>> 24;
    out[off + 1] = (x >>> 16) & 0xff;
    out[off + 2] = (x >>> 8) & 0xff;
    out[off + 3] = x & 0xff;
  }
}

/** A key ready to MAC with: what the KDF keeps per PGK and per PTK. Holds key material: never log it. */
export interface HmacSha256Key {
  readonly backend: KdfBackend;
  /** Length of the key it was made from, in bytes (for the callers' key-size checks). */
  readonly keyBytes: number;
  /** HMAC-SHA-256(key, data): 32 bytes. */
  mac(data: Uint8Array): Uint8Array;
}

/** What a key object shows when logged or serialised by mistake: never its state. */
const REDACTED = '[HMAC-SHA-256 key]';

/** The TypeScript backend: the SHA-256 states after K0 ^ ipad and K0 ^ opad, computed once. */
class TsHmacSha256Key implements HmacSha256Key {
  readonly backend = 'ts' as const;
  readonly keyBytes: number;
  // Private fields: not reachable by a spread, Object.keys or a logger walking the object.
  readonly #inner = new Int32Array(8);
  readonly #outer = new Int32Array(8);

  constructor(key: Uint8Array) {
    this.keyBytes = key.length;
    // RFC 2104 2: a key longer than B is replaced by its hash; K0 is the key padded with zeros to B.
    if (key.length > BLOCK_BYTES) {
      H.set(IV);
      hashFinal(H, key, 0);
      K0.set(H);
      K0.fill(0, 8);
      H.fill(0);
    } else {
      for (let t = 0, o = 0; t < 16; t++, o += 4) {
        K0[t] = ((key[o] ?? 0) << 24) | ((key[o + 1] ?? 0) << 16) | ((key[o + 2] ?? 0) << 8) | (key[o + 3] ?? 0);
      }
    }
    for (let t = 0; t < 16; t++) W[t] = K0[t]! ^ IPAD_WORD;
    this.#inner.set(IV);
    compress(this.#inner, W, 0);
    for (let t = 0; t < 16; t++) W[t] = K0[t]! ^ OPAD_WORD;
    this.#outer.set(IV);
    compress(this.#outer, W, 0);
    // No copy of the key outlives this call in the scratch.
    K0.fill(0);
    W.fill(0);
  }

  mac(data: Uint8Array): Uint8Array {
    checkBytes('data', data);
    H.set(this.#inner);
    hashFinal(H, data, BLOCK_BYTES);
    // Outer hash: one block = inner digest || 1 0...0 || length of (K0 ^ opad) || digest in bits.
    for (let i = 0; i < 8; i++) W[i] = H[i]!;
    W[8] = 0x80000000 | 0;
    W.fill(0, 9, 15);
    W[15] = (BLOCK_BYTES + HMAC_SHA256_BYTES) * 8;
    H.set(this.#outer);
    compress(H, W, 0);
    const out = new Uint8Array(HMAC_SHA256_BYTES);
    storeWords(H, out, 0);
    return out;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return REDACTED;
  }
}

/**
 * The node:crypto backend: a new `createHmac` per MAC, as the KDF worked before the TypeScript
 * path (kept to measure against and as a second implementation in the tests). It keeps a
 * reference to the key, not a copy: the key's owner decides how long it lives.
 */
class NodeHmacSha256Key implements HmacSha256Key {
  readonly backend = 'node' as const;
  readonly keyBytes: number;
  readonly #key: Uint8Array;

  constructor(key: Uint8Array) {
    this.#key = key;
    this.keyBytes = key.length;
  }

  mac(data: Uint8Array): Uint8Array {
    checkBytes('data', data);
    return new Uint8Array(createHmac('sha256', this.#key).update(data).digest());
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return REDACTED;
  }
}

/** `key` (any length, RFC 2104 2) made ready for HMAC-SHA-256 with `backend`. */
export function hmacSha256Key(key: Uint8Array, backend: KdfBackend = DEFAULT_KDF_BACKEND): HmacSha256Key {
  checkBytes('key', key);
  if (backend === 'ts') return new TsHmacSha256Key(key);
  if (backend === 'node') return new NodeHmacSha256Key(key);
  throw new RangeError(`backend must be one of ${KDF_BACKENDS.join(', ')}, got ${JSON.stringify(backend)}`);
}
