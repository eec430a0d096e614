/**
 * Group key state (docs/protocol.md 2, 5, 6): validation of key material, sender PGK selection with
 * guard time, receiver lookup by PGK Index with expiry grace, pruning, and how the receive entity
 * keeps its per-PGK state when new material is installed.
 */
import { describe, expect, it } from 'vitest';
import {
  GroupKeyState,
  installGroup,
  lookupRxPgk,
  nextTxSelectionChangeMs,
  selectTxPgk,
} from '../../src/keys/group-key-state.js';
import type { GroupKeyMaterial } from '../../src/keys/types.js';
import { PdcpRxEntity } from '../../src/pdcp/index.js';
import { GROUP_ID, HOUR, NOW, RECEIVER_GMI, SENDER_GMI, bytes, pair, pgkRecord } from '../fixtures/pdcp-helpers.js';

function material(over: Partial<GroupKeyMaterial> = {}): GroupKeyMaterial {
  return { groupId: GROUP_ID, gmi: 5, nea: 2, nia: 2, profile: 'pcr', pgks: [pgkRecord(7)], ...over };
}

describe('installGroup validation', () => {
  it('accepts valid material, copies the PGK and indexes it by its 5 LSBs', () => {
    const rec = pgkRecord(0x12345678);
    const g = installGroup(material({ pgks: [rec, pgkRecord(3)] }));
    expect(g.byIndex[0x18]?.pgkId).toBe(0x12345678);
    expect(g.byIndex[3]?.pgkId).toBe(3);
    expect(g.pgksNewestFirst.map((p) => p.pgkId)).toEqual([0x12345678, 3]);
    rec.pgk.fill(0);
    expect(g.byIndex[0x18]!.pgk.some((b) => b !== 0)).toBe(true);
    expect(Object.isFrozen(g)).toBe(true);
  });

  it.each([
    [{ groupId: 0x1000000 }, /material\.groupId/],
    [{ gmi: -1 }, /material\.gmi/],
    [{ gmi: 1.5 }, /material\.gmi/],
    [{ nea: 4 }, /material\.nea/],
    [{ nia: 7 }, /material\.nia/],
    [{ profile: 'lte' }, /material\.profile/],
    [{ profile: 'lte-prose', nia: 2 }, /lte-prose.*nia must be null/],
    [{ nea: 0 }, /NEA0\/NIA0/],
    [{ nia: 0 }, /NEA0\/NIA0/],
    [{ pgks: [{ pgkId: 1, pgk: new Uint8Array(16), expiresAtMs: NOW }] }, /pgks\[0\]\.pgk: expected 32 bytes/],
    [{ pgks: [{ pgkId: 2 ** 32, pgk: new Uint8Array(32), expiresAtMs: NOW }] }, /pgks\[0\]\.pgkId/],
    [{ pgks: [{ pgkId: 1, pgk: new Uint8Array(32), expiresAtMs: Number.NaN }] }, /expiresAtMs/],
    [{ pgks: [pgkRecord(1), pgkRecord(33)] }, /PGK Index 1, already used by PGK ID 1/],
  ] as [Partial<GroupKeyMaterial>, RegExp][])('rejects %o', (over, message) => {
    expect(() => installGroup(material(over))).toThrow(message);
  });

  it('allows null algorithms only with allowNullAlgorithms', () => {
    expect(installGroup(material({ nea: 0, nia: 0, allowNullAlgorithms: true })).nea).toBe(0);
  });
});

