/**
 * Source authentication inside the group (issue 16, docs/pdcp.md "Source authentication"), with
 * real transmit and receive entities of every member:
 * - the insider forgery: member C builds a PDU in member A's name for B (it holds the PGK, so the
 *   MAC-I and the inner identity block are right). Accepted without source authentication (the
 *   documented limitation), refused with `pairwise-mac` and with `signature`;
 * - B's replay window for A is not moved by the refused forgeries; without source authentication
 *   one forged high COUNT makes A's real PDUs drop as replays;
 * - a member removed from the material (its keys gone after a re-install) cannot get PDUs through;
 * - round trips for group sizes 2..32 in both modes, SDU sizes 1 and 9000, the PDU size bound;
 * - a fuzz of malformed, truncated and bit-flipped blocks under a valid MAC-I: never a throw,
 *   every drop counted, nothing accepted that the sender did not send;
 * - key material validation with labelled errors, and no key in what an installed group shows.
 */
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { GroupKeyState, installGroup, sourceAuthMode, type InstalledGroup } from '../../src/keys/group-key-state.js';
import type { GroupKeyMaterial, PgkRecord, SourceAuthMode } from '../../src/keys/types.js';
import {
  DEFAULT_MAX_PDU_BYTES,
  DROP_REASONS,
  MemoryPtkHighWaterStore,
  PAIRWISE_ENTRY_BYTES,
  PdcpRxEntity,
  PdcpTxEntity,
  ProtectError,
  PtkIdAllocator,
  SIGNATURE_BLOCK_BYTES,
  derivePtkEngines,
  pduLayout,
  read24,
  sealPdu,
  sourceAuthFor,
  totalRx,
  type DropReason,
  type SourceAuth,
  type UnprotectResult,
} from '../../src/pdcp/index.js';
import { GROUP_ID, HOUR, NOW, bytes, pgkBytes, rng } from '../fixtures/pdcp-helpers.js';
import { publicKeyOf, seedOf, sourceAuthMaterial } from '../fixtures/source-auth-helpers.js';

type Mode = Exclude<SourceAuthMode, 'none'>;
const MODES: Mode[] = ['pairwise-mac', 'signature'];
const A = 0x00a001;
const B = 0x00b002;
const C = 0x00c003;

function reason(r: UnprotectResult): DropReason | 'accepted' {
  return r.ok ? 'accepted' : r.reason;
}

/** `self`'s key material in a group of `members` (the PKMF's view of who is in), PGK IDs `pgkIds`. */
function materialFor(self: number, members: readonly number[], mode: SourceAuthMode, pgkIds: readonly number[] = [7]): GroupKeyMaterial {
  return sourceAuthMaterial(self, { groupId: GROUP_ID, members, mode, pgks: pgkIds.map((id) => ({ pgkId: id, pgk: pgkBytes(id), expiresAtMs: NOW + HOUR })) });
}

/** One PGK record of `self`'s material (its pairwise keys for `members` under it). */
function pgkOf(pgkId: number, self: number, members: readonly number[], mode: SourceAuthMode): PgkRecord {
  return materialFor(self, members, mode, [pgkId]).pgks[0]!;
}

interface Member {
  gmi: number;
  keys: GroupKeyState;
  tx: PdcpTxEntity;
  rx: PdcpRxEntity;
}

function groupOf(members: readonly number[], mode: SourceAuthMode): Map<number, Member> {
  const out = new Map<number, Member>();
  for (const gmi of members) {
    const keys = new GroupKeyState();
    keys.install(materialFor(gmi, members, mode));
    out.set(gmi, { gmi, keys, tx: new PdcpTxEntity(keys, new PtkIdAllocator(new MemoryPtkHighWaterStore())), rx: new PdcpRxEntity(keys) });
  }
  return out;
}

/**
 * What insider `forger` can build in `victim`'s name: it holds the PGK, so it derives the victim's
 * PTK and writes the victim's GMI in the identity block; the MAC-I is right. The source-auth block
 * is the best it can do with its own keys (its own tags / its own signature), or `block` if given.
 */
