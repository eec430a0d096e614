/**
 * 128-NEA2 and 128-NIA2, TS 33.501 D.4.4 / D.4.5 = TS 33.401 B.1.3 / B.2.3.
 *
 * - 128-NEA2 (B.1.3): AES-128 in CTR mode; the first counter block T1 is
 *   COUNT[0..31] || BEARER[0..4] || DIRECTION || 0^26 || 0^64, and Ti+1 = Ti + 1 (mod 2^128).
 * - 128-NIA2 (B.2.3): AES-CMAC (NIST SP 800-38B, RFC 4493) over
 *   M = COUNT || BEARER || DIRECTION || 0^26 || MESSAGE (64 + LENGTH bits), MAC = first 32 bits.
 *   LENGTH need not be a multiple of 8: SP 800-38B 6.2 pads a partial last block with 1 0^j at
 *   the bit level, which this code does.
 *
 * Backends implementing the same engines:
 * - `node`: long-lived node:crypto objects made once per key. NEA2 encrypts all counter blocks
 *   of a packet with one `update()` of a kept AES-128-ECB object; NIA2 runs the CBC chain of one
 *   kept AES-128-CBC object (its chaining value carries over between calls, so the first block of
 *   each message is XORed with the previous ciphertext block to restart the chain at zero).
 *   Constant-time (AES-NI), 1-4 us fixed cost per call on the development VM (the native call
 *   and its output Buffer), then well under 1 ns/byte.
 * - `ts`: the TypeScript AES of `aes-block.ts` with its key schedule cached. No fixed cost to
 *   speak of, ~5 ns/byte, no allocation, and table-based (not constant-time).
 * - `auto` (the default): both engines built once per key; packets up to the measured crossover
 *   go to `ts`, longer ones to `node`. Measurement: docs/crypto.md, "AES backend". @noble/ciphers
 *   was measured too (slowest: it expands the key on every call) and serves as the test oracle.
 */
import { createCipheriv, type Cipher } from 'node:crypto';
import { encryptWords, expandKey128 } from './aes-block.js';
import { checkCountBearerDirection, checkKey128, resolveLengthBits, resolveOut } from './checks.js';
import type { CipherEngine, IntegrityEngine } from './types.js';

export type AesBackend = 'auto' | 'node' | 'ts';
export const AES_BACKENDS: readonly AesBackend[] = ['auto', 'node', 'ts'];
/** Chosen by the measurement recorded in docs/crypto.md ("AES backend"). */
export const DEFAULT_AES_BACKEND: AesBackend = 'auto';
/**
 * Crossovers of the `auto` backend, from `bench crypto --algs nea2@node,nea2@ts,nia2@node,nia2@ts`
 * (docs/crypto.md, measurement 3): `ts` up to these sizes (bytes of data / message), `node`
 * beyond. Up to here `ts` has the lower p50 or one within noise, a higher throughput and a p99
 * 2-4x lower (node's call allocates its output Buffer and costs 1.5-4 us however short the
 * packet); beyond, node's p50 is lower.
 */
export const NEA2_TS_MAX_BYTES = 256;
export const NIA2_TS_MAX_BYTES = 256;

/** Keeps the last partial byte's unused low-order bits zero (D.2.1.1: LENGTH in bits). */
function maskTail(out: Uint8Array, lengthBits: number): void {
  const rem = lengthBits & 7;
  if (rem !== 0) out[lengthBits >>> 3] = out[lengthBits >>> 3]! & ((0xff00 >>> rem) & 0xff);
}

/** Growable scratch buffer (engines are synchronous: never re-entered while one is in use). */
class Scratch {
  buf: Buffer = Buffer.alloc(256);
  get(size: number): Buffer {
    if (this.buf.length < size) this.buf = Buffer.alloc(Math.max(size, this.buf.length * 2));
    return this.buf;
  }
}

// ---------------------------------------------------------------------------------------------
// 128-NEA2

