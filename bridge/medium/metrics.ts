/**
 * The medium's Prometheus metrics (`sl-bridge medium --metrics HOST:PORT`, served at /metrics by
 * bridge/metrics/http-endpoint.ts): every figure of its stats line, read from
 * {@link MediumServer.stats} once per scrape, the per-link delay histograms, and prom-client's
 * standard process and Node.js collector. Names and meanings: docs/transport.md.
 *
 * Accounting, per copy: `pairs + duplicated = drops{loss} + delivered + pending`, and each
 * delivered copy is either sent (`frames_out`) or dropped as `queue_full` or `peer_gone`.
 */
import { Registry } from 'prom-client';
import { RecordedHistogram, registerProcessMetrics, scrapedCounter, scrapedGauge } from '../metrics/recorded-histogram.js';
import { DELAY_BOUNDS_S } from './link-delays.js';
import type { MediumServer, MediumStats } from './server.js';

export const MEDIUM_METRIC_PREFIX = 'slbridge_medium_';
export const DELAY_METRIC = `${MEDIUM_METRIC_PREFIX}delay_seconds`;

export class MediumMetrics {
  readonly registry = new Registry();
  /** The stats of the scrape under way: every family reads the same instant. */
  private stats: MediumStats;

  constructor(private readonly server: MediumServer) {
    this.stats = server.stats();
    const s = (): MediumStats => this.stats;
    const name = (n: string): string => MEDIUM_METRIC_PREFIX + n;
    const counter = (n: string, help: string, read: () => number): void => scrapedCounter(this.registry, name(n), help, [], () => [[{}, read()]]);
    const gauge = (n: string, help: string, read: () => number): void => scrapedGauge(this.registry, name(n), help, [], () => [[{}, read()]]);
    const labelledCounter = (n: string, help: string, label: string, read: () => Record<string, number>): void =>
      scrapedCounter(this.registry, name(n), help, [label], () => Object.entries(read()).map(([value, count]) => [{ [label]: value }, count] as const));

    gauge('links', 'Links (daemon connections) attached; a link that went away is only noticed at the next copy sent to it', () => s().peers);
    counter('link_attaches_total', 'Links that attached (a daemon reconnecting is a new link)', () => s().hub.attaches);
    counter('link_detaches_total', 'Links found gone (a send to them was refused)', () => s().hub.detaches);
    counter('frames_in_total', 'Messages received from links, valid PDUs and malformed ones (drops{cause="malformed"})', () => s().received + s().malformed);
    counter('frames_out_total', 'Copies of PDUs handed to ZeroMQ for a receiving link and not refused', () => {
      const { channel, hub, toGonePeers } = s();
      return channel.delivered - toGonePeers - hub.hwmDrops - hub.unreachableDrops;
    });
    counter('pairs_total', '(PDU, receiving link) pairs the channel decided on: every valid PDU times the links other than its sender; drops{cause="loss"} / this is the loss rate', () => s().channel.pairs);
    labelledCounter(
      'drops_total',
      'Dropped, by cause: loss (a copy the channel model lost), malformed (a message that is not a valid PDU envelope), queue_full (the receiving link\'s send queue was full), peer_gone (the receiving link had gone)',
      'cause',
      () => {
        const { channel, hub, malformed, toGonePeers } = s();
        return { loss: channel.lost, malformed, queue_full: hub.hwmDrops, peer_gone: hub.unreachableDrops + toGonePeers };
      },
    );
    labelledCounter('malformed_total', 'Malformed messages by error code (multipart: not one frame after the routing ID); sum = drops{cause="malformed"}', 'code', () => s().malformedByCode);
    counter('duplicated_total', 'Extra copies made by --duplicate', () => s().channel.duplicated);
    counter('reordered_total', 'Held-back copies (--reorder) released right after a later PDU overtook them', () => s().channel.reordered);
    counter('reorder_hold_timeouts_total', 'Held-back copies released by --reorder-hold-ms because no later PDU came', () => s().channel.reorderTimeouts);
    gauge('pending_copies', 'Copies waiting for their delay or held back for reordering', () => s().channel.pending);
    const delays = server.delays;
    new RecordedHistogram(
      DELAY_METRIC,
      'Time from a PDU reaching the medium to a copy of it being handed to the receiving link (configured delay and jitter, reorder holds, timer lateness), per receiving link (its ZeroMQ routing ID; links after the first 64 are counted under "other")',
      DELAY_BOUNDS_S,
      () => delays.series.map(({ link, counts, count, sumS }) => ({ labels: { link }, counts, count, sum: sumS })),
    ).register(this.registry);
    registerProcessMetrics(this.registry);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text of everything. */
  async metrics(): Promise<string> {
    this.stats = this.server.stats();
    return this.registry.metrics();
  }
}
