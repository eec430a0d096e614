/**
 * The rows of `sl-bridge bench crypto`: one BenchCase per (algorithm, payload size).
 *
 * Each op protects one packet of `size` bytes with an engine built once (as the PDCP layer does),
 * with a fresh COUNT per call. The naive baselines do everything per packet:
 * - `baseline-nea2`: a fresh createCipheriv('aes-128-ctr') per packet;
 * - `baseline-nia2`: a fresh AES-CBC CMAC per packet: createCipheriv('aes-128-cbc') for the
 *   subkey L = AES(0^128), K1/K2, then a second fresh createCipheriv('aes-128-cbc') for the
 *   CBC-MAC (what per-call CMAC helpers such as npm's node-aes-cmac do).
 * `nea2`/`nia2` use the default (`auto`) AES backend; the `@node` / `@ts` / `@noble` variants time
 * each AES backend alone, for the record of how the default was chosen (docs/crypto.md).
 *
 * `source-auth` is a `pairwise-mac` receiver's source crypto over the payload (the digest D and
 * one 64-bit AES-CMAC tag, docs/pdcp.md "Source authentication"); selecting it also adds the
 * whole-PDU source-auth rows of the PDCP layer (pdcp-cases.ts).
 *
 * `kdf` is the key derivation of one new PTK (PTK from a PGK keyed once at install, then PEK and
 * PIK from the PTK keyed once: src/pdcp/ptk-engines.ts) on the default HMAC-SHA-256 backend;
 * `kdf@node`, its baseline, the same with node:crypto's createHmac per KDF call (how it was done
 * before, docs/pdcp.md "Key derivation cost"). Selecting `kdf@node` also adds the `@node-kdf`
 * variant of the first-PDU rows of the PDCP layer (pdcp-cases.ts). The size does not matter to
 * these rows; they are repeated per size only because every row of the table has one.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { cmac as nobleCmac, ctr as nobleCtr } from '@noble/ciphers/aes.js';
import type { KdfBackend } from '../../src/crypto/index.js';
import type { BenchCase } from './cases.js';
import { KDF_NODE_ALG, SOURCE_AUTH_ALG, SOURCE_AUTH_GROUP_SIZES } from './crypto-rows.js';
import { consume } from './harness.js';

export { ALL_CRYPTO_ALGS, AES_BACKEND_ALGS, CRYPTO_ALGS, KDF_ALGS, KDF_NODE_ALG, SOURCE_AUTH_ALG } from './crypto-rows.js';

/** Row names of the source-auth rows (pdcp-cases.ts), e.g. `unprotect-signature-g8`. */
export function sourceAuthRow(call: 'protect' | 'unprotect', mode: 'pairwise-mac' | 'signature', groupSize: number): string {
  return `${call}-${mode}-g${groupSize}`;
}

/** The same call without source authentication, measured beside them. */
export function noSourceAuthRow(call: 'protect' | 'unprotect'): string {
  return `${call}-no-source-auth`;
}

/**
 * The baseline measured alongside an algorithm, for the ratio rows: by `--algs` name (the baseline
 * row is added to the run), and by row name for the source-auth rows (each against the same call
 * without source authentication, which the `source-auth` selection runs too).
 */
export const BASELINE_OF: Readonly<Record<string, string>> = {
  nea2: 'baseline-nea2',
  'nea2@node': 'baseline-nea2',
  'nea2@ts': 'baseline-nea2',
  'nea2@noble': 'baseline-nea2',
  nia2: 'baseline-nia2',
  'nia2@node': 'baseline-nia2',
  'nia2@ts': 'baseline-nia2',
  'nia2@noble': 'baseline-nia2',
  kdf: KDF_NODE_ALG,
  ...Object.fromEntries(
    (['protect', 'unprotect'] as const).flatMap((call) =>
      (['pairwise-mac', 'signature'] as const).flatMap((mode) => SOURCE_AUTH_GROUP_SIZES.map((n) => [sourceAuthRow(call, mode, n), noSourceAuthRow(call)])),
    ),
  ),
};

type OpFactory = (key: Uint8Array, data: Uint8Array) => () => void;

const BEARER = 0;
const DIRECTION = 0;

function ivOf(count: number): Uint8Array {
  const iv = new Uint8Array(16);
  new DataView(iv.buffer).setUint32(0, count);
  iv[4] = (BEARER << 3) | (DIRECTION << 2);
  return iv;
}

/** Derives the keys of a new PTK per call, PTK IDs in turn, under a PGK keyed once on `backend`. */
async function kdfOp(backend?: KdfBackend): Promise<OpFactory> {
  const { hmacSha256Key } = await import('../../src/crypto/index.js');
  const { derivePtkKeys } = await import('../../src/pdcp/ptk-engines.js');
  const group = { profile: 'pcr', groupId: 0x00be7c, nea: 2, nia: 2 } as const;
  return () => {
    const pgk = hmacSha256Key(new Uint8Array(randomBytes(32)), backend);
    let ptkId = 0;
    return () => {
      consume(derivePtkKeys(group, pgk, 0x000a01, ptkId));
      ptkId = (ptkId + 1) & 0xffff;
    };
  };
}