/** 128-NEA2 with the node:crypto backend: one kept AES-128-ECB object encrypts the counter blocks. */
class NodeNea2 implements CipherEngine {
  readonly alg = 2 as const;
  private readonly ecb: Cipher;
  /**
   * Counter blocks T1, T2, ... of B.1.3 for the longest packet seen so far. Their last word is
   * the block index (a packet has far fewer than 2^32 blocks, so only that word ever changes);
   * per packet only the first 5 bytes of each block (COUNT, BEARER, DIRECTION) are rewritten.
   */
  private counters = Buffer.alloc(0);
  private readonly xor = new KeystreamXor();

  constructor(key: Uint8Array) {
    checkKey128(key);
    this.ecb = createCipheriv('aes-128-ecb', key, null);
    this.ecb.setAutoPadding(false);
    this.growCounters(16);
  }

  private growCounters(nBlocks: number): void {
    const buf = Buffer.alloc(nBlocks * 16);
    for (let b = 0; b < nBlocks; b++) buf.writeUInt32BE(b, b * 16 + 12);
    this.counters = buf;
  }

  apply(count: number, bearer: number, direction: number, data: Uint8Array, lengthBits?: number, out?: Uint8Array): Uint8Array {
    checkCountBearerDirection(count, bearer, direction);
    const bits = resolveLengthBits(lengthBits, data, 'data');
    const nBytes = (bits + 7) >>> 3;
    const dst = resolveOut(out, nBytes);
    if (nBytes === 0) return dst;
    const nBlocks = (nBytes + 15) >>> 4;
    if (this.counters.length < nBlocks * 16) this.growCounters(Math.max(nBlocks, (this.counters.length >>> 4) * 2));
    const ctr = this.counters;
    // B.1.3: T1 = COUNT || BEARER || DIRECTION || 0^26 || 0^64.
    const c0 = count >>> 24;
    const c1 = (count >>> 16) & 0xff;
    const c2 = (count >>> 8) & 0xff;
    const c3 = count & 0xff;
    const bd = (bearer << 3) | (direction << 2);
    for (let o = 0, end = nBlocks * 16; o < end; o += 16) {
      ctr[o] = c0;
      ctr[o + 1] = c1;
      ctr[o + 2] = c2;
      ctr[o + 3] = c3;
      ctr[o + 4] = bd;
    }
    const ks = this.ecb.update(ctr.subarray(0, nBlocks * 16));
    this.xor.apply(dst, data, ks, nBytes);
    maskTail(dst, bits);
    return dst;
  }
}

/**
 * XORs the keystream `ks` over `data` into `dst` (nBytes). Packets inside a PDU start at odd
 * offsets, so a byte loop would be the only safe direct loop; instead the data is copied (native
 * memcpy) into a word-aligned scratch, XORed a 32-bit word at a time with the keystream (which
 * node:crypto returns aligned) and copied back: measured about 2x faster than the byte loop at
 * 1500 B. Short packets use the byte loop.
 */
class KeystreamXor {
  private words = new Uint32Array(64);
  private bytes = new Uint8Array(this.words.buffer);

  apply(dst: Uint8Array, data: Uint8Array, ks: Uint8Array, nBytes: number): void {
    if (nBytes < 32 || (ks.byteOffset & 3) !== 0) {
      for (let i = 0; i < nBytes; i++) dst[i] = data[i]! ^ ks[i]!;
      return;
    }
    const nWords = (nBytes + 3) >>> 2;
    if (this.words.length < nWords) {
      this.words = new Uint32Array(nWords * 2);
      this.bytes = new Uint8Array(this.words.buffer);
    }
    const w = this.words;
    const b = this.bytes;
    b.set(data.length === nBytes ? data : data.subarray(0, nBytes));
    const k = new Uint32Array(ks.buffer, ks.byteOffset, nWords);
    for (let i = 0; i < nWords; i++) w[i]! ^= k[i]!;
    dst.set(b.subarray(0, nBytes));
  }
}