describe('PGK selection', () => {
  const g = installGroup(
    material({ pgks: [pgkRecord(10, NOW + 10 * HOUR), pgkRecord(11, NOW + 2 * HOUR), pgkRecord(12, NOW + HOUR)] }),
  );
  const guard = 60_000;

  it('sender: newest valid PGK outside its guard time, else the newest valid one', () => {
    expect(selectTxPgk(g, NOW, guard)?.pgkId).toBe(12);
    expect(selectTxPgk(g, NOW + HOUR - guard, guard)?.pgkId).toBe(11); // 12 in its guard
    expect(selectTxPgk(g, NOW + HOUR, guard)?.pgkId).toBe(11); // 12 expired
    expect(selectTxPgk(g, NOW, guard, (p) => p.pgkId !== 12)?.pgkId).toBe(11); // 12 exhausted
    expect(selectTxPgk(g, NOW + 10 * HOUR - 1, guard)?.pgkId).toBe(10); // only 10, in its guard
    expect(selectTxPgk(g, NOW + 10 * HOUR, guard)).toBeUndefined();
  });

  it('sender: the next instant selection can change', () => {
    expect(nextTxSelectionChangeMs(g, NOW, guard)).toBe(NOW + HOUR - guard);
    expect(nextTxSelectionChangeMs(g, NOW + HOUR - guard, guard)).toBe(NOW + HOUR);
    expect(nextTxSelectionChangeMs(g, NOW + 11 * HOUR, guard)).toBe(Infinity);
  });

  it('receiver: by PGK Index, expired only beyond the grace', () => {
    expect(lookupRxPgk(g, 12, NOW, 1000)).toMatchObject({ pgkId: 12 });
    expect(lookupRxPgk(g, 13, NOW, 1000)).toBe('unknown-pgk-index');
    expect(lookupRxPgk(g, 12, NOW + HOUR + 999, 1000)).toMatchObject({ pgkId: 12 });
    expect(lookupRxPgk(g, 12, NOW + HOUR + 1000, 1000)).toBe('expired-pgk');
  });

  it('GroupKeyState: install, lookup, prune, remove', () => {
    const keys = new GroupKeyState({ txGuardMs: 0, rxExpiryGraceMs: 0 });
    keys.install(material({ pgks: [pgkRecord(1, NOW), pgkRecord(2, NOW + HOUR)] }));
    expect(keys.lookupRxPgk(0x777777, 1, NOW)).toBe('unknown-group');
    expect(keys.selectTxPgk(GROUP_ID, NOW)?.pgkId).toBe(2);
    const before = keys.get(GROUP_ID);
    expect(keys.pruneExpired(NOW - 1).size).toBe(0);
    expect(keys.get(GROUP_ID)).toBe(before);
    expect([...keys.pruneExpired(NOW)]).toEqual([[GROUP_ID, [1]]]);
    expect(keys.get(GROUP_ID)).not.toBe(before);
    expect(keys.lookupRxPgk(GROUP_ID, 1, NOW)).toBe('unknown-pgk-index');
    expect(keys.groupIds()).toEqual([GROUP_ID]);
    expect(keys.remove(GROUP_ID)).toBe(true);
    expect(keys.get(GROUP_ID)).toBeUndefined();
    expect(() => new GroupKeyState({ txGuardMs: -1 })).toThrow(/txGuardMs/);
  });
});

describe('PGK activation time (activeFromMs)', () => {
  const guard = 60_000;
  // 7 is the current PGK; 8 is its successor, fetched already, active from NOW + 10 s.
  const spec = { pgks: [pgkRecord(7, NOW + HOUR), { ...pgkRecord(8, NOW + 2 * HOUR), activeFromMs: NOW + 10_000 }] };

  it('validates it and keeps it (absent: active at once)', () => {
    const g = installGroup(material(spec));
    expect(g.byIndex[8]!.activeFromMs).toBe(NOW + 10_000);
    expect(g.byIndex[7]!.activeFromMs).toBe(-Infinity);
    expect(() => installGroup(material({ pgks: [{ ...pgkRecord(1), activeFromMs: Number.NaN }] }))).toThrow(/pgks\[0\]\.activeFromMs/);
  });

  it('senders skip a PGK before its activation and switch at that instant; selection changes are announced', () => {
    const g = installGroup(material(spec));
    expect(selectTxPgk(g, NOW, guard)?.pgkId).toBe(7);
    expect(selectTxPgk(g, NOW + 9_999, guard)?.pgkId).toBe(7);
    expect(selectTxPgk(g, NOW + 10_000, guard)?.pgkId).toBe(8);
    expect(nextTxSelectionChangeMs(g, NOW, guard)).toBe(NOW + 10_000);
    // Only a not-yet-active PGK: nothing to send with.
    const only = installGroup(material({ pgks: [{ ...pgkRecord(9), activeFromMs: NOW + 1 }] }));
    expect(selectTxPgk(only, NOW, guard)).toBeUndefined();
    expect(selectTxPgk(only, NOW + 1, guard)?.pgkId).toBe(9);
  });

  it('a sender switches at activation; a receiver holding the successor verifies a sender whose clock is ahead', () => {
    const { tx, rx } = pair(spec, { keys: { txGuardMs: guard } });
    const sdu = bytes(40);
    const before = tx.protect(sdu, 1, GROUP_ID, NOW + 9_999);
    expect(before.pgkId).toBe(7);
    const after = tx.protect(sdu, 1, GROUP_ID, NOW + 10_000);
    expect(after.pgkId).toBe(8);
    // The receiver's clock is 5 s behind the sender's: the PGK is not active for it yet, and
    // it still accepts the PDU under it.
    expect(rx.unprotect(before.pdu, before.l2Src, before.l2Dst, NOW + 4_999)).toMatchObject({ ok: true, pgkId: 7 });
    expect(rx.unprotect(after.pdu, after.l2Src, after.l2Dst, NOW + 5_000)).toMatchObject({ ok: true, pgkId: 8 });
  });
});

