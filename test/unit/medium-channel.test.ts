/**
 * The medium's channel model without sockets (src/medium/channel.ts): statistics of loss,
 * duplication, delay and jitter, reordering, sender exclusion, and that a seed repeats a run.
 */
import { describe, expect, it } from 'vitest';
import { MediumChannel, NO_IMPAIRMENTS, checkImpairments, type ChannelImpairments } from '../../src/medium/channel.js';
import { seededRandom } from '../../src/medium/random.js';

type Delivery = { to: string; packet: number; atMs: number };
const UES = ['ue1', 'ue2', 'ue3', 'ue4'];

/**
 * Drives a channel like the medium server does: `count` PDUs from senders in turn, one every
 * `gapMs`, releasing due copies as time passes; returns every delivery with its time.
 */
function simulate(impairments: Partial<ChannelImpairments>, seed: number, count: number, gapMs = 1): { out: Delivery[]; ch: MediumChannel<string, number> } {
  const ch = new MediumChannel<string, number>({ ...NO_IMPAIRMENTS, ...impairments }, seededRandom(seed));
  const out: Delivery[] = [];
  let now = 0;
  const emitAt = (to: string, packet: number): void => void out.push({ to, packet, atMs: now });
  for (let i = 0; i < count; i++) {
    const sendAt = i * gapMs;
    // Release what falls due before this send at its exact due time, as a timer would.
    for (let next = ch.nextDueMs(); next !== undefined && next <= sendAt; next = ch.nextDueMs()) {
      now = next;
      ch.release(now, emitAt);
    }
    now = sendAt;
    ch.submit(i, UES[i % UES.length]!, UES, now, emitAt);
  }
  // Drain: step time forward until nothing is pending.
  for (let next = ch.nextDueMs(); next !== undefined; next = ch.nextDueMs()) {
    now = next;
    ch.release(now, emitAt);
  }
  return { out, ch };
}

const senderOf = (packet: number): string => UES[packet % UES.length]!;

