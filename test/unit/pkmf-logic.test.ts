import { describe, expect, it } from 'vitest';
import type { GroupPolicy, PeerPolicy, RoutingTable } from '../../src/pkmf/authorize.js';
import { authorizeMember, homeOf, planRequest } from '../../src/pkmf/authorize.js';
import { ErrorCode, ERROR_CODES, errorCodeByName, errorName, isTransient } from '../../src/pkmf/errors.js';
import { homePlmnOf, plmnFromSubjectAltName, supiFromSubjectAltName } from '../../src/pkmf/identity.js';
import type { PgkMeta, RandomBytes } from '../../src/pkmf/lifecycle.js';
import { firstPgkId, pickGmi, planPgks } from '../../src/pkmf/lifecycle.js';
import { parseKeyState, serializeKeyState, unexpired, usableAt } from '../../src/pkmf/key-state.js';
import { backoffDelayMs, DEFAULT_REFRESH_POLICY, nextRefreshAt } from '../../src/pkmf/refresh.js';
import { validateKeyRequest } from '../../src/pkmf/validate.js';

/** A deterministic byte source: a counter, so each call returns different bytes. */
function counterRandom(start = 1): RandomBytes {
  let c = start;
  return (n) => Uint8Array.from({ length: n }, () => c++ & 0xff);
}

describe('PGK lifecycle (injected clock and random source)', () => {
  const policy = { lifetimeMs: 1000, overlapMs: 300 };

  it('creates the first PGK with a random ID in [1, 2^31)', () => {
    const plan = planPgks([], 5000, policy, () => Uint8Array.of(0xff, 0xff, 0xff, 0xff));
    expect(plan.create).toEqual([{ pgkId: 0x7fffffff, expiresAtMs: 6000, activeFromMs: 5000 }]);
    expect(plan.validIds).toEqual([0x7fffffff]);
    expect(plan.renewAfterMs).toBe(5700);
    expect(firstPgkId(() => new Uint8Array(4))).toBe(1);
  });

  it('rolls over before expiry so that consecutive PGKs overlap, IDs strictly increasing, activation mid-overlap', () => {
    let pgks: PgkMeta[] = [];
    const random = counterRandom();
    const seenIds: number[] = [];
    // Step the clock through 20 lifetimes; at every instant some PGK is valid and, from the
    // rollover point on, its successor exists before it expires.
    for (let now = 0; now < 20_000; now += 50) {
      const plan = planPgks(pgks, now, policy, random);
      for (const c of plan.create) {
        seenIds.push(c.pgkId);
        const pred = pgks[pgks.length - 1];
        if (pred) {
          // Fetched from creation on, used from halfway through the overlap, before the predecessor expires.
          expect(c.activeFromMs).toBe(Math.max(now, pred.expiresAtMs - 150));
          expect(c.activeFromMs).toBeLessThan(pred.expiresAtMs);
        }
      }
      pgks = [...pgks, ...plan.create];
      const valid = pgks.filter((p) => p.expiresAtMs > now);
      expect(valid.map((p) => p.pgkId)).toEqual(plan.validIds);
      expect(valid.length).toBeGreaterThanOrEqual(1);
      expect(valid.length).toBeLessThanOrEqual(2);
      const newest = valid[valid.length - 1]!;
      expect(newest.expiresAtMs - now).toBeGreaterThan(policy.overlapMs - 50);
      expect(new Set(valid.map((p) => p.pgkId & 0x1f)).size).toBe(valid.length);
      // Senders always have an active PGK.
      expect(valid.some((p) => p.activeFromMs <= now)).toBe(true);
    }
    for (let i = 1; i < seenIds.length; i++) expect(seenIds[i]).toBe(seenIds[i - 1]! + 1);
    // One new PGK per (lifetime - overlap) = 700 ms: 20 s / 0.7 s ~ 29.
    expect(seenIds.length).toBeGreaterThanOrEqual(28);
    expect(seenIds.length).toBeLessThanOrEqual(30);
  });

  it('never reuses an ID after every PGK expired (PKMF idle for a long time)', () => {
    const plan = planPgks([{ pgkId: 40, expiresAtMs: 100, activeFromMs: 0 }], 1_000_000, policy, counterRandom());
    expect(plan.create).toEqual([{ pgkId: 41, expiresAtMs: 1_001_000, activeFromMs: 1_000_000 }]);
  });

  it('skips an ID whose PGK Index a live PGK still holds', () => {
    // ID 64 (index 0) still valid under an older, longer lifetime; 95 expired; 96 would reuse index 0.
    const plan = planPgks([{ pgkId: 64, expiresAtMs: 10_000, activeFromMs: 0 }, { pgkId: 95, expiresAtMs: 10, activeFromMs: 0 }], 9_800, policy, counterRandom());
    expect(plan.create).toEqual([{ pgkId: 97, expiresAtMs: 10_800, activeFromMs: 9_850 }]);
    expect(plan.validIds).toEqual([64, 97]);
    const full = Array.from({ length: 32 }, (_, i) => ({ pgkId: i, expiresAtMs: 10_000, activeFromMs: 0 }));
    expect(() => planPgks(full, 9_900, policy, counterRandom())).toThrow(/PGK Index/);
    expect(() => planPgks([{ pgkId: 0xffffffff, expiresAtMs: 1, activeFromMs: 0 }], 5, policy, counterRandom())).toThrow(/exhausted/);
  });

  it('checks its policy and time arguments', () => {
    expect(() => planPgks([], 0, { lifetimeMs: 100, overlapMs: 100 }, counterRandom())).toThrow(/overlapMs/);
    expect(() => planPgks([], 0, { lifetimeMs: 0, overlapMs: 1 }, counterRandom())).toThrow(/lifetimeMs/);
    expect(() => planPgks([], 1.5, policy, counterRandom())).toThrow(/now/);
  });

  it('picks GMIs that are unique in the group, never all-zero or all-one', () => {
    const taken = new Set<number>();
    const zeros: RandomBytes = (n) => new Uint8Array(n);
    expect(pickGmi((g) => taken.has(g), zeros)).toBe(1); // falls back to a scan
    const random = counterRandom();
    for (let i = 0; i < 2000; i++) {
      const g = pickGmi((x) => taken.has(x), random);
      expect(taken.has(g)).toBe(false);
      expect(g).toBeGreaterThan(0);
      expect(g).toBeLessThan(0xffffff);
      taken.add(g);
    }
  });
});

