/**
 * The PDCP core under the attacks and conformance points of the hardening issue:
 * - lte-prose one-packet lockout: without a MAC, one forged header (PTK ID 0xFFFF, SN 0xFFFF) used
 *   to move the sender's replay window to the top and block it for the PGK's life;
 * - replay after a receiver restart, with the durable replay floors (src/pdcp/replay-marks.ts):
 *   nothing accepted before is accepted again, and at most `replayMarkStep - 1` live PDUs of a
 *   sender are lost after a crash, none after a clean stop;
 * - the PTK ID space keyed by the PGK's value (tag), not only its ID;
 * - TS 36.323 conformance: no protected PDU with PGK Index 0 and PTK ID 0; LTE's SDU Type table in
 *   the lte-prose profile.
 */
import { describe, expect, it } from 'vitest';
import { pgkTag } from '../../src/keys/pgk-tag.js';
import {
  derivePtkEngines,
  MemoryPtkHighWaterStore,
  MemoryReplayMarkStore,
  parseReplayMarkKey,
  PdcpRxEntity,
  PdcpTxEntity,
  pduLayout,
  PtkIdAllocator,
  sealPdu,
  type ReplayMarkKey,
  type UnprotectResult,
} from '../../src/pdcp/index.js';
import { bytes, GROUP_ID, keysFor, NOW, pair, pgkBytes, pgkRecord, RECEIVER_GMI, SENDER_GMI } from '../fixtures/pdcp-helpers.js';

const reason = (r: UnprotectResult): string => (r.ok ? 'accepted' : r.reason);

describe('lte-prose: no one-packet lockout', () => {
  for (const spec of [{ profile: 'lte-prose' as const }, { profile: 'pcr' as const, nia: null }]) {
    it(`${spec.profile}${spec.nia === null ? ' without integrity' : ''}: a forged PTK ID 0xFFFF / SN 0xFFFF does not block the real sender`, () => {
      const { tx, rx } = pair(spec);
      const first = tx.protect(bytes(20), 0, GROUP_ID, NOW);
      expect(reason(rx.unprotect(first.pdu, first.l2Src, first.l2Dst, NOW))).toBe('accepted');
      // The attacker knows no key: any bytes under the sender's L2 source, top of the COUNT space.
      const forged = Uint8Array.from(first.pdu);
      forged.set([0xff, 0xff, 0xff, 0xff], 1);
      rx.unprotect(forged, first.l2Src, first.l2Dst, NOW);
      for (let i = 0; i < 20; i++) {
        const r = tx.protect(bytes(20, i), 0, GROUP_ID, NOW);
        expect(reason(rx.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW)), `PDU ${i} after the forged one`).toBe('accepted');
      }
      expect(rx.counters.replay).toBe(0);
      expect(rx.stats().replayWindows).toBe(0); // no window without authentication
    });
  }

  it('with integrity the window still drops replays, and a forged header cannot move it', () => {
    const { tx, rx } = pair();
    const r = tx.protect(bytes(20), 1, GROUP_ID, NOW);
    expect(reason(rx.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW))).toBe('accepted');
    expect(reason(rx.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW))).toBe('replay');
    const forged = Uint8Array.from(r.pdu);
    forged.set([0xff, 0xff, 0xff, 0xff], 1);
    expect(reason(rx.unprotect(forged, r.l2Src, r.l2Dst, NOW))).toBe('mac-failure');
    const next = tx.protect(bytes(20), 1, GROUP_ID, NOW);
    expect(reason(rx.unprotect(next.pdu, next.l2Src, next.l2Dst, NOW))).toBe('accepted');
  });
});