/** 128-NEA2 with the TypeScript AES (cached key schedule). */
class TsNea2 implements CipherEngine {
  readonly alg = 2 as const;
  private readonly rk: Int32Array;
  private readonly block = new Int32Array(4);

  constructor(key: Uint8Array) {
    checkKey128(key);
    this.rk = expandKey128(key);
  }

  apply(count: number, bearer: number, direction: number, data: Uint8Array, lengthBits?: number, out?: Uint8Array): Uint8Array {
    checkCountBearerDirection(count, bearer, direction);
    const bits = resolveLengthBits(lengthBits, data, 'data');
    const nBytes = (bits + 7) >>> 3;
    const dst = resolveOut(out, nBytes);
    // B.1.3: T1 = COUNT || BEARER || DIRECTION || 0^26 || 0^64; block b is T1 + b.
    const w1 = (bearer << 27) | (direction << 26);
    const ks = this.block;
    const whole = nBytes & ~15;
    let off = 0;
    for (let b = 0; off < whole; off += 16, b++) {
      encryptWords(this.rk, count, w1, 0, b, ks);
      xorWord(dst, data, off, ks[0]!);
      xorWord(dst, data, off + 4, ks[1]!);
      xorWord(dst, data, off + 8, ks[2]!);
      xorWord(dst, data, off + 12, ks[3]!);
    }
    if (off < nBytes) {
      encryptWords(this.rk, count, w1, 0, off >>> 4, ks);
      for (let j = 0; off + j < nBytes; j++) {
        dst[off + j] = data[off + j]! ^ ((ks[j >>> 2]! >>> (24 - ((j & 3) << 3))) & 0xff);
      }
    }
    maskTail(dst, bits);
    return dst;
  }
}

/** dst[o..o+3] = data[o..o+3] XOR the big-endian word w (any alignment). */
function xorWord(dst: Uint8Array, data: Uint8Array, o: number, w: number): void {
  dst[o] = data[o]! ^ (w >>> 24);
  dst[o + 1] = data[o + 1]! ^ ((w >>> 16) & 0xff);
  dst[o + 2] = data[o + 2]! ^ ((w >>> 8) & 0xff);
  dst[o + 3] = data[o + 3]! ^ (w & 0xff);
}

// ---------------------------------------------------------------------------------------------
// 128-NIA2

/** SP 800-38B 6.1: K1 = dbl(L), K2 = dbl(K1), L = AES-K(0^128); doubling in GF(2^128), Rb = 0x87. */
function dbl(block: Uint8Array): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 0; i < 15; i++) out[i] = ((block[i]! << 1) | (block[i + 1]! >>> 7)) & 0xff;
  out[15] = ((block[15]! << 1) & 0xff) ^ (block[0]! & 0x80 ? 0x87 : 0);
  return out;
}

/**
 * Lays out the CMAC input of B.2.3 in `buf`, padded and with the subkey applied to the last block
 * (SP 800-38B 6.2 steps 1-4); returns its length in bytes (a multiple of 16).
 */
function layoutCmacInput(
  buf: Uint8Array,
  count: number,
  bearer: number,
  direction: number,
  message: Uint8Array,
  bits: number,
  k1: Uint8Array,
  k2: Uint8Array,
): number {
  const totalBits = 64 + bits;
  const nBlocks = (totalBits + 127) >>> 7;
  const size = nBlocks * 16;
  const msgBytes = (bits + 7) >>> 3;
  buf[0] = count >>> 24;
  buf[1] = (count >>> 16) & 0xff;
  buf[2] = (count >>> 8) & 0xff;
  buf[3] = count & 0xff;
  buf[4] = (bearer << 3) | (direction << 2);
  buf[5] = 0;
  buf[6] = 0;
  buf[7] = 0;
  buf.set(message.subarray(0, msgBytes), 8);
  buf.fill(0, 8 + msgBytes, size);
  const last = size - 16;
  if ((totalBits & 127) === 0) {
    for (let i = 0; i < 16; i++) buf[last + i]! ^= k1[i]!;
  } else {
    // M_n* || 1 || 0^j: clear the bits beyond LENGTH in the last message byte, then set the
    // bit just after the message.
    const rem = bits & 7;
    if (rem !== 0) {
      const i = 8 + (bits >>> 3);
      buf[i] = (buf[i]! & ((0xff00 >>> rem) & 0xff)) | (0x80 >>> rem);
    } else {
      buf[8 + msgBytes] = 0x80;
    }
    for (let i = 0; i < 16; i++) buf[last + i]! ^= k2[i]!;
  }
  return size;
}