function forge(
  forger: Member,
  victim: number,
  ptkId: number,
  sn: number,
  sdu: Uint8Array,
  block?: SourceAuth,
): Uint8Array {
  const group = forger.keys.get(GROUP_ID)!;
  const pgk = group.pgksNewestFirst[0]!;
  const engines = derivePtkEngines(group, pgk.pgk, victim, ptkId);
  const source = block ?? sourceAuthFor(group, pgk);
  return sealPdu(engines, pduLayout('pcr', true), 1, pgk.index, ptkId, sn, GROUP_ID, victim, sdu, undefined, source);
}

/** A SourceAuth that writes the given bytes as the block (for malformed blocks under a valid MAC-I). */
function rawBlock(block: Uint8Array): SourceAuth {
  return {
    blockBytes: block.length,
    canSeal: true,
    seal: (pdu, at) => pdu.set(block, at),
    check: () => 'bad-source-tag',
  };
}

describe('the insider forgery: C writes a PDU in A\'s name for B', () => {
  it('none: B accepts it as A\'s (the documented limitation)', () => {
    const g = groupOf([A, B, C], 'none');
    const forged = forge(g.get(C)!, A, 40, 0, bytes(30, 1));
    const r = g.get(B)!.rx.unprotect(forged, A, GROUP_ID, NOW);
    expect(r.ok && r.senderGmi === A).toBe(true);
  });

  for (const mode of MODES) {
    it(`${mode}: B refuses it, with C's own block, a block for B copied from A, and no block`, () => {
      const g = groupOf([A, B, C], mode);
      const rxB = g.get(B)!.rx;
      const sdu = bytes(30, 2);
      // C's own keys: tags under K(C, x) / its own signature, in A's name.
      expect(reason(rxB.unprotect(forge(g.get(C)!, A, 40, 0, sdu), A, GROUP_ID, NOW))).toBe('bad-source-tag');
      // A real PDU of A carries a valid block for this very SDU, but for A's header (COUNT): C
      // re-seals A's block under another SN.
      const real = g.get(A)!.tx.protect(sdu, 1, GROUP_ID, NOW);
      const plain = derivePtkEngines(g.get(C)!.keys.get(GROUP_ID)!, pgkBytes(7), A, real.ptkId).cipher.apply((real.ptkId << 16) | real.sn, 0, 0, real.pdu.subarray(5));
      const aBlock = plain.subarray(6 + sdu.length, plain.length - 4);
      expect(reason(rxB.unprotect(forge(g.get(C)!, A, real.ptkId, 5, sdu, rawBlock(aBlock)), A, GROUP_ID, NOW))).toBe('bad-source-tag');
      // No block at all: for signature the last 64 octets of the SDU are taken for one.
      const none = forge(g.get(C)!, A, 41, 0, bytes(100, 3), rawBlock(new Uint8Array(0)));
      expect(['bad-source-tag', 'unknown-member']).toContain(reason(rxB.unprotect(none, A, GROUP_ID, NOW)));
      // The real one is accepted.
      const ok = rxB.unprotect(real.pdu, A, GROUP_ID, NOW);
      expect(ok.ok && Buffer.from(ok.sdu).equals(Buffer.from(sdu))).toBe(true);
      expect(rxB.counters.accepted).toBe(1);
      expect(rxB.counters['bad-source-tag'] + rxB.counters['unknown-member']).toBe(3);
    });

    it(`${mode}: a PDU in the name of a GMI without keys is unknown-member`, () => {
      const g = groupOf([A, B, C], mode);
      const r = g.get(B)!.rx.unprotect(forge(g.get(C)!, 0x00d004, 3, 0, bytes(10)), 0x00d004, GROUP_ID, NOW);
      expect(reason(r)).toBe('unknown-member');
    });
  }

  it('pairwise-mac: a block that leaves B out is unknown-member; tags for others do not matter to B', () => {
    // B is not among C's peers here: C's material predates B.
    const keysC = new GroupKeyState();
    keysC.install(materialFor(C, [A, C], 'pairwise-mac'));
    const forger: Member = { gmi: C, keys: keysC, tx: undefined as never, rx: undefined as never };
    const g = groupOf([A, B, C], 'pairwise-mac');
    expect(reason(g.get(B)!.rx.unprotect(forge(forger, A, 9, 0, bytes(10)), A, GROUP_ID, NOW))).toBe('unknown-member');
  });
});

