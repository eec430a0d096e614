/**
 * The primitives of source authentication (docs/pdcp.md, "Source authentication"): AES-CMAC on
 * the RFC 4493 vectors and against @noble/ciphers at every length 0..100 and block boundaries;
 * truncated tags and their constant-length comparison; Ed25519 on RFC 8032's test 1 and 2,
 * against node:crypto's own key generation, bad signatures and keys; HMAC-SHA-256 on both
 * backends equal across the switch-over length; no key object shows its key when logged.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { cmac as nobleCmac } from '@noble/ciphers/aes.js';
import { describe, expect, it } from 'vitest';
import { AesCmac } from '../../src/crypto/aes-cmac.js';
import { Ed25519Signer, Ed25519Verifier, ed25519PublicKeyOf } from '../../src/crypto/ed25519.js';
import { AutoHmacSha256, HMAC_TS_MAX_BYTES } from '../../src/crypto/hmac-auto.js';
import { hmacSha256 } from '../../src/crypto/kdf.js';

const h = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('AES-CMAC (SP 800-38B, RFC 4493)', () => {
  // RFC 4493 4: K and the four examples (Mlen 0, 16, 40, 64).
  const key = h('2b7e151628aed2a6abf7158809cf4f3c');
  const m = h(
    '6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710',
  );
  it.each([
    [0, 'bb1d6929e95937287fa37d129b756746'],
    [16, '070a16b46b4d4144f79bdd9dd04a287c'],
    [40, 'dfa66747de9ae63030ca32611497c827'],
    [64, '51f0bebf7e3b9d92fc49741779363cfe'],
  ])('RFC 4493 example with Mlen %i', (len, tag) => {
    expect(hex(new AesCmac(key).mac(m.subarray(0, len)))).toBe(tag);
  });

  it('equals @noble/ciphers for every length 0..100 and around 256 under random keys', () => {
    for (const len of [...Array.from({ length: 101 }, (_, i) => i), 255, 256, 257]) {
      const k = new Uint8Array(randomBytes(16));
      const msg = new Uint8Array(randomBytes(len));
      expect(hex(new AesCmac(k).mac(msg)), `length ${len}`).toBe(hex(nobleCmac(msg, k)));
    }
  });

  it('writes and verifies truncated tags; any changed octet or message fails', () => {
    const cmac = new AesCmac(key);
    const msg = new Uint8Array(randomBytes(32));
    const out = new Uint8Array(20).fill(0xee);
    cmac.writeTag(msg, 8, out, 5);
    expect(hex(out.subarray(5, 13))).toBe(hex(cmac.mac(msg).subarray(0, 8)));
    expect([...out.subarray(0, 5), ...out.subarray(13)].every((b) => b === 0xee)).toBe(true);
    expect(cmac.verifyTag(msg, 8, out, 5)).toBe(true);
    for (let i = 5; i < 13; i++) {
      const bad = Uint8Array.from(out);
      bad[i]! ^= 0x01;
      expect(cmac.verifyTag(msg, 8, bad, 5)).toBe(false);
    }
    const other = Uint8Array.from(msg);
    other[31]! ^= 0x80;
    expect(cmac.verifyTag(other, 8, out, 5)).toBe(false);
    expect(cmac.verifyTag(msg, 8, out, 15)).toBe(false); // runs past the end: false, no throw
    expect(() => cmac.writeTag(msg, 8, out, 15)).toThrow(RangeError);
    expect(() => cmac.writeTag(msg, 17, out, 0)).toThrow(/tagBytes/);
    expect(() => new AesCmac(new Uint8Array(15))).toThrow(/16 bytes/);
  });
});

describe('Ed25519 (RFC 8032) through node:crypto', () => {
  // RFC 8032 7.1, TEST 1 (empty message) and TEST 2 (one octet 0x72).
  it.each([
    [
      '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
      'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
      '',
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    ],
    [
      '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
      '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
      '72',
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
    ],
  ])('RFC 8032 vector with seed %s', (seed, pub, msg, sig) => {
    const signer = new Ed25519Signer(h(seed));
    expect(hex(signer.publicKey)).toBe(pub);
    expect(hex(ed25519PublicKeyOf(h(seed)))).toBe(pub);
    expect(hex(signer.sign(h(msg)))).toBe(sig);
    expect(new Ed25519Verifier(h(pub)).verify(h(msg), h(sig))).toBe(true);
  });

  it('verifies signatures of keys node:crypto generated, refuses altered ones without throwing', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const seed = new Uint8Array((privateKey.export({ format: 'der', type: 'pkcs8' }) as Buffer).subarray(16));
    const signer = new Ed25519Signer(seed);
    const verifier = new Ed25519Verifier(signer.publicKey);
    const msg = new Uint8Array(randomBytes(32));
    const sig = signer.sign(msg);
    expect(verifier.verify(msg, sig)).toBe(true);
    const bad = Uint8Array.from(sig);
    bad[63]! ^= 0x40;
    expect(verifier.verify(msg, bad)).toBe(false);
    expect(verifier.verify(msg, sig.subarray(0, 63))).toBe(false);
    expect(verifier.verify(new Uint8Array(31), sig)).toBe(false);
    expect(new Ed25519Verifier(new Uint8Array(randomBytes(32))).verify(msg, sig)).toBe(false);
    expect(() => new Ed25519Signer(new Uint8Array(31))).toThrow(/32 bytes/);
    expect(() => new Ed25519Verifier(new Uint8Array(33))).toThrow(/32 bytes/);
  });
});

describe('HMAC-SHA-256 on both backends', () => {
  it('gives the same MAC on both sides of the switch-over length', () => {
    const key = new Uint8Array(randomBytes(32));
    const auto = new AutoHmacSha256(key);
    for (const len of [0, 1, 55, 56, 64, HMAC_TS_MAX_BYTES - 1, HMAC_TS_MAX_BYTES, HMAC_TS_MAX_BYTES + 1, 1500, 9011]) {
      const msg = new Uint8Array(randomBytes(len));
      expect(hex(auto.mac(msg)), `length ${len}`).toBe(hex(hmacSha256(key, msg, 'node')));
    }
    // A private copy: changing the caller's bytes changes nothing.
    const msg = new Uint8Array(400);
    const before = hex(auto.mac(msg));
    key.fill(0);
    expect(hex(auto.mac(msg))).toBe(before);
  });
});

describe('key objects never show their keys', () => {
  it('AesCmac, Ed25519Signer and AutoHmacSha256 serialise and inspect as placeholders', () => {
    const key = new Uint8Array(16).fill(0xab);
    const seed = new Uint8Array(32).fill(0xcd);
    for (const [obj, placeholder] of [
      [new AesCmac(key), '[AES-CMAC key]'],
      [new Ed25519Signer(seed), '[Ed25519 private key]'],
      [new AutoHmacSha256(key), '[HMAC-SHA-256 key]'],
    ] as const) {
      const shown = `${JSON.stringify({ obj })} ${inspect(obj, { depth: 5, showHidden: true })} ${JSON.stringify({ ...obj })}`;
      expect(shown).toContain(placeholder);
      expect(shown).not.toMatch(/abab|cdcd|171,\s*171|205,\s*205/);
    }
  });
});
