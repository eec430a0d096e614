/** The TS 33.220 KDF against @noble/hashes and test/vectors/3gpp.json, and the docs/protocol.md 3.2 hierarchy. */
import { readFileSync } from 'node:fs';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { FC, FC_CLAUSE, deriveAlgKey, derivePtk, hmacSha256, kdf, kdfInput } from '../../src/crypto/index.js';
import { hex, toHex } from '../fixtures/bytes.js';

const VECTORS = JSON.parse(
  readFileSync(new URL('../vectors/3gpp.json', import.meta.url), 'utf8'),
) as { vectors: Record<string, Record<string, unknown>[]> };

/** Independent S = FC || P0 || L0 || ... and HMAC-SHA-256 from @noble/hashes. */
function refKdf(key: Uint8Array, fc: number, params: Uint8Array[]): Uint8Array {
  const parts: number[] = [fc];
  for (const p of params) parts.push(...p, p.length >> 8, p.length & 0xff);
  return hmac(sha256, key, Uint8Array.from(parts));
}

describe('KDF (TS 33.220 B.2)', () => {
  it.each(VECTORS.vectors.kdf!)('vector $id ($derivation)', (v) => {
    const params = (v.params as string[]).map(hex);
    expect(toHex(kdfInput(v.fc as number, params))).toBe(v.s);
    expect(toHex(kdf(hex(v.key as string), v.fc as number, params))).toBe(v.output);
  });

  it.each(VECTORS.vectors.hmac_sha256!)('HMAC-SHA-256 $id', (v) => {
    expect(toHex(hmacSha256(hex(v.key as string), hex(v.data as string)))).toBe(v.mac);
  });

  it('matches @noble/hashes on 500 random keys, FCs and parameter lists', () => {
    let seed = 7;
    const next = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8;
    for (let i = 0; i < 500; i++) {
      const key = Uint8Array.from({ length: 1 + (next() % 64) }, () => next() & 0xff);
      const fc = next() & 0xff;
      const params = Array.from({ length: next() % 5 }, () => Uint8Array.from({ length: next() % 40 }, () => next() & 0xff));
      expect(toHex(kdf(key, fc, params))).toBe(toHex(refKdf(key, fc, params)));
    }
  });

  it('rejects bad FC and parameters with errors naming them', () => {
    const key = new Uint8Array(32);
    expect(() => kdf(key, 256, [])).toThrow(/fc/);
    expect(() => kdf(key, 1.5, [])).toThrow(TypeError);
    expect(() => kdf(key, 0x10, [new Uint8Array(0x10000)])).toThrow(/params\[0\]/);
    expect(() => kdf(key, 0x10, ['ab' as unknown as Uint8Array])).toThrow(TypeError);
    expect(() => kdf(new Uint8Array(0), 0x10, [])).toThrow(/key/);
  });
});

describe('key hierarchy (docs/protocol.md 3.2)', () => {
  const pgk = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1);
  const gmi = 0x123456;
  const ptkId = 0xbeef;
  const groupId = 0xabcdef;

  it('FC constants carry their clauses', () => {
    expect(FC.PROSE_PTK).toBe(0x4a);
    expect(FC.PROSE_PEK_PIK).toBe(0x4b);
    expect(FC.SL_PTK).toBe(0x8d);
    expect(FC.SL_PEK_PIK).toBe(0x8e);
    expect(FC.EPS_ALG_KEY).toBe(0x15);
    expect(FC.NR_ALG_KEY).toBe(0x69);
    expect(FC_CLAUSE.PROSE_PTK).toBe('TS 33.303 A.3');
    expect(FC_CLAUSE.SL_PEK_PIK).toBe('TS 33.533 A.4');
  });

  it('pcr / lte-prose PTK: FC 0x4A, GMI (3 B), PTK ID (2 B), Group ID (3 B)', () => {
    const expected = refKdf(pgk, 0x4a, [hex('123456'), hex('beef'), hex('abcdef')]);
    expect(toHex(derivePtk('pcr', pgk, gmi, ptkId, groupId))).toBe(toHex(expected));
    expect(toHex(derivePtk('lte-prose', pgk, gmi, ptkId, groupId))).toBe(toHex(expected));
    expect(toHex(derivePtk('pcr', pgk, gmi, ptkId, groupId + 1))).not.toBe(toHex(expected));
  });

  it('ts33533 SLPTK: FC 0x8D, GMI, SLPTK ID, no Group ID', () => {
    const expected = refKdf(pgk, 0x8d, [hex('123456'), hex('beef')]);
    expect(toHex(derivePtk('ts33533', pgk, gmi, ptkId, groupId))).toBe(toHex(expected));
    expect(toHex(derivePtk('ts33533', pgk, gmi, ptkId, 0))).toBe(toHex(expected));
  });

  it.each([
    ['pcr', 0x4b],
    ['lte-prose', 0x4b],
    ['ts33533', 0x8e],
  ] as const)('%s PEK/PIK: FC 0x%s, P0 = 0x00/0x01, P1 = alg, last 16 bytes', (profile, fc) => {
    const ptk = derivePtk(profile, pgk, gmi, ptkId, groupId);
    for (const alg of [0, 1, 2, 3] as const) {
      const pek = deriveAlgKey(profile, ptk, 'enc', alg);
      const pik = deriveAlgKey(profile, ptk, 'int', alg);
      expect(pek.length).toBe(16);
      expect(toHex(pek)).toBe(toHex(refKdf(ptk, fc, [Uint8Array.of(0), Uint8Array.of(alg)]).slice(16)));
      expect(toHex(pik)).toBe(toHex(refKdf(ptk, fc, [Uint8Array.of(1), Uint8Array.of(alg)]).slice(16)));
    }
  });

  it('reproduces the algorithm-key vectors (FC 0x15 / 0x69) through the same last-16-bytes rule', () => {
    const algVectors = VECTORS.vectors.kdf!.filter((v) => v.fc === FC.EPS_ALG_KEY || v.fc === FC.NR_ALG_KEY);
    expect(algVectors.length).toBeGreaterThan(10);
    for (const v of algVectors) {
      const out = kdf(hex(v.key as string), v.fc as number, (v.params as string[]).map(hex));
      expect(toHex(out.slice(16))).toBe((v.output as string).slice(32));
    }
  });

  it('rejects out-of-range identities and key sizes, naming the argument', () => {
    expect(() => derivePtk('pcr', pgk, 0x1000000, 0, 0)).toThrow(/gmi/);
    expect(() => derivePtk('pcr', pgk, 0, 0x10000, 0)).toThrow(/ptkId/);
    expect(() => derivePtk('pcr', pgk, 0, 0, -1)).toThrow(/groupId/);
    expect(() => derivePtk('pcr', pgk.subarray(0, 16), 0, 0, 0)).toThrow(/pgk/);
    expect(() => derivePtk('bogus' as 'pcr', pgk, 0, 0, 0)).toThrow(/profile/);
    expect(() => deriveAlgKey('pcr', pgk, 'mac' as 'int', 2)).toThrow(/kind/);
    expect(() => deriveAlgKey('pcr', pgk, 'int', 4 as 2)).toThrow(/alg/);
    expect(() => deriveAlgKey('pcr', new Uint8Array(31), 'int', 2)).toThrow(/ptk/);
  });
});
