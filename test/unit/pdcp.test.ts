/**
 * Groupcast PDCP security layer (issue 3, docs/protocol.md 4-6): PDU layout checked against an
 * independent computation with the crypto core, round trips in every profile and algorithm pair,
 * single-bit flips, cross-group rejection, each drop reason with its counter, replay window,
 * derivation rate limiting and engine cache bounds, and the transmit entity's PTK/SN/PGK rules.
 */
import { describe, expect, it } from 'vitest';
import { createCipherEngine, createIntegrityEngine, deriveAlgKey, derivePtk } from '../../src/crypto/index.js';
import type { AlgId, HierarchyProfile } from '../../src/crypto/types.js';
import { pgkTag } from '../../src/keys/pgk-tag.js';
import {
  DROP_REASONS,
  MemoryPtkHighWaterStore,
  PdcpRxEntity,
  PdcpTxEntity,
  ProtectError,
  PtkIdAllocator,
  ReplayWindow,
  TokenBucket,
  derivePtkEngines,
  emitHeader,
  parseHeader,
  pduLayout,
  sealPdu,
  totalRx,
  type DropReason,
  type UnprotectResult,
} from '../../src/pdcp/index.js';
import {
  GROUP_ID,
  HOUR,
  NOW,
  RECEIVER_GMI,
  SENDER_GMI,
  bytes,
  keysFor,
  pair,
  pgkBytes,
  pgkRecord,
  rng,
} from '../fixtures/pdcp-helpers.js';

const ALGS: AlgId[] = [1, 2, 3];

function reason(r: UnprotectResult): DropReason | 'accepted' {
  return r.ok ? 'accepted' : r.reason;
}

describe('PDU header codec (TS 36.323 6.2.10)', () => {
  it('emits and parses SDU Type | PGK Index, PTK ID, SN', () => {
    const h = { sduType: 4, pgkIndex: 0x1d, ptkId: 0xbeef, sn: 0x0102 };
    const bytes5 = emitHeader(h);
    expect([...bytes5]).toEqual([(4 << 5) | 0x1d, 0xbe, 0xef, 0x01, 0x02]);
    expect(parseHeader(bytes5)).toEqual(h);
    expect(parseHeader(bytes5.subarray(0, 4))).toBeUndefined();
  });

  it('range-checks every field', () => {
    expect(() => emitHeader({ sduType: 8, pgkIndex: 0, ptkId: 0, sn: 0 })).toThrow(RangeError);
    expect(() => emitHeader({ sduType: 0, pgkIndex: 32, ptkId: 0, sn: 0 })).toThrow(/pgkIndex/);
    expect(() => emitHeader({ sduType: 0, pgkIndex: 0, ptkId: 0x10000, sn: 0 })).toThrow(/ptkId/);
    expect(() => emitHeader({ sduType: 0, pgkIndex: 0, ptkId: 0, sn: -1 })).toThrow(/sn/);
    expect(() => emitHeader({ sduType: 0.5, pgkIndex: 0, ptkId: 0, sn: 0 })).toThrow(TypeError);
  });
});

/** Independent computation of docs/protocol.md 4.2 with the crypto core only. */
function independentKeys(profile: HierarchyProfile, pgkId: number, gmi: number, ptkId: number, nea: AlgId, nia: AlgId | null) {
  const ptk = derivePtk(profile, pgkBytes(pgkId), gmi, ptkId, GROUP_ID);
  return {
    cipher: createCipherEngine(nea, deriveAlgKey(profile, ptk, 'enc', nea)),
    integrity: nia === null ? null : createIntegrityEngine(nia, deriveAlgKey(profile, ptk, 'int', nia)),
  };
}

