/**
 * Checks a test-vector document (format: test/vectors/README.md) against the crypto
 * core. I/O-free: the caller parses the file and prints the report (`sl-bridge vectors FILE`).
 *
 * Every known group is validated field by field before anything runs; a malformed field throws a
 * VectorFileError naming it (`vectors.nea1[2].key: ...`). Unknown groups are reported as skipped.
 */
import { createNea2, createNia2, type AesBackend } from './aes.js';
import { createCipherEngine, createIntegrityEngine } from './index.js';
import { hmacSha256, kdf, kdfInput } from './kdf.js';
import { Snow3gF9, snow3gKeystream } from './snow3g.js';
import type { AlgId, CipherEngine, IntegrityEngine } from './types.js';
import { zucKeystream } from './zuc.js';

/** A field of the document is missing or has the wrong type or size. */
export class VectorFileError extends Error {
  constructor(
    /** Path of the offending field, e.g. `vectors.nia2[3].mac`. */
    readonly field: string,
    detail: string,
  ) {
    super(`${field}: ${detail}`);
    this.name = 'VectorFileError';
  }
}

export interface VectorOutcome {
  group: string;
  id: string;
  ok: boolean;
  /** What the file says (hex, or a short description); set on failures. */
  expected?: string;
  /** What the implementation produced; set on failures. */
  got?: string;
}

export interface VectorReport {
  outcomes: VectorOutcome[];
  skipped: { group: string; count: number }[];
  passed: number;
  failed: number;
}

/** Implementations the vectors run through; tests swap in other backends or broken ones. */
export interface VectorImplementations {
  cipher(alg: AlgId, key: Uint8Array): CipherEngine;
  integrity(alg: AlgId, key: Uint8Array): IntegrityEngine;
  /** UIA2 f9 with an explicit FRESH. */
  f9(key: Uint8Array): { mac(count: number, fresh: number, direction: number, message: Uint8Array, lengthBits?: number): number };
  snow3gKeystream(kWords: readonly number[], ivWords: readonly number[], n: number): Uint32Array;
  zucKeystream(key: Uint8Array, iv: Uint8Array, n: number): Uint32Array;
  kdfInput(fc: number, params: readonly Uint8Array[]): Uint8Array;
  kdf(key: Uint8Array, fc: number, params: readonly Uint8Array[]): Uint8Array;
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
}

export const DEFAULT_IMPLEMENTATIONS: VectorImplementations = {
  cipher: createCipherEngine,
  integrity: createIntegrityEngine,
  f9: (key) => new Snow3gF9(key),
  snow3gKeystream,
  zucKeystream,
  kdfInput,
  kdf,
  hmacSha256,
};

/** The same, with 128-NEA2/NIA2 on another AES backend. */
export function implementationsWithAes(backend: AesBackend): VectorImplementations {
  return {
    ...DEFAULT_IMPLEMENTATIONS,
    cipher: (alg, key) => (alg === 2 ? createNea2(key, backend) : createCipherEngine(alg, key)),
    integrity: (alg, key) => (alg === 2 ? createNia2(key, backend) : createIntegrityEngine(alg, key)),
  };
}

export const KNOWN_GROUPS = [
  'nea1',
  'nea2',
  'nea3',
  'nia1',
  'nia2',
  'nia3',
  'uia2',
  'snow3g_keystream',
  'zuc_keystream',
  'kdf',
  'hmac_sha256',
] as const;
type Group = (typeof KNOWN_GROUPS)[number];

// ---------------------------------------------------------------------------------------------
// Field readers: each names the field it rejects.

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function field(v: Obj, path: string, name: string): unknown {
  if (!(name in v)) throw new VectorFileError(`${path}.${name}`, 'missing');
  return v[name];
}

function str(v: Obj, path: string, name: string): string {
  const x = field(v, path, name);
  if (typeof x !== 'string') throw new VectorFileError(`${path}.${name}`, `expected a string, got ${typeName(x)}`);
  return x;
}