/** 128-NIA2 with node:crypto: one kept AES-128-CBC object whose chain is restarted per message. */
class NodeNia2 implements IntegrityEngine {
  readonly alg = 2 as const;
  private readonly cbc: Cipher;
  /** The CBC object's current chaining value (its last ciphertext block). */
  private readonly chain = new Uint8Array(16);
  private readonly k1: Uint8Array;
  private readonly k2: Uint8Array;
  private readonly input = new Scratch();

  constructor(key: Uint8Array) {
    checkKey128(key);
    const ecb = createCipheriv('aes-128-ecb', key, null);
    ecb.setAutoPadding(false);
    this.k1 = dbl(ecb.update(new Uint8Array(16)));
    this.k2 = dbl(this.k1);
    this.cbc = createCipheriv('aes-128-cbc', key, new Uint8Array(16));
    this.cbc.setAutoPadding(false);
  }

  mac(count: number, bearer: number, direction: number, message: Uint8Array, lengthBits?: number): number {
    checkCountBearerDirection(count, bearer, direction);
    const bits = resolveLengthBits(lengthBits, message, 'message');
    const buf = this.input.get(16 * (((64 + bits + 127) >>> 7) + 0));
    const size = layoutCmacInput(buf, count, bearer, direction, message, bits, this.k1, this.k2);
    // The kept CBC object XORs the first block with its chaining value; pre-XOR it so the chain
    // effectively starts from the zero IV of SP 800-38B 6.2.
    for (let i = 0; i < 16; i++) buf[i]! ^= this.chain[i]!;
    const ct = this.cbc.update(buf.subarray(0, size));
    this.chain.set(ct.subarray(size - 16, size));
    return ct.readUInt32BE(size - 16);
  }
}

/**
 * The CMAC input buffer of every TsNia2: `mac` is synchronous and never calls out, so one is
 * enough, and a new PTK's engine set-up does not pay for its own (~0.3 us of a first PDU).
 */
const tsNia2Input = new Scratch();

/** 128-NIA2 with the TypeScript AES: CBC-MAC over words, subkeys cached. */
class TsNia2 implements IntegrityEngine {
  readonly alg = 2 as const;
  private readonly rk: Int32Array;
  private readonly k1: Uint8Array;
  private readonly k2: Uint8Array;
  private readonly state = new Int32Array(4);

  constructor(key: Uint8Array) {
    checkKey128(key);
    this.rk = expandKey128(key);
    const l = new Int32Array(4);
    encryptWords(this.rk, 0, 0, 0, 0, l);
    const lBytes = new Uint8Array(16);
    for (let i = 0; i < 16; i++) lBytes[i] = (l[i >>> 2]! >>> (24 - ((i & 3) << 3))) & 0xff;
    this.k1 = dbl(lBytes);
    this.k2 = dbl(this.k1);
  }

  mac(count: number, bearer: number, direction: number, message: Uint8Array, lengthBits?: number): number {
    checkCountBearerDirection(count, bearer, direction);
    const bits = resolveLengthBits(lengthBits, message, 'message');
    const buf = tsNia2Input.get(16 * ((64 + bits + 127) >>> 7));
    const size = layoutCmacInput(buf, count, bearer, direction, message, bits, this.k1, this.k2);
    const x = this.state;
    x[0] = 0;
    x[1] = 0;
    x[2] = 0;
    x[3] = 0;
    for (let o = 0; o < size; o += 16) {
      encryptWords(this.rk, x[0]! ^ wordAt(buf, o), x[1]! ^ wordAt(buf, o + 4), x[2]! ^ wordAt(buf, o + 8), x[3]! ^ wordAt(buf, o + 12), x);
    }
    return x[0]! >>> 0;
  }
}