describe('identities', () => {
  it('finds the home PLMN of an IMSI by the longest MCC+MNC prefix', () => {
    expect(homePlmnOf('imsi-001010000000001', ['001-01', '001-02'])).toBe('001-01');
    expect(homePlmnOf('imsi-310260000000001', ['310-26', '310-260'])).toBe('310-260');
    expect(homePlmnOf('imsi-001030000000001', ['001-01', '001-02'])).toBeUndefined();
    expect(homePlmnOf('nai-x@y', ['001-01'])).toBeUndefined();
  });

  it('reads SUPI and PKMF PLMN from subjectAltName strings', () => {
    expect(supiFromSubjectAltName('URI:urn:3gpp:supi:imsi-001010000000001')).toBe('imsi-001010000000001');
    expect(supiFromSubjectAltName('DNS:localhost, URI:urn:3gpp:supi:imsi-001010000000001')).toBe('imsi-001010000000001');
    expect(supiFromSubjectAltName('URI:urn:3gpp:supi:imsi-1, URI:urn:3gpp:supi:imsi-2')).toBeUndefined();
    expect(supiFromSubjectAltName('URI:urn:3gpp:supi:imsi-00101')).toBeUndefined();
    expect(supiFromSubjectAltName(undefined)).toBeUndefined();
    expect(plmnFromSubjectAltName('URI:urn:3gpp:pkmf:plmn:001-02, DNS:localhost, IP Address:127.0.0.1')).toBe('001-02');
    expect(plmnFromSubjectAltName('URI:urn:3gpp:pkmf:plmn:00102')).toBeUndefined();
  });
});

describe('error codes', () => {
  it('are named, described and classified', () => {
    for (const c of ERROR_CODES) expect(errorCodeByName(errorName(c))).toBe(c);
    expect(isTransient(ErrorCode.HOME_NETWORK_UNREACHABLE)).toBe(true);
    expect(isTransient(ErrorCode.OWNER_NETWORK_UNREACHABLE)).toBe(true);
    expect(isTransient(ErrorCode.NOT_A_MEMBER)).toBe(false);
  });
});