function hexField(v: Obj, path: string, name: string, bytes?: number): Uint8Array {
  return parseHex(field(v, path, name), `${path}.${name}`, bytes);
}

function parseHex(x: unknown, where: string, bytes?: number): Uint8Array {
  if (typeof x !== 'string') throw new VectorFileError(where, `expected a hex string, got ${typeName(x)}`);
  if (x.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(x)) throw new VectorFileError(where, `not an even-length hex string: ${clip(x)}`);
  if (bytes !== undefined && x.length !== bytes * 2) {
    throw new VectorFileError(where, `expected ${bytes} bytes (${bytes * 2} hex digits), got ${x.length / 2} bytes`);
  }
  return Uint8Array.from(Buffer.from(x, 'hex'));
}

function intField(v: Obj, path: string, name: string, min: number, max: number): number {
  const x = field(v, path, name);
  if (typeof x !== 'number' || !Number.isInteger(x)) throw new VectorFileError(`${path}.${name}`, `expected an integer, got ${typeName(x)}`);
  if (x < min || x > max) throw new VectorFileError(`${path}.${name}`, `${x} is outside ${min}..${max}`);
  return x;
}

function wordsField(v: Obj, path: string, name: string, count?: number): number[] {
  const x = field(v, path, name);
  if (!Array.isArray(x)) throw new VectorFileError(`${path}.${name}`, `expected an array of 8-digit hex words, got ${typeName(x)}`);
  if (count !== undefined && x.length !== count) throw new VectorFileError(`${path}.${name}`, `expected ${count} words, got ${x.length}`);
  return x.map((w, i) => {
    if (typeof w !== 'string' || !/^[0-9a-fA-F]{8}$/.test(w)) {
      throw new VectorFileError(`${path}.${name}[${i}]`, `expected an 8-digit hex word, got ${typeof w === 'string' ? clip(w) : typeName(w)}`);
    }
    return parseInt(w, 16);
  });
}

/** A data field of at least ceil(lengthBits/8) bytes; LENGTH longer than the data is malformed. */
function bitData(v: Obj, path: string, name: string, lengthBits: number): Uint8Array {
  const data = hexField(v, path, name);
  if (data.length * 8 < lengthBits) {
    throw new VectorFileError(`${path}.length_bits`, `${lengthBits} bits is longer than ${name} (${data.length} bytes)`);
  }
  return data;
}

function typeName(x: unknown): string {
  return x === null ? 'null' : Array.isArray(x) ? 'an array' : typeof x;
}