describe('receive state across key updates', () => {
  it('a re-installed PGK keeps its replay windows (old PDUs stay rejected)', () => {
    const { tx, rx, rxKeys } = pair();
    const r = tx.protect(bytes(10), 1, GROUP_ID, NOW);
    expect(rx.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW).ok).toBe(true);
    // A Key Response brings a new PGK; PGK 7 is still in it.
    rxKeys.install({ groupId: GROUP_ID, gmi: RECEIVER_GMI, nea: 2, nia: 2, profile: 'pcr', pgks: [pgkRecord(7), pgkRecord(8)] });
    expect(rx.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW)).toEqual({ ok: false, reason: 'replay' });
    const r2 = tx.protect(bytes(10), 1, GROUP_ID, NOW);
    expect(rx.unprotect(r2.pdu, r2.l2Src, r2.l2Dst, NOW).ok).toBe(true);
    expect(rx.stats().derivations).toBe(1); // engines kept too
  });

  it('changed algorithms drop cached engines but keep replay windows', () => {
    const { tx, rx, rxKeys, txKeys } = pair();
    const r = tx.protect(bytes(10), 1, GROUP_ID, NOW);
    expect(rx.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW).ok).toBe(true);
    const upd = (gmi: number): GroupKeyMaterial => ({ groupId: GROUP_ID, gmi, nea: 3, nia: 3, profile: 'pcr', pgks: [pgkRecord(7)] });
    rxKeys.install(upd(RECEIVER_GMI));
    txKeys.install(upd(SENDER_GMI));
    expect(rx.stats().cachedEngines).toBe(1); // the receive entity notices on the next PDU
    expect(rx.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW)).toEqual({ ok: false, reason: 'replay' });
    expect(rx.stats()).toMatchObject({ cachedEngines: 0, replayWindows: 1 });
    const r2 = tx.protect(bytes(10), 1, GROUP_ID, NOW); // new PTK under the new algorithms
    expect(r2.ptkId).toBe(2); // PTK IDs start at 1: the second PTK
    expect(rx.unprotect(r2.pdu, r2.l2Src, r2.l2Dst, NOW).ok).toBe(true);
    expect(rx.stats()).toMatchObject({ cachedEngines: 1, derivations: 2 });
  });

  it('a PGK that left the group and a removed group release their state', () => {
    const { tx, rx, rxKeys } = pair();
    const r = tx.protect(bytes(10), 1, GROUP_ID, NOW);
    expect(rx.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW).ok).toBe(true);
    rxKeys.install({ groupId: GROUP_ID, gmi: RECEIVER_GMI, nea: 2, nia: 2, profile: 'pcr', pgks: [pgkRecord(8)] });
    expect(rx.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW)).toEqual({ ok: false, reason: 'unknown-pgk-index' });
    expect(rx.stats()).toMatchObject({ cachedEngines: 0, replayWindows: 0 });
    rxKeys.remove(GROUP_ID);
    expect(rx.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW)).toEqual({ ok: false, reason: 'unknown-group' });
  });

  it('the receive entity validates its options', () => {
    const keys = new GroupKeyState();
    expect(() => new PdcpRxEntity(keys, { replayWindowWords: 3 })).toThrow(/power of two/);
    expect(() => new PdcpRxEntity(keys, { maxSenders: 0 })).toThrow(/maxSenders/);
    expect(() => new PdcpRxEntity(keys, { engineCacheSize: 0 })).toThrow(/capacity/);
    expect(() => new PdcpRxEntity(keys, { newSenderDerivations: { burst: 0, ratePerSec: 1 } })).toThrow(/burst/);
  });
});
