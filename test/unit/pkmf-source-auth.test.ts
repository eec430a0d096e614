/**
 * Source authentication on the key-distribution side (src/pkmf/source-auth.ts): the pairwise-key
 * derivation against our own test vector and an independent HMAC; what the owner's store (real
 * SQLite) hands each member as members join, change GMI and leave; the UE's persisted state, its
 * policy minimum, and the PKMF's authorization of signature groups.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { GroupConfig } from '../../bridge/pkmf/config.js';
import { PkmfStore } from '../../bridge/pkmf/store.js';
import { authorizeMember, type RoutingTable } from '../../src/pkmf/authorize.js';
import type { IssuedGroupKeys } from '../../src/pkmf/codec.js';
import { ErrorCode } from '../../src/pkmf/errors.js';
import { groupKeyMaterial, parseKeyState, serializeKeyState, sourceAuthDigest, usableAt } from '../../src/pkmf/key-state.js';
import { policyViolation, type GroupAlgorithmPolicy } from '../../src/pkmf/policy.js';
import { derivePairwiseKey, pairwiseKeysOf } from '../../src/pkmf/source-auth.js';
import { validateKeyRequest } from '../../src/pkmf/validate.js';
import { hex, toHex } from '../fixtures/bytes.js';

const SECRET = Uint8Array.from({ length: 32 }, (_, i) => i);

describe('pairwise key derivation', () => {
  it('matches our test vector and HMAC-SHA-256 over the S of TS 33.220 B.2.0, last 16 bytes', () => {
    // S = FC 0xF0 || Group ID 0d0001 || 0x0003 || PGK ID 12345678 || 0x0004 || min GMI 000123 || 0x0003 || max GMI 00abcd || 0x0003
    const s = hex('f00d00010003123456780004000123000300abcd0003');
    const independent = createHmac('sha256', SECRET).update(s).digest().subarray(16);
    const k = derivePairwiseKey(SECRET, 0x0d0001, 0x12345678, 0x00abcd, 0x000123);
    expect(toHex(k)).toBe('dd57b12056b2d87cc2339df516a2aa62');
    expect(toHex(k)).toBe(toHex(independent));
  });

  it('is symmetric, and differs per PGK ID, GMI pair, group and secret', () => {
    const k = (secret: Uint8Array, group: number, pgkId: number, a: number, b: number): string => toHex(derivePairwiseKey(secret, group, pgkId, a, b));
    const base = k(SECRET, 1, 2, 3, 4);
    expect(k(SECRET, 1, 2, 4, 3)).toBe(base);
    const others = [k(SECRET, 1, 3, 3, 4), k(SECRET, 1, 2, 3, 5), k(SECRET, 2, 2, 3, 4), k(new Uint8Array(32).fill(1), 1, 2, 3, 4), k(SECRET, 1, 0xffffffff, 3, 4)];
    expect(new Set([base, ...others]).size).toBe(6);
  });

  it('refuses a member with itself, out-of-range IDs and a short secret', () => {
    expect(() => derivePairwiseKey(SECRET, 1, 2, 5, 5)).toThrow(/no pairwise key with itself/);
    expect(() => derivePairwiseKey(SECRET, 1, 2, 0, 5)).toThrow(/GMIs/);
    expect(() => derivePairwiseKey(SECRET, 1, 2, 0xffffff, 5)).toThrow(/GMIs/);
    expect(() => derivePairwiseKey(SECRET, 0x1000000, 2, 4, 5)).toThrow(/groupId/);
    expect(() => derivePairwiseKey(SECRET, 1, 2 ** 32, 4, 5)).toThrow(/pgkId/);
    expect(() => derivePairwiseKey(new Uint8Array(16), 1, 2, 4, 5)).toThrow(/groupSecret: expected 32 bytes/);
  });

  it('gives one member a key with every other member, none with itself', () => {
    const keys = pairwiseKeysOf(SECRET, 7, 9, 0x20, [0x10, 0x20, 0x30]);
    expect([...keys.keys()]).toEqual([0x10, 0x30]);
    expect(toHex(keys.get(0x30)!)).toBe(toHex(derivePairwiseKey(SECRET, 7, 9, 0x30, 0x20)));
  });
});

// --- the owner's store ------------------------------------------------------------------------

const dir = join(tmpdir(), `slb-source-auth-unit-${process.pid}`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const GROUP = 0x0f0001;
const [A, B, C] = ['imsi-001010000000001', 'imsi-001010000000002', 'imsi-001010000000003'];
const POLICY = { lifetimeMs: 1000, overlapMs: 250 };

function groupConfig(members: string[], sourceAuth: GroupConfig['sourceAuth']): GroupConfig {
  return { groupId: GROUP, nea: 2, nia: 2, profile: 'pcr', allowNullAlgorithms: false, allowNoIntegrity: false, pgkLifetimeMs: POLICY.lifetimeMs, pgkOverlapMs: POLICY.overlapMs, members, operators: [], sourceAuth };
}

function openStore(name: string, members: string[], sourceAuth: GroupConfig['sourceAuth']): PkmfStore {
  const store = PkmfStore.open(join(dir, `${name}.db`));
  store.syncGroups([groupConfig(members, sourceAuth)], 0);
  return store;
}

const random = (n: number): Uint8Array => Uint8Array.from(randomBytes(n));
const pairwiseOf = (issued: ReturnType<PkmfStore['issue']>, pgkId: number): Map<number, string> =>
  new Map([...issued.pgks.find((p) => p.pgkId === pgkId)!.pairwiseKeys!].map(([g, k]) => [g, toHex(k)]));

describe('the owner store: pairwise-mac', () => {
  it('hands each member K(self, other) for the members holding a GMI; both ends agree; joins, fresh GMIs, new PGKs and removals show in the next answer', () => {
    const store = openStore('pairwise', [A, B, C], 'pairwise-mac');
    const auth = { mode: 'pairwise-mac' as const };
    const a1 = store.issue(GROUP, A, POLICY, 0, random, undefined, auth);
    expect(a1.sourceAuth).toEqual({ mode: 'pairwise-mac' });
    expect(a1.created).toBe(true);
    const pgk1 = a1.pgks[0]!.pgkId;
    expect(pairwiseOf(a1, pgk1).size).toBe(0); // alone so far
    const b1 = store.issue(GROUP, B, POLICY, 10, random, undefined, auth);
    const a2 = store.issue(GROUP, A, POLICY, 20, random, a1.gmi, auth);
    expect([...pairwiseOf(b1, pgk1).keys()]).toEqual([a1.gmi]);
    expect(pairwiseOf(a2, pgk1)).toEqual(new Map([[b1.gmi, pairwiseOf(b1, pgk1).get(a1.gmi)]]));

    // The secret is stored (0600 database), derived from, and never handed out.
    const db = new Database(join(dir, 'pairwise.db'), { readonly: true });
    const secret = (db.prepare('SELECT secret FROM group_secrets WHERE group_id = ?').get(GROUP) as { secret: Buffer }).secret;
    db.close();
    expect(pairwiseOf(a2, pgk1).get(b1.gmi)).toBe(toHex(derivePairwiseKey(secret, GROUP, pgk1, a1.gmi, b1.gmi)));
    const everything = JSON.stringify([a1, b1, a2], (_k, v: unknown) => (v instanceof Uint8Array ? toHex(v) : v instanceof Map ? [...v] : v));
    expect(everything).not.toContain(toHex(secret));

    // C joins; B comes back without PTK state (fresh GMI): A's next answer has both, the old GMI gone.
    const c1 = store.issue(GROUP, C, POLICY, 30, random, undefined, auth);
    const b2 = store.issue(GROUP, B, POLICY, 40, random, undefined, auth);
    expect(b2.retiredGmi).toBe(b1.gmi);
    const a3 = store.issue(GROUP, A, POLICY, 50, random, a1.gmi, auth);
    expect([...pairwiseOf(a3, pgk1).keys()].sort()).toEqual([b2.gmi, c1.gmi].sort());
    expect(pairwiseOf(a3, pgk1).get(c1.gmi)).toBe(pairwiseOf(store.issue(GROUP, C, POLICY, 55, random, c1.gmi, auth), pgk1).get(a1.gmi));

    // Rollover: the new PGK brings new keys, the old PGK keeps its own.
    const a4 = store.issue(GROUP, A, POLICY, 800, random, a1.gmi, auth);
    const pgk2 = a4.pgks.find((p) => p.pgkId !== pgk1)!.pgkId;
    expect(pairwiseOf(a4, pgk1)).toEqual(pairwiseOf(a3, pgk1));
    expect(pairwiseOf(a4, pgk2).get(c1.gmi)).not.toBe(pairwiseOf(a4, pgk1).get(c1.gmi));

    // B leaves the config (restart with a new member list): absent from every later answer.
    store.syncGroups([groupConfig([A, C], 'pairwise-mac')], 900);
    const a5 = store.issue(GROUP, A, POLICY, 900, random, a1.gmi, auth);
    for (const p of a5.pgks) expect([...p.pairwiseKeys!.keys()]).toEqual([c1.gmi]);
    store.close();

    // The same secret after a restart: same keys.
    const again = openStore('pairwise', [A, C], 'pairwise-mac');
    expect(pairwiseOf(again.issue(GROUP, A, POLICY, 910, random, a1.gmi, auth), pgk1)).toEqual(pairwiseOf(a5, pgk1));
    again.close();
  });
});

describe('the owner store: signature', () => {
  const pub = (fill: number): Uint8Array => new Uint8Array(32).fill(fill);

  it("binds each member's public key to it and hands out every member's (GMI, key), rebinding a changed key; removed members vanish", () => {
    const store = openStore('signature', [A, B, C], 'signature');
    const a1 = store.issue(GROUP, A, POLICY, 0, random, undefined, { mode: 'signature', signingPublicKey: pub(0xa) });
    expect(a1.keyBound).toBe(true);
    expect(a1.sourceAuth).toEqual({ mode: 'signature', publicKeys: new Map([[a1.gmi, pub(0xa)]]) });
    expect(a1.pgks[0]!.pairwiseKeys).toBeUndefined();
    const b1 = store.issue(GROUP, B, POLICY, 10, random, undefined, { mode: 'signature', signingPublicKey: pub(0xb) });
    expect(b1.sourceAuth).toEqual({ mode: 'signature', publicKeys: new Map([[a1.gmi, pub(0xa)], [b1.gmi, pub(0xb)]]) });
    const a2 = store.issue(GROUP, A, POLICY, 20, random, a1.gmi, { mode: 'signature', signingPublicKey: pub(0xa) });
    expect(a2.keyBound).toBe(false);
    expect(a2.created).toBe(false);
    // A member with a GMI but no key bound yet (it asked before the group required signatures) is left out.
    store.issue(GROUP, C, POLICY, 25, random, undefined, { mode: 'signature' });
    const b2 = store.issue(GROUP, B, POLICY, 30, random, b1.gmi, { mode: 'signature', signingPublicKey: pub(0xbb) });
    expect(b2.keyBound).toBe(true);
    const a3 = store.issue(GROUP, A, POLICY, 40, random, a1.gmi, { mode: 'signature', signingPublicKey: pub(0xa) });
    expect(a3.sourceAuth?.mode === 'signature' && a3.sourceAuth.publicKeys).toEqual(new Map([[a1.gmi, pub(0xa)], [b1.gmi, pub(0xbb)]]));
    store.syncGroups([groupConfig([A, C], 'signature')], 50);
    const a4 = store.issue(GROUP, A, POLICY, 50, random, a1.gmi, { mode: 'signature', signingPublicKey: pub(0xa) });
    expect(a4.sourceAuth?.mode === 'signature' && [...a4.sourceAuth.publicKeys.keys()]).toEqual([a1.gmi]);
    store.close();
  });

  it('upgrades a schema-2 database in place (the new tables start empty)', () => {
    const file = join(dir, 'v2.db');
    openStore('v2', [A], 'none').close();
    const db = new Database(file);
    db.exec("DROP TABLE group_secrets; DROP TABLE signing_keys; UPDATE meta SET value = '2' WHERE key = 'schema_version'");
    db.close();
    const store = openStore('v2', [A], 'pairwise-mac');
    expect(store.issue(GROUP, A, POLICY, 0, random, undefined, { mode: 'pairwise-mac' }).sourceAuth).toEqual({ mode: 'pairwise-mac' });
    store.close();
    const check = new Database(file, { readonly: true });
    expect(check.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get()).toEqual({ value: '3' });
    check.close();
  });
});

// --- the UE side --------------------------------------------------------------------------------

const pairwiseGroup: IssuedGroupKeys = {
  groupId: 0x101,
  gmi: 0x55,
  nea: 2,
  nia: 2,
  profile: 'pcr',
  allowNullAlgorithms: false,
  pgks: [
    { pgkId: 9, pgk: new Uint8Array(32).fill(4), expiresAtMs: 100, activeFromMs: 0, pairwiseKeys: new Map([[0x66, new Uint8Array(16).fill(6)]]) },
    { pgkId: 10, pgk: new Uint8Array(32).fill(5), expiresAtMs: 200, activeFromMs: 80, pairwiseKeys: new Map() },
  ],
  sourceAuth: { mode: 'pairwise-mac' },
};
const signatureGroup: IssuedGroupKeys = {
  groupId: 0x102,
  gmi: 0x77,
  nea: 2,
  nia: 2,
  profile: 'pcr',
  allowNullAlgorithms: false,
  pgks: [{ pgkId: 3, pgk: new Uint8Array(32).fill(7), expiresAtMs: 100, activeFromMs: 0 }],
  sourceAuth: { mode: 'signature', publicKeys: new Map([[0x77, new Uint8Array(32).fill(0x77)], [0x78, new Uint8Array(32).fill(0x78)]]) },
};
const SEED = new Uint8Array(32).fill(0x5e);

describe("the UE's persisted keys", () => {
  const state = { supi: 'imsi-001010000000001', savedAtMs: 5, groups: [{ material: pairwiseGroup, renewAfterMs: 50 }, { material: signatureGroup, renewAfterMs: 50 }] };

  it('round-trip pairwise keys and public keys, never a signing seed; GroupKeyMaterial gets the seed from the caller', () => {
    const text = serializeKeyState(state);
    expect(parseKeyState(text)).toEqual(state);
    expect(text).not.toContain(toHex(SEED));
    const [pw, sig] = usableAt(parseKeyState(text).groups, 50, SEED);
    expect(pw).toMatchObject({ sourceAuth: { mode: 'pairwise-mac' }, pgks: [{ pgkId: 9, pairwiseKeys: new Map([[0x66, new Uint8Array(16).fill(6)]]) }] });
    expect(sig!.sourceAuth).toEqual({ ...signatureGroup.sourceAuth, signingSeed: SEED });
    expect(() => usableAt(parseKeyState(text).groups, 50)).toThrow(/by signature, but no signing key/);
    // A file written before source authentication has none.
    const old = JSON.parse(text);
    for (const g of old.groups) {
      delete g.sourceAuth;
      delete g.publicKeys;
      for (const p of g.pgks) delete p.pairwiseKeys;
    }
    expect(parseKeyState(JSON.stringify(old)).groups.map((g) => g.material.sourceAuth)).toEqual([undefined, undefined]);
  });

  it('refuses damaged source authentication with the field named', () => {
    const bad = (patch: (doc: { groups: Record<string, unknown>[] }) => void): (() => unknown) => {
      const doc = JSON.parse(serializeKeyState(state));
      patch(doc);
      return () => parseKeyState(JSON.stringify(doc));
    };
    expect(bad((d) => (d.groups[0]!.sourceAuth = 'psk'))).toThrow(/groups\[0\]\.sourceAuth/);
    expect(bad((d) => ((d.groups[0]!.pgks as { pairwiseKeys: { key: string }[] }[])[0]!.pairwiseKeys[0]!.key = 'abcd'))).toThrow(/groups\[0\]\.pgks\[0\]\.pairwiseKeys\[0\]: key of GMI 000066 is not 16 bytes/);
    expect(bad((d) => delete (d.groups[0]!.pgks as Record<string, unknown>[])[1]!.pairwiseKeys)).toThrow(/PGK 10 carries no pairwise key list/);
    expect(bad((d) => (d.groups[1]!.publicKeys = (d.groups[1]!.publicKeys as unknown[]).slice(1)))).toThrow(/lack this UE's own GMI 000077/);
    expect(bad((d) => (d.groups[0]!.publicKeys = []))).toThrow(/groups\[0\]\.publicKeys: given, but sourceAuth is pairwise-mac/);
  });

  it('notices a membership change by digest, without key bytes in the comparison', () => {
    const digest = sourceAuthDigest(pairwiseGroup);
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    expect(sourceAuthDigest(structuredClone(pairwiseGroup))).toBe(digest);
    const joined = structuredClone(pairwiseGroup);
    (joined.pgks[1]!.pairwiseKeys as Map<number, Uint8Array>).set(0x99, new Uint8Array(16));
    expect(sourceAuthDigest(joined)).not.toBe(digest);
    const rebound = structuredClone(signatureGroup);
    if (rebound.sourceAuth?.mode === 'signature') (rebound.sourceAuth.publicKeys as Map<number, Uint8Array>).set(0x78, new Uint8Array(32));
    expect(sourceAuthDigest(rebound)).not.toBe(sourceAuthDigest(signatureGroup));
    expect(groupKeyMaterial(pairwiseGroup, pairwiseGroup.pgks, undefined).pgks[0]!.pairwiseKeys).not.toBe(pairwiseGroup.pgks[0]!.pairwiseKeys);
  });
});

describe("the UE's policy minimum", () => {
  const policy = (acceptSourceAuth?: GroupAlgorithmPolicy['acceptSourceAuth']): GroupAlgorithmPolicy => ({
    supportedNea: [1, 2, 3],
    supportedNia: [1, 2, 3],
    allowNoIntegrity: false,
    allowNullAlgorithms: false,
    ...(acceptSourceAuth === undefined ? {} : { acceptSourceAuth }),
  });
  const none: IssuedGroupKeys = { ...signatureGroup, sourceAuth: undefined };

  it('accepts any mode by default', () => {
    for (const m of [none, pairwiseGroup, signatureGroup]) expect(policyViolation(m, policy())).toBeUndefined();
  });

  it('refuses a PKMF that downgrades a group the UE requires source-authenticated, and a mode it does not accept', () => {
    const strict = policy(['pairwise-mac', 'signature']);
    expect(policyViolation(none, strict)).toBe('the PKMF set source authentication none for the group; this UE accepts only pairwise-mac, signature (sourceAuth)');
    expect(policyViolation(pairwiseGroup, strict)).toBeUndefined();
    expect(policyViolation(signatureGroup, strict)).toBeUndefined();
    expect(policyViolation(pairwiseGroup, policy(['signature']))).toMatch(/set source authentication pairwise-mac/);
  });
});

describe("the PKMF's authorization of signature groups", () => {
  const table: RoutingTable = {
    plmn: '001-01',
    peers: new Map(),
    groups: new Map([
      [1, { groupId: 1, nea: 2, nia: 2, profile: 'pcr', allowNullAlgorithms: false, pgk: POLICY, members: new Set([A]), operators: new Set(), sourceAuth: 'signature' }],
      [2, { groupId: 2, nea: 2, nia: 2, profile: 'pcr', allowNullAlgorithms: false, pgk: POLICY, members: new Set([A]), operators: new Set(), sourceAuth: 'pairwise-mac' }],
    ]),
  };
  const all = new Set([1, 2, 3] as const);

  it('needs the public key for signature groups only', () => {
    expect(authorizeMember(table, table.groups.get(1)!, A, '001-01', all, all, false)).toBe(ErrorCode.ALGORITHM_NOT_SUPPORTED);
    expect(authorizeMember(table, table.groups.get(1)!, A, '001-01', all, all, true)).toBe(ErrorCode.NONE);
    expect(authorizeMember(table, table.groups.get(2)!, A, '001-01', all, all, false)).toBe(ErrorCode.NONE);
  });

  it('refuses a signing public key that is not 32 bytes as a malformed request', () => {
    const req = (signingPublicKey: Uint8Array) => validateKeyRequest({ transactionId: 1, homePlmn: '', groups: [{ groupId: 1, supportedNea: [2], supportedNia: [2], signingPublicKey }] });
    expect(req(new Uint8Array(32))).toMatchObject({ ok: true, value: { groups: [{ signingPublicKey: new Uint8Array(32) }] } });
    expect(req(new Uint8Array(31))).toEqual({ ok: false, reason: 'group 000001: signing_public_key is 31 bytes, not 32' });
  });
});