function clip(s: string): string {
  return JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}...` : s);
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
const hex32 = (n: number): string => (n >>> 0).toString(16).padStart(8, '0');

/** The first `bits` bits of `b` as hex, unused low bits of the last byte cleared. */
function firstBits(b: Uint8Array, bits: number): string {
  const n = (bits + 7) >>> 3;
  const out = b.slice(0, n);
  if (bits & 7) out[n - 1] = out[n - 1]! & ((0xff00 >>> (bits & 7)) & 0xff);
  return hex(out);
}

// ---------------------------------------------------------------------------------------------
// One prepared check per vector: parsing happens first (so a malformed file fails before any
// output), running second.

type Check = { group: Group; id: string; run: () => { ok: boolean; expected?: string; got?: string } };

const NEA_ALG: Record<string, AlgId> = { nea1: 1, nea2: 2, nea3: 3, nia1: 1, nia2: 2, nia3: 3 };

/** KEY, COUNT, BEARER, DIRECTION and LENGTH of a 128-NEA/NIA vector (TS 33.501 D.2.1.1, D.3.1.1). */
function algInputs(v: Obj, path: string): { key: Uint8Array; count: number; bearer: number; direction: number; bits: number } {
  return {
    key: hexField(v, path, 'key', 16),
    count: intField(v, path, 'count', 0, 0xffffffff),
    bearer: intField(v, path, 'bearer', 0, 31),
    direction: intField(v, path, 'direction', 0, 1),
    bits: intField(v, path, 'length_bits', 0, Number.MAX_SAFE_INTEGER),
  };
}

function prepare(group: Group, v: Obj, path: string, impl: VectorImplementations): Check {
  const id = str(v, path, 'id');
  const compare = (expected: string, got: string) => ({ ok: expected === got, expected, got });
  switch (group) {
    case 'nea1':
    case 'nea2':
    case 'nea3': {
      const { key, count, bearer, direction, bits } = algInputs(v, path);
      const pt = bitData(v, path, 'plaintext', bits);
      const ct = bitData(v, path, 'ciphertext', bits);
      return {
        group,
        id,
        run: () => {
          const eng = impl.cipher(NEA_ALG[group]!, key);
          const got = firstBits(eng.apply(count, bearer, direction, pt, bits), bits);
          const expected = firstBits(ct, bits);
          if (got !== expected) return { ok: false, expected: `ciphertext ${expected}`, got: `ciphertext ${got}` };
          // Deciphering is the same keystream: the ciphertext must give the plaintext back.
          const back = firstBits(eng.apply(count, bearer, direction, ct, bits), bits);
          const plain = firstBits(pt, bits);
          return back === plain ? { ok: true } : { ok: false, expected: `plaintext ${plain}`, got: `plaintext ${back}` };
        },
      };
    }
    case 'nia1':
    case 'nia2':
    case 'nia3': {
      const { key, count, bearer, direction, bits } = algInputs(v, path);
      const msg = bitData(v, path, 'message', bits);
      const mac = hex(hexField(v, path, 'mac', 4));
      return { group, id, run: () => compare(mac, hex32(impl.integrity(NEA_ALG[group]!, key).mac(count, bearer, direction, msg, bits))) };
    }
    case 'uia2': {
      const key = hexField(v, path, 'key', 16);
      const count = intField(v, path, 'count', 0, 0xffffffff);
      const fresh = intField(v, path, 'fresh', 0, 0xffffffff);
      const direction = intField(v, path, 'direction', 0, 1);
      const bits = intField(v, path, 'length_bits', 0, Number.MAX_SAFE_INTEGER);
      const msg = bitData(v, path, 'message', bits);
      const mac = hex(hexField(v, path, 'mac', 4));
      return { group, id, run: () => compare(mac, hex32(impl.f9(key).mac(count, fresh, direction, msg, bits))) };
    }
    case 'snow3g_keystream':
    case 'zuc_keystream': {
      const words = wordsField(v, path, 'keystream_words');
      if (words.length === 0) throw new VectorFileError(`${path}.keystream_words`, 'empty');
      const farName = group === 'snow3g_keystream' ? 'keystream_word_2500' : 'keystream_word_2000';
      const farIndex = group === 'snow3g_keystream' ? 2500 : 2000;
      const far = farName in v ? wordsField({ [farName]: [v[farName]] }, path, farName)[0] : undefined;
      const n = far === undefined ? words.length : Math.max(words.length, farIndex);
      let gen: () => Uint32Array;
      if (group === 'snow3g_keystream') {
        const k = wordsField(v, path, 'k_words', 4);
        const iv = wordsField(v, path, 'iv_words', 4);
        gen = () => impl.snow3gKeystream(k, iv, n);
      } else {
        const key = hexField(v, path, 'key', 16);
        const iv = hexField(v, path, 'iv', 16);
        gen = () => impl.zucKeystream(key, iv, n);
      }
      return {
        group,
        id,
        run: () => {
          const z = gen();
          const got = [...z.subarray(0, words.length)].map(hex32).join(' ');
          const expected = words.map(hex32).join(' ');
          if (got !== expected) return { ok: false, expected, got };
          if (far !== undefined && z[farIndex - 1] !== far) {
            return { ok: false, expected: `z${farIndex} ${hex32(far)}`, got: `z${farIndex} ${hex32(z[farIndex - 1]!)}` };
          }
          return { ok: true };
        },
      };
    }
    case 'kdf': {
      const key = hexField(v, path, 'key');
      const fc = intField(v, path, 'fc', 0, 0xff);
      const rawParams = field(v, path, 'params');
      if (!Array.isArray(rawParams)) throw new VectorFileError(`${path}.params`, `expected an array of hex strings, got ${typeName(rawParams)}`);
      const params = rawParams.map((p, i) => parseHex(p, `${path}.params[${i}]`));
      const s = 's' in v ? hex(hexField(v, path, 's')) : undefined;
      const output = hexField(v, path, 'output');
      if (output.length !== 32 && output.length !== 16) {
        throw new VectorFileError(`${path}.output`, `expected 32 bytes (or the last 16), got ${output.length}`);
      }
      return {
        group,
        id,
        run: () => {
          if (s !== undefined) {
            const gotS = hex(impl.kdfInput(fc, params));
            if (gotS !== s) return { ok: false, expected: `S ${s}`, got: `S ${gotS}` };
          }
          const out = impl.kdf(key, fc, params);
          // A 16-byte output is the published 128 least significant bits (e.g. RES*).
          return compare(hex(output), hex(output.length === 16 ? out.subarray(16) : out));
        },
      };
    }
    case 'hmac_sha256': {
      const key = hexField(v, path, 'key');
      const data = hexField(v, path, 'data');
      const mac = hexField(v, path, 'mac');
      if (mac.length < 16 || mac.length > 32) throw new VectorFileError(`${path}.mac`, `expected 16..32 bytes, got ${mac.length}`);
      // RFC 4231 4.6: a truncated MAC is the leftmost bytes.
      return { group, id, run: () => compare(hex(mac), hex(impl.hmacSha256(key, data).subarray(0, mac.length))) };
    }
  }
}

/**
 * Validates `doc` (the parsed JSON) and runs every vector of every known group. Throws
 * VectorFileError for a malformed document; implementation errors on a well-formed vector count
 * as a failure of that vector.
 */
export function runVectors(doc: unknown, impl: VectorImplementations = DEFAULT_IMPLEMENTATIONS): VectorReport {
  if (!isObj(doc)) throw new VectorFileError('(top level)', `expected a JSON object, got ${typeName(doc)}`);
  const vectors = doc.vectors;
  if (!isObj(vectors)) throw new VectorFileError('vectors', vectors === undefined ? 'missing' : `expected an object of groups, got ${typeName(vectors)}`);
  const checks: Check[] = [];
  const skipped: { group: string; count: number }[] = [];
  for (const [group, list] of Object.entries(vectors)) {
    if (!Array.isArray(list)) throw new VectorFileError(`vectors.${group}`, `expected an array of vectors, got ${typeName(list)}`);
    if (!(KNOWN_GROUPS as readonly string[]).includes(group)) {
      skipped.push({ group, count: list.length });
      continue;
    }
    list.forEach((v, i) => {
      const path = `vectors.${group}[${i}]`;
      if (!isObj(v)) throw new VectorFileError(path, `expected a vector object, got ${typeName(v)}`);
      checks.push(prepare(group as Group, v, path, impl));
    });
  }
  const outcomes: VectorOutcome[] = checks.map((c) => {
    try {
      return { group: c.group, id: c.id, ...c.run() };
    } catch (err) {
      return { group: c.group, id: c.id, ok: false, expected: 'a result', got: `error: ${(err as Error).message}` };
    }
  });
  const passed = outcomes.filter((o) => o.ok).length;
  return { outcomes, skipped, passed, failed: outcomes.length - passed };
}

/** The report as printed by `sl-bridge vectors`: failures, skipped groups, then `N passed, M failed`. */
export function formatVectorReport(report: VectorReport): string[] {
  const lines: string[] = [];
  for (const o of report.outcomes) {
    if (!o.ok) lines.push(`FAIL ${o.group} ${o.id}: expected ${o.expected} got ${o.got}`);
  }
  for (const s of report.skipped) lines.push(`skipped group ${s.group} (${s.count} vectors): not known to sl-bridge`);
  lines.push(`${report.passed} passed, ${report.failed} failed`);
  return lines;
}
