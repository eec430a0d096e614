/** The daemon's per-sender Prometheus series stay bounded and stable whatever L2 sources appear. */
import { describe, expect, it } from 'vitest';
import { MAX_SENDER_LABELS, senderSeries } from '../../bridge/daemon/metric-samples.js';

const figures = (ids: string[]): Record<string, { envelopes: number; delivered: number; lost: number }> =>
  Object.fromEntries(ids.map((id, i) => [id, { envelopes: i + 1, delivered: i, lost: 1 }]));
const hex = (n: number): string => n.toString(16).padStart(6, '0');

describe('per-sender series', () => {
  it('gives the first senders a series each and sums the rest under "other"', () => {
    const labelled = new Set<string>();
    const ids = Array.from({ length: MAX_SENDER_LABELS + 10 }, (_, i) => hex(0xa00000 + i));
    const out = senderSeries(figures(ids), labelled);
    expect(out).toHaveLength(MAX_SENDER_LABELS + 1);
    const other = out.find((s) => s.sender === 'other')!;
    const rest = ids.slice(MAX_SENDER_LABELS).map((_, i) => MAX_SENDER_LABELS + i);
    expect(other.envelopes).toBe(rest.reduce((n, i) => n + i + 1, 0));
    expect(other.lost).toBe(10);
  });

  it('keeps a labelled sender labelled when senders that sort before it appear later', () => {
    const labelled = new Set<string>();
    const first = Array.from({ length: MAX_SENDER_LABELS }, (_, i) => hex(0x800000 + i));
    senderSeries(figures(first), labelled);
    // Integer-like keys sort first in a JS object: these would push the first ones out of a "first N" cut.
    const later = Array.from({ length: 5 }, (_, i) => String(100000 + i));
    const out = senderSeries(figures([...first, ...later]), labelled);
    expect(out.filter((s) => s.sender !== 'other').map((s) => s.sender).sort()).toEqual([...first].sort());
    expect(out.find((s) => s.sender === 'other')!.envelopes).toBeGreaterThan(0);
  });
});