describe('PDU layout as docs/protocol.md 4.1/4.2 describes it', () => {
  it('lte-prose: exactly the 5-octet TS 36.323 6.2.10 header, then the ciphered SDU', () => {
    const pgkId = 0x20 + 0x13; // PGK Index 0x13
    const { tx } = pair({ profile: 'lte-prose', nea: 2, pgks: [pgkRecord(pgkId)] });
    const sdu = bytes(100, 1);
    // SDU type non-IP (1) is 011 in LTE's table (TS 36.323 6.3.14), 001 in NR's.
    const r = tx.protect(sdu, 1, GROUP_ID, NOW);
    expect(r.pdu.length).toBe(5 + sdu.length);
    expect([...r.pdu.subarray(0, 5)]).toEqual([(3 << 5) | 0x13, 0x00, r.ptkId, 0x00, 0x00]);
    const k = independentKeys('lte-prose', pgkId, SENDER_GMI, r.ptkId, 2, null);
    const plain = k.cipher.apply((r.ptkId << 16) | r.sn, 0, 0, r.pdu.subarray(5));
    expect(Buffer.from(plain).equals(Buffer.from(sdu))).toBe(true);
    expect(r.l2Src).toBe(SENDER_GMI);
    expect(r.l2Dst).toBe(GROUP_ID);
  });

  for (const profile of ['pcr', 'ts33533'] as const) {
    it(`${profile}: header | NEA(Group ID, GMI, SDU, MAC-I) with MAC-I = NIA(header || Group ID || GMI || SDU)`, () => {
      const { tx } = pair({ profile, nea: 3, nia: 1 }, { tx: { snPerPtk: 3 } });
      const sdu = bytes(57, 2);
      let r = tx.protect(sdu, 1, GROUP_ID, NOW);
      for (let i = 0; i < 4; i++) r = tx.protect(sdu, 1, GROUP_ID, NOW); // PTK IDs start at 1: PTK ID 2, SN 1
      expect([r.ptkId, r.sn]).toEqual([2, 1]);
      expect(r.pdu.length).toBe(5 + 6 + sdu.length + 4);
      expect([...r.pdu.subarray(0, 5)]).toEqual([(1 << 5) | 7, 0, 2, 0, 1]);
      const count = 0x20001;
      const k = independentKeys(profile, 7, SENDER_GMI, 2, 3, 1);
      const plain = k.cipher.apply(count, 0, 0, r.pdu.subarray(5));
      expect([...plain.subarray(0, 6)]).toEqual([0x12, 0xab, 0x34, 0x00, 0xa0, 0x01]);
      expect(Buffer.from(plain.subarray(6, 6 + sdu.length)).equals(Buffer.from(sdu))).toBe(true);
      const macInput = new Uint8Array([...r.pdu.subarray(0, 5), ...plain.subarray(0, 6 + sdu.length)]);
      const mac = k.integrity!.mac(count, 0, 0, macInput);
      expect(Buffer.from(plain.subarray(6 + sdu.length)).readUInt32BE(0)).toBe(mac);
    });
  }

  it('the two profiles and different PTK IDs give different keys', () => {
    const a = independentKeys('pcr', 7, SENDER_GMI, 0, 2, 2).cipher.apply(0, 0, 0, new Uint8Array(16));
    const b = independentKeys('ts33533', 7, SENDER_GMI, 0, 2, 2).cipher.apply(0, 0, 0, new Uint8Array(16));
    const c = independentKeys('pcr', 7, SENDER_GMI, 1, 2, 2).cipher.apply(0, 0, 0, new Uint8Array(16));
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
    expect(Buffer.from(a).equals(Buffer.from(c))).toBe(false);
  });
});

describe('round trips', () => {
  const cases: { profile: HierarchyProfile; nea: AlgId; nia: AlgId | null }[] = [];
  for (const profile of ['pcr', 'ts33533'] as const) {
    for (const nea of ALGS) for (const nia of ALGS) cases.push({ profile, nea, nia });
    cases.push({ profile, nea: 2, nia: null });
  }
  for (const nea of ALGS) cases.push({ profile: 'lte-prose', nea, nia: null });

  for (const { profile, nea, nia } of cases) {
    it(`${profile} NEA${nea} / ${nia === null ? 'no integrity' : `NIA${nia}`}`, () => {
      const { tx, rx } = pair({ profile, nea, nia }, { tx: { snPerPtk: 4 } });
      for (const [i, size] of [1, 2, 15, 16, 17, 128, 1500, 9000].entries()) {
        const sdu = bytes(size, size);
        // lte-prose (TS 36.323 6.3.14) carries IP, non-IP and ARP only.
        const sduType = profile === 'lte-prose' ? [0, 1, 4][i % 3]! : i % 5;
        const r = tx.protect(sdu, sduType, GROUP_ID, NOW + i);
        // The SDU is not visible in the clear (ciphering is on).
        if (size >= 16) expect(Buffer.from(r.pdu).includes(Buffer.from(sdu.subarray(0, 16)))).toBe(false);
        const got = rx.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW + i);
        expect(reason(got)).toBe('accepted');
        if (!got.ok) continue;
        expect(Buffer.from(got.sdu).equals(Buffer.from(sdu))).toBe(true);
        expect(got).toMatchObject({ sduType, senderGmi: SENDER_GMI, groupId: GROUP_ID, pgkId: 7, ptkId: r.ptkId, sn: r.sn });
      }
      expect(rx.counters.accepted).toBe(8);
      expect(tx.ptksStarted).toBe(2); // 8 PDUs, 4 SNs per PTK
    });
  }
});