describe('authorization and routing', () => {
  const group = (id: number, members: string[], operators: string[] = []): GroupPolicy => ({
    groupId: id,
    nea: 2,
    nia: 2,
    profile: 'pcr',
    allowNullAlgorithms: false,
    pgk: { lifetimeMs: 1000, overlapMs: 100 },
    members: new Set(members),
    operators: new Set(operators),
    sourceAuth: 'none',
  });
  const peer = (plmn: string, roaming: boolean, groups: number[] = [], reachable = true): PeerPolicy => ({ plmn, roaming, groups: new Set(groups), reachable });
  const UE1 = 'imsi-001010000000001';
  const UE2 = 'imsi-001020000000001';
  const UE3 = 'imsi-001030000000001';
  const op1: RoutingTable = {
    plmn: '001-01',
    groups: new Map([
      [0x101, group(0x101, [UE1, UE2], ['001-02'])],
      [0x102, group(0x102, [UE1])],
    ]),
    peers: new Map([
      ['001-02', peer('001-02', true)],
      ['001-03', peer('001-03', false, [0x303])],
    ]),
  };

  it('serves a home UE from local groups, foreign groups from their owner, others as unknown', () => {
    expect(planRequest(op1, UE1, { kind: 'ue' }, [0x101, 0x303, 0x999])).toEqual({
      kind: 'groups',
      home: '001-01',
      routes: [
        { groupId: 0x101, route: 'local' },
        { groupId: 0x303, route: 'owner', plmn: '001-03' },
        { groupId: 0x999, route: 'error', code: ErrorCode.UNKNOWN_GROUP },
      ],
    });
  });

  it('relays a roaming UE to its home PKMF only with a roaming agreement', () => {
    expect(planRequest(op1, UE2, { kind: 'ue' }, [0x101])).toEqual({ kind: 'forward-home', plmn: '001-02' });
    expect(planRequest(op1, UE3, { kind: 'ue' }, [0x101])).toMatchObject({ kind: 'reject', code: ErrorCode.NO_ROAMING_AGREEMENT });
    expect(planRequest(op1, 'imsi-999990000000001', { kind: 'ue' }, [0x101])).toMatchObject({ kind: 'reject', code: ErrorCode.NO_ROAMING_AGREEMENT });
  });

  it('answers a visited PKMF for its own roaming subscriber only with a roaming agreement', () => {
    expect(planRequest(op1, UE1, { kind: 'peer', plmn: '001-02' }, [0x102])).toMatchObject({ kind: 'groups', routes: [{ route: 'local' }] });
    expect(planRequest(op1, UE1, { kind: 'peer', plmn: '001-03' }, [0x102])).toMatchObject({ kind: 'reject', code: ErrorCode.NO_ROAMING_AGREEMENT });
    expect(planRequest(op1, UE1, { kind: 'peer', plmn: '001-09' }, [0x102])).toMatchObject({ kind: 'reject' });
  });

  it('answers an owner request only from the UE\'s home PKMF and only for own groups', () => {
    expect(planRequest(op1, UE2, { kind: 'peer', plmn: '001-02' }, [0x101, 0x303])).toEqual({
      kind: 'groups',
      home: '001-02',
      routes: [
        { groupId: 0x101, route: 'local' },
        { groupId: 0x303, route: 'error', code: ErrorCode.UNKNOWN_GROUP },
      ],
    });
    // 001-03 asking for 001-02's subscriber: neither home nor relaying.
    expect(planRequest(op1, UE2, { kind: 'peer', plmn: '001-03' }, [0x101])).toMatchObject({ kind: 'reject' });
  });

  it('authorizes members by operator agreement, membership and algorithms', () => {
    const all = new Set([1, 2, 3] as const);
    const g101 = op1.groups.get(0x101)!;
    const g102 = op1.groups.get(0x102)!;
    expect(authorizeMember(op1, g101, UE1, '001-01', all, all)).toBe(ErrorCode.NONE);
    expect(authorizeMember(op1, g101, UE2, '001-02', all, all)).toBe(ErrorCode.NONE);
    expect(authorizeMember(op1, g102, UE2, '001-02', all, all)).toBe(ErrorCode.NO_OPERATOR_AGREEMENT);
    expect(authorizeMember(op1, g102, 'imsi-001010000000009', '001-01', all, all)).toBe(ErrorCode.NOT_A_MEMBER);
    expect(authorizeMember(op1, g101, UE1, '001-01', new Set([1, 3] as const), all)).toBe(ErrorCode.ALGORITHM_NOT_SUPPORTED);
    expect(authorizeMember(op1, g101, UE1, '001-01', all, new Set())).toBe(ErrorCode.ALGORITHM_NOT_SUPPORTED);
    expect(homeOf(op1, UE2)).toBe('001-02');
  });
});

describe('Key Request validation', () => {
  const ok = { transactionId: 1, homePlmn: '', groups: [{ groupId: 1, supportedNea: [2], supportedNia: [2] }] };
  it('accepts a valid request and refuses each kind of malformed one', () => {
    expect(validateKeyRequest(ok)).toMatchObject({ ok: true, value: { homePlmn: undefined } });
    expect(validateKeyRequest({ ...ok, groups: [] })).toMatchObject({ ok: false, reason: /no group/ });
    expect(validateKeyRequest({ ...ok, groups: Array.from({ length: 65 }, (_, i) => ({ groupId: i, supportedNea: [2], supportedNia: [] })) }).ok).toBe(false);
    expect(validateKeyRequest({ ...ok, groups: [{ groupId: 0x1000000, supportedNea: [2], supportedNia: [] }] }).ok).toBe(false);
    expect(validateKeyRequest({ ...ok, groups: [ok.groups[0]!, ok.groups[0]!] })).toMatchObject({ ok: false, reason: /twice/ });
    expect(validateKeyRequest({ ...ok, groups: [{ groupId: 1, supportedNea: [], supportedNia: [] }] })).toMatchObject({ ok: false, reason: /empty/ });
    expect(validateKeyRequest({ ...ok, groups: [{ groupId: 1, supportedNea: [7], supportedNia: [] }] }).ok).toBe(false);
    expect(validateKeyRequest({ ...ok, homePlmn: '00101' }).ok).toBe(false);
  });
});

