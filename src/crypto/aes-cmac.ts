/**
 * AES-CMAC with AES-128 (NIST SP 800-38B, RFC 4493) on byte strings, key schedule and subkeys
 * computed once per key: the pairwise tags of source authentication `pairwise-mac`
 * (docs/pdcp.md, "Source authentication"), truncated to 64 bits (SP 800-38B 6.2 step 7 and
 * Appendix A: Tlen >= 64 bits for general use).
 *
 * 128-NIA2 (aes.ts) is the same CMAC with COUNT/BEARER/DIRECTION in front and only 32 bits out;
 * this one MACs the message as given and returns up to all 128 bits. Each tag of a PDU MACs a
 * 32-byte digest, two blocks, so the TypeScript AES of aes-block.ts (no per-call cost) is the only
 * backend: node:crypto's fixed 1-4 us per call would be most of the tag.
 */
import { encryptWords, expandKey128 } from './aes-block.js';
import { checkBytes, checkInt, checkKey128 } from './checks.js';

export const AES_CMAC_BYTES = 16;

/** What a key object shows when logged or serialised by mistake: never its state. */
const REDACTED = '[AES-CMAC key]';

/** SP 800-38B 6.1: doubling in GF(2^128) (shift left one bit, XOR Rb = 0x87 on carry), on 4 words. */
function dbl(w: Int32Array): Int32Array {
  const carry = w[0]! >>> 31;
  return Int32Array.of(
    (w[0]! << 1) | (w[1]! >>> 31),
    (w[1]! << 1) | (w[2]! >>> 31),
    (w[2]! << 1) | (w[3]! >>> 31),
    (w[3]! << 1) ^ (carry * 0x87),
  );
}

/** The big-endian word at buf[o..o+3], as int32. */
function wordAt(buf: Uint8Array, o: number): number {
  return (buf[o]! << 24) | (buf[o + 1]! << 16) | (buf[o + 2]! << 8) | buf[o + 3]!;
}

/** The big-endian word of the (partial) last block at buf[o..end), padded with 10* (SP 800-38B 6.2 step 4). */
function paddedWordAt(buf: Uint8Array, o: number, end: number): number {
  let w = 0;
  for (let i = 0; i < 4; i++) {
    const at = o + i;
    const byte = at < end ? buf[at]! : at === end ? 0x80 : 0;
    w |= byte << (24 - 8 * i);
  }
  return w;
}

/** AES-CMAC under one 128-bit key. Holds key material: never log it (it shows as a placeholder). */
export class AesCmac {
  // Private fields: not reachable by a spread, Object.keys or a logger walking the object.
  readonly #rk: Int32Array;
  readonly #k1: Int32Array;
  readonly #k2: Int32Array;
  readonly #x = new Int32Array(4);

  constructor(key: Uint8Array) {
    checkKey128(key);
    this.#rk = expandKey128(key);
    // SP 800-38B 6.1 steps 1-3: L = CIPH_K(0^128), K1 = dbl(L), K2 = dbl(K1).
    const l = new Int32Array(4);
    encryptWords(this.#rk, 0, 0, 0, 0, l);
    this.#k1 = dbl(l);
    this.#k2 = dbl(this.#k1);
    l.fill(0);
  }

  /** The CBC chain of SP 800-38B 6.2 steps 5-6 over `message`; the MAC is left in #x. */
  #run(message: Uint8Array): void {
    const x = this.#x;
    const rk = this.#rk;
    x[0] = 0;
    x[1] = 0;
    x[2] = 0;
    x[3] = 0;
    const n = message.length;
    // Step 2: n blocks, the last complete only when the length is a non-zero multiple of 16.
    const complete = n > 0 && (n & 15) === 0;
    const lastAt = complete ? n - 16 : n & ~15;
    for (let o = 0; o < lastAt; o += 16) {
      encryptWords(rk, x[0]! ^ wordAt(message, o), x[1]! ^ wordAt(message, o + 4), x[2]! ^ wordAt(message, o + 8), x[3]! ^ wordAt(message, o + 12), x);
    }
    // Steps 3-4: the last block XOR K1 (complete) or padded with 10* XOR K2.
    if (complete) {
      const k = this.#k1;
      encryptWords(
        rk,
        x[0]! ^ wordAt(message, lastAt) ^ k[0]!,
        x[1]! ^ wordAt(message, lastAt + 4) ^ k[1]!,
        x[2]! ^ wordAt(message, lastAt + 8) ^ k[2]!,
        x[3]! ^ wordAt(message, lastAt + 12) ^ k[3]!,
        x,
      );
    } else {
      const k = this.#k2;
      encryptWords(
        rk,
        x[0]! ^ paddedWordAt(message, lastAt, n) ^ k[0]!,
        x[1]! ^ paddedWordAt(message, lastAt + 4, n) ^ k[1]!,
        x[2]! ^ paddedWordAt(message, lastAt + 8, n) ^ k[2]!,
        x[3]! ^ paddedWordAt(message, lastAt + 12, n) ^ k[3]!,
        x,
      );
    }
  }

  /** The full 128-bit CMAC of `message` (RFC 4493 2.4). */
  mac(message: Uint8Array): Uint8Array {
    checkBytes('message', message);
    this.#run(message);
    const out = new Uint8Array(AES_CMAC_BYTES);
    for (let i = 0; i < AES_CMAC_BYTES; i++) out[i] = (this.#x[i >>> 2]! >>> (24 - ((i & 3) << 3))) & 0xff;
    return out;
  }

  /** Writes the first `tagBytes` (1..16) octets of the CMAC of `message` to `out[offset..]`. */
  writeTag(message: Uint8Array, tagBytes: number, out: Uint8Array, offset: number): void {
    checkBytes('message', message);
    checkInt('tagBytes', tagBytes, 1, AES_CMAC_BYTES);
    if (offset < 0 || offset + tagBytes > out.length) throw new RangeError(`out: no room for ${tagBytes} octets at offset ${offset}`);
    this.#run(message);
    const x = this.#x;
    for (let i = 0; i < tagBytes; i++) out[offset + i] = (x[i >>> 2]! >>> (24 - ((i & 3) << 3))) & 0xff;
  }

  /**
   * True when `tag[offset..offset+tagBytes)` equals the first `tagBytes` octets of the CMAC of
   * `message`. Every octet is compared (no early exit on the first difference).
   */
  verifyTag(message: Uint8Array, tagBytes: number, tag: Uint8Array, offset: number): boolean {
    checkBytes('message', message);
    checkInt('tagBytes', tagBytes, 1, AES_CMAC_BYTES);
    if (offset < 0 || offset + tagBytes > tag.length) return false;
    this.#run(message);
    const x = this.#x;
    let diff = 0;
    for (let i = 0; i < tagBytes; i++) diff |= tag[offset + i]! ^ ((x[i >>> 2]! >>> (24 - ((i & 3) << 3))) & 0xff);
    return diff === 0;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return REDACTED;
  }
}
