/**
 * Fuzzing the receive path (issue 3, "Bad input"): at least 1,000,000 random and mutated PDUs
 * (bit flips anywhere, truncation, extension, every header field, L2 IDs, splices, random bytes)
 * against a receiver. No exception may escape, no mutated PDU may be accepted while integrity is
 * on, and the counters must add up to the number of inputs. Seeded, so every run is the same.
 */
import { describe, expect, it } from 'vitest';
import type { HierarchyProfile } from '../../src/crypto/types.js';
import { DROP_REASONS, PdcpRxEntity, PdcpTxEntity, PtkIdAllocator, MemoryPtkHighWaterStore, totalRx } from '../../src/pdcp/index.js';
import { GROUP_ID, HOUR, NOW, RECEIVER_GMI, keysFor, pgkRecord, rng } from '../fixtures/pdcp-helpers.js';

interface Sent {
  pdu: Uint8Array;
  l2Src: number;
  l2Dst: number;
}

const MUTATIONS = [
  'bit-flips',
  'truncate',
  'extend',
  'sdu-type',
  'pgk-index',
  'ptk-id',
  'sn',
  'l2-src',
  'l2-dst',
  'splice',
  'random',
] as const;

function runFuzz(profile: HierarchyProfile, nia: 2 | null, inputs: number, seed: number) {
  const r = rng(seed);
  const spec = { profile, nia, pgks: [pgkRecord(7), pgkRecord(8, NOW - HOUR), pgkRecord(9)] };
  const rx = new PdcpRxEntity(keysFor(RECEIVER_GMI, spec), { maxPduBytes: 2000 });
  // Three senders, PTKs of 64 SNs, varied sizes: 3000 genuine PDUs, interleaved in send order.
  const pool: Sent[] = [];
  const senders = [0x000101, 0x000202, 0x000303].map(
    (gmi) => new PdcpTxEntity(keysFor(gmi, spec), new PtkIdAllocator(new MemoryPtkHighWaterStore()), { snPerPtk: 64 }),
  );
  for (let i = 0; i < 1000; i++) {
    for (const tx of senders) {
      const sdu = Uint8Array.from({ length: 1 + (r() % 300) }, () => r() & 0xff);
      // lte-prose carries IP, non-IP and ARP only (TS 36.323 6.3.14).
      const p = tx.protect(sdu, spec.profile === 'lte-prose' ? [0, 1, 4][r() % 3]! : r() % 5, GROUP_ID, NOW);
      pool.push({ pdu: p.pdu, l2Src: p.l2Src, l2Dst: p.l2Dst });
    }
  }
  const scratch = new Uint8Array(4096);
  const perMutation: Record<string, number> = {};
  let escaped = 0;
  let acceptedMutants = 0;
  let genuine = 0;
  let genuineAccepted = 0;
  let now = NOW;
  const started = performance.now();
  for (let n = 0; n < inputs; n++) {
    now += 0.01; // 100k inputs per simulated second
    // Walk through the pool in send order: genuine deliveries are of the PDU at the cursor,
    // mutants are made from PDUs a little ahead of it, not yet received, so that they get past
    // the replay window and reach the crypto checks (mutants of received PDUs die as replays).
    const cursor = Math.floor((n * pool.length) / inputs);
    const wantGenuine = r() % 50 === 0;
    const base = pool[wantGenuine ? cursor : Math.min(pool.length - 1, cursor + 1 + (r() % 30))]!;
    let len = base.pdu.length;
    scratch.set(base.pdu);
    let l2Src = base.l2Src;
    let l2Dst = base.l2Dst;
    let kind: string;
    if (wantGenuine) {
      kind = 'genuine';
    } else {
      kind = MUTATIONS[r() % MUTATIONS.length]!;
      switch (kind) {
        case 'bit-flips': {
          const flips = 1 + (r() % 3);
          for (let i = 0; i < flips; i++) {
            const bit = r() % (len * 8);
            scratch[bit >>> 3]! ^= 0x80 >>> (bit & 7);
          }
          break;
        }
        case 'truncate':
          len = r() % len;
          break;
        case 'extend': {
          const extra = r() % 8 === 0 ? 2000 : 1 + (r() % 16);
          for (let i = 0; i < extra; i++) scratch[len + i] = r() & 0xff;
          len += extra;
          break;
        }
        // Field mutations always change the field (a no-op would deliver a genuine PDU early).
        case 'sdu-type':
          scratch[0]! ^= (1 + (r() % 7)) << 5;
          break;
        case 'pgk-index':
          scratch[0]! ^= 1 + (r() % 31);
          break;
        case 'ptk-id': {
          // Nearby IDs (other real PTKs of the sender) half the time, anything otherwise.
          const old = (scratch[1]! << 8) | scratch[2]!;
          const ptk = (r() % 2 === 0 ? old + 1 + (r() % 4) : old + 1 + (r() % 0xffff)) & 0xffff;
          scratch[1] = ptk >>> 8;
          scratch[2] = ptk & 0xff;
          break;
        }
        case 'sn': {
          const sn = (((scratch[3]! << 8) | scratch[4]!) + 1 + (r() % 0xffff)) & 0xffff;
          scratch[3] = sn >>> 8;
          scratch[4] = sn & 0xff;
          break;
        }
        case 'l2-src':
          l2Src = r() % 8 === 0 ? RECEIVER_GMI : r() % 2 === 0 ? pool[r() % pool.length]!.l2Src : r() & 0xffffff;
          if (l2Src === base.l2Src) l2Src ^= 1 + (r() % 0xfffff);
          break;
        case 'l2-dst':
          l2Dst = r() % 4 === 0 ? -1 : r() & 0xffffff;
          if (l2Dst === base.l2Dst) l2Dst ^= 1;
          break;
        case 'splice': {
          // Header of one genuine PDU, body of another.
          const other = pool[r() % pool.length]!.pdu;
          scratch.set(other.subarray(5), 5);
          len = other.length;
          break;
        }
        case 'random':
          len = r() % 400;
          for (let i = 0; i < len; i++) scratch[i] = r() & 0xff;
          break;
      }
      // A mutation that happens to leave everything as it was is not a mutation.
      if (len === base.pdu.length && l2Src === base.l2Src && l2Dst === base.l2Dst) {
        let same = true;
        for (let i = 0; i < len && same; i++) same = scratch[i] === base.pdu[i];
        if (same) kind = 'genuine';
      }
    }
    const input = kind === 'genuine' ? base.pdu : scratch.slice(0, len);
    perMutation[kind] = (perMutation[kind] ?? 0) + 1;
    let ok = false;
    try {
      ok = rx.unprotect(input, l2Src, l2Dst, now).ok;
    } catch {
      escaped++;
    }
    if (kind === 'genuine') {
      genuine++;
      if (ok) genuineAccepted++;
    } else if (ok) {
      acceptedMutants++;
    }
  }
  const ms = performance.now() - started;
  return { rx, escaped, acceptedMutants, genuine, genuineAccepted, perMutation, ms };
}