describe('replay floors across receiver restarts', () => {
  const STEP = 16;
  function run(n: number, tx: PdcpTxEntity) {
    return Array.from({ length: n }, (_, i) => tx.protect(bytes(10, i), 1, GROUP_ID, NOW));
  }

  it('a restarted receiver (crash) drops every PDU accepted before, and loses fewer than `step` live ones', () => {
    const { tx } = pair();
    const marks = new MemoryReplayMarkStore();
    const rx1 = new PdcpRxEntity(keysFor(RECEIVER_GMI), { replayMarks: marks, replayMarkStep: STEP });
    const recorded = run(40, tx);
    for (const r of recorded) expect(reason(rx1.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW))).toBe('accepted');
    // A save per STEP accepted PDUs at most, each ahead of what it covers.
    expect(marks.saves).toBe(Math.ceil(40 / STEP));
    expect([...marks.floors.values()]).toEqual([recorded[39]!.ptkId * 0x10000 + 32 + STEP]);

    // Crash: no settle. A fresh receiver on the same durable floors.
    const rx2 = new PdcpRxEntity(keysFor(RECEIVER_GMI), { replayMarks: marks, replayMarkStep: STEP });
    for (const r of recorded) expect(reason(rx2.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW))).toBe('replay');
    const live = run(2 * STEP, tx);
    const lost = live.filter((r) => reason(rx2.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW)) !== 'accepted');
    expect(lost.length).toBeLessThan(STEP);
    expect(lost.length).toBeGreaterThan(0); // the floor was ahead of the last accepted COUNT
    expect(rx2.counters['mac-failure']).toBe(0);

    // Without durable floors (today's memory-only windows) the same replays go through: the attack.
    const rx3 = new PdcpRxEntity(keysFor(RECEIVER_GMI));
    expect(recorded.filter((r) => reason(rx3.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW)) === 'accepted')).toHaveLength(recorded.length);
  });

  it('extendReplayFloors raises, in one write, the floors of senders within half a step of theirs', () => {
    const { tx } = pair();
    const marks = new MemoryReplayMarkStore();
    const rx = new PdcpRxEntity(keysFor(RECEIVER_GMI), { replayMarks: marks, replayMarkStep: STEP });
    const pdus = run(3 * STEP, tx);
    let timerSaves = 0;
    for (const [i, r] of pdus.entries()) {
      expect(reason(rx.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW))).toBe('accepted');
      if (i % 4 === 3 && rx.extendReplayFloors() > 0) timerSaves++; // the daemon's timer, every 4 PDUs here
    }
    // Only the first PDU (no floor yet) waited for a write of its own; the timer did the rest.
    expect(marks.saves).toBe(1 + timerSaves);
    const last = pdus[pdus.length - 1]!;
    const floor = [...marks.floors.values()][0]!;
    expect(floor).toBeGreaterThan(last.ptkId * 0x10000 + last.sn);
    expect(floor - (last.ptkId * 0x10000 + last.sn)).toBeLessThanOrEqual(STEP);
    expect(rx.extendReplayFloors()).toBe(floor - (last.ptkId * 0x10000 + last.sn) <= STEP / 2 ? 1 : 0);
  });

  it('extendReplayFloors takes every sender that used some of its lead into the write one of them needs', () => {
    // 8 senders at the same rate but out of step (sender k starts 2k PDUs ahead): raised one by
    // one, each would need its own write (an fsync in the daemon) every STEP / 2 PDUs.
    const senders = Array.from({ length: 8 }, (_, k) => {
      const gmi = 0x000c00 + k;
      return { gmi, tx: new PdcpTxEntity(keysFor(gmi), new PtkIdAllocator(new MemoryPtkHighWaterStore())) };
    });
    const marks = new MemoryReplayMarkStore();
    const rx = new PdcpRxEntity(keysFor(RECEIVER_GMI), { replayMarks: marks, replayMarkStep: STEP });
    const highest = new Map<number, number>();
    const send = (s: (typeof senders)[number]): void => {
      const r = s.tx.protect(bytes(8, s.gmi), 0, GROUP_ID, NOW);
      expect(reason(rx.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW))).toBe('accepted');
      highest.set(s.gmi, r.ptkId * 0x10000 + r.sn);
    };
    for (const [k, s] of senders.entries()) for (let i = 0; i < 2 * k + 1; i++) send(s);
    const first = marks.saves; // one synchronous write per sender: its first PDU had no floor
    expect(first).toBe(senders.length);
    const rounds = 20 * STEP;
    let timerSaves = 0;
    for (let round = 0; round < rounds; round++) {
      for (const s of senders) send(s);
      if (rx.extendReplayFloors() > 0) timerSaves++; // the daemon's timer, once per round here
      for (const s of senders) {
        const floor = [...marks.floors].find(([key]) => parseReplayMarkKey(key)!.senderGmi === s.gmi)![1];
        expect(floor).toBeGreaterThan(highest.get(s.gmi)!);
      }
    }
    // No PDU waited for a write: the timer made them all, about one per STEP / 2 rounds for all
    // 8 senders together (sender by sender it would be about 8 times as many).
    expect(marks.saves - first).toBe(timerSaves);
    expect(timerSaves).toBeLessThanOrEqual(Math.ceil(rounds / (STEP / 2)) + 2);
  });

  it('floors raised in the background come in force only once durable: no PDU is accepted at or above a durable floor', async () => {
    /** The store's disk: a background write is durable (in `floors`) only when the test says so. */
    class SlowDisk extends MemoryReplayMarkStore {
      readonly inFlight: ((durable: boolean) => void)[] = [];
      raiseFloorsInBackground(floors: readonly { key: ReplayMarkKey; floor: number }[]): Promise<boolean> {
        return new Promise((resolve) =>
          this.inFlight.push((durable) => {
            if (durable) this.raiseFloors(floors);
            resolve(durable);
          }),
        );
      }
    }
    const { tx } = pair();
    const disk = new SlowDisk();
    const rx = new PdcpRxEntity(keysFor(RECEIVER_GMI), { replayMarks: disk, replayMarkStep: STEP });
    const durableFloor = (): number => [...disk.floors.values()][0]!;
    const recorded = run(5 * STEP, tx);
    const accept = (r: (typeof recorded)[number]): void => {
      expect(reason(rx.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW))).toBe('accepted');
      // The property a crash relies on: every COUNT accepted lies below the durable floor.
      expect(durableFloor()).toBeGreaterThan(r.ptkId * 0x10000 + r.sn);
    };
    for (const r of recorded.slice(0, STEP / 2 + 1)) accept(r);
    const syncWrites = disk.saves;
    const slow = rx.extendReplayFloorsInBackground();
    expect(disk.inFlight).toHaveLength(1);
    // The write is slow: traffic goes on past the floor in force, each crossing waits for a
    // synchronous write of its own instead of counting on the one in flight.
    for (const r of recorded.slice(STEP / 2 + 1, 3 * STEP)) accept(r);
    expect(disk.saves).toBe(syncWrites + 2);
    disk.inFlight[0]!(true);
    expect(await slow).toBe(0); // durable now, but below the floors the crossings wrote: nothing to raise

    // A background write that wrote nothing (a synchronous save replaced the file first) raises nothing.
    for (const r of recorded.slice(3 * STEP, 3 * STEP + STEP / 2 + 1)) accept(r);
    const stale = rx.extendReplayFloorsInBackground();
    disk.inFlight[1]!(false);
    expect(await stale).toBe(0);
    for (const r of recorded.slice(3 * STEP + STEP / 2 + 1)) accept(r);

    // Crash: a receiver on the durable floors drops every PDU accepted before.
    const rx2 = new PdcpRxEntity(keysFor(RECEIVER_GMI), { replayMarks: disk, replayMarkStep: STEP });
    for (const r of recorded) expect(reason(rx2.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW))).toBe('replay');

    // And when it is durable in time, the timer's write is the only one.
    const fresh = new SlowDisk();
    const rx3 = new PdcpRxEntity(keysFor(RECEIVER_GMI), { replayMarks: fresh, replayMarkStep: STEP });
    const more = run(STEP / 2 + 1, tx);
    for (const r of more) rx3.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW);
    const timed = rx3.extendReplayFloorsInBackground();
    fresh.inFlight[0]!(true);
    expect(await timed).toBe(1);
    const last = more[more.length - 1]!;
    expect([...fresh.floors.values()]).toEqual([last.ptkId * 0x10000 + last.sn + STEP]);
    expect(fresh.saves).toBe(2); // the first PDU's own write and the timer's
  });

  it('after a clean stop (settleReplayMarks) a restart drops the replays and no live PDU', () => {
    const { tx } = pair();
    const marks = new MemoryReplayMarkStore();
    const rx1 = new PdcpRxEntity(keysFor(RECEIVER_GMI), { replayMarks: marks, replayMarkStep: STEP });
    const recorded = run(21, tx);
    for (const r of recorded) rx1.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW);
    expect(rx1.settleReplayMarks()).toBe(1);
    const last = recorded[20]!;
    expect([...marks.floors.values()]).toEqual([last.ptkId * 0x10000 + last.sn + 1]);
    const rx2 = new PdcpRxEntity(keysFor(RECEIVER_GMI), { replayMarks: marks, replayMarkStep: STEP });
    for (const r of recorded) expect(reason(rx2.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW))).toBe('replay');
    for (const r of run(30, tx)) expect(reason(rx2.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW))).toBe('accepted');
    rx2.settleReplayMarks();
    // Settling a receiver that accepted nothing since its start keeps the floor it started from.
    const rx3 = new PdcpRxEntity(keysFor(RECEIVER_GMI), { replayMarks: marks, replayMarkStep: STEP });
    const floor = [...marks.floors.values()][0]!;
    const again = tx.protect(bytes(4), 1, GROUP_ID, NOW);
    expect(reason(rx3.unprotect(recorded[0]!.pdu, recorded[0]!.l2Src, recorded[0]!.l2Dst, NOW))).toBe('replay');
    rx3.settleReplayMarks();
    expect([...marks.floors.values()][0]).toBe(floor);
    expect(reason(rx3.unprotect(again.pdu, again.l2Src, again.l2Dst, NOW))).toBe('accepted');
  });

  it('floors are per (group, sender, PGK value): another PGK with the same ID starts clean', () => {
    const marks = new MemoryReplayMarkStore();
    const { tx } = pair();
    const rx = new PdcpRxEntity(keysFor(RECEIVER_GMI), { replayMarks: marks, replayMarkStep: STEP });
    const r = tx.protect(bytes(4), 1, GROUP_ID, NOW);
    rx.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW);
    const [key] = [...marks.floors.keys()];
    expect(key).toBe(`${GROUP_ID}:${SENDER_GMI}:7:${pgkTag(pgkBytes(7))}`);
  });
});