describe('NEA0 / NIA0 only when the group allows them', () => {
  it('refuses null algorithms by default', () => {
    expect(() => keysFor(1, { nea: 0 })).toThrow(/allowNullAlgorithms/);
    expect(() => keysFor(1, { nia: 0 })).toThrow(/allowNullAlgorithms/);
  });

  it('works when allowed; NEA0 leaves the SDU readable, NIA0 gives MAC-I 0', () => {
    const { tx, rx } = pair({ nea: 0, nia: 0, allowNullAlgorithms: true });
    const sdu = bytes(40, 3);
    const r = tx.protect(sdu, 1, GROUP_ID, NOW);
    expect(Buffer.from(r.pdu.subarray(11, 51)).equals(Buffer.from(sdu))).toBe(true);
    expect([...r.pdu.subarray(51)]).toEqual([0, 0, 0, 0]);
    expect(reason(rx.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW))).toBe('accepted');
  });

  it('NEA0 with a real NIA still detects tampering', () => {
    const { tx, rx } = pair({ nea: 0, nia: 2, allowNullAlgorithms: true });
    const r = tx.protect(bytes(20), 1, GROUP_ID, NOW);
    r.pdu[15]! ^= 1;
    expect(reason(rx.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW))).toBe('mac-failure');
  });
});

describe('tampering and misdirection', () => {
  for (const [nea, nia] of [[2, 2], [1, 1], [3, 3]] as [AlgId, AlgId][]) {
    it(`every single-bit flip of a PDU is rejected (NEA${nea}/NIA${nia})`, () => {
      const { tx, rx } = pair({ nea, nia });
      const r = tx.protect(bytes(24, 9), 1, GROUP_ID, NOW);
      const seen = new Set<string>();
      for (let bit = 0; bit < r.pdu.length * 8; bit++) {
        const bad = Uint8Array.from(r.pdu);
        bad[bit >>> 3]! ^= 0x80 >>> (bit & 7);
        const got = rx.unprotect(bad, r.l2Src, r.l2Dst, NOW);
        expect(got.ok, `bit ${bit}`).toBe(false);
        seen.add(reason(got));
      }
      // Header bits end in header checks or in the MAC; payload bits in the MAC.
      expect(seen.has('mac-failure')).toBe(true);
      expect(seen.has('reserved-sdu-type')).toBe(true);
      expect(seen.has('unknown-pgk-index')).toBe(true);
      // The flips did not disturb the receiver: the real PDU is still accepted, once.
      expect(reason(rx.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW))).toBe('accepted');
      expect(reason(rx.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW))).toBe('replay');
      expect(totalRx(rx.counters)).toBe(r.pdu.length * 8 + 2);
    });
  }

  for (const profile of ['pcr', 'ts33533'] as const) {
    it(`${profile}: a PDU of one group is rejected by another group (same PGK bytes and ID)`, () => {
      const OTHER = 0x55aa55;
      const { tx } = pair({ profile });
      const rx = new PdcpRxEntity(keysFor(RECEIVER_GMI, { profile, groupId: OTHER }));
      const r = tx.protect(bytes(30), 1, GROUP_ID, NOW);
      // Delivered to the other group's L2 destination.
      const got = rx.unprotect(r.pdu, r.l2Src, OTHER, NOW);
      // pcr mixes the Group ID into the PTK, so the MAC fails; ts33533 does not, so the inner
      // identity block catches it.
      expect(reason(got)).toBe(profile === 'pcr' ? 'mac-failure' : 'wrong-group');
      // Delivered with its own L2 destination to a UE that is not in that group.
      expect(reason(rx.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW))).toBe('unknown-group');
    });
  }

  it('a member posing as another member (L2 source) is caught by the inner identity block', () => {
    const { rx } = pair();
    // An insider holds the PGK and derives the keys of GMI 0x00a001, but its inner GMI is its own.
    const keys = derivePtkEngines({ profile: 'pcr', groupId: GROUP_ID, nea: 2, nia: 2 }, pgkBytes(7), SENDER_GMI, 9);
    const layout = pduLayout('pcr', true);
    const forged = sealPdu(keys, layout, 1, 7, 9, 0, GROUP_ID, 0x00c003, bytes(20));
    expect(reason(rx.unprotect(forged, SENDER_GMI, GROUP_ID, NOW))).toBe('identity-mismatch');
    const forged2 = sealPdu(keys, layout, 1, 7, 9, 1, 0x000001, SENDER_GMI, bytes(20));
    expect(reason(rx.unprotect(forged2, SENDER_GMI, GROUP_ID, NOW))).toBe('wrong-group');
    // The same PDU relabelled with the insider's L2 source fails the MAC (keys are per GMI).
    const forged3 = sealPdu(keys, layout, 1, 7, 9, 2, GROUP_ID, SENDER_GMI, bytes(20));
    expect(reason(rx.unprotect(forged3, 0x00c003, GROUP_ID, NOW))).toBe('mac-failure');
    expect(reason(rx.unprotect(forged3, SENDER_GMI, GROUP_ID, NOW))).toBe('accepted');
  });

  it('integrity off: the identity block still rejects misdirected and impersonating PDUs', () => {
    const { tx, rx } = pair({ profile: 'ts33533', nia: null });
    const r = tx.protect(bytes(30), 1, GROUP_ID, NOW);
    // Another L2 source: other keys, the identity block deciphers to garbage.
    expect(['wrong-group', 'identity-mismatch']).toContain(reason(rx.unprotect(r.pdu, 0x00c003, r.l2Dst, NOW)));
    expect(reason(rx.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW))).toBe('accepted');
    const keys = derivePtkEngines({ profile: 'ts33533', groupId: GROUP_ID, nea: 2, nia: null }, pgkBytes(7), SENDER_GMI, 3);
    const forged = sealPdu(keys, pduLayout('ts33533', false), 1, 7, 3, 0, GROUP_ID, 0x00c003, bytes(20));
    expect(reason(rx.unprotect(forged, SENDER_GMI, GROUP_ID, NOW))).toBe('identity-mismatch');
  });
});

