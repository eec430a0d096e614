/** Loss / duplicate / reordering accounting from PduEnvelope.seq (src/wire/sequence.ts). */
import { describe, expect, it } from 'vitest';
import { RESTART_DISTANCE, SEQUENCE_WINDOW, SequenceTracker } from '../../src/wire/sequence.js';
import { seededRandom } from '../../src/medium/random.js';

function run(seqs: number[]): SequenceTracker {
  const t = new SequenceTracker();
  for (const s of seqs) t.observe(s);
  return t;
}

describe('SequenceTracker', () => {
  it('counts nothing odd on an in-order stream', () => {
    const t = run([0, 1, 2, 3, 4]);
    expect(t.counters).toEqual({ received: 5, lost: 0, duplicates: 0, reordered: 0, tooOld: 0, restarts: 0 });
  });

  it('counts gaps as lost, and moves late arrivals from lost to reordered', () => {
    const t = new SequenceTracker();
    expect([0, 1, 4].map((s) => t.observe(s))).toEqual(['first', 'next', 'gap']);
    expect(t.counters.lost).toBe(2);
    expect(t.observe(2)).toBe('reordered');
    expect(t.counters).toMatchObject({ lost: 1, reordered: 1 });
    expect(t.observe(2)).toBe('duplicate');
    expect(t.observe(4)).toBe('duplicate');
    expect(t.counters).toMatchObject({ lost: 1, reordered: 1, duplicates: 2, received: 6 });
  });

  it('works across the uint32 wrap', () => {
    const t = run([0xffff_fffe, 0xffff_ffff, 1, 0]);
    expect(t.counters).toMatchObject({ lost: 0, reordered: 1, duplicates: 0 });
  });

  it('tells too-old arrivals and sender restarts apart', () => {
    const t = new SequenceTracker();
    t.observe(10_000);
    expect(t.observe(10_000 - SEQUENCE_WINDOW - 1)).toBe('too-old');
    expect(t.observe(10_000 - RESTART_DISTANCE - 1)).toBe('restart');
    expect(t.observe(0)).toBe('restart'); // 0 is far behind 10000-4097 too
    expect(t.observe(1)).toBe('next');
    expect(t.counters).toMatchObject({ tooOld: 1, restarts: 2 });
  });

  it('recovers exact loss, duplicate and reorder counts from a shuffled stream', () => {
    const rnd = seededRandom(7);
    const sent = Array.from({ length: 20_000 }, (_, i) => i);
    const arrivals: number[] = [];
    let lost = 0;
    let dup = 0;
    for (const s of sent) {
      if (rnd() < 0.05) {
        lost++;
        continue;
      }
      arrivals.push(s);
      if (rnd() < 0.02) {
        arrivals.push(s);
        dup++;
      }
    }
    // Swap neighbours now and then: each swap of two distinct numbers, the earlier one not a
    // duplicate, makes exactly one late first arrival.
    let swaps = 0;
    for (let i = 1; i < arrivals.length - 1; i += 2) {
      if (rnd() < 0.03 && arrivals[i] !== arrivals[i + 1] && arrivals[i - 1] !== arrivals[i]) {
        [arrivals[i], arrivals[i + 1]] = [arrivals[i + 1]!, arrivals[i]!];
        swaps++;
      }
    }
    const t = run(arrivals);
    expect(t.counters.received).toBe(arrivals.length);
    expect(t.counters.duplicates).toBe(dup);
    expect(t.counters.reordered).toBe(swaps);
    // The tail may be lost unseen (nothing after it reveals the gap); here the last one arrived.
    expect(t.counters.lost).toBe(lost - (sent.length - 1 - Math.max(...arrivals)));
  });
});
