/**
 * AES-128 block encryption in TypeScript, FIPS 197, with the key schedule cached per key and the
 * round function as 32-bit T-table lookups (FIPS 197 5.1 SubBytes/ShiftRows/MixColumns folded into
 * four 256-entry word tables, built once at module load). Encryption only: CTR (128-NEA2) and
 * CMAC (128-NIA2) never decrypt a block.
 *
 * Not constant-time (table lookups depend on key and data); docs/crypto.md ("AES backend") says
 * when the default `auto` backend uses it (packets up to 256 bytes) and how to pin node:crypto.
 */

/** The AES S-box (FIPS 197 5.1.1); SNOW 3G reuses it as SR. */
export const SBOX = new Uint8Array(256);
// Int32Array, not Uint32Array: a word >= 2^31 read from a Uint32Array is not a small integer for
// V8 and goes through a double on every lookup; signed words stay int32 (measured ~15-25 %
// faster per block, docs/crypto.md). The bits are the same.
const TE0 = new Int32Array(256);
const TE1 = new Int32Array(256);
const TE2 = new Int32Array(256);
const TE3 = new Int32Array(256);

// FIPS 197 5.1.1: S-box = affine transform of the multiplicative inverse in GF(2^8). Built by
// walking the generator 3 (p) and its inverse (q) together.
(() => {
  let p = 1;
  let q = 1;
  do {
    p = (p ^ ((p << 1) & 0xff) ^ (p & 0x80 ? 0x1b : 0)) & 0xff; // p *= 3
    q ^= q << 1; // q /= 3
    q ^= q << 2;
    q ^= q << 4;
    q &= 0xff;
    if (q & 0x80) q ^= 0x09;
    const x = q ^ rotl8(q, 1) ^ rotl8(q, 2) ^ rotl8(q, 3) ^ rotl8(q, 4);
    SBOX[p] = (x ^ 0x63) & 0xff;
  } while (p !== 1);
  SBOX[0] = 0x63;
  for (let i = 0; i < 256; i++) {
    const s = SBOX[i]!;
    const s2 = ((s << 1) ^ (s & 0x80 ? 0x11b : 0)) & 0xff;
    const s3 = s2 ^ s;
    // Column (2s, s, s, 3s) of MixColumns, big-endian in the word.
    const t = (s2 << 24) | (s << 16) | (s << 8) | s3;
    TE0[i] = t;
    TE1[i] = (t >>> 8) | (t << 24);
    TE2[i] = (t >>> 16) | (t << 16);
    TE3[i] = (t >>> 24) | (t << 8);
  }
})();

function rotl8(x: number, n: number): number {
  return ((x << n) | (x >>> (8 - n))) & 0xff;
}

/** FIPS 197 5.2: Rcon[1..10], the round constants x^(i-1) in GF(2^8), in the top byte of a word. */
const RCON = Int32Array.from([0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1b, 0x36], (r) => r << 24);

/**
 * FIPS 197 5.2 KeyExpansion for Nk = 4: 44 round-key words (as signed int32, see TE0), one round
 * key of 4 words at a time in locals (part of every new PTK's engine set-up).
 */
export function expandKey128(key: Uint8Array): Int32Array {
  const w = new Int32Array(44);
  let w0 = (key[0]! << 24) | (key[1]! << 16) | (key[2]! << 8) | key[3]!;
  let w1 = (key[4]! << 24) | (key[5]! << 16) | (key[6]! << 8) | key[7]!;
  let w2 = (key[8]! << 24) | (key[9]! << 16) | (key[10]! << 8) | key[11]!;
  let w3 = (key[12]! << 24) | (key[13]! << 16) | (key[14]! << 8) | key[15]!;
  w[0] = w0;
  w[1] = w1;
  w[2] = w2;
  w[3] = w3;
  for (let r = 0, i = 4; r < 10; r++, i += 4) {
    // w[i] = w[i-4] ^ SubWord(RotWord(w[i-1])) ^ Rcon[i/4]; then w[i+j] = w[i+j-4] ^ w[i+j-1].
    w0 ^= ((SBOX[(w3 >>> 16) & 0xff]! << 24) | (SBOX[(w3 >>> 8) & 0xff]! << 16) | (SBOX[w3 & 0xff]! << 8) | SBOX[w3 >>> 24]!) ^ RCON[r]!;
    w1 ^= w0;
    w2 ^= w1;
    w3 ^= w2;
    w[i] = w0;
    w[i + 1] = w1;
    w[i + 2] = w2;
    w[i + 3] = w3;
  }
  return w;
}

/**
 * Encrypts the block (s0, s1, s2, s3) (big-endian words) under the expanded key `rk`, writing the
 * four output words to `out[0..3]`. Words in, words out, so CTR and CBC-MAC never touch bytes.
 */
export function encryptWords(rk: Int32Array, s0: number, s1: number, s2: number, s3: number, out: Int32Array): void {
  s0 ^= rk[0]!;
  s1 ^= rk[1]!;
  s2 ^= rk[2]!;
  s3 ^= rk[3]!;
  let k = 4;
  // FIPS 197 5.1: rounds 1..9 with SubBytes, ShiftRows, MixColumns, AddRoundKey.
  for (let round = 1; round < 10; round++) {
    const t0 = TE0[s0 >>> 24]! ^ TE1[(s1 >>> 16) & 0xff]! ^ TE2[(s2 >>> 8) & 0xff]! ^ TE3[s3 & 0xff]! ^ rk[k]!;
    const t1 = TE0[s1 >>> 24]! ^ TE1[(s2 >>> 16) & 0xff]! ^ TE2[(s3 >>> 8) & 0xff]! ^ TE3[s0 & 0xff]! ^ rk[k + 1]!;
    const t2 = TE0[s2 >>> 24]! ^ TE1[(s3 >>> 16) & 0xff]! ^ TE2[(s0 >>> 8) & 0xff]! ^ TE3[s1 & 0xff]! ^ rk[k + 2]!;
    const t3 = TE0[s3 >>> 24]! ^ TE1[(s0 >>> 16) & 0xff]! ^ TE2[(s1 >>> 8) & 0xff]! ^ TE3[s2 & 0xff]! ^ rk[k + 3]!;
    s0 = t0;
    s1 = t1;
    s2 = t2;
    s3 = t3;
    k += 4;
  }
  // Final round: no MixColumns.
  out[0] =
    ((SBOX[s0 >>> 24]! << 24) | (SBOX[(s1 >>> 16) & 0xff]! << 16) | (SBOX[(s2 >>> 8) & 0xff]! << 8) | SBOX[s3 & 0xff]!) ^
    rk[40]!;
  out[1] =
    ((SBOX[s1 >>> 24]! << 24) | (SBOX[(s2 >>> 16) & 0xff]! << 16) | (SBOX[(s3 >>> 8) & 0xff]! << 8) | SBOX[s0 & 0xff]!) ^
    rk[41]!;
  out[2] =
    ((SBOX[s2 >>> 24]! << 24) | (SBOX[(s3 >>> 16) & 0xff]! << 16) | (SBOX[(s0 >>> 8) & 0xff]! << 8) | SBOX[s1 & 0xff]!) ^
    rk[42]!;
  out[3] =
    ((SBOX[s3 >>> 24]! << 24) | (SBOX[(s0 >>> 16) & 0xff]! << 16) | (SBOX[(s1 >>> 8) & 0xff]! << 8) | SBOX[s2 & 0xff]!) ^
    rk[43]!;
}