describe('every drop reason has its counter', () => {
  it('counts each reason once and the counters add up', () => {
    const expected: Partial<Record<DropReason | 'accepted', number>> = {};
    const { tx, rx, rxKeys } = pair(
      { pgks: [pgkRecord(7), pgkRecord(8, NOW - HOUR)] },
      { rx: { maxPduBytes: 200, maxSenders: 1, newSenderDerivations: { burst: 1, ratePerSec: 0 } } },
    );
    const check = (got: UnprotectResult, want: DropReason | 'accepted') => {
      expect(reason(got)).toBe(want);
      expected[want] = (expected[want] ?? 0) + 1;
    };
    const r = tx.protect(bytes(20), 1, GROUP_ID, NOW);
    check(rx.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW), 'accepted');
    check(rx.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW), 'replay');
    check(rx.unprotect(r.pdu, -1, r.l2Dst, NOW), 'invalid-l2-address');
    check(rx.unprotect(r.pdu, r.l2Src, 0x1000000, NOW), 'invalid-l2-address');
    check(rx.unprotect(r.pdu.subarray(0, 5), r.l2Src, r.l2Dst, NOW), 'truncated');
    check(rx.unprotect(r.pdu.subarray(0, 15), r.l2Src, r.l2Dst, NOW), 'truncated');
    check(rx.unprotect(new Uint8Array(201), r.l2Src, r.l2Dst, NOW), 'oversized');
    const reserved = Uint8Array.from(r.pdu);
    reserved[0] = (5 << 5) | 7;
    check(rx.unprotect(reserved, r.l2Src, r.l2Dst, NOW), 'reserved-sdu-type');
    check(rx.unprotect(r.pdu, r.l2Src, 0x000001, NOW), 'unknown-group');
    check(rx.unprotect(r.pdu, RECEIVER_GMI, r.l2Dst, NOW), 'own-source');
    const idx9 = Uint8Array.from(r.pdu);
    idx9[0] = (1 << 5) | 9;
    check(rx.unprotect(idx9, r.l2Src, r.l2Dst, NOW), 'unknown-pgk-index');
    const idx8 = Uint8Array.from(r.pdu);
    idx8[0] = (1 << 5) | 8; // PGK 8 expired an hour ago (beyond the 30 s grace)
    check(rx.unprotect(idx8, r.l2Src, r.l2Dst, NOW), 'expired-pgk');
    // A second sender would need a second replay window; maxSenders is 1.
    check(rx.unprotect(r.pdu, 0x00c003, r.l2Dst, NOW), 'sender-table-full');
    // Known sender, new PTK ID whose MAC is wrong: derivation (known bucket), then MAC failure.
    const ptk5 = Uint8Array.from(r.pdu);
    ptk5[2] = 5;
    check(rx.unprotect(ptk5, r.l2Src, r.l2Dst, NOW), 'mac-failure');
    // Insider PDUs with wrong inner identity, from the known sender.
    const engines = derivePtkEngines({ profile: 'pcr', groupId: GROUP_ID, nea: 2, nia: 2 }, pgkBytes(7), SENDER_GMI, 1);
    const layout = pduLayout('pcr', true);
    check(rx.unprotect(sealPdu(engines, layout, 1, 7, 1, 100, 0x000001, SENDER_GMI, bytes(8)), SENDER_GMI, GROUP_ID, NOW), 'wrong-group');
    check(rx.unprotect(sealPdu(engines, layout, 1, 7, 1, 101, GROUP_ID, 0x00c003, bytes(8)), SENDER_GMI, GROUP_ID, NOW), 'identity-mismatch');
    check(rx.unprotect(null as unknown as Uint8Array, r.l2Src, r.l2Dst, NOW), 'internal-error');
    // derivation-rate-limited: a fresh receiver whose new-sender budget is one derivation.
    rxKeys.remove(GROUP_ID);
    expect(reason(rx.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW))).toBe('unknown-group');
    expected['unknown-group']! += 1;
    const rx2 = new PdcpRxEntity(keysFor(RECEIVER_GMI), { newSenderDerivations: { burst: 1, ratePerSec: 0 } });
    const r2 = tx.protect(bytes(20), 1, GROUP_ID, NOW);
    const bad = Uint8Array.from(r2.pdu);
    bad[2] = 77;
    expect(reason(rx2.unprotect(bad, r2.l2Src, r2.l2Dst, NOW))).toBe('mac-failure');
    expect(reason(rx2.unprotect(r2.pdu, r2.l2Src, r2.l2Dst, NOW))).toBe('derivation-rate-limited');
    expect(rx2.counters['derivation-rate-limited']).toBe(1);
    // replay-state-error: a receiver whose replay-mark store cannot save does not deliver.
    const failing = { loadFloor: () => undefined, raiseFloors: () => { throw new Error('disk full'); }, settleFloors: () => undefined };
    const rx3 = new PdcpRxEntity(keysFor(RECEIVER_GMI), { replayMarks: failing });
    const r3 = tx.protect(bytes(20), 1, GROUP_ID, NOW);
    expect(reason(rx3.unprotect(r3.pdu, r3.l2Src, r3.l2Dst, NOW))).toBe('replay-state-error');
    expect(rx3.counters['replay-state-error']).toBe(1);

    for (const key of ['accepted', ...DROP_REASONS] as const) {
      expect(rx.counters[key], key).toBe(expected[key] ?? 0);
    }
    // Every reason except derivation-rate-limited (rx2), replay-state-error (rx3) and the
    // source-authentication ones (test/unit/pdcp-source-auth.test.ts) was exercised on rx.
    expect(DROP_REASONS.filter((d) => (expected[d] ?? 0) === 0)).toEqual(['derivation-rate-limited', 'bad-source-tag', 'unknown-member', 'replay-state-error']);
    expect(totalRx(rx.counters)).toBe(Object.values(expected).reduce((a, b) => a + b, 0));
  });

  it('accepts a PGK within the expiry grace and drops it after', () => {
    const pgks = [pgkRecord(7, NOW)];
    const { tx, rx } = pair({ pgks }, { keys: { txGuardMs: 0, rxExpiryGraceMs: 1000 } });
    const r = tx.protect(bytes(10), 1, GROUP_ID, NOW - 1);
    expect(() => tx.protect(bytes(10), 1, GROUP_ID, NOW)).toThrow(ProtectError);
    expect(reason(rx.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW + 1000))).toBe('expired-pgk');
    expect(reason(rx.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW + 999))).toBe('accepted');
  });
});