describe("B's replay window for A", () => {
  it('none: one forged PDU with a high COUNT makes A\'s real PDUs drop as replays', () => {
    const g = groupOf([A, B, C], 'none');
    const [a, b] = [g.get(A)!, g.get(B)!];
    const first = a.tx.protect(bytes(20), 1, GROUP_ID, NOW);
    expect(reason(b.rx.unprotect(first.pdu, A, GROUP_ID, NOW))).toBe('accepted');
    expect(reason(b.rx.unprotect(forge(g.get(C)!, A, first.ptkId, 0xffff, bytes(20)), A, GROUP_ID, NOW))).toBe('accepted');
    for (let i = 0; i < 5; i++) {
      expect(reason(b.rx.unprotect(a.tx.protect(bytes(20), 1, GROUP_ID, NOW).pdu, A, GROUP_ID, NOW))).toBe('replay');
    }
  });

  for (const mode of MODES) {
    it(`${mode}: refused forgeries with high COUNTs leave it where A's real PDUs put it`, () => {
      const g = groupOf([A, B, C], mode);
      const [a, b, c] = [g.get(A)!, g.get(B)!, g.get(C)!];
      const first = a.tx.protect(bytes(20), 1, GROUP_ID, NOW);
      expect(reason(b.rx.unprotect(first.pdu, A, GROUP_ID, NOW))).toBe('accepted');
      const cached = b.rx.stats().cachedEngines;
      // The top of A's current PTK, and PTK IDs far above it (new derivations), each refused.
      for (const [ptkId, sn] of [[first.ptkId, 0xffff], [first.ptkId + 1, 0], [0xffff, 0xffff], [first.ptkId, 1]] as const) {
        expect(reason(b.rx.unprotect(forge(c, A, ptkId, sn, bytes(20)), A, GROUP_ID, NOW))).toBe('bad-source-tag');
      }
      // Nothing of the forgeries entered the engine cache or a replay window.
      expect(b.rx.stats().cachedEngines).toBe(cached);
      expect(b.rx.stats().replayWindows).toBe(1);
      for (let i = 0; i < 5; i++) {
        const r = a.tx.protect(bytes(20, i), 1, GROUP_ID, NOW);
        expect(reason(b.rx.unprotect(r.pdu, A, GROUP_ID, NOW)), `A's PDU SN ${r.sn}`).toBe('accepted');
      }
      expect(b.rx.counters['bad-source-tag']).toBe(4);
      expect(b.rx.counters.replay).toBe(0);
    });
  }
});