/** The big-endian word at buf[o..o+3], as int32 (a plain read: cheaper than Buffer#readUInt32BE). */
function wordAt(buf: Uint8Array, o: number): number {
  return (buf[o]! << 24) | (buf[o + 1]! << 16) | (buf[o + 2]! << 8) | buf[o + 3]!;
}

/** Packet length in bytes the engine will process (validation is left to the engine itself). */
function packetBytes(data: Uint8Array, lengthBits: number | undefined): number {
  return lengthBits === undefined ? data.length : Math.ceil(lengthBits / 8);
}

/**
 * 128-NEA2, `auto` backend: short packets on the TypeScript AES, long ones on node:crypto. The
 * node:crypto half is made on the first long packet: its two native objects cost ~4 us, twice
 * the rest of a new PTK's set-up, and a PTK carrying only short packets never needs them.
 */
class AutoNea2 implements CipherEngine {
  readonly alg = 2 as const;
  private readonly short: TsNea2;
  private long: NodeNea2 | undefined;
  /** A private copy of the key until the node:crypto half is made. */
  private key: Uint8Array | undefined;
  constructor(key: Uint8Array) {
    this.short = new TsNea2(key);
    this.key = Uint8Array.from(key);
  }
  apply(count: number, bearer: number, direction: number, data: Uint8Array, lengthBits?: number, out?: Uint8Array): Uint8Array {
    if (packetBytes(data, lengthBits) <= NEA2_TS_MAX_BYTES) return this.short.apply(count, bearer, direction, data, lengthBits, out);
    if (this.long === undefined) {
      this.long = new NodeNea2(this.key!);
      this.key!.fill(0);
      this.key = undefined;
    }
    return this.long.apply(count, bearer, direction, data, lengthBits, out);
  }
}

/** 128-NIA2, `auto` backend, its node:crypto half made on the first long message as for NEA2. */
class AutoNia2 implements IntegrityEngine {
  readonly alg = 2 as const;
  private readonly short: TsNia2;
  private long: NodeNia2 | undefined;
  private key: Uint8Array | undefined;
  constructor(key: Uint8Array) {
    this.short = new TsNia2(key);
    this.key = Uint8Array.from(key);
  }
  mac(count: number, bearer: number, direction: number, message: Uint8Array, lengthBits?: number): number {
    if (packetBytes(message, lengthBits) <= NIA2_TS_MAX_BYTES) return this.short.mac(count, bearer, direction, message, lengthBits);
    if (this.long === undefined) {
      this.long = new NodeNia2(this.key!);
      this.key!.fill(0);
      this.key = undefined;
    }
    return this.long.mac(count, bearer, direction, message, lengthBits);
  }
}

function checkBackend(backend: unknown): asserts backend is AesBackend {
  if (!AES_BACKENDS.includes(backend as AesBackend)) {
    throw new RangeError(`backend must be one of ${AES_BACKENDS.join(', ')}, got ${JSON.stringify(backend)}`);
  }
}

export function createNea2(key: Uint8Array, backend: AesBackend = DEFAULT_AES_BACKEND): CipherEngine {
  checkBackend(backend);
  return backend === 'ts' ? new TsNea2(key) : backend === 'node' ? new NodeNea2(key) : new AutoNea2(key);
}

export function createNia2(key: Uint8Array, backend: AesBackend = DEFAULT_AES_BACKEND): IntegrityEngine {
  checkBackend(backend);
  return backend === 'ts' ? new TsNia2(key) : backend === 'node' ? new NodeNia2(key) : new AutoNia2(key);
}