describe('anti-replay window (RFC 6479)', () => {
  it('accepts in-window reordering, rejects duplicates and too-old COUNTs', () => {
    const w = new ReplayWindow(4); // 96 COUNTs
    expect(w.size).toBe(96);
    expect(w.check(1000)).toBe(true);
    w.update(1000);
    expect(w.check(1000)).toBe(false);
    expect(w.check(999)).toBe(true);
    w.update(999);
    expect(w.check(999)).toBe(false);
    expect(w.check(1000 - 95)).toBe(true);
    expect(w.check(1000 - 96)).toBe(false);
    w.update(1200); // jump: the whole ring is cleared
    expect(w.check(1000)).toBe(false); // now too old
    expect(w.check(1199)).toBe(true);
    expect(w.check(1200)).toBe(false);
    expect(w.check(1105)).toBe(true);
    expect(w.check(1104)).toBe(false);
  });

  it('matches a reference model on random traffic, up to COUNT 2^32-1', () => {
    const w = new ReplayWindow(8);
    const seen = new Set<number>();
    let top = -1;
    const r = rng(42);
    let base = 0xffff0000;
    for (let i = 0; i < 20000; i++) {
      base = Math.min(0xffffffff, base + (r() % 3));
      const count = Math.max(0, Math.min(0xffffffff, base - (r() % 300)));
      const want = count > top || (top - count < w.size && !seen.has(count));
      expect(w.check(count)).toBe(want);
      if (want) {
        w.update(count);
        seen.add(count);
        top = Math.max(top, count);
      }
    }
    expect(w.highest).toBe(top);
  });

  it('a receiver accepts reordered PDUs once and drops ones older than the window', () => {
    const { tx, rx } = pair({}, { rx: { replayWindowWords: 2 } }); // window 32
    const pdus = Array.from({ length: 40 }, () => tx.protect(bytes(8), 1, GROUP_ID, NOW).pdu);
    const order = [5, 3, 4, 0, 39, 10, 8, 7, 9, 39, 5];
    const got = order.map((i) => reason(rx.unprotect(pdus[i]!, SENDER_GMI, GROUP_ID, NOW)));
    expect(got).toEqual([
      // 10, 8, 9 are within 32 of 39; 7 is not.
      'accepted', 'accepted', 'accepted', 'accepted', 'accepted', 'accepted', 'accepted', 'replay', 'accepted', 'replay', 'replay',
    ]);
  });
});

