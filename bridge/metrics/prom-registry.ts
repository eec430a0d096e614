/**
 * The daemon's Prometheus metrics as one prom-client {@link Registry}: the stage recorder's
 * histograms, the daemon's counters and gauges, and prom-client's standard process and Node.js
 * collector. Every series carries `ue="<ueId>"`. Metric names: docs/profiling.md.
 *
 * The histograms are recorded on the packet path by stage-recorder.ts, not by prom-client:
 * prom-client's `Histogram.observe` hashes its labels on every call (about as long as a protect
 * call). They join the Registry as {@link RecordedHistogram}s that render the recorded arrays at
 * scrape time.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { Logger } from 'pino';
import { PROM_BOUNDS_NS, type StageHistogram } from './histogram.js';
import { RecordedHistogram, registerProcessMetrics, type RecordedSeries } from './recorded-histogram.js';
import { RX_STAGES, TX_STAGES, type StageRecorder } from './stage-recorder.js';

export const STAGE_METRIC = 'slbridge_stage_seconds';
export const CALL_METRIC = 'slbridge_pdcp_call_seconds';

export interface CounterSample {
  /** Metric name; `slbridge_` is put in front when missing. A name ending in `_total` is a counter, else a gauge. */
  name: string;
  help: string;
  labels?: Record<string, string>;
  value: number;
}

export interface PromRegistryOptions {
  /** The `ue` label of every series. */
  ueId: string;
  recorder: StageRecorder;
  /** Read once per scrape: the daemon's counters (sent, received, drops by reason, ...). */
  counters: () => CounterSample[];
  /** Told (once per problem) about counters it has to leave out. */
  logger: Logger;
}

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export class DaemonPromRegistry {
  readonly registry = new Registry();
  /** The counter samples of the scrape under way, by metric name. */
  private scrape = new Map<string, CounterSample[]>();
  /** Names of the families made from counter samples. */
  private readonly families = new Set<string>();
  private readonly warned = new Set<string>();

  constructor(private readonly options: PromRegistryOptions) {
    const { recorder } = options;
    this.registry.setDefaultLabels({ ue: options.ueId });
    const bounds = PROM_BOUNDS_NS.map((ns) => ns / 1e9);
    const series = (list: { labels: Record<string, string>; h: StageHistogram }[]) => (): RecordedSeries[] =>
      list.map(({ labels, h }) => ({ labels, counts: h.promCounts, count: h.count, sum: h.sumNs / 1e9 }));
    new RecordedHistogram(
      STAGE_METRIC,
      'Time of one PDCP security stage of one timed PDU (direction tx|rx; stage key, encode, integrity, cipher, decode, handoff; one PDU in slbridge_profile_sample_every)',
      bounds,
      series([
        ...TX_STAGES.map((stage) => ({ labels: { direction: 'tx', stage }, h: recorder.stages.tx[stage] })),
        ...RX_STAGES.map((stage) => ({ labels: { direction: 'rx', stage }, h: recorder.stages.rx[stage] })),
      ]),
    ).register(this.registry);
    new RecordedHistogram(
      CALL_METRIC,
      'Time of one whole timed protect (tx) or accepted unprotect (rx) call, from its first clock reading to its last (the sum of its stages but handoff, which is outside the call)',
      bounds,
      series([
        { labels: { direction: 'tx' }, h: recorder.calls.tx },
        { labels: { direction: 'rx' }, h: recorder.calls.rx },
      ]),
    ).register(this.registry);
    new Gauge({
      name: 'slbridge_profile_sample_every',
      help: 'One PDU in this many is timed by the stage profiler',
      registers: [this.registry],
    }).set(recorder.sampleEvery);
    registerProcessMetrics(this.registry);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * The Prometheus text of everything. Reads `counters()` once; a metric name seen for the first
   * time becomes a prom-client Counter or Gauge (its label names fixed by that first sight) whose
   * `collect()` takes its values from that reading. prom-client runs every `collect()` before
   * its first await, so all families show the same instant.
   */
  async metrics(): Promise<string> {
    this.scrape = this.readCounters();
    for (const [name, samples] of this.scrape) {
      if (this.families.has(name)) continue;
      if (this.registry.getSingleMetric(name) !== undefined) {
        this.warnOnce(`taken:${name}`, { name }, 'metrics: counter named like one of the built-in metrics skipped');
        continue;
      }
      this.addFamily(name, samples);
      this.families.add(name);
    }
    return this.registry.metrics();
  }

  private readCounters(): Map<string, CounterSample[]> {
    let samples: CounterSample[];
    try {
      samples = this.options.counters();
    } catch (err) {
      this.warnOnce('counters-threw', { err }, 'metrics: counters() threw; serving the histograms only');
      samples = [];
    }
    const byName = new Map<string, CounterSample[]>();
    for (const s of samples) {
      const name = s.name.startsWith('slbridge_') ? s.name : `slbridge_${s.name}`;
      const labelNames = Object.keys(s.labels ?? {});
      if (!NAME_RE.test(name) || labelNames.some((l) => !LABEL_RE.test(l) || l.startsWith('__') || l === 'ue')) {
        this.warnOnce(`bad:${name}`, { name, labels: labelNames }, 'metrics: counter with an invalid metric or label name skipped');
        continue;
      }
      const list = byName.get(name);
      if (list) list.push(s);
      else byName.set(name, [s]);
    }
    return byName;
  }

  private addFamily(name: string, firstSamples: CounterSample[]): void {
    const labelNames = [...new Set(firstSamples.flatMap((s) => Object.keys(s.labels ?? {})))].sort();
    const isCounter = name.endsWith('_total');
    const usable = (s: CounterSample): boolean => {
      const unknown = Object.keys(s.labels ?? {}).filter((l) => !labelNames.includes(l));
      if (unknown.length > 0) {
        this.warnOnce(`labels:${name}:${unknown.join(',')}`, { name, labels: unknown }, 'metrics: sample with label names its metric did not start with skipped');
        return false;
      }
      if (typeof s.value !== 'number' || (isCounter && !(s.value >= 0 && s.value < Infinity))) {
        this.warnOnce(`value:${name}`, { name, value: s.value }, 'metrics: sample with a value its metric type cannot take skipped');
        return false;
      }
      return true;
    };
    const refill = (metric: Counter<string> | Gauge<string>, put: (s: CounterSample) => void): void => {
      metric.reset();
      const samples = (this.scrape.get(name) ?? []).filter(usable);
      // reset() leaves a metric without labels at 0: a value counters() did not give is absent, not 0.
      if (samples.length === 0 && labelNames.length === 0) metric.remove();
      for (const s of samples) put(s);
    };
    const config = { name, help: firstSamples[0]!.help || name, labelNames, registers: [this.registry] };
    if (isCounter) {
      new Counter({
        ...config,
        collect() {
          refill(this, (s) => this.inc(s.labels ?? {}, s.value));
        },
      });
    } else {
      new Gauge({
        ...config,
        collect() {
          refill(this, (s) => this.set(s.labels ?? {}, s.value));
        },
      });
    }
  }

  private warnOnce(key: string, obj: object, msg: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.options.logger.warn(obj, msg);
  }
}