describe('a member removed from the material', () => {
  for (const mode of MODES) {
    it(`${mode}: once the others re-installed material without it, its PDUs do not pass`, () => {
      const D = 0x00d004;
      const all = [A, B, C, D];
      const g = groupOf(all, mode);
      const [a, b, d] = [g.get(A)!, g.get(B)!, g.get(D)!];
      const before = d.tx.protect(bytes(20, 1), 1, GROUP_ID, NOW);
      expect(reason(b.rx.unprotect(before.pdu, D, GROUP_ID, NOW))).toBe('accepted');
      const aBefore = a.tx.protect(bytes(20, 2), 1, GROUP_ID, NOW).pdu.length;
      // The PKMF removed D: the remaining members get material without D's keys (same PGK, still valid).
      const rest = [A, B, C];
      for (const m of rest) g.get(m)!.keys.install(materialFor(m, rest, mode));
      // D still holds the PGK: its own PDUs and PDUs it forges in A's name carry valid MAC-Is.
      const after = d.tx.protect(bytes(20, 3), 1, GROUP_ID, NOW);
      expect(reason(b.rx.unprotect(after.pdu, D, GROUP_ID, NOW))).toBe('unknown-member');
      expect(reason(b.rx.unprotect(forge(d, A, 50, 0, bytes(20)), A, GROUP_ID, NOW))).toBe('bad-source-tag');
      // A addresses one member fewer (pairwise), and its PDUs still pass.
      const aAfter = a.tx.protect(bytes(20, 4), 1, GROUP_ID, NOW);
      expect(aBefore - aAfter.pdu.length).toBe(mode === 'pairwise-mac' ? PAIRWISE_ENTRY_BYTES : 0);
      expect(reason(b.rx.unprotect(aAfter.pdu, A, GROUP_ID, NOW))).toBe('accepted');
    });
  }

  it('pairwise-mac: a new PGK without the member leaves it without keys under it', () => {
    const D = 0x00d004;
    const g = groupOf([A, B, C, D], 'pairwise-mac');
    // Key refresh: PGK 8 for A, B, C only; D keeps PGK 7. B still holds PGK 7 with D's key.
    const b = g.get(B)!;
    b.keys.install({ ...materialFor(B, [A, B, C], 'pairwise-mac', [8]), pgks: [pgkOf(7, B, [A, B, C, D], 'pairwise-mac'), pgkOf(8, B, [A, B, C], 'pairwise-mac')] });
    const d = g.get(D)!;
    const keysD = new GroupKeyState();
    const mD = materialFor(D, [A, B, C, D], 'pairwise-mac', [8]);
    // D learned PGK 8 somehow (it is an insider of the old group); it has no K(D, x) under it.
    keysD.install({ ...mD, pgks: [{ ...mD.pgks[0]!, pairwiseKeys: new Map() }] });
    const forger: Member = { gmi: D, keys: keysD, tx: d.tx, rx: d.rx };
    const pdu8 = forge(forger, D, 1, 0, bytes(20));
    expect(pdu8[0]! & 0x1f).toBe(8);
    expect(reason(b.rx.unprotect(pdu8, D, GROUP_ID, NOW))).toBe('unknown-member');
  });
});