describe('bounded cost under a flood of forged headers', () => {
  it('a flood of random PTK IDs and GMIs does not stop a legitimate sender (nor its PTK changes)', () => {
    const { tx, rx } = pair(
      {},
      {
        // The legitimate sender moves to a new PTK every 100 PDUs.
        tx: { snPerPtk: 100 },
        rx: {
          engineCacheSize: 16,
          probationCacheSize: 32,
          knownSenderDerivations: { burst: 8, ratePerSec: 100 },
          newSenderDerivations: { burst: 8, ratePerSec: 100 },
          nextPtkDerivations: { burst: 8, ratePerSec: 100 },
        },
      },
    );
    const r = rng(7);
    let accepted = 0;
    let now = NOW;
    const template = tx.protect(bytes(64), 1, GROUP_ID, now).pdu;
    expect(rx.unprotect(template, SENDER_GMI, GROUP_ID, now).ok).toBe(true);
    const legit = 500;
    for (let i = 0; i < legit; i++) {
      // 100 forged PDUs per legitimate one, 1 ms apart: random PTK ID, random or spoofed GMI.
      for (let j = 0; j < 100; j++) {
        const forged = Uint8Array.from(template);
        const ptkId = r() & 0xffff;
        forged[1] = ptkId >>> 8;
        forged[2] = ptkId & 0xff;
        forged[3] = r() & 0xff;
        const gmi = j % 2 === 0 ? SENDER_GMI : r() & 0xffffff;
        expect(rx.unprotect(forged, gmi === RECEIVER_GMI ? 1 : gmi, GROUP_ID, now).ok).toBe(false);
      }
      now += 1;
      const p = tx.protect(bytes(64, i), 1, GROUP_ID, now);
      if (rx.unprotect(p.pdu, p.l2Src, p.l2Dst, now).ok) accepted++;
    }
    expect(accepted).toBe(legit);
    expect(tx.ptksStarted).toBe(6);
    // CPU: derivations bounded by the three buckets: 3 * (burst + rate * elapsed) + the first one.
    const elapsedS = (now - NOW) / 1000;
    expect(rx.derivations).toBeLessThanOrEqual(3 * (8 + 100 * elapsedS) + 1);
    expect(rx.counters['derivation-rate-limited']).toBeGreaterThan(40_000);
    // Memory: forged headers never entered the main cache or the replay-window table, and the
    // probation cache stays within its bound.
    expect(rx.stats().cachedEngines).toBe(6);
    expect(rx.stats().probationEngines).toBeLessThanOrEqual(32);
    expect(rx.stats().replayWindows).toBe(1);
  });

  it('the engine cache stays within its bound with many real senders (LRU eviction)', () => {
    const rxKeys = keysFor(RECEIVER_GMI);
    const rx = new PdcpRxEntity(rxKeys, { engineCacheSize: 4, newSenderDerivations: { burst: 1000, ratePerSec: 0 } });
    const senders = Array.from({ length: 10 }, (_, i) => new PdcpTxEntity(keysFor(0x100 + i), new PtkIdAllocator(new MemoryPtkHighWaterStore())));
    for (let round = 0; round < 3; round++) {
      for (const s of senders) {
        const p = s.protect(bytes(16), 1, GROUP_ID, NOW);
        expect(rx.unprotect(p.pdu, p.l2Src, p.l2Dst, NOW).ok).toBe(true);
      }
    }
    expect(rx.stats().cachedEngines).toBe(4);
    expect(rx.stats().evictions).toBe(26);
    expect(rx.stats().replayWindows).toBe(10);
  });

  it('token bucket: burst, refill, clock going backwards', () => {
    const b = new TokenBucket(2, 10);
    expect([b.tryTake(0), b.tryTake(0), b.tryTake(0)]).toEqual([true, true, false]);
    expect(b.tryTake(50)).toBe(false); // 0.5 token
    expect(b.tryTake(100)).toBe(true);
    expect(b.tryTake(-1e9)).toBe(false);
    expect(b.tryTake(10_000)).toBe(true);
    expect(b.tryTake(10_000)).toBe(true);
    expect(b.tryTake(10_000)).toBe(false);
  });
});