describe('key client schedule (injected clock and random source)', () => {
  const p = { ...DEFAULT_REFRESH_POLICY, minDelayMs: 100, maxDelayMs: 1_000_000 };

  it('refreshes between rollover and activation of the next PGK, spread by jitter', () => {
    // Rollover at 10 s, newest expires at 14 s: the next PGK activates at 12 s.
    const w = [{ renewAfterMs: 10_000, newestExpiryMs: 14_000 }];
    expect(nextRefreshAt(w, 0, () => 0, p)).toBe(10_000);
    expect(nextRefreshAt(w, 0, () => 0.999999, p)).toBe(11_600); // jitter 0.8 of the 2 s before activation
    const seen = new Set<number>();
    for (let i = 0; i < 100; i++) {
      const t = nextRefreshAt(w, 0, Math.random, p);
      expect(t).toBeGreaterThanOrEqual(10_000);
      expect(t).toBeLessThanOrEqual(11_600);
      seen.add(t);
    }
    expect(seen.size).toBeGreaterThan(50);
  });

  it('takes the earliest group, and clamps to the policy bounds', () => {
    const w = [
      { renewAfterMs: 50_000, newestExpiryMs: 60_000 },
      { renewAfterMs: 20_000, newestExpiryMs: 22_000 },
    ];
    expect(nextRefreshAt(w, 0, () => 0, p)).toBe(20_000);
    // Rollover already due (clock skew): soon, but not sooner than minDelay.
    expect(nextRefreshAt([{ renewAfterMs: 0, newestExpiryMs: 100_000 }], 5_000, () => 0, p)).toBe(5_100);
    expect(nextRefreshAt([], 0, () => 0.5, p)).toBe(1_000_000);
  });

  it('backs off exponentially with jitter up to the cap', () => {
    const pol = { ...p, backoffBaseMs: 1000, backoffMaxMs: 8000 };
    expect([1, 2, 3, 4, 5, 10].map((a) => backoffDelayMs(a, () => 0, pol))).toEqual([500, 1000, 2000, 4000, 4000, 4000]);
    expect([1, 2, 3, 4, 5].map((a) => backoffDelayMs(a, () => 1, pol))).toEqual([1000, 2000, 4000, 8000, 8000]);
  });
});

describe('persisted key state', () => {
  const state = {
    supi: 'imsi-001010000000001',
    savedAtMs: 5,
    groups: [
      {
        material: { groupId: 0x101, gmi: 0x55, nea: 2 as const, nia: null, profile: 'lte-prose' as const, allowNullAlgorithms: false, pgks: [{ pgkId: 9, pgk: new Uint8Array(32).fill(4), expiresAtMs: 100, activeFromMs: 0 }, { pgkId: 10, pgk: new Uint8Array(32).fill(5), expiresAtMs: 200, activeFromMs: 80 }] },
        renewAfterMs: 150,
      },
    ],
  };

  it('round-trips and drops expired PGKs and empty groups', () => {
    const back = parseKeyState(serializeKeyState(state));
    expect(back).toEqual(state);
    expect(unexpired(back.groups, 150)[0]!.material.pgks.map((x) => x.pgkId)).toEqual([10]);
    expect(unexpired(back.groups, 200)).toEqual([]);
    // What PDCP gets: only active, unexpired PGKs, in the shared contract's shape.
    expect(usableAt(back.groups, 50)[0]!.pgks).toEqual([{ pgkId: 9, pgk: new Uint8Array(32).fill(4), expiresAtMs: 100 }]);
    expect(usableAt(back.groups, 90)[0]!.pgks.map((x) => x.pgkId)).toEqual([9, 10]);
    expect(usableAt(back.groups, 150)[0]!.pgks.map((x) => x.pgkId)).toEqual([10]);
    expect(usableAt(back.groups, 200)).toEqual([]);
  });

  it('refuses damaged files with the field named', () => {
    const doc = JSON.parse(serializeKeyState(state));
    expect(() => parseKeyState('{')).toThrow(/not JSON/);
    expect(() => parseKeyState(JSON.stringify({ ...doc, version: 2 }))).toThrow(/version/);
    doc.groups[0].pgks[1].pgk = 'zz';
    expect(() => parseKeyState(JSON.stringify(doc))).toThrow(/groups\[0\]\.pgks\[1\]\.pgk/);
  });
});