describe('PTK ID space keyed by the PGK value', () => {
  it('a PGK reissued under an old PGK ID with a new value gets its own PTK IDs; the old marks stay', () => {
    const store = new MemoryPtkHighWaterStore();
    const tx1 = new PdcpTxEntity(keysFor(SENDER_GMI), new PtkIdAllocator(store, { blockSize: 4 }));
    expect(tx1.protect(bytes(4), 1, GROUP_ID, NOW).ptkId).toBe(1);
    const other = { pgkId: 7, pgk: pgkBytes(99), expiresAtMs: NOW + 1000 };
    const tx2 = new PdcpTxEntity(keysFor(SENDER_GMI, { pgks: [other] }), new PtkIdAllocator(store, { blockSize: 4 }));
    expect(tx2.protect(bytes(4), 1, GROUP_ID, NOW).ptkId).toBe(1);
    expect(store.marks.size).toBe(2);
    // The first value resumes above its own mark.
    const tx3 = new PdcpTxEntity(keysFor(SENDER_GMI), new PtkIdAllocator(store, { blockSize: 4 }));
    expect(tx3.protect(bytes(4), 1, GROUP_ID, NOW).ptkId).toBe(5);
  });

  it('the tag names the key without revealing it: 16 hex digits, different per value, stable', () => {
    expect(pgkTag(pgkBytes(1))).toMatch(/^[0-9a-f]{16}$/);
    expect(pgkTag(pgkBytes(1))).toBe(pgkTag(pgkBytes(1)));
    expect(pgkTag(pgkBytes(1))).not.toBe(pgkTag(pgkBytes(2)));
    expect(Buffer.from(pgkBytes(1)).toString('hex')).not.toContain(pgkTag(pgkBytes(1)).slice(0, 8));
  });
});

