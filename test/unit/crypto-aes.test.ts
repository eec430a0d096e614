/**
 * 128-NEA2 / 128-NIA2 against the official vectors (TS 33.401 C.1 / C.2) on every AES backend, and
 * cross-checked against @noble/ciphers on 1,000 random inputs per algorithm, bit lengths included.
 */
import { readFileSync } from 'node:fs';
import { cmac as nobleCmac, ctr as nobleCtr, ecb as nobleEcb } from '@noble/ciphers/aes.js';
import { describe, expect, it } from 'vitest';
import {
  AES_BACKENDS,
  createNea2,
  createNia2,
  NEA2_TS_MAX_BYTES,
  NIA2_TS_MAX_BYTES,
  type AesBackend,
} from '../../src/crypto/aes.js';
import { createCipherEngine, createIntegrityEngine } from '../../src/crypto/index.js';
import type { CipherEngine, IntegrityEngine } from '../../src/crypto/types.js';
import { hex, randomBytes, rng, toHex } from '../fixtures/bytes.js';

const VECTORS = JSON.parse(
  readFileSync(new URL('../vectors/3gpp.json', import.meta.url), 'utf8'),
) as { vectors: Record<string, Record<string, string | number>[]> };

/** Reference 128-NEA2 from noble's AES-CTR. */
function refNea2(key: Uint8Array, count: number, bearer: number, dir: number, data: Uint8Array, bits: number): Uint8Array {
  const iv = new Uint8Array(16);
  new DataView(iv.buffer).setUint32(0, count);
  iv[4] = (bearer << 3) | (dir << 2);
  const nBytes = Math.ceil(bits / 8);
  const out = nobleCtr(key, iv).encrypt(data.slice(0, nBytes));
  if (bits % 8) out[nBytes - 1]! &= 0xff << (8 - (bits % 8));
  return out;
}

/** Reference bit-level AES-CMAC (SP 800-38B) built from noble's ECB, then 128-NIA2 over it. */
function refNia2(key: Uint8Array, count: number, bearer: number, dir: number, msg: Uint8Array, bits: number): number {
  const total = 64 + bits;
  const m = new Uint8Array(8 + Math.ceil(bits / 8));
  new DataView(m.buffer).setUint32(0, count);
  m[4] = (bearer << 3) | (dir << 2);
  m.set(msg.subarray(0, Math.ceil(bits / 8)), 8);
  const enc = (b: Uint8Array): Uint8Array => nobleEcb(key, { disablePadding: true }).encrypt(b);
  const dbl = (b: Uint8Array): Uint8Array => {
    const o = new Uint8Array(16);
    for (let i = 0; i < 16; i++) o[i] = ((b[i]! << 1) | (i < 15 ? b[i + 1]! >> 7 : 0)) & 0xff;
    if (b[0]! & 0x80) o[15]! ^= 0x87;
    return o;
  };
  const k1 = dbl(enc(new Uint8Array(16)));
  const k2 = dbl(k1);
  const n = Math.max(1, Math.ceil(total / 128));
  const padded = new Uint8Array(n * 16);
  // Copy exactly `total` bits, then append 1 0* if the last block is partial.
  for (let i = 0; i < total; i++) {
    if ((m[i >> 3]! >> (7 - (i & 7))) & 1) padded[i >> 3]! |= 0x80 >> (i & 7);
  }
  const complete = total % 128 === 0;
  if (!complete) padded[total >> 3]! |= 0x80 >> (total & 7);
  const k = complete ? k1 : k2;
  for (let i = 0; i < 16; i++) padded[(n - 1) * 16 + i]! ^= k[i]!;
  let x: Uint8Array = new Uint8Array(16);
  for (let b = 0; b < n; b++) {
    const blk = padded.slice(b * 16, b * 16 + 16);
    for (let i = 0; i < 16; i++) blk[i]! ^= x[i]!;
    x = enc(blk);
  }
  if (total % 8 === 0) {
    // Byte-aligned: noble's own CMAC must agree too.
    const t = nobleCmac(m, key);
    expect(toHex(t)).toBe(toHex(x));
  }
  return new DataView(x.buffer, x.byteOffset).getUint32(0);
}