function report(label: string, res: ReturnType<typeof runFuzz>): void {
  const c = res.rx.counters;
  const reasons = (['accepted', ...DROP_REASONS] as const).filter((k) => c[k] > 0).map((k) => `${k}=${c[k]}`);
  console.log(
    `${label}: ${totalRx(c)} inputs in ${(res.ms / 1000).toFixed(1)} s (${((res.ms * 1000) / totalRx(c)).toFixed(2)} us each); ` +
      `derivations=${res.rx.stats().derivations}; ${reasons.join(' ')}`,
  );
}

describe('receive-path fuzzing', () => {
  it('1,000,000 random and mutated PDUs, integrity on: nothing escapes, no mutant accepted, counters add up', { timeout: 120_000 }, () => {
    const N = 1_000_000;
    const res = runFuzz('pcr', 2, N, 0xf022);
    report('pcr NEA2/NIA2', res);
    expect(res.escaped).toBe(0);
    expect(res.acceptedMutants).toBe(0);
    expect(totalRx(res.rx.counters)).toBe(N);
    expect(res.rx.counters['internal-error']).toBe(0);
    // The genuine PDUs were accepted the first time each was seen (and dropped as replays after).
    expect(res.genuineAccepted).toBeGreaterThan(2000);
    expect(res.rx.counters.accepted).toBe(res.genuineAccepted);
    // Every mutation kind was exercised plenty, and the drops spread over the reasons.
    for (const m of MUTATIONS) expect(res.perMutation[m] ?? 0, m).toBeGreaterThan(50_000);
    for (const d of ['truncated', 'oversized', 'reserved-sdu-type', 'unknown-group', 'own-source', 'unknown-pgk-index',
      'expired-pgk', 'replay', 'derivation-rate-limited', 'mac-failure', 'invalid-l2-address'] as const) {
      expect(res.rx.counters[d], d).toBeGreaterThan(0);
    }
  });

  for (const [profile, nia] of [['ts33533', null], ['lte-prose', null]] as const) {
    it(`200,000 inputs, ${profile} without integrity: nothing escapes, counters add up`, { timeout: 60_000 }, () => {
      const N = 200_000;
      const res = runFuzz(profile, nia, N, 0xbeef);
      report(`${profile} no integrity`, res);
      expect(res.escaped).toBe(0);
      expect(totalRx(res.rx.counters)).toBe(N);
      expect(res.rx.counters['internal-error']).toBe(0);
      expect(res.rx.stats().replayWindows).toBeLessThanOrEqual(16384);
    });
  }
});
