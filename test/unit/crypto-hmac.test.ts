/**
 * HMAC-SHA-256 keyed once (src/crypto/hmac-sha256.ts): bit-exact against test/vectors/3gpp.json
 * and against node:crypto's createHmac on random keys and messages, on both backends.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DEFAULT_KDF_BACKEND, KDF_BACKENDS, hmacSha256, hmacSha256Key, type KdfBackend } from '../../src/crypto/index.js';
import { hex, randomBytes, rng, toHex } from '../fixtures/bytes.js';

const VECTORS = JSON.parse(readFileSync(new URL('../vectors/3gpp.json', import.meta.url), 'utf8')) as {
  vectors: Record<string, Record<string, unknown>[]>;
};

const nodeHmac = (key: Uint8Array, data: Uint8Array): string => createHmac('sha256', key).update(data).digest('hex');

describe.each(KDF_BACKENDS)('HMAC-SHA-256, %s backend', (backend: KdfBackend) => {
  it.each(VECTORS.vectors.hmac_sha256!)('vector $id', (v) => {
    const mac = v.mac as string;
    const key = hmacSha256Key(hex(v.key as string), backend);
    expect(key.backend).toBe(backend);
    expect(toHex(key.mac(hex(v.data as string)))).toBe(mac);
    // The keyed state is not used up: the same object gives the same MAC again.
    expect(toHex(key.mac(hex(v.data as string)))).toBe(mac);
    expect(toHex(hmacSha256(hex(v.key as string), hex(v.data as string), backend))).toBe(mac);
  });

  it('matches createHmac for 16/32/64/100-byte keys and every message length 0..200', () => {
    const next = rng(0x5eed);
    for (const keyBytes of [16, 32, 64, 100]) {
      const raw = randomBytes(next, keyBytes);
      const key = hmacSha256Key(raw, backend);
      expect(key.keyBytes).toBe(keyBytes);
      for (let n = 0; n <= 200; n++) {
        const data = randomBytes(next, n);
        expect(toHex(key.mac(data)), `key ${keyBytes} B, message ${n} B`).toBe(nodeHmac(raw, data));
      }
    }
  });

  it('matches createHmac for keys around the block size and long messages', () => {
    const next = rng(0xb10c);
    // Keys of 0, 1, 55..65 (K0 padded, then hashed beyond B = 64) and 128, 200 bytes.
    const keySizes = [0, 1, ...Array.from({ length: 11 }, (_, i) => 55 + i), 128, 200];
    for (const keyBytes of keySizes) {
      const raw = randomBytes(next, keyBytes);
      const key = hmacSha256Key(raw, backend);
      for (const n of [55, 56, 63, 64, 65, 119, 120, 128, 1500, 9000]) {
        const data = randomBytes(next, n);
        expect(toHex(key.mac(data)), `key ${keyBytes} B, message ${n} B`).toBe(nodeHmac(raw, data));
      }
    }
  });

  it('keeps keys apart when MACs under different keys interleave', () => {
    const next = rng(42);
    const raws = [16, 32, 100].map((n) => randomBytes(next, n));
    const keys = raws.map((raw) => hmacSha256Key(raw, backend));
    for (let i = 0; i < 60; i++) {
      const k = (i * 7) % keys.length;
      const data = randomBytes(next, i * 3);
      expect(toHex(keys[k]!.mac(data))).toBe(nodeHmac(raws[k]!, data));
    }
  });

  it('never shows its state when logged or serialised', () => {
    const raw = Uint8Array.from({ length: 32 }, (_, i) => 0xa0 + i);
    const key = hmacSha256Key(raw, backend);
    expect(JSON.stringify({ key })).toBe('{"key":"[HMAC-SHA-256 key]"}');
    expect(inspect(key)).toBe('[HMAC-SHA-256 key]');
    expect(inspect({ key }, { depth: 5, showHidden: true })).not.toMatch(/Int32Array|Uint8Array|160|0xa0/);
    // Nor to code that copies or walks its properties (a logger's serialiser, a spread).
    expect(Object.values({ ...key }).some((v) => ArrayBuffer.isView(v))).toBe(false);
    expect(Object.getOwnPropertyNames(key).sort()).toEqual(['backend', 'keyBytes']);
  });
});

describe('HMAC-SHA-256 keyed state', () => {
  it('defaults to the TypeScript backend', () => {
    expect(DEFAULT_KDF_BACKEND).toBe('ts');
    expect(hmacSha256Key(new Uint8Array(32)).backend).toBe('ts');
  });

  it('holds no reference to the key bytes on the TypeScript backend', () => {
    const raw = Uint8Array.from({ length: 32 }, (_, i) => i);
    const key = hmacSha256Key(raw);
    const before = toHex(key.mac(Uint8Array.of(1, 2, 3)));
    raw.fill(0xff); // a caller wiping its copy does not change (or depend on) the keyed state
    expect(toHex(key.mac(Uint8Array.of(1, 2, 3)))).toBe(before);
  });

  it('rejects bad keys, data and backends with errors naming them', () => {
    expect(() => hmacSha256Key('00' as unknown as Uint8Array)).toThrow(/key must be a Uint8Array/);
    expect(() => hmacSha256Key([1, 2] as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => hmacSha256Key(new Uint8Array(32), 'openssl' as KdfBackend)).toThrow(/backend must be one of ts, node/);
    for (const backend of KDF_BACKENDS) {
      const key = hmacSha256Key(new Uint8Array(32), backend);
      expect(() => key.mac('abc' as unknown as Uint8Array)).toThrow(/data must be a Uint8Array/);
      expect(() => key.mac(null as unknown as Uint8Array)).toThrow(TypeError);
    }
  });
});