describe('transmit entity: SN, PTK ID and PGK rules (docs/protocol.md 5)', () => {
  it('SN runs 0..0xFFFF per PTK ID, then the next PTK ID', () => {
    const { tx, rx } = pair();
    const sdu = bytes(4);
    let last = tx.protect(sdu, 1, GROUP_ID, NOW);
    // PTK ID 0 is never used (with PGK Index 0 it means "ciphering not configured", TS 36.323).
    expect([last.ptkId, last.sn]).toEqual([1, 0]);
    for (let i = 1; i <= 0xffff; i++) {
      last = tx.protect(sdu, 1, GROUP_ID, NOW);
      if (last.sn !== i || last.ptkId !== 1) throw new Error(`PDU ${i}: PTK ${last.ptkId} SN ${last.sn}`);
    }
    const next = tx.protect(sdu, 1, GROUP_ID, NOW);
    expect([next.ptkId, next.sn]).toEqual([2, 0]);
    expect(reason(rx.unprotect(last.pdu, SENDER_GMI, GROUP_ID, NOW))).toBe('accepted');
    expect(reason(rx.unprotect(next.pdu, SENDER_GMI, GROUP_ID, NOW))).toBe('accepted');
  });

  it('persists each block of PTK IDs before using it', () => {
    const saves: number[] = [];
    const store = new MemoryPtkHighWaterStore();
    const spy = {
      load: store.load.bind(store),
      save: (space: Parameters<typeof store.save>[0], hw: number) => {
        saves.push(hw);
        store.save(space, hw);
      },
    };
    const tx = new PdcpTxEntity(keysFor(SENDER_GMI), new PtkIdAllocator(spy, { blockSize: 3 }), { snPerPtk: 1 });
    const used: number[] = [];
    for (let i = 0; i < 7; i++) {
      const r = tx.protect(bytes(4), 1, GROUP_ID, NOW);
      used.push(r.ptkId);
      // Every PTK ID used so far is below the persisted mark.
      expect(r.ptkId).toBeLessThan(saves[saves.length - 1]!);
    }
    expect(used).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(saves).toEqual([4, 7, 10]);
  });

  it('resumes above the persisted mark after a restart; a failing store stops sending', () => {
    const store = new MemoryPtkHighWaterStore();
    const tx1 = new PdcpTxEntity(keysFor(SENDER_GMI), new PtkIdAllocator(store, { blockSize: 4 }));
    expect(tx1.protect(bytes(4), 1, GROUP_ID, NOW).ptkId).toBe(1);
    const tx2 = new PdcpTxEntity(keysFor(SENDER_GMI), new PtkIdAllocator(store, { blockSize: 4 }));
    expect(tx2.protect(bytes(4), 1, GROUP_ID, NOW).ptkId).toBe(5);
    const failing = { load: () => undefined, save: () => { throw new Error('disk full'); } };
    const tx3 = new PdcpTxEntity(keysFor(SENDER_GMI), new PtkIdAllocator(failing));
    expect(() => tx3.protect(bytes(4), 1, GROUP_ID, NOW)).toThrow(/disk full/);
    expect(() => tx3.protect(bytes(4), 1, GROUP_ID, NOW)).toThrow(/disk full/);
  });

  it('an exhausted PGK is never used again; with none left, protect fails', () => {
    const store = new MemoryPtkHighWaterStore();
    const keys = keysFor(SENDER_GMI, { pgks: [pgkRecord(7), pgkRecord(8)] });
    store.save({ groupId: GROUP_ID, gmi: SENDER_GMI, pgkId: 8, pgkTag: pgkTag(pgkBytes(8)) }, 0xfffe);
    store.save({ groupId: GROUP_ID, gmi: SENDER_GMI, pgkId: 7, pgkTag: pgkTag(pgkBytes(7)) }, 0xffff);
    const tx = new PdcpTxEntity(keys, new PtkIdAllocator(store), { snPerPtk: 2 });
    const seq = Array.from({ length: 6 }, () => {
      const r = tx.protect(bytes(4), 1, GROUP_ID, NOW);
      return `${r.pgkId}/${r.ptkId}/${r.sn}`;
    });
    expect(seq).toEqual(['8/65534/0', '8/65534/1', '8/65535/0', '8/65535/1', '7/65535/0', '7/65535/1']);
    expect(() => tx.protect(bytes(4), 1, GROUP_ID, NOW)).toThrow(expect.objectContaining({ code: 'no-usable-pgk' }));
    expect(store.marks.get(`${GROUP_ID}:${SENDER_GMI}:8:${pgkTag(pgkBytes(8))}`)).toBe(0x10000);
    // A restarted sender does not touch them either.
    const tx2 = new PdcpTxEntity(keys, new PtkIdAllocator(store));
    expect(() => tx2.protect(bytes(4), 1, GROUP_ID, NOW)).toThrow(ProtectError);
  });

  it('uses the newest valid PGK, moves off a PGK in its guard time, and switches on new keys', () => {
    const keys = keysFor(SENDER_GMI, { pgks: [pgkRecord(7, NOW + 10 * HOUR), pgkRecord(8, NOW + HOUR)] }, { txGuardMs: 60_000 });
    const tx = new PdcpTxEntity(keys, new PtkIdAllocator(new MemoryPtkHighWaterStore()));
    expect(tx.protect(bytes(4), 1, GROUP_ID, NOW).pgkId).toBe(8);
    // PGK 8 inside its guard time, PGK 7 outside: new PTK under 7.
    expect(tx.protect(bytes(4), 1, GROUP_ID, NOW + HOUR - 30_000).pgkId).toBe(7);
    // A newer PGK arrives: used from the next PDU on, SNs start over under a new PTK.
    keys.install({ groupId: GROUP_ID, gmi: SENDER_GMI, nea: 2, nia: 2, profile: 'pcr', pgks: [pgkRecord(7, NOW + 10 * HOUR), pgkRecord(9, NOW + 20 * HOUR)] });
    const r = tx.protect(bytes(4), 1, GROUP_ID, NOW + HOUR);
    expect([r.pgkId, r.sn]).toEqual([9, 0]);
    // Only one PGK, inside its guard: still used (no newer one exists) until it expires.
    const k2 = keysFor(SENDER_GMI, { pgks: [pgkRecord(7, NOW + 1000)] });
    const tx2 = new PdcpTxEntity(k2, new PtkIdAllocator(new MemoryPtkHighWaterStore()));
    expect(tx2.protect(bytes(4), 1, GROUP_ID, NOW + 999).pgkId).toBe(7);
    expect(() => tx2.protect(bytes(4), 1, GROUP_ID, NOW + 1000)).toThrow(expect.objectContaining({ code: 'no-usable-pgk' }));
  });

  it('rejects bad arguments with labelled errors', () => {
    const { tx } = pair();
    expect(() => tx.protect(new Uint8Array(0), 1, GROUP_ID, NOW)).toThrow(/sdu/);
    expect(() => tx.protect(new Uint8Array(9001), 1, GROUP_ID, NOW)).toThrow(RangeError);
    expect(() => tx.protect(bytes(4), 5, GROUP_ID, NOW)).toThrow(/sduType.*reserved/);
    expect(() => tx.protect([1, 2] as unknown as Uint8Array, 1, GROUP_ID, NOW)).toThrow(TypeError);
    expect(() => tx.protect(bytes(4), 1, 0x999999, NOW)).toThrow(expect.objectContaining({ code: 'unknown-group' }));
    expect(() => new PdcpTxEntity(keysFor(1), new PtkIdAllocator(new MemoryPtkHighWaterStore()), { snPerPtk: 0x10001 })).toThrow(/snPerPtk/);
  });
});
