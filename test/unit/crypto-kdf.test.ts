/**
 * The TS 33.220 KDF against @noble/hashes, node:crypto and test/vectors/3gpp.json, the
 * docs/protocol.md 3.2 hierarchy, and the PTK set-up on keyed PGKs (both HMAC backends).
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import {
  FC,
  FC_CLAUSE,
  KDF_BACKENDS,
  deriveAlgKey,
  derivePtk,
  hmacSha256,
  hmacSha256Key,
  kdf,
  kdfInput,
  type AlgId,
  type HierarchyProfile,
} from '../../src/crypto/index.js';
import { GroupKeyState, installGroup } from '../../src/keys/group-key-state.js';
import { MemoryPtkHighWaterStore, PdcpRxEntity, PdcpTxEntity, PtkIdAllocator, derivePtkEngines, derivePtkKeys } from '../../src/pdcp/index.js';
import { hex, toHex } from '../fixtures/bytes.js';
import { GROUP_ID, NOW, RECEIVER_GMI, SENDER_GMI, keysFor, pgkBytes, pgkRecord } from '../fixtures/pdcp-helpers.js';

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

  it.each(KDF_BACKENDS)('every KDF vector with the key keyed once on the %s backend', (backend) => {
    for (const v of VECTORS.vectors.kdf!) {
      const key = hmacSha256Key(hex(v.key as string), backend);
      const params = (v.params as string[]).map(hex);
      expect(toHex(kdf(key, v.fc as number, params)), v.id as string).toBe(v.output);
      expect(toHex(kdf(key, v.fc as number, params)), `${v.id as string} again`).toBe(v.output);
    }
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
    expect(() => kdf(hmacSha256Key(new Uint8Array(0)), 0x10, [])).toThrow(/key must not be empty/);
    expect(() => kdf({} as unknown as Uint8Array, 0x10, [])).toThrow(/key must be a Uint8Array/);
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
    expect(() => derivePtk('pcr', hmacSha256Key(pgk.subarray(0, 16)), 0, 0, 0)).toThrow(/pgk must be 32 bytes .*got a key of 16 bytes/);
    expect(() => deriveAlgKey('pcr', hmacSha256Key(new Uint8Array(31)), 'int', 2)).toThrow(/ptk must be 32 bytes/);
  });

  it.each(KDF_BACKENDS)('derives the same PTK, PEK and PIK from a keyed PGK and PTK (%s backend) as from bytes', (backend) => {
    for (const profile of ['pcr', 'lte-prose', 'ts33533'] as const) {
      const pgkKey = hmacSha256Key(pgk, backend);
      for (const id of [0, 1, 0x7fff, 0xffff]) {
        const ptk = derivePtk(profile, pgk, gmi, id, groupId);
        expect(toHex(derivePtk(profile, pgkKey, gmi, id, groupId))).toBe(toHex(ptk));
        const ptkKey = hmacSha256Key(ptk, backend);
        for (const alg of [0, 1, 2, 3] as const) {
          expect(toHex(deriveAlgKey(profile, ptkKey, 'enc', alg))).toBe(toHex(deriveAlgKey(profile, ptk, 'enc', alg)));
          expect(toHex(deriveAlgKey(profile, ptkKey, 'int', alg))).toBe(toHex(deriveAlgKey(profile, ptk, 'int', alg)));
        }
      }
    }
  });
});

describe('PTK set-up on the keyed PGK (src/pdcp/ptk-engines.ts, src/keys/group-key-state.ts)', () => {
  const PROFILES: [HierarchyProfile, AlgId, AlgId | null][] = [
    ['pcr', 2, 2],
    ['pcr', 1, 3],
    ['pcr', 3, null],
    ['ts33533', 2, 1],
    ['lte-prose', 2, null],
  ];

  it.each(PROFILES)('%s NEA%s/NIA%s: the TypeScript and node:crypto derivations give the same PEK and PIK', (profile, nea, nia) => {
    const group = { profile, groupId: GROUP_ID, nea, nia };
    const bytes = pgkBytes(3);
    for (const ptkId of [0, 1, 2, 0x1234, 0xffff]) {
      const ref = derivePtkKeys(group, bytes, SENDER_GMI, ptkId);
      // Independent of this code: PEK/PIK straight from the KDF on node:crypto.
      const ptk = createHmacKdf(bytes, profile === 'ts33533' ? 0x8d : 0x4a, [
        hex('00a001'),
        Uint8Array.of(ptkId >>> 8, ptkId & 0xff),
        ...(profile === 'ts33533' ? [] : [hex('12ab34')]),
      ]);
      const fc = profile === 'ts33533' ? 0x8e : 0x4b;
      expect(toHex(ref.pek)).toBe(toHex(createHmacKdf(ptk, fc, [Uint8Array.of(0), Uint8Array.of(nea)]).slice(16)));
      expect(ref.pik && toHex(ref.pik)).toBe(nia === null ? null : toHex(createHmacKdf(ptk, fc, [Uint8Array.of(1), Uint8Array.of(nia)]).slice(16)));
      for (const backend of KDF_BACKENDS) {
        const keys = derivePtkKeys(group, hmacSha256Key(bytes, backend), SENDER_GMI, ptkId);
        expect(toHex(keys.pek), backend).toBe(toHex(ref.pek));
        expect(keys.pik && toHex(keys.pik), backend).toBe(ref.pik && toHex(ref.pik));
      }
    }
  });

  it.each(PROFILES)('%s NEA%s/NIA%s: PDUs protected with one derivation open with the other, both ways', (profile, nea, nia) => {
    const spec = { profile, nea, nia, pgks: [pgkRecord(7), pgkRecord(8)] };
    for (const [txBackend, rxBackend] of [
      ['ts', 'node'],
      ['node', 'ts'],
    ] as const) {
      const txKeys = keysFor(SENDER_GMI, spec, { kdfBackend: txBackend });
      const rxKeys = keysFor(RECEIVER_GMI, spec, { kdfBackend: rxBackend });
      expect(txKeys.get(GROUP_ID)!.pgksNewestFirst[0]!.kdfKey.backend).toBe(txBackend);
      expect(rxKeys.get(GROUP_ID)!.pgksNewestFirst[0]!.kdfKey.backend).toBe(rxBackend);
      const tx = new PdcpTxEntity(txKeys, new PtkIdAllocator(new MemoryPtkHighWaterStore()), { snPerPtk: 3 });
      const rx = new PdcpRxEntity(rxKeys);
      for (let i = 0; i < 12; i++) {
        const sdu = Uint8Array.from({ length: 20 + i * 30 }, (_, j) => (i * 13 + j) & 0xff);
        const p = tx.protect(sdu, 1, GROUP_ID, NOW);
        const r = rx.unprotect(p.pdu, p.l2Src, p.l2Dst, NOW);
        expect(r.ok && toHex(r.sdu), `${txBackend} -> ${rxBackend}, PDU ${i}`).toBe(toHex(sdu));
      }
      expect(tx.ptksStarted).toBe(4); // 12 PDUs, 3 per PTK: four derivations on each side
      expect(rx.derivations).toBe(4);
    }
  });

  it('derives the same engines from the installed keyed PGK as from its bytes', () => {
    const group = installGroup({ groupId: GROUP_ID, gmi: SENDER_GMI, nea: 2, nia: 2, profile: 'pcr', pgks: [pgkRecord(9)] });
    const pgk = group.pgksNewestFirst[0]!;
    const data = Uint8Array.from({ length: 100 }, (_, i) => i);
    const a = derivePtkEngines(group, pgk.kdfKey, SENDER_GMI, 5);
    const b = derivePtkEngines(group, pgk.pgk, SENDER_GMI, 5);
    expect(toHex(a.cipher.apply(77, 0, 0, data))).toBe(toHex(b.cipher.apply(77, 0, 0, data)));
    expect(a.integrity!.mac(77, 0, 0, data)).toBe(b.integrity!.mac(77, 0, 0, data));
  });

  it('keeps the keyed PGK with the installed PGK, out of logs, on the configured backend', () => {
    const keys = new GroupKeyState();
    keys.install({ groupId: GROUP_ID, gmi: SENDER_GMI, nea: 2, nia: 2, profile: 'pcr', pgks: [pgkRecord(1, NOW - 1), pgkRecord(2)] });
    const installed = keys.get(GROUP_ID)!.pgksNewestFirst;
    expect(installed.map((p) => p.kdfKey.backend)).toEqual(['ts', 'ts']);
    expect(installed[0]!.kdfKey.keyBytes).toBe(32);
    expect(JSON.stringify(installed[0]!.kdfKey)).toBe('"[HMAC-SHA-256 key]"');
    // Pruning re-installs the survivors: they stay keyed, on the same backend.
    const nodeKeys = new GroupKeyState({ kdfBackend: 'node', rxExpiryGraceMs: 0 });
    nodeKeys.install({ groupId: GROUP_ID, gmi: SENDER_GMI, nea: 2, nia: 2, profile: 'pcr', pgks: [pgkRecord(1, NOW - 1), pgkRecord(2)] });
    expect([...nodeKeys.pruneExpired(NOW)]).toEqual([[GROUP_ID, [1]]]);
    expect(nodeKeys.get(GROUP_ID)!.pgksNewestFirst.map((p) => p.kdfKey.backend)).toEqual(['node']);
    expect(() => new GroupKeyState({ kdfBackend: 'wasm' as 'ts' })).toThrow(/options.kdfBackend: expected one of ts, node/);
  });
});

/** TS 33.220 B.2 KDF straight on node:crypto, as an oracle independent of src/crypto. */
function createHmacKdf(key: Uint8Array, fc: number, params: Uint8Array[]): Uint8Array {
  const parts: number[] = [fc];
  for (const p of params) parts.push(...p, p.length >> 8, p.length & 0xff);
  return new Uint8Array(createHmac('sha256', key).update(Uint8Array.from(parts)).digest());
}