describe('TS 36.323 conformance', () => {
  it('never PGK Index 0 with PTK ID 0 on a protected PDU (PTK IDs start at 1), also after restarts', () => {
    const store = new MemoryPtkHighWaterStore();
    for (let restart = 0; restart < 3; restart++) {
      const tx = new PdcpTxEntity(keysFor(SENDER_GMI, { pgks: [pgkRecord(32)] }), new PtkIdAllocator(store, { blockSize: 1 }), { snPerPtk: 2 });
      for (let i = 0; i < 5; i++) {
        const r = tx.protect(bytes(4), 1, GROUP_ID, NOW);
        expect(r.pdu[0]! & 0x1f).toBe(0); // PGK ID 32: PGK Index 0
        expect(r.ptkId).toBeGreaterThanOrEqual(1);
      }
    }
  });

  it('lte-prose uses the LTE SDU Type table (TS 36.323 6.3.14); NR types without an LTE code are refused', () => {
    const { tx, rx } = pair({ profile: 'lte-prose' });
    const lteCode: [number, number][] = [
      [0, 0b000], // IP
      [4, 0b001], // ARP
      [1, 0b011], // non-IP
    ];
    for (const [sduType, code] of lteCode) {
      const r = tx.protect(bytes(8), sduType, GROUP_ID, NOW);
      expect(r.pdu[0]! >>> 5, `SDU type ${sduType}`).toBe(code);
      const got = rx.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW);
      expect(got.ok && got.sduType).toBe(sduType);
    }
    expect(() => tx.protect(bytes(8), 2, GROUP_ID, NOW)).toThrow(/ethernet has no SDU Type code/);
    expect(() => tx.protect(bytes(8), 3, GROUP_ID, NOW)).toThrow(/unstructured has no SDU Type code/);
    // PC5 signalling (010) and 100 are not data SDUs of ours: dropped with their reason.
    const r = tx.protect(bytes(8), 0, GROUP_ID, NOW);
    for (const code of [0b010, 0b100]) {
      const pdu = Uint8Array.from(r.pdu);
      pdu[0] = (code << 5) | (pdu[0]! & 0x1f);
      expect(reason(rx.unprotect(pdu, r.l2Src, r.l2Dst, NOW))).toBe('reserved-sdu-type');
    }
    // pcr keeps NR's table: 010 is Ethernet there.
    const nr = pair();
    const e = nr.tx.protect(bytes(8), 2, GROUP_ID, NOW);
    expect(e.pdu[0]! >>> 5).toBe(2);
    const keys = derivePtkEngines({ profile: 'pcr', groupId: GROUP_ID, nea: 2, nia: 2 }, pgkBytes(7), SENDER_GMI, 9);
    const arp = sealPdu(keys, pduLayout('pcr', true), 4, 7, 9, 0, GROUP_ID, SENDER_GMI, bytes(8));
    const got = nr.rx.unprotect(arp, SENDER_GMI, GROUP_ID, NOW);
    expect(got.ok && got.sduType).toBe(4);
  });
});
