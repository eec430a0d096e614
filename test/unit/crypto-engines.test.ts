/**
 * Every 128-NEA/NIA engine: the official vectors (non-byte-aligned lengths included), the
 * word-level SNOW 3G f9 and ZUC EIA3 against literal bit-by-bit transcriptions of their specs on
 * random inputs, buffer handling (in place, odd offsets, reuse) and the labelled input checks.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  AES_BACKENDS,
  Snow3gF9,
  createCipherEngine,
  createIntegrityEngine,
  createNea2,
  createNia2,
  snow3gKeystream,
  zucKeystream,
} from '../../src/crypto/index.js';
import type { AlgId, CipherEngine, IntegrityEngine } from '../../src/crypto/types.js';
import { hex, randomBytes, rng, toHex } from '../fixtures/bytes.js';

type Vec = Record<string, string | number | string[]>;
const VECTORS = JSON.parse(
  readFileSync(new URL('../vectors/3gpp.json', import.meta.url), 'utf8'),
) as { vectors: Record<string, Vec[]> };
const h32 = (n: number): string => (n >>> 0).toString(16).padStart(8, '0');

/** One implementation set under test: the suites below take it as a parameter. */
interface Impl {
  name: string;
  cipher: (alg: AlgId, key: Uint8Array) => CipherEngine;
  integrity: (alg: AlgId, key: Uint8Array) => IntegrityEngine;
}
const IMPLS: Impl[] = AES_BACKENDS.map((b) => ({
  name: `AES backend ${b}`,
  cipher: (alg: AlgId, key: Uint8Array) => (alg === 2 ? createNea2(key, b) : createCipherEngine(alg, key)),
  integrity: (alg: AlgId, key: Uint8Array) => (alg === 2 ? createNia2(key, b) : createIntegrityEngine(alg, key)),
}));

const NEA_GROUPS = [
  ['nea1', 1],
  ['nea2', 2],
  ['nea3', 3],
] as const;
const NIA_GROUPS = [
  ['nia1', 1],
  ['nia2', 2],
  ['nia3', 3],
] as const;

describe.each(IMPLS)('official vectors ($name)', (impl) => {
  for (const [group, alg] of NEA_GROUPS) {
    it.each(VECTORS.vectors[group]!)(`${group} $id ($length_bits bits)`, (v) => {
      const bits = v.length_bits as number;
      const eng = impl.cipher(alg, hex(v.key as string));
      expect(toHex(eng.apply(v.count as number, v.bearer as number, v.direction as number, hex(v.plaintext as string), bits))).toBe(v.ciphertext);
      expect(toHex(eng.apply(v.count as number, v.bearer as number, v.direction as number, hex(v.ciphertext as string), bits))).toBe(v.plaintext);
    });
  }
  for (const [group, alg] of NIA_GROUPS) {
    it.each(VECTORS.vectors[group]!)(`${group} $id ($length_bits bits)`, (v) => {
      const eng = impl.integrity(alg, hex(v.key as string));
      const mac = eng.mac(v.count as number, v.bearer as number, v.direction as number, hex(v.message as string), v.length_bits as number);
      expect(h32(mac)).toBe(v.mac);
    });
  }
});