describe('round trips', () => {
  for (const mode of MODES) {
    it(`${mode}: group sizes 2..32, SDUs of 1 and 9000 octets, every receiver accepts the sender's PDUs`, () => {
      for (let n = 2; n <= 32; n++) {
        const members = Array.from({ length: n }, (_, i) => 0x010000 + i * 3);
        const g = groupOf(members, mode);
        const sender = g.get(members[n - 1]!)!;
        const block = mode === 'pairwise-mac' ? 1 + (n - 1) * PAIRWISE_ENTRY_BYTES : SIGNATURE_BLOCK_BYTES;
        // Every size for the smallest and largest groups, the bounds for the rest.
        const sizes = n === 2 || n === 32 ? [1, 2, 63, 64, 65, 1500, 9000] : [1, 9000];
        for (const size of sizes) {
          const sdu = bytes(size, n * 10_000 + size);
          const r = sender.tx.protect(sdu, 1, GROUP_ID, NOW);
          expect(r.pdu.length).toBe(15 + size + block);
          const receivers = n <= 4 ? members.slice(0, n - 1) : [members[0]!, members[n - 2]!];
          for (const gmi of receivers) {
            const got = g.get(gmi)!.rx.unprotect(r.pdu, r.l2Src, r.l2Dst, NOW);
            expect(got.ok, `n=${n} size=${size} receiver ${gmi.toString(16)}: ${reason(got)}`).toBe(true);
            if (got.ok) expect(Buffer.from(got.sdu).equals(Buffer.from(sdu))).toBe(true);
          }
        }
      }
    });
  }

  it('the PDU size bound: the block counts against maxPduBytes at both ends', () => {
    const members = Array.from({ length: 32 }, (_, i) => 0x020000 + i);
    const material = materialFor(members[0]!, members, 'pairwise-mac');
    const keys = new GroupKeyState();
    keys.install(material);
    const block = 1 + 31 * PAIRWISE_ENTRY_BYTES;
    // The layer below carries 9015 octets (hw-profile pdu.max_bytes): the largest SDU is 9015 - 15 - block.
    const tx = new PdcpTxEntity(keys, new PtkIdAllocator(new MemoryPtkHighWaterStore()), { maxPduBytes: DEFAULT_MAX_PDU_BYTES });
    expect(() => tx.protect(bytes(9000), 1, GROUP_ID, NOW)).toThrow(/9000 octets make a 9357-octet PDU .*source-auth block 342.*maxPduBytes 9015/);
    expect(tx.protect(bytes(9000 - block), 1, GROUP_ID, NOW).pdu.length).toBe(DEFAULT_MAX_PDU_BYTES);
    expect(() => tx.protect(bytes(9000 - block + 1), 1, GROUP_ID, NOW)).toThrow(RangeError);
    expect(() => tx.protect(bytes(9001), 1, GROUP_ID, NOW)).toThrow(/1\.\.9000/);
    // Receivers: by default a 9000-octet SDU always fits (9015 + the group's largest block)...
    const rxKeys = new GroupKeyState();
    rxKeys.install(materialFor(members[1]!, members, 'pairwise-mac'));
    const rx = new PdcpRxEntity(rxKeys);
    const big = new PdcpTxEntity(keys, new PtkIdAllocator(new MemoryPtkHighWaterStore())).protect(bytes(9000), 1, GROUP_ID, NOW);
    expect(reason(rx.unprotect(big.pdu, big.l2Src, GROUP_ID, NOW))).toBe('accepted');
    expect(reason(rx.unprotect(new Uint8Array(DEFAULT_MAX_PDU_BYTES + block + 1), big.l2Src, GROUP_ID, NOW))).toBe('oversized');
    // ...and a configured bound is the bound.
    const bounded = new PdcpRxEntity(rxKeys, { maxPduBytes: DEFAULT_MAX_PDU_BYTES });
    expect(reason(bounded.unprotect(big.pdu, big.l2Src, GROUP_ID, NOW))).toBe('oversized');
    // A group without source authentication keeps today's default bound.
    const noneKeys = new GroupKeyState();
    noneKeys.install(materialFor(B, [A, B], 'none'));
    const plain = new PdcpRxEntity(noneKeys);
    expect(reason(plain.unprotect(new Uint8Array(DEFAULT_MAX_PDU_BYTES + 1), A, GROUP_ID, NOW))).toBe('oversized');
    // The smallest PDU: a 1-octet SDU and the smallest block.
    const sig = groupOf([A, B], 'signature');
    expect(reason(sig.get(B)!.rx.unprotect(new Uint8Array(15 + SIGNATURE_BLOCK_BYTES), A, GROUP_ID, NOW))).toBe('truncated');
  });

  it('none: the PDU is today\'s, octet for octet; the mode of the material changes only the block', () => {
    const sdu = bytes(40, 9);
    const pdus = ([['none', 0], ['pairwise-mac', 1 + 2 * PAIRWISE_ENTRY_BYTES], ['signature', SIGNATURE_BLOCK_BYTES]] as const).map(([mode, block]) => {
      const keys = new GroupKeyState();
      keys.install(materialFor(A, [A, B, C], mode));
      const group = keys.get(GROUP_ID)!;
      expect(sourceAuthMode(group)).toBe(mode);
      const r = new PdcpTxEntity(keys, new PtkIdAllocator(new MemoryPtkHighWaterStore())).protect(sdu, 1, GROUP_ID, NOW);
      expect(r.pdu.length).toBe(15 + sdu.length + block);
      return r;
    });
    // The same PTK and SN in each: the bytes up to the SDU's end are the same keystream over the same plaintext.
    const none = pdus[0]!.pdu;
    const expected = sealPdu(derivePtkEngines(installGroup(materialFor(A, [A, B, C], 'none')), pgkBytes(7), A, pdus[0]!.ptkId), pduLayout('pcr', true), 1, 7, pdus[0]!.ptkId, 0, GROUP_ID, A, sdu);
    expect(Buffer.from(none).equals(Buffer.from(expected))).toBe(true);
    for (const r of pdus.slice(1)) expect(Buffer.from(r.pdu.subarray(0, 11 + sdu.length)).equals(Buffer.from(none.subarray(0, 11 + sdu.length)))).toBe(true);
  });

  it('a pairwise block lists every other member once, ascending, and a signature is 64 octets', () => {
    const g = groupOf([C, A, B], 'pairwise-mac');
    const r = g.get(B)!.tx.protect(bytes(10), 1, GROUP_ID, NOW);
    const plain = derivePtkEngines(g.get(B)!.keys.get(GROUP_ID)!, pgkBytes(7), B, r.ptkId).cipher.apply((r.ptkId << 16) | r.sn, 0, 0, r.pdu.subarray(5));
    const block = plain.subarray(6 + 10, plain.length - 4);
    expect(block.length).toBe(1 + 2 * PAIRWISE_ENTRY_BYTES);
    expect(block[block.length - 1]).toBe(2);
    expect([read24(block, 0), read24(block, PAIRWISE_ENTRY_BYTES)]).toEqual([A, C]);
  });
});

