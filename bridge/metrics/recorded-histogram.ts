/**
 * A Prometheus histogram family whose bucket counts are recorded elsewhere, on a hot path, into
 * plain arrays (the daemon's stage histograms, the medium's per-link delays): prom-client's own
 * `Histogram.observe` hashes its labels on every call (about as long as a protect call). The
 * arrays are rendered at scrape time. prom-client's Registry renders any metric object with
 * `name`, `help`, `type`, `aggregator` and `get()` (registry.js, getMetricsAsString); its
 * TypeScript types list only prom-client's own classes, hence the one cast in {@link register}.
 *
 * Also here: counters and gauges whose values are read at scrape time from counts a process keeps
 * anyway (the medium's and the PKMF's), and what every sl-bridge process exports besides its own
 * figures (the standard process and Node.js collector, and `slbridge_build_info`).
 */
import { collectDefaultMetrics, Counter, Gauge, type Metric, type Registry } from 'prom-client';
import { buildInfo } from '../build-info.js';

export interface RecordedSeries {
  labels: Record<string, string>;
  /** Per bucket (not cumulative), one more than the bounds: the last is above every bound. */
  counts: ArrayLike<number>;
  count: number;
  sum: number;
}

interface RecordedValue {
  labels: Record<string, string>;
  value: number;
  metricName: string;
}

/** `le` values in plain decimal (0.00000005, not 5e-8): one spelling per bound. */
export function leLabels(boundsSeconds: readonly number[]): string[] {
  return boundsSeconds.map((s) => s.toFixed(9).replace(/0+$/, '').replace(/\.$/, ''));
}

export class RecordedHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly le: string[];

  constructor(
    readonly name: string,
    readonly help: string,
    boundsSeconds: readonly number[],
    private readonly series: () => Iterable<RecordedSeries>,
  ) {
    this.le = leLabels(boundsSeconds);
  }

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: RecordedValue[] }> {
    const values: RecordedValue[] = [];
    for (const { labels, counts, count, sum } of this.series()) {
      let cumulative = 0;
      for (let i = 0; i < this.le.length; i++) {
        cumulative += counts[i]!;
        values.push({ labels: { ...labels, le: this.le[i]! }, value: cumulative, metricName: `${this.name}_bucket` });
      }
      values.push({ labels: { ...labels, le: '+Inf' }, value: count, metricName: `${this.name}_bucket` });
      values.push({ labels, value: sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  register(registry: Registry): void {
    registry.registerMetric(this as unknown as Metric);
  }
}

/** prom-client's process and Node.js collector (event-loop lag included) and `slbridge_build_info`. */
export function registerProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  const b = buildInfo();
  new Gauge({
    name: 'slbridge_build_info',
    help: 'Always 1; the labels say which sl-bridge runs (package version, git commit)',
    labelNames: ['version', 'commit'],
    registers: [registry],
  }).set({ version: b.version, commit: b.commit ?? 'unknown' }, 1);
}

export type Labels = Record<string, string>;

/** The series of a scrape-time metric: (labels, value) pairs, read once per scrape. */
export type ScrapedSeries = () => Iterable<readonly [Labels, number]>;

/** A counter whose values are read at each scrape (`read` returns the totals, not increments). */
export function scrapedCounter(registry: Registry, name: string, help: string, labelNames: string[], read: ScrapedSeries): void {
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, n] of read()) this.inc(labels, n);
    },
  });
}

/** A gauge whose values are read at each scrape; series not returned are gone from the scrape. */
export function scrapedGauge(registry: Registry, name: string, help: string, labelNames: string[], read: ScrapedSeries): void {
  new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, n] of read()) this.set(labels, n);
    },
  });
}
