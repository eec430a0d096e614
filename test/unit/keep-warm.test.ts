/**
 * Latency mode's keep-warm pass (src/pdcp/keep-warm.ts): it must leave every live state exactly
 * as a run without it would (SNs, PTK IDs, the durable high-water marks, replay windows, the
 * engine cache, counters), never use a COUNT a live PDU can carry, wipe what it computed, and
 * recover from a scratch pair that fails. Whether it makes PDUs faster is measured, not tested
 * (docs/profiling.md, "Latency mode").
 */
import { describe, expect, it } from 'vitest';
import type { AlgId, HierarchyProfile } from '../../src/crypto/types.js';
import { GroupKeyState } from '../../src/keys/group-key-state.js';
import { KeepWarm, KEEP_WARM_RX_ENGINES } from '../../src/pdcp/keep-warm.js';
import {
  MemoryPtkHighWaterStore,
  PdcpRxEntity,
  PdcpTxEntity,
  PtkIdAllocator,
  countOf,
  warmCountOf,
  warmEngines,
  derivePtkEngines,
} from '../../src/pdcp/index.js';

const GROUP = 0x00be7c;
const NOW = Date.UTC(2030, 0, 1);
const PGK = Uint8Array.from({ length: 32 }, (_, i) => (i * 29 + 3) & 0xff);

function keys(gmi: number, nea: AlgId = 2, nia: AlgId | null = 2, profile: HierarchyProfile = 'pcr', groupId = GROUP): GroupKeyState {
  const k = new GroupKeyState();
  k.install({ groupId, gmi, nea, nia, profile, allowNullAlgorithms: nea === 0 || nia === 0, pgks: [{ pgkId: 7, pgk: PGK, expiresAtMs: NOW + 86_400_000 }] });
  return k;
}

/** A live sender (with its PTK store, to see any PTK ID it would take) and a live receiver. */
function live(snPerPtk = 0x10000) {
  const store = new MemoryPtkHighWaterStore();
  const tx = new PdcpTxEntity(keys(0x000a01), new PtkIdAllocator(store, { blockSize: 1 }), { snPerPtk });
  const rx = new PdcpRxEntity(keys(0x000b02));
  return { store, tx, rx };
}

const sdu = (n: number): Uint8Array => Uint8Array.from({ length: 32 }, (_, i) => (i + n) & 0xff);