describe('fuzz: malformed source-auth blocks under a valid MAC-I', () => {
  for (const [mode, rounds] of [['pairwise-mac', 20_000], ['signature', 3_000]] as const) {
    it(`${mode}: ${rounds} random, truncated, extended and bit-flipped blocks never throw and are counted`, () => {
      const members = [A, B, C, 0x00d004, 0x00e005];
      const g = groupOf(members, mode);
      const a = g.get(A)!;
      const rx = g.get(B)!.rx;
      const group = a.keys.get(GROUP_ID)!;
      const pgk = group.pgksNewestFirst[0]!;
      const genuine = sourceAuthFor(group, pgk)!;
      const engines = derivePtkEngines(group, pgk.pgk, A, 77);
      const layout = pduLayout('pcr', true);
      const next = rng(0x5a5a);
      let sn = 0;
      let accepted = 0;
      const seal = (sdu: Uint8Array, block: Uint8Array): Uint8Array => sealPdu(engines, layout, 1, pgk.index, 77, sn++, GROUP_ID, A, sdu, undefined, rawBlock(block));
      const genuineBlock = (sdu: Uint8Array): Uint8Array => {
        // The block A writes for this header (PTK ID 77, the next SN) and SDU.
        const pdu = new Uint8Array(11 + sdu.length + genuine.blockBytes);
        pdu.set([(1 << 5) | pgk.index, 0, 77, sn >>> 8, sn & 0xff]);
        pdu.set([GROUP_ID >>> 16, (GROUP_ID >>> 8) & 0xff, GROUP_ID & 0xff, A >>> 16, (A >>> 8) & 0xff, A & 0xff], 5);
        pdu.set(sdu, 11);
        genuine.seal(pdu, 11 + sdu.length);
        return pdu.subarray(11 + sdu.length);
      };
      for (let i = 0; i < rounds && sn < 0x10000; i++) {
        const sdu = bytes(1 + (next() % 80), i);
        const kind = next() % 6;
        let block: Uint8Array;
        if (kind === 0) block = Uint8Array.from({ length: next() % 300 }, () => next() & 0xff);
        else {
          block = Uint8Array.from(genuineBlock(sdu));
          if (kind === 1) block = block.subarray(0, next() % block.length);
          else if (kind === 2) block = Uint8Array.from([...block, ...Array.from({ length: 1 + (next() % 20) }, () => next() & 0xff)]);
          else if (kind === 3) block[next() % block.length]! ^= 1 << (next() % 8);
          else if (kind === 4) block[block.length - 1]! ^= 1 + (next() % 255); // the count octet (pairwise) / last signature octet
          else block = Uint8Array.from({ length: block.length }, () => next() & 0xff);
        }
        const r = rx.unprotect(seal(sdu, block), A, GROUP_ID, NOW);
        if (r.ok) {
          // Only a change that left B's own entry and the SDU as A wrote them may pass (a flip in
          // another member's tag, or octets appended that parse as one more entry), and then it
          // delivers A's SDU exactly: B's tag covers it.
          expect(mode).toBe('pairwise-mac');
          expect([2, 3]).toContain(kind);
          expect(Buffer.from(r.sdu).equals(Buffer.from(sdu))).toBe(true);
          accepted++;
        } else if (r.reason === 'truncated') {
          // Shorter than the smallest PDU of the group (a 1-octet SDU and a 64-octet signature).
          expect(mode).toBe('signature');
          expect([0, 1]).toContain(kind);
        } else {
          expect(['bad-source-tag', 'unknown-member']).toContain(r.reason);
        }
      }
      const c = rx.counters;
      expect(c['internal-error']).toBe(0);
      expect(c.accepted).toBe(accepted);
      expect(c['bad-source-tag'] + c['unknown-member'] + c.truncated + accepted).toBe(totalRx(c));
      expect(c['bad-source-tag']).toBeGreaterThan(rounds / 2);
      const expectedReasons = ['bad-source-tag', 'unknown-member', 'truncated'];
      for (const other of DROP_REASONS) if (!expectedReasons.includes(other)) expect(c[other], other).toBe(0);
      // Only what passed moved B's window for A (to PTK ID 77, above A's own PTK): with nothing
      // accepted, A's real PDU passes after all of it.
      const real = reason(rx.unprotect(a.tx.protect(bytes(8), 1, GROUP_ID, NOW).pdu, A, GROUP_ID, NOW));
      expect(real).toBe(accepted === 0 ? 'accepted' : 'replay');
    });
  }
});

