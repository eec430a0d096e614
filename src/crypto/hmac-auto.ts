/**
 * HMAC-SHA-256 (RFC 2104, FIPS 180-4) of messages of any length under one key, on whichever
 * backend of hmac-sha256.ts is cheaper for the length: the TypeScript compression (keyed once, no
 * per-call cost, ~4.5 ns a byte) up to {@link HMAC_TS_MAX_BYTES}, node:crypto's createHmac (~2 us a
 * call, ~0.5 ns a byte on a CPU with SHA instructions) beyond. Same MAC either way. Used for the
 * per-PDU digest of source authentication (docs/pdcp.md, "Source authentication"), which covers
 * the whole SDU, unlike the KDF whose inputs are a few octets.
 */
import { hmacSha256Key, type HmacSha256Key } from './hmac-sha256.js';

/**
 * Longest message on the TypeScript backend. Measured on the development VM (p50 of one MAC, ts /
 * node, in us): 139 B 1.3 / 2.9, 256 B 1.9 / 2.3, 384 B 2.7 / 2.3, 512 B 3.0 / 2.3, 1511 B 7.4 / 2.9.
 */
export const HMAC_TS_MAX_BYTES = 320;

const REDACTED = '[HMAC-SHA-256 key]';

/** One key on both backends. Holds key material: never log it (it shows as a placeholder). */
export class AutoHmacSha256 {
  readonly #short: HmacSha256Key;
  readonly #long: HmacSha256Key;

  constructor(key: Uint8Array) {
    // A private copy: the node:crypto backend keeps a reference to the bytes it is given.
    const own = Uint8Array.from(key);
    this.#short = hmacSha256Key(own, 'ts');
    this.#long = hmacSha256Key(own, 'node');
  }

  /** HMAC-SHA-256(key, data): 32 bytes. */
  mac(data: Uint8Array): Uint8Array {
    return data.length <= HMAC_TS_MAX_BYTES ? this.#short.mac(data) : this.#long.mac(data);
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return REDACTED;
  }
}