describe('MediumChannel', () => {
  it('delivers every PDU once to every other UE and never back to its sender', () => {
    const { out, ch } = simulate({}, 1, 1000);
    expect(out).toHaveLength(1000 * 3);
    for (const d of out) expect(d.to).not.toBe(senderOf(d.packet));
    const perPacket = new Map<number, Set<string>>();
    for (const d of out) perPacket.set(d.packet, (perPacket.get(d.packet) ?? new Set()).add(d.to));
    for (const [p, tos] of perPacket) expect([...tos].sort()).toEqual(UES.filter((u) => u !== senderOf(p)));
    // At delay 0 each copy is delivered at the instant it was sent, in order.
    for (const d of out) expect(d.atMs).toBe(d.packet);
    expect(ch.counters).toMatchObject({ submitted: 1000, pairs: 3000, delivered: 3000, lost: 0, pending: 0 });
  });

  it('loses about 10% of (PDU, receiver) pairs at loss 0.1, and reports it', () => {
    const { out, ch } = simulate({ loss: 0.1 }, 42, 20_000);
    const pairs = 20_000 * 3;
    const lostFraction = 1 - out.length / pairs;
    // Binomial sd is 0.12% here; 1% is more than 8 sd.
    expect(lostFraction).toBeGreaterThan(0.09);
    expect(lostFraction).toBeLessThan(0.11);
    expect(ch.counters.lost).toBe(pairs - out.length);
  });

  it('repeats every decision with the same seed, and not with another', () => {
    const a = simulate({ loss: 0.2, jitterMs: 3, delayMs: 5, duplicate: 0.05, reorder: 0.05 }, 99, 3000).out;
    const b = simulate({ loss: 0.2, jitterMs: 3, delayMs: 5, duplicate: 0.05, reorder: 0.05 }, 99, 3000).out;
    const c = simulate({ loss: 0.2, jitterMs: 3, delayMs: 5, duplicate: 0.05, reorder: 0.05 }, 100, 3000).out;
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it('keeps the loss decisions of a seed when delay, jitter, duplication or reordering change', () => {
    const lostSet = (imp: Partial<ChannelImpairments>): string[] => {
      const { out } = simulate({ loss: 0.3, ...imp }, 5, 2000);
      const got = new Set(out.map((d) => `${d.packet}>${d.to}`));
      const lost: string[] = [];
      for (let p = 0; p < 2000; p++) for (const u of UES) if (u !== senderOf(p) && !got.has(`${p}>${u}`)) lost.push(`${p}>${u}`);
      return lost;
    };
    const base = lostSet({});
    expect(base.length).toBeGreaterThan(1500);
    expect(lostSet({ delayMs: 7, jitterMs: 4, duplicate: 0.3, reorder: 0.2 })).toEqual(base);
  });

  it('delays by delay_ms with uniform jitter inside [delay - jitter, delay + jitter]', () => {
    const { out } = simulate({ delayMs: 10, jitterMs: 4 }, 3, 5000, 0.5);
    const delays = out.map((d) => d.atMs - d.packet * 0.5);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(6);
    expect(Math.max(...delays)).toBeLessThanOrEqual(14);
    const mean = delays.reduce((s, x) => s + x, 0) / delays.length;
    expect(mean).toBeGreaterThan(9.9);
    expect(mean).toBeLessThan(10.1);
    // Jitter larger than the gap between PDUs reorders them, as on a real channel.
    const firstFor = out.filter((d) => d.to === 'ue1').map((d) => d.packet);
    expect(firstFor.some((p, i) => i > 0 && p < firstFor[i - 1]!)).toBe(true);
  });

  it('keeps FIFO order per receiver with a fixed delay and no jitter', () => {
    const { out } = simulate({ delayMs: 3 }, 3, 2000, 0.25);
    for (const u of UES) {
      const seq = out.filter((d) => d.to === u).map((d) => d.packet);
      expect(seq).toEqual([...seq].sort((x, y) => x - y));
    }
    for (const d of out) expect(d.atMs).toBeCloseTo(d.packet * 0.25 + 3, 9);
  });

  it('duplicates about the configured share', () => {
    const { out, ch } = simulate({ duplicate: 0.1 }, 11, 10_000);
    expect(ch.counters.duplicated / ch.counters.pairs).toBeGreaterThan(0.09);
    expect(ch.counters.duplicated / ch.counters.pairs).toBeLessThan(0.11);
    expect(out.length).toBe(ch.counters.pairs + ch.counters.duplicated);
  });

  it('reorders about the configured share: a held PDU arrives right after the next one', () => {
    const { out, ch } = simulate({ reorder: 0.05 }, 12, 10_000);
    expect(out.length).toBe(30_000);
    expect(ch.counters.reordered / ch.counters.pairs).toBeGreaterThan(0.04);
    expect(ch.counters.reordered / ch.counters.pairs).toBeLessThan(0.06);
    let inversions = 0;
    for (const u of UES) {
      const seq = out.filter((d) => d.to === u).map((d) => d.packet);
      for (let i = 1; i < seq.length; i++) if (seq[i]! < seq[i - 1]!) inversions++;
    }
    // Every reordered copy shows up as exactly one inversion (back-to-back holds merge rarely).
    expect(inversions).toBeGreaterThan(ch.counters.reordered * 0.95);
    expect(inversions).toBeLessThanOrEqual(ch.counters.reordered);
  });

  it('releases a held PDU after reorder_hold_ms when nothing overtakes it', () => {
    const ch = new MediumChannel<string, number>({ ...NO_IMPAIRMENTS, reorder: 1, reorderHoldMs: 25 }, seededRandom(1));
    const out: Array<[string, number, number]> = [];
    let now = 100;
    ch.submit(7, 'a', ['a', 'b'], now, (to, p) => out.push([to, p, now]));
    expect(out).toEqual([]);
    expect(ch.nextDueMs()).toBe(125);
    now = 124;
    ch.release(now, (to, p) => out.push([to, p, now]));
    expect(out).toEqual([]);
    now = 125;
    ch.release(now, (to, p) => out.push([to, p, now]));
    expect(out).toEqual([['b', 7, 125]]);
    expect(ch.counters).toMatchObject({ reorderTimeouts: 1, reordered: 0, pending: 0 });
  });

  it('validates impairments, naming the field', () => {
    expect(() => checkImpairments({ ...NO_IMPAIRMENTS, loss: 1.5 })).toThrow(/loss/);
    expect(() => checkImpairments({ ...NO_IMPAIRMENTS, delayMs: -1 })).toThrow(/delayMs/);
    expect(() => checkImpairments({ ...NO_IMPAIRMENTS, duplicate: Number.NaN })).toThrow(/duplicate/);
    expect(() => checkImpairments({ ...NO_IMPAIRMENTS, reorder: 0.1, reorderHoldMs: 0 })).toThrow(/reorderHoldMs/);
    expect(() => seededRandom(-1)).toThrow(/seed/);
  });

  it('draws uniform numbers in [0, 1) (seeded generator sanity)', () => {
    const r = seededRandom(123);
    const buckets = new Array(10).fill(0);
    for (let i = 0; i < 100_000; i++) {
      const x = r();
      expect(x >= 0 && x < 1).toBe(true);
      buckets[Math.floor(x * 10)]++;
    }
    for (const b of buckets) expect(Math.abs(b - 10_000)).toBeLessThan(500);
  });
});