describe('key material validation and redaction', () => {
  const base = (): GroupKeyMaterial => materialFor(A, [A, B, C], 'signature');
  const publicKeysOf = (m: GroupKeyMaterial): Map<number, Uint8Array> => (m.sourceAuth as unknown as { publicKeys: Map<number, Uint8Array> }).publicKeys;

  it.each<[string, (m: GroupKeyMaterial) => void, RegExp]>([
    ['unknown mode', (m) => (m.sourceAuth = { mode: 'none' } as never), /material\.sourceAuth\.mode: expected pairwise-mac or signature/],
    ['lte-prose', (m) => Object.assign(m, { profile: 'lte-prose', nia: null }), /material\.sourceAuth: signature needs the inner identity block and a MAC-I/],
    ['integrity off', (m) => (m.nia = null), /needs the inner identity block and a MAC-I/],
    ['short seed', (m) => ((m.sourceAuth as { signingSeed: Uint8Array }).signingSeed = new Uint8Array(31)), /signingSeed: expected 32 bytes, got 31/],
    ['no own public key', (m) => publicKeysOf(m).delete(A), /no public key for this UE's own GMI 0x00a001/],
    ['someone else\'s key as ours', (m) => publicKeysOf(m).set(A, publicKeyOf(B)), /publicKeys\[0x00a001\]: is not the public key of signingSeed/],
    ['short public key', (m) => publicKeysOf(m).set(C, new Uint8Array(31)), /publicKeys\[0x00c003\]: expected 32 bytes, got 31/],
    ['GMI over 24 bits', (m) => publicKeysOf(m).set(0x1000000, new Uint8Array(32)), /publicKeys key: expected 0\.\.0xffffff/],
    ['not a Map', (m) => ((m.sourceAuth as { publicKeys: unknown }).publicKeys = {}), /publicKeys: expected a Map/],
    ['pairwise keys in a signature group', (m) => (m.pgks[0]!.pairwiseKeys = new Map()), /pgks\[0\]\.pairwiseKeys: given, but the group's source authentication is signature/],
  ])('signature: refuses %s', (_name, spoil, message) => {
    const m = base();
    spoil(m);
    expect(() => new GroupKeyState().install(m)).toThrow(message);
  });

  it.each<[string, (m: GroupKeyMaterial) => void, RegExp]>([
    ['missing pairwise keys', (m) => delete m.pgks[0]!.pairwiseKeys, /pgks\[0\]\.pairwiseKeys: required when sourceAuth is pairwise-mac/],
    ['a key with itself', (m) => (m.pgks[0]!.pairwiseKeys as Map<number, Uint8Array>).set(A, new Uint8Array(16)), /pairwiseKeys\[0x00a001\]: a key with this UE itself/],
    ['a 15-byte key', (m) => (m.pgks[0]!.pairwiseKeys as Map<number, Uint8Array>).set(B, new Uint8Array(15)), /pairwiseKeys\[0x00b002\]: expected 16 bytes, got 15/],
    ['a GMI that is not an integer', (m) => (m.pgks[0]!.pairwiseKeys as Map<unknown, Uint8Array>).set('b', new Uint8Array(16)), /pairwiseKeys key: expected an integer/],
    ['256 peers', (m) => (m.pgks[0]!.pairwiseKeys = new Map(Array.from({ length: 256 }, (_, i) => [i + 1, new Uint8Array(16)]))), /at most 255 entries, got 256/],
    ['pairwise keys in a none group', (m) => delete m.sourceAuth, /given, but the group's source authentication is none/],
  ])('pairwise-mac: refuses %s', (_name, spoil, message) => {
    const m = materialFor(A, [A, B, C], 'pairwise-mac');
    spoil(m);
    expect(() => new GroupKeyState().install(m)).toThrow(message);
  });

  it('signature without a seed installs receive-only: it verifies, and protect says why it cannot send', () => {
    const m = base();
    delete (m.sourceAuth as { signingSeed?: Uint8Array }).signingSeed;
    publicKeysOf(m).delete(A);
    const keys = new GroupKeyState();
    keys.install(m);
    const tx = new PdcpTxEntity(keys, new PtkIdAllocator(new MemoryPtkHighWaterStore()));
    expect(() => tx.protect(bytes(5), 1, GROUP_ID, NOW)).toThrow(ProtectError);
    const g = groupOf([A, B, C], 'signature');
    const r = g.get(B)!.tx.protect(bytes(5), 1, GROUP_ID, NOW);
    expect(reason(new PdcpRxEntity(keys).unprotect(r.pdu, B, GROUP_ID, NOW))).toBe('accepted');
  });

  it('an installed group shows no seed, pairwise key or digest key, also after pruning', () => {
    for (const mode of MODES) {
      const keys = new GroupKeyState();
      const m = materialFor(A, [A, B, C], mode, [7, 8]);
      m.pgks[0]!.expiresAtMs = NOW - HOUR;
      keys.install(m);
      keys.pruneExpired(NOW);
      const group: InstalledGroup = keys.get(GROUP_ID)!;
      expect(group.pgksNewestFirst.map((p) => p.pgkId)).toEqual([8]);
      expect(sourceAuthMode(group)).toBe(mode);
      const shown = `${JSON.stringify(group)} ${inspect(group, { depth: 10 })}`;
      const secrets = mode === 'signature' ? [seedOf(A)] : [...m.pgks[1]!.pairwiseKeys!.values()];
      for (const s of secrets) {
        const hexKey = Buffer.from(s).toString('hex');
        expect(shown).not.toContain(hexKey);
        expect(shown).not.toContain([...s.subarray(0, 6)].join(','));
      }
      // Pruning kept the source keys working.
      const r = new PdcpTxEntity(keys, new PtkIdAllocator(new MemoryPtkHighWaterStore())).protect(bytes(5), 1, GROUP_ID, NOW);
      const bKeys = new GroupKeyState();
      bKeys.install(materialFor(B, [A, B, C], mode, [8]));
      expect(reason(new PdcpRxEntity(bKeys).unprotect(r.pdu, A, GROUP_ID, NOW)), mode).toBe('accepted');
    }
  });
});