async function engineOps(): Promise<Record<string, OpFactory>> {
  const { createCipherEngine, createIntegrityEngine, createNea2, createNia2 } = await import('../../src/crypto/index.js');
  const cipher =
    (make: (key: Uint8Array) => { apply: (c: number, b: number, d: number, x: Uint8Array, l?: number, o?: Uint8Array) => Uint8Array }): OpFactory =>
    (key, data) => {
      const eng = make(key);
      const out = new Uint8Array(data.length);
      let count = 0;
      return () => {
        eng.apply(count, BEARER, DIRECTION, data, undefined, out);
        count = (count + 1) >>> 0;
        consume(out);
      };
    };
  const integrity =
    (make: (key: Uint8Array) => { mac: (c: number, b: number, d: number, m: Uint8Array) => number }): OpFactory =>
    (key, data) => {
      const eng = make(key);
      let count = 0;
      return () => {
        consume(eng.mac(count, BEARER, DIRECTION, data));
        count = (count + 1) >>> 0;
      };
    };
  return {
    nea1: cipher((k) => createCipherEngine(1, k)),
    nia1: integrity((k) => createIntegrityEngine(1, k)),
    nea2: cipher((k) => createCipherEngine(2, k)),
    nia2: integrity((k) => createIntegrityEngine(2, k)),
    nea3: cipher((k) => createCipherEngine(3, k)),
    nia3: integrity((k) => createIntegrityEngine(3, k)),
    'nea2@node': cipher((k) => createNea2(k, 'node')),
    'nia2@node': integrity((k) => createNia2(k, 'node')),
    'nea2@ts': cipher((k) => createNea2(k, 'ts')),
    'nia2@ts': integrity((k) => createNia2(k, 'ts')),
    'nea2@noble': (key, data) => {
      let count = 0;
      return () => {
        consume(nobleCtr(key, ivOf(count)).encrypt(data));
        count = (count + 1) >>> 0;
      };
    },
    'nia2@noble': (key, data) => {
      let count = 0;
      return () => {
        const m = new Uint8Array(8 + data.length);
        m.set(ivOf(count).subarray(0, 8));
        m.set(data, 8);
        consume(nobleCmac(m, key));
        count = (count + 1) >>> 0;
      };
    },
    'baseline-nea2': (key, data) => {
      let count = 0;
      return () => {
        const c = createCipheriv('aes-128-ctr', key, ivOf(count));
        consume(c.update(data));
        c.final();
        count = (count + 1) >>> 0;
      };
    },
    'baseline-nia2': (key, data) => {
      let count = 0;
      return () => {
        consume(naiveCmacNia2(key, count, data));
        count = (count + 1) >>> 0;
      };
    },
    kdf: await kdfOp(),
    [KDF_NODE_ALG]: await kdfOp('node'),
    [SOURCE_AUTH_ALG]: await sourceTagOp(),
  };
}

/**
 * A `pairwise-mac` receiver's source crypto over a payload (src/pdcp/source-auth.ts): the digest D
 * (HMAC-SHA-256 under a key made once) and one 64-bit AES-CMAC tag of it.
 */
async function sourceTagOp(): Promise<OpFactory> {
  const { AesCmac } = await import('../../src/crypto/aes-cmac.js');
  const { AutoHmacSha256 } = await import('../../src/crypto/hmac-auto.js');
  return (key, data) => {
    const digest = new AutoHmacSha256(new Uint8Array(randomBytes(32)));
    const cmac = new AesCmac(key);
    const tag = new Uint8Array(8);
    return () => {
      cmac.writeTag(digest.mac(data), tag.length, tag, 0);
      consume(tag);
    };
  };
}

/** 128-NIA2 the naive way: fresh cipher objects and subkeys for every packet (byte-aligned only). */
export function naiveCmacNia2(key: Uint8Array, count: number, data: Uint8Array): number {
  const zero = new Uint8Array(16);
  const l = createCipheriv('aes-128-cbc', key, zero).update(zero);
  const k1 = dbl(l);
  const m = new Uint8Array(8 + data.length);
  m.set(ivOf(count).subarray(0, 8));
  m.set(data, 8);
  const n = Math.max(1, Math.ceil(m.length / 16));
  const padded = new Uint8Array(n * 16);
  padded.set(m);
  let sub = k1;
  if (m.length % 16 !== 0 || m.length === 0) {
    padded[m.length] = 0x80;
    sub = dbl(k1);
  }
  for (let i = 0; i < 16; i++) padded[(n - 1) * 16 + i]! ^= sub[i]!;
  const cbc = createCipheriv('aes-128-cbc', key, zero);
  cbc.setAutoPadding(false);
  const ct = cbc.update(padded);
  return ct.readUInt32BE(ct.length - 16);
}

function dbl(b: Uint8Array): Uint8Array {
  const o = new Uint8Array(16);
  for (let i = 0; i < 16; i++) o[i] = ((b[i]! << 1) | (i < 15 ? b[i + 1]! >>> 7 : 0)) & 0xff;
  if (b[0]! & 0x80) o[15]! ^= 0x87;
  return o;
}

/**
 * The cases for `algs` x `sizes`, ordered by algorithm then size. Unknown names throw a
 * RangeError (the command line is checked before: bridge/commands/bench.ts).
 */
export async function cryptoCases(sizes: readonly number[], algs: readonly string[]): Promise<BenchCase[]> {
  const ops = await engineOps();
  const key = new Uint8Array(randomBytes(16));
  const cases: BenchCase[] = [];
  for (const alg of algs) {
    const factory = ops[alg];
    if (!factory) throw new RangeError(`unknown algorithm ${JSON.stringify(alg)}`);
    for (const size of sizes) {
      cases.push({
        name: alg,
        size,
        makeOp: () => factory(key, new Uint8Array(randomBytes(size))),
      });
    }
  }
  return cases;
}