type Impl = { name: string; nea: (k: Uint8Array) => CipherEngine; nia: (k: Uint8Array) => IntegrityEngine };
const IMPLS: Impl[] = [
  ...AES_BACKENDS.map((b: AesBackend) => ({
    name: `backend ${b}`,
    nea: (k: Uint8Array) => createNea2(k, b),
    nia: (k: Uint8Array) => createNia2(k, b),
  })),
  { name: 'createCipherEngine/createIntegrityEngine', nea: (k) => createCipherEngine(2, k), nia: (k) => createIntegrityEngine(2, k) },
];

describe.each(IMPLS)('128-NEA2 / 128-NIA2 ($name)', (impl) => {
  it.each(VECTORS.vectors.nea2!)('NEA2 vector $id', (v) => {
    const eng = impl.nea(hex(v.key as string));
    const bits = v.length_bits as number;
    const ct = eng.apply(v.count as number, v.bearer as number, v.direction as number, hex(v.plaintext as string), bits);
    expect(toHex(ct)).toBe(v.ciphertext);
    // Deciphering is the same operation; in place too.
    const buf = hex(v.ciphertext as string);
    eng.apply(v.count as number, v.bearer as number, v.direction as number, buf, bits, buf);
    expect(toHex(buf)).toBe(v.plaintext);
  });

  it.each(VECTORS.vectors.nia2!)('NIA2 vector $id', (v) => {
    const eng = impl.nia(hex(v.key as string));
    const mac = eng.mac(v.count as number, v.bearer as number, v.direction as number, hex(v.message as string), v.length_bits as number);
    expect(mac.toString(16).padStart(8, '0')).toBe(v.mac);
  });

  it('matches @noble/ciphers on 1,000 random keys, COUNTs, BEARERs, DIRECTIONs and bit lengths (0..1500 B)', () => {
    const next = rng(0x5eed + impl.name.length);
    for (let i = 0; i < 1000; i++) {
      const key = randomBytes(next, 16);
      const count = next();
      const bearer = next() & 31;
      const dir = next() & 1;
      // Up to 1500 bytes: both sides of the `auto` crossover (NEA2/NIA2_TS_MAX_BYTES).
      const bits = i < 8 ? i : next() % 12_000;
      const data = randomBytes(next, Math.ceil(bits / 8) + (next() % 3));
      const ct = impl.nea(key).apply(count, bearer, dir, data, bits);
      expect(toHex(ct)).toBe(toHex(refNea2(key, count, bearer, dir, data, bits)));
      const mac = impl.nia(key).mac(count, bearer, dir, data, bits);
      expect(mac).toBe(refNia2(key, count, bearer, dir, data, bits));
    }
  });

  it('gives the same result when one engine is reused across many packets', () => {
    const next = rng(42);
    const key = randomBytes(next, 16);
    const nea = impl.nea(key);
    const nia = impl.nia(key);
    for (let i = 0; i < 200; i++) {
      const bits = next() % 2000;
      const data = randomBytes(next, Math.ceil(bits / 8));
      const count = next();
      expect(toHex(nea.apply(count, 3, 1, data, bits))).toBe(toHex(refNea2(key, count, 3, 1, data, bits)));
      expect(nia.mac(count, 3, 1, data, bits)).toBe(refNia2(key, count, 3, 1, data, bits));
    }
  });
});

describe('auto backend around its crossovers', () => {
  // The last byte length on the TypeScript AES, and the first on node:crypto, with partial bytes.
  const edges = (max: number): number[] => [8 * max - 7, 8 * max - 1, 8 * max, 8 * max + 1, 8 * max + 8, 8 * max + 9];

  it.each(edges(NEA2_TS_MAX_BYTES))('NEA2 at %i bits equals noble and the pinned backends', (bits) => {
    const next = rng(bits);
    const key = randomBytes(next, 16);
    const data = randomBytes(next, Math.ceil(bits / 8));
    const want = toHex(refNea2(key, 0x1234567, 7, 1, data, bits));
    for (const b of AES_BACKENDS) expect(toHex(createNea2(key, b).apply(0x1234567, 7, 1, data, bits)), b).toBe(want);
  });

  it.each(edges(NIA2_TS_MAX_BYTES))('NIA2 at %i bits equals noble and the pinned backends', (bits) => {
    const next = rng(bits + 1);
    const key = randomBytes(next, 16);
    const data = randomBytes(next, Math.ceil(bits / 8));
    const want = refNia2(key, 0x89abcdef, 21, 0, data, bits);
    for (const b of AES_BACKENDS) expect(createNia2(key, b).mac(0x89abcdef, 21, 0, data, bits), b).toBe(want);
  });
});
