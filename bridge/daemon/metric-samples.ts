/**
 * What one daemon exports to Prometheus beyond the stage histograms: its packet counters, every
 * drop by reason, the health gauges (link up, keys ready, seconds to PGK expiry) and per-sender
 * series. Read at every scrape (bridge/metrics/prom-registry.ts turns the samples into metrics).
 */
import type { CoreFigures } from '../../src/daemon/core.js';
import type { DaemonCounters } from '../../src/daemon/counters.js';
import type { CounterSample } from '../metrics/prom-registry.js';

/** Per-sender series in Prometheus: bounded, however many L2 sources (forged ones included) appear. */
export const MAX_SENDER_LABELS = 64;

export interface SampleInputs {
  counters: DaemonCounters;
  /** Every drop by reason, zeros included (counters.ts flattenDrops). */
  drops: Record<string, number>;
  figures: CoreFigures;
  linkUp: boolean;
  /** Wall clock, ms since the epoch (for the PGK expiry). */
  nowMs: number;
  /** Senders with their own series so far; grows up to MAX_SENDER_LABELS and never shrinks. */
  labelledSenders: Set<string>;
}

export function daemonMetricSamples(i: SampleInputs): CounterSample[] {
  const c = i.counters;
  const out: CounterSample[] = [
    { name: 'slbridge_sdus_in_total', help: 'SDUs received from applications', value: c.sdusIn },
    { name: 'slbridge_pdus_out_total', help: 'PDUs accepted by the stack transport', value: c.pdusOut },
    { name: 'slbridge_envelopes_in_total', help: 'envelopes received from the stack side', value: c.envelopesIn },
    { name: 'slbridge_delivered_total', help: 'SDUs delivered to the application socket', value: c.delivered },
  ];
  for (const [reason, value] of Object.entries(i.drops)) {
    out.push({ name: 'slbridge_dropped_total', help: 'packets dropped, by reason', labels: { reason }, value });
  }
  out.push(
    { name: 'slbridge_stack_link_up', help: 'The stack-side link is up (1) or down (0)', value: i.linkUp ? 1 : 0 },
    { name: 'slbridge_keys_ready', help: 'Every carried group has keys (1) or not (0)', value: i.figures.keysReady ? 1 : 0 },
  );
  for (const g of i.figures.groups) {
    if (g.pgkExpiresAtMs === null) continue;
    out.push({ name: 'slbridge_pgk_expiry_seconds', help: "Seconds until the group's newest PGK expires (keys must be refreshed before)", labels: { group: g.groupId }, value: (g.pgkExpiresAtMs - i.nowMs) / 1000 });
  }
  for (const s of senderSeries(i.figures.rxBySender, i.labelledSenders)) {
    const labels = { sender: s.sender };
    out.push(
      { name: 'slbridge_sender_envelopes_total', help: `Envelopes per L2 source (the first ${MAX_SENDER_LABELS} senders seen, the rest under sender="other")`, labels, value: s.envelopes },
      { name: 'slbridge_sender_delivered_total', help: 'SDUs delivered to the application per L2 source', labels, value: s.delivered },
      { name: 'slbridge_sender_lost_total', help: "Envelopes missing in a sender's sequence numbers (lost before this daemon)", labels, value: s.lost },
    );
  }
  return out;
}

export function senderSeries(
  bySender: Record<string, { envelopes: number; delivered: number; lost: number }>,
  labelled: Set<string>,
): { sender: string; envelopes: number; delivered: number; lost: number }[] {
  const out: { sender: string; envelopes: number; delivered: number; lost: number }[] = [];
  const other = { sender: 'other', envelopes: 0, delivered: 0, lost: 0 };
  // A sender that got a series keeps it for the daemon's life (a counter must not move to "other").
  for (const [sender, f] of Object.entries(bySender)) {
    if (!labelled.has(sender) && labelled.size < MAX_SENDER_LABELS) labelled.add(sender);
    if (labelled.has(sender)) out.push({ sender, envelopes: f.envelopes, delivered: f.delivered, lost: f.lost });
    else {
      other.envelopes += f.envelopes;
      other.delivered += f.delivered;
      other.lost += f.lost;
    }
  }
  if (other.envelopes > 0) out.push(other);
  return out;
}