describe('keystream generators and UIA2', () => {
  it.each(VECTORS.vectors.uia2!)('uia2 $id (FRESH explicit, $length_bits bits)', (v) => {
    const f9 = new Snow3gF9(hex(v.key as string));
    expect(h32(f9.mac(v.count as number, v.fresh as number, v.direction as number, hex(v.message as string), v.length_bits as number))).toBe(v.mac);
  });
  it.each(VECTORS.vectors.snow3g_keystream!)('SNOW 3G $id', (v) => {
    const words = v.keystream_words as string[];
    const z = snow3gKeystream((v.k_words as string[]).map((w) => parseInt(w, 16)), (v.iv_words as string[]).map((w) => parseInt(w, 16)), words.length);
    expect([...z].map(h32)).toEqual(words);
  });
  it.each(VECTORS.vectors.zuc_keystream!)('ZUC $id', (v) => {
    const words = v.keystream_words as string[];
    expect([...zucKeystream(hex(v.key as string), hex(v.iv as string), words.length)].map(h32)).toEqual(words);
  });
  it('NIA1 is UIA2 with FRESH = BEARER << 27', () => {
    const next = rng(99);
    for (let i = 0; i < 50; i++) {
      const key = randomBytes(next, 16);
      const bearer = next() & 31;
      const msg = randomBytes(next, next() % 100);
      const a = createIntegrityEngine(1, key).mac(7, bearer, 1, msg);
      expect(a).toBe(new Snow3gF9(key).mac(7, (bearer << 27) >>> 0, 1, msg));
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Literal transcriptions of the specs, bit by bit, as references for the word-level code.

const bitAt = (b: Uint8Array, i: number): number => (b[i >>> 3]! >>> (7 - (i & 7))) & 1;

/** UIA2 f9 (Document 1, 4.4-4.5) with 64-bit BigInt arithmetic and the bit-serial Mul64. */
function refF9(key: Uint8Array, count: number, fresh: number, dir: number, msg: Uint8Array, bits: number): number {
  const k = [12, 8, 4, 0].map((o) => new DataView(key.buffer, key.byteOffset).getUint32(o));
  const z = snow3gKeystream(k, [(fresh ^ (dir << 15)) >>> 0, (count ^ (dir << 31)) >>> 0, fresh, count], 5);
  const M64 = (1n << 64n) - 1n;
  const mul64x = (v: bigint): bigint => (v >> 63n ? ((v << 1n) & M64) ^ 0x1bn : (v << 1n) & M64);
  const mul64 = (v: bigint, p: bigint): bigint => {
    let r = 0n;
    for (let i = 0n; i < 64n; i++) {
      if ((p >> i) & 1n) r ^= v;
      v = mul64x(v);
    }
    return r;
  };
  const P = (BigInt(z[0]!) << 32n) | BigInt(z[1]!);
  const Q = (BigInt(z[2]!) << 32n) | BigInt(z[3]!);
  const D = Math.ceil(bits / 64) + 1;
  let evalv = 0n;
  for (let i = 0; i < D - 1; i++) {
    let m = 0n;
    for (let j = 0; j < 64; j++) m = (m << 1n) | BigInt(64 * i + j < bits ? bitAt(msg, 64 * i + j) : 0);
    evalv = mul64(evalv ^ m, P);
  }
  evalv ^= BigInt(bits);
  evalv = mul64(evalv, Q);
  return (Number(evalv >> 32n) ^ z[4]!) >>> 0;
}

/** 128-EIA3 (Document 1, 4.3-4.4) with the bit loop of the spec's reference code. */
function refEia3(key: Uint8Array, count: number, bearer: number, dir: number, msg: Uint8Array, bits: number): number {
  const iv = new Uint8Array(16);
  new DataView(iv.buffer).setUint32(0, count);
  iv[4] = bearer << 3;
  iv.set(iv.subarray(0, 8), 8);
  iv[8]! ^= dir << 7;
  iv[14]! ^= dir << 7;
  const L = Math.ceil((bits + 64) / 32);
  const z = zucKeystream(key, iv, L);
  const word = (i: number): number => (i % 32 === 0 ? z[i / 32]! : ((z[i >>> 5]! << (i % 32)) | (z[(i >>> 5) + 1]! >>> (32 - (i % 32)))) >>> 0);
  let t = 0;
  for (let i = 0; i < bits; i++) if (bitAt(msg, i)) t ^= word(i);
  t ^= word(bits);
  return (t ^ z[L - 1]!) >>> 0;
}

describe('word-level NIA1 / NIA3 against bit-level references', () => {
  it('UIA2 f9 matches the bit-serial transcription on 300 random inputs and bit lengths', () => {
    const next = rng(1234);
    for (let i = 0; i < 300; i++) {
      const key = randomBytes(next, 16);
      const bits = i < 70 ? i : next() % 3000;
      const msg = randomBytes(next, Math.ceil(bits / 8));
      const count = next();
      const fresh = next();
      const dir = next() & 1;
      expect(new Snow3gF9(key).mac(count, fresh, dir, msg, bits)).toBe(refF9(key, count, fresh, dir, msg, bits));
    }
  });

  it('NIA3 matches the bit-loop transcription on 500 random inputs and bit lengths', () => {
    const next = rng(4321);
    for (let i = 0; i < 500; i++) {
      const key = randomBytes(next, 16);
      const bits = i < 70 ? i : next() % 4000;
      const msg = randomBytes(next, Math.ceil(bits / 8) + (next() % 2));
      const count = next();
      const bearer = next() & 31;
      const dir = next() & 1;
      expect(createIntegrityEngine(3, key).mac(count, bearer, dir, msg, bits)).toBe(refEia3(key, count, bearer, dir, msg, bits));
    }
  });

  it('MACs ignore the bits beyond LENGTH and change with every input', () => {
    const key = hex('2bd6459f82c5b300952c49104881ff48');
    for (const alg of [1, 2, 3] as const) {
      const eng = createIntegrityEngine(alg, key);
      const msg = hex('3332346263393861373479');
      const dirty = msg.slice();
      dirty[10]! |= 0x07; // 85 bits: the last 3 bits of byte 10 are outside the message
      expect(eng.mac(1, 2, 0, dirty, 85)).toBe(eng.mac(1, 2, 0, msg.map((b, i) => (i === 10 ? b & 0xf8 : b)), 85));
      const base = eng.mac(1, 2, 0, msg, 85);
      expect(eng.mac(2, 2, 0, msg, 85)).not.toBe(base);
      expect(eng.mac(1, 3, 0, msg, 85)).not.toBe(base);
      expect(eng.mac(1, 2, 1, msg, 85)).not.toBe(base);
      expect(eng.mac(1, 2, 0, msg, 84)).not.toBe(base);
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe.each(IMPLS)('buffers and reuse ($name)', (impl) => {
  for (const alg of [0, 1, 2, 3] as const) {
    it(`NEA${alg}: in place, at odd offsets, and reused engines give the same bytes`, () => {
      const next = rng(77 + alg);
      const key = randomBytes(next, 16);
      const eng = impl.cipher(alg, key);
      for (let i = 0; i < 40; i++) {
        const bits = next() % 1700;
        const n = Math.ceil(bits / 8);
        const data = randomBytes(next, n);
        const fresh = impl.cipher(alg, key).apply(i, 5, 1, data, bits);
        expect(fresh.length).toBe(n);
        expect(toHex(eng.apply(i, 5, 1, data, bits))).toBe(toHex(fresh));
        // Inside a larger buffer at an odd offset, in place: bytes around it untouched.
        const pdu = randomBytes(next, n + 9);
        const before = pdu.slice();
        pdu.set(data, 5);
        const view = pdu.subarray(5, 5 + n);
        expect(eng.apply(i, 5, 1, view, bits, view)).toBe(view);
        expect(toHex(view)).toBe(toHex(fresh));
        expect(toHex(pdu.subarray(0, 5))).toBe(toHex(before.subarray(0, 5)));
        expect(toHex(pdu.subarray(5 + n))).toBe(toHex(before.subarray(5 + n)));
        if (bits % 8) expect(fresh[n - 1]! & (0xff >> bits % 8)).toBe(0);
      }
    });
  }

  it('NEA0 is the identity and NIA0 gives 0', () => {
    const data = hex('0123456789abcdef');
    expect(toHex(impl.cipher(0, new Uint8Array(16)).apply(1, 2, 1, data))).toBe('0123456789abcdef');
    expect(toHex(impl.cipher(0, new Uint8Array(16)).apply(1, 2, 1, data, 61))).toBe('0123456789abcde8');
    expect(impl.integrity(0, new Uint8Array(16)).mac(1, 2, 1, data)).toBe(0);
  });

  it('NEA1/2/3 keystreams differ per COUNT, BEARER and DIRECTION, and decrypt round-trips', () => {
    const next = rng(5);
    const key = randomBytes(next, 16);
    const data = randomBytes(next, 200);
    for (const alg of [1, 2, 3] as const) {
      const eng = impl.cipher(alg, key);
      const base = toHex(eng.apply(10, 3, 0, data));
      expect(toHex(eng.apply(11, 3, 0, data))).not.toBe(base);
      expect(toHex(eng.apply(10, 4, 0, data))).not.toBe(base);
      expect(toHex(eng.apply(10, 3, 1, data))).not.toBe(base);
      expect(toHex(eng.apply(10, 3, 0, eng.apply(10, 3, 0, data)))).toBe(toHex(data));
    }
  });
});

describe('bad input: typed errors naming the argument, nothing truncated', () => {
  const key = new Uint8Array(16);
  const data = new Uint8Array(10);
  for (const alg of [0, 1, 2, 3] as const) {
    describe(`alg ${alg}`, () => {
      it('rejects a wrong key', () => {
        expect(() => createCipherEngine(alg, new Uint8Array(15))).toThrow(RangeError);
        expect(() => createCipherEngine(alg, new Uint8Array(15))).toThrow(/KEY/);
        expect(() => createIntegrityEngine(alg, new Uint8Array(32))).toThrow(/KEY/);
        expect(() => createIntegrityEngine(alg, 'key' as unknown as Uint8Array)).toThrow(TypeError);
      });
      it.each([
        ['COUNT', [-1, 0, 0], RangeError],
        ['COUNT', [2 ** 32, 0, 0], RangeError],
        ['COUNT', [1.5, 0, 0], TypeError],
        ['COUNT', [NaN, 0, 0], TypeError],
        ['COUNT', ['1', 0, 0], TypeError],
        ['BEARER', [0, 32, 0], RangeError],
        ['BEARER', [0, -1, 0], RangeError],
        ['DIRECTION', [0, 0, 2], RangeError],
        ['DIRECTION', [0, 0, 0.5], TypeError],
      ] as const)('rejects bad %s %j', (name, [count, bearer, dir], type) => {
        const nea = createCipherEngine(alg, key);
        const nia = createIntegrityEngine(alg, key);
        const c = count as number;
        expect(() => nea.apply(c, bearer, dir, data)).toThrow(type);
        expect(() => nea.apply(c, bearer, dir, data)).toThrow(new RegExp(name));
        expect(() => nia.mac(c, bearer, dir, data)).toThrow(type);
        expect(() => nia.mac(c, bearer, dir, data)).toThrow(new RegExp(name));
      });
      it('rejects a LENGTH longer than the data, negative or fractional, and a short out', () => {
        const nea = createCipherEngine(alg, key);
        const nia = createIntegrityEngine(alg, key);
        expect(() => nea.apply(0, 0, 0, data, 81)).toThrow(RangeError);
        expect(() => nea.apply(0, 0, 0, data, 81)).toThrow(/LENGTH/);
        expect(() => nia.mac(0, 0, 0, data, 81)).toThrow(/LENGTH/);
        expect(() => nea.apply(0, 0, 0, data, -1)).toThrow(/LENGTH/);
        expect(() => nia.mac(0, 0, 0, data, 7.5)).toThrow(TypeError);
        expect(() => nea.apply(0, 0, 0, data, 80, new Uint8Array(9))).toThrow(/out/);
        expect(() => nea.apply(0, 0, 0, [1, 2] as unknown as Uint8Array)).toThrow(TypeError);
        expect(nea.apply(0, 0, 0, data, 80).length).toBe(10);
        expect(nea.apply(0, 0, 0, data, 0).length).toBe(0);
      });
    });
  }
  it('rejects an unknown algorithm identity', () => {
    expect(() => createCipherEngine(4 as AlgId, key)).toThrow(/alg/);
    expect(() => createIntegrityEngine(-1 as AlgId, key)).toThrow(/alg/);
  });
  it('UIA2 rejects a FRESH outside 32 bits', () => {
    expect(() => new Snow3gF9(key).mac(0, 2 ** 32, 0, data)).toThrow(/FRESH/);
  });
});