describe('keep-warm pass', () => {
  it('leaves the live sender, receiver and PTK store exactly as a run without passes', () => {
    // Two identical set-ups; one gets a thousand passes between its PDUs, the other none.
    const a = live(40);
    const b = live(40);
    const warm = new KeepWarm({ tx: b.tx, rx: b.rx });
    const groupsB = keys(0x000a01);
    for (let n = 0; n < 100; n++) {
      const pa = a.tx.protect(sdu(n), 0, GROUP, NOW + n);
      for (let w = 0; w < 10; w++) expect(warm.pass(groupsB.installed(), NOW + n)).toBe(1);
      const pb = b.tx.protect(sdu(n), 0, GROUP, NOW + n);
      // Same PTK ID, same SN, same bytes: the passes took no SN and no PTK ID.
      expect({ ptkId: pb.ptkId, sn: pb.sn }).toEqual({ ptkId: pa.ptkId, sn: pa.sn });
      expect(Buffer.from(pb.pdu).equals(Buffer.from(pa.pdu))).toBe(true);
      const ra = a.rx.unprotect(pa.pdu, pa.l2Src, pa.l2Dst, NOW + n);
      const rb = b.rx.unprotect(pb.pdu, pb.l2Src, pb.l2Dst, NOW + n);
      expect(rb.ok && ra.ok).toBe(true);
    }
    // 100 PDUs of 40 SNs each PTK: PTKs 0, 1, 2 on both; no PTK ID reserved by a pass.
    expect(b.tx.current(GROUP)).toEqual(a.tx.current(GROUP));
    expect(b.tx.ptksStarted).toBe(a.tx.ptksStarted);
    expect([...b.store.marks]).toEqual([...a.store.marks]);
    expect(b.store.saves).toBe(a.store.saves);
    expect(b.rx.counters).toEqual(a.rx.counters);
    expect(b.rx.stats()).toEqual(a.rx.stats());
    // A replay is still a replay, the next PDU still goes through: the windows did not move.
    const last = a.tx.protect(sdu(999), 0, GROUP, NOW + 200);
    expect(b.rx.unprotect(last.pdu, last.l2Src, last.l2Dst, NOW + 200).ok).toBe(true);
    expect(b.rx.unprotect(last.pdu, last.l2Src, last.l2Dst, NOW + 200)).toEqual({ ok: false, reason: 'replay' });
    expect(warm.liveEnginesWarmed).toBeGreaterThan(1000);
  });

  it('runs the live engines at a COUNT no PDU under their PTK carries, and wipes the scratch', () => {
    for (let ptkId = 0; ptkId < 0x10000; ptkId++) {
      const c = warmCountOf(ptkId);
      expect(Math.floor(c / 0x10000)).not.toBe(ptkId);
      expect(c).toBeLessThan(2 ** 32);
    }
    const engines = derivePtkEngines({ profile: 'pcr', groupId: GROUP, nea: 2, nia: 2 }, PGK, 0x000a01, 5);
    const scratch = Uint8Array.from({ length: 128 }, (_, i) => i + 1);
    warmEngines(engines, 5, scratch);
    expect(scratch.every((v) => v === 0)).toBe(true);
    // Afterwards the engines give what fresh ones of the same PTK give: nothing in them moved.
    const fresh = derivePtkEngines({ profile: 'pcr', groupId: GROUP, nea: 2, nia: 2 }, PGK, 0x000a01, 5);
    const data = sdu(3);
    for (const count of [countOf(5, 0), countOf(5, 1)]) {
      expect(Buffer.from(engines.cipher.apply(count, 0, 0, data)).equals(Buffer.from(fresh.cipher.apply(count, 0, 0, data)))).toBe(true);
      expect(engines.integrity!.mac(count, 0, 0, data)).toBe(fresh.integrity!.mac(count, 0, 0, data));
    }
  });

  it('warms at most KEEP_WARM_RX_ENGINES receive PTKs and keeps the engine cache order', () => {
    const rx = new PdcpRxEntity(keys(0x000b02));
    const senders = Array.from({ length: KEEP_WARM_RX_ENGINES + 4 }, (_, i) => 0x000c00 + i);
    for (const s of senders) {
      const tx = new PdcpTxEntity(keys(s), new PtkIdAllocator(new MemoryPtkHighWaterStore()));
      const p = tx.protect(sdu(s), 0, GROUP, NOW);
      expect(rx.unprotect(p.pdu, p.l2Src, p.l2Dst, NOW).ok).toBe(true);
    }
    const warm = new KeepWarm({ tx: new PdcpTxEntity(keys(0x000a01), new PtkIdAllocator(new MemoryPtkHighWaterStore())), rx });
    const before = rx.stats();
    warm.pass([], NOW);
    // No sender yet on the tx side: only receive engines, capped.
    expect(warm.liveEnginesWarmed).toBe(KEEP_WARM_RX_ENGINES);
    expect(rx.stats()).toEqual(before);
  });

  it('makes one scratch round trip per distinct profile and algorithm pair', () => {
    const warm = new KeepWarm();
    const g = (nea: AlgId, nia: AlgId | null, profile: HierarchyProfile = 'pcr') => keys(1, nea, nia, profile).get(GROUP)!;
    expect(warm.pass([], NOW)).toBe(0);
    expect(warm.pass([g(2, 2), g(2, 2)], NOW)).toBe(1);
    expect(warm.pass([g(2, 2), g(1, 1), g(3, 3), g(2, 1), g(0, 2), g(2, null, 'lte-prose')], NOW)).toBe(6);
    expect(warm.rebuilds).toBe(0);
  });

  it('replaces a scratch pair that fails, then runs again', () => {
    const warm = new KeepWarm();
    const target = keys(1).get(GROUP)!;
    expect(warm.pass([target], NOW)).toBe(1);
    // Two years on, the first pair's PGK has expired: that pass fails, the next one has a new pair.
    const later = NOW + 2 * 365 * 86_400_000;
    expect(warm.pass([target], later)).toBe(0);
    expect(warm.rebuilds).toBe(1);
    expect(warm.pass([target], later)).toBe(1);
    expect(warm.rebuilds).toBe(1);
  });
});
