/**
 * Live metrics of one daemon (issue 7): the PDCP stage profiler, a Prometheus endpoint and a
 * periodic summary line in the log.
 *
 *   const metrics = createDaemonMetrics({ ueId, listen: '127.0.0.1:9464', logger, counters });
 *   new PdcpTxEntity(keys, allocator, { profiler: metrics.profiler });
 *   await metrics.start();   // serves http://127.0.0.1:9464/metrics and /profile.json
 *
 * Hot path: the entities call `profiler.tx/rx(stage, ns)` for one PDU in `sampleEvery`; each
 * call records into typed arrays (histogram.ts), nothing else. prom-client's own
 * `Histogram.observe` hashes its labels on every call (about as long as a protect call), so the
 * histograms here are exposed through a prom-client `Histogram` subclass that renders the
 * recorded arrays at scrape time; counters and gauges are ordinary prom-client metrics.
 *
 * Endpoints (node:http, GET only):
 *   /metrics       Prometheus text format 0.0.4 (every series carries `ue="<ueId>"`)
 *   /profile.json  cumulative log-linear histograms per stage (percentiles within ~3%, sparse
 *                  bucket counts that can be subtracted between two scrapes), for `bench e2e`
 * Metric names: docs/profiling.md.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Registry, type Metric } from 'prom-client';
import type { Logger } from 'pino';
import type { HandoffStage, PdcpProfiler, ProfileDirection, RxStage, TxStage } from '../../src/pdcp/profiler.js';
import { LogLinearHistogram, PROM_BOUNDS_NS, StageHistogram, type SerializedHistogram } from './histogram.js';

export interface CounterSample {
  /** Metric name; `slbridge_` is put in front when missing. A name ending in `_total` is a counter, else a gauge. */
  name: string;
  help: string;
  labels?: Record<string, string>;
  value: number;
}

export interface DaemonMetricsOptions {
  /** This daemon's UE, the `ue` label of every series. */
  ueId: string;
  /** `HOST:PORT` (`[::1]:PORT` for IPv6; port 0 picks a free one) for the HTTP endpoint; none: no endpoint. */
  listen?: string;
  /** Summary line in the log every this many ms (default 10000; 0: never). */
  summaryIntervalMs?: number;
  logger: Logger;
  /** Read at every scrape: the daemon's counters (sent, received, drops by reason, ...). */
  counters: () => CounterSample[];
  /**
   * Time one PDU in every `sampleEvery` per entity (default {@link DEFAULT_SAMPLE_EVERY}). 1 times
   * every PDU; docs/profiling.md gives the measured cost of each choice.
   */
  sampleEvery?: number;
}

export interface DaemonMetrics {
  profiler: PdcpProfiler;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** `http://HOST:PORT/metrics` once started with `listen`. */
  readonly url?: string;
  /** What `/profile.json` serves (also without `listen`). */
  snapshot(): ProfileSnapshot;
  /** What `/metrics` serves (also without `listen`). */
  metricsText(): Promise<string>;
}

/**
 * Default sampling: one PDU in 8. Timing every PDU costs ~5 clock readings (about 70 ns each on
 * a KVM guest) per protect call; see docs/profiling.md for the measured overhead.
 */
export const DEFAULT_SAMPLE_EVERY = 8;
export const DEFAULT_SUMMARY_INTERVAL_MS = 10_000;

export const STAGE_METRIC = 'slbridge_stage_seconds';
export const CALL_METRIC = 'slbridge_pdcp_call_seconds';

export const TX_STAGES = ['key', 'encode', 'integrity', 'cipher', 'handoff'] as const satisfies readonly (TxStage | HandoffStage)[];
export const RX_STAGES = ['decode', 'key', 'cipher', 'integrity', 'handoff'] as const satisfies readonly (RxStage | HandoffStage)[];

/** The recorded state of one direction: a histogram per stage and one for whole calls. */
interface DirectionState {
  readonly stages: Record<string, StageHistogram>;
  readonly call: StageHistogram;
}

function directionState(stages: readonly string[]): DirectionState {
  const s: Record<string, StageHistogram> = {};
  for (const name of stages) s[name] = new StageHistogram();
  return { stages: s, call: new StageHistogram() };
}

/** Parses `HOST:PORT` / `[V6]:PORT`; throws a RangeError naming what was expected. */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new RangeError(`listen: expected HOST:PORT (e.g. 127.0.0.1:9464, [::1]:9464, 0.0.0.0:0), got ${JSON.stringify(listen)}`);
  }
  return { host: m[1] ?? m[2]!, port };
}

/** `le` values in plain decimal seconds (0.00000005, not 5e-8): one spelling per bound. */
const LE_LABELS = PROM_BOUNDS_NS.map((ns) => (ns / 1e9).toFixed(9).replace(/0+$/, '').replace(/\.$/, ''));

/**
 * A histogram family whose values come from {@link StageHistogram}s recorded elsewhere (see the
 * file comment). prom-client's Registry renders any metric object with `name`, `help`, `type`,
 * `aggregator` and `get()` (registry.js, getMetricsAsString); its TypeScript types list only
 * prom-client's own classes, hence the single cast in {@link registerRecorded}.
 */
class RecordedHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly series: () => Array<{ labels: Record<string, string>; h: StageHistogram }>,
  ) {}

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: RecordedValue[] }> {
    const values: RecordedValue[] = [];
    for (const { labels, h } of this.series()) {
      let cumulative = 0;
      for (let i = 0; i < LE_LABELS.length; i++) {
        cumulative += h.promCounts[i]!;
        values.push({ labels: { ...labels, le: LE_LABELS[i]! }, value: cumulative, metricName: `${this.name}_bucket` });
      }
      values.push({ labels: { ...labels, le: '+Inf' }, value: h.count, metricName: `${this.name}_bucket` });
      values.push({ labels, value: h.sumNs / 1e9, metricName: `${this.name}_sum` });
      values.push({ labels, value: h.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

interface RecordedValue {
  labels: Record<string, string>;
  value: number;
  metricName: string;
}

function registerRecorded(registry: Registry, metric: RecordedHistogram): void {
  registry.registerMetric(metric as unknown as Metric);
}

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Per-stage summary of an interval, for the log line and `/profile.json`. */
export interface StageFigures {
  n: number;
  mean_us: number;
  p50_us: number;
  p99_us: number;
}

function figures(h: LogLinearHistogram): StageFigures {
  const us = (ns: number): number => Math.round(ns / 10) / 100;
  return { n: h.count, mean_us: us(h.sumNs / h.count), p50_us: us(h.percentile(50)), p99_us: us(h.percentile(99)) };
}

/** What `/profile.json` serves. */
export interface ProfileSnapshot {
  ue: string;
  sample_every: number;
  /** Milliseconds since the metrics were created (monotonic). */
  uptime_ms: number;
  tx: Record<string, SerializedHistogram>;
  rx: Record<string, SerializedHistogram>;
  /** Whole protect / unprotect calls of the timed PDUs. */
  call: { tx: SerializedHistogram; rx: SerializedHistogram };
}

export function createDaemonMetrics(options: DaemonMetricsOptions): DaemonMetrics {
  return new DaemonMetricsImpl(options);
}

class DaemonMetricsImpl implements DaemonMetrics {
  readonly profiler: PdcpProfiler;
  private readonly tx = directionState(TX_STAGES);
  private readonly rx = directionState(RX_STAGES);
  private readonly registry = new Registry();
  private readonly counterMetrics = new Map<string, { metric: Counter<string> | Gauge<string>; labelKey: string }>();
  private counterSnapshot = new Map<string, CounterSample[]>();
  private readonly warned = new Set<string>();
  private readonly listen: { host: string; port: number } | undefined;
  private readonly summaryIntervalMs: number;
  private readonly sampleEvery: number;
  private readonly createdAt = performance.now();
  private server: Server | undefined;
  private summaryTimer: NodeJS.Timeout | undefined;
  private lastSummary: { at: number; tx: Record<string, LogLinearHistogram>; rx: Record<string, LogLinearHistogram> } | undefined;
  private boundUrl: string | undefined;

  constructor(private readonly options: DaemonMetricsOptions) {
    if (typeof options.ueId !== 'string' || options.ueId === '') throw new TypeError('ueId: expected a non-empty string');
    this.listen = options.listen === undefined ? undefined : parseListen(options.listen);
    this.summaryIntervalMs = options.summaryIntervalMs ?? DEFAULT_SUMMARY_INTERVAL_MS;
    if (!(this.summaryIntervalMs >= 0)) throw new RangeError(`summaryIntervalMs: expected >= 0, got ${this.summaryIntervalMs}`);
    this.sampleEvery = options.sampleEvery ?? DEFAULT_SAMPLE_EVERY;
    if (!Number.isInteger(this.sampleEvery) || this.sampleEvery < 1) {
      throw new RangeError(`sampleEvery: expected an integer >= 1, got ${this.sampleEvery}`);
    }
    this.profiler = this.makeProfiler();
    this.registry.setDefaultLabels({ ue: options.ueId });
    this.registerFixedMetrics();
  }

  get url(): string | undefined {
    return this.boundUrl;
  }

  private makeProfiler(): PdcpProfiler {
    const txStages = this.tx.stages;
    const rxStages = this.rx.stages;
    const txCall = this.tx.call;
    const rxCall = this.rx.call;
    return {
      sampleEvery: this.sampleEvery,
      nowNs: () => performance.now() * 1e6,
      tx(stage, ns) {
        const h = txStages[stage];
        if (h !== undefined) h.record(ns);
      },
      rx(stage, ns) {
        const h = rxStages[stage];
        if (h !== undefined) h.record(ns);
      },
      call(direction: ProfileDirection, ns: number) {
        (direction === 'tx' ? txCall : rxCall).record(ns);
      },
    };
  }

  private registerFixedMetrics(): void {
    const stageSeries = (): Array<{ labels: Record<string, string>; h: StageHistogram }> => [
      ...TX_STAGES.map((stage) => ({ labels: { direction: 'tx', stage }, h: this.tx.stages[stage]! })),
      ...RX_STAGES.map((stage) => ({ labels: { direction: 'rx', stage }, h: this.rx.stages[stage]! })),
    ];
    registerRecorded(
      this.registry,
      new RecordedHistogram(
        STAGE_METRIC,
        'Time of one PDCP security stage of one timed PDU (direction tx|rx; stage key, encode, integrity, cipher, decode, handoff; one PDU in slbridge_profile_sample_every)',
        stageSeries,
      ),
    );
    registerRecorded(
      this.registry,
      new RecordedHistogram(
        CALL_METRIC,
        'Time of one whole timed protect (tx) or accepted unprotect (rx) call, from its first clock reading to its last (the sum of its stages)',
        () => [
          { labels: { direction: 'tx' }, h: this.tx.call },
          { labels: { direction: 'rx' }, h: this.rx.call },
        ],
      ),
    );
    const sampleEvery = this.sampleEvery;
    this.registry.registerMetric(
      new Gauge({
        name: 'slbridge_profile_sample_every',
        help: 'One PDU in this many is timed by the stage profiler',
        registers: [],
        collect() {
          this.set(sampleEvery);
        },
      }),
    );
    this.registry.registerMetric(
      new Counter({
        name: 'process_cpu_seconds_total',
        help: 'CPU time of the daemon process (user + system), seconds',
        labelNames: ['mode'],
        registers: [],
        collect() {
          const u = process.cpuUsage();
          this.reset();
          this.inc({ mode: 'user' }, u.user / 1e6);
          this.inc({ mode: 'system' }, u.system / 1e6);
        },
      }),
    );
    this.registry.registerMetric(
      new Gauge({
        name: 'process_resident_memory_bytes',
        help: 'Resident memory of the daemon process, bytes',
        registers: [],
        collect() {
          this.set(process.memoryUsage.rss());
        },
      }),
    );
  }

  /** Reads `counters()` once per scrape and keeps one prom-client Counter/Gauge per name. */
  private syncCounters(): void {
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
    this.counterSnapshot = byName;
    for (const [name, list] of byName) {
      const labelNames = [...new Set(list.flatMap((s) => Object.keys(s.labels ?? {})))].sort();
      const labelKey = labelNames.join(',');
      const existing = this.counterMetrics.get(name);
      if (existing !== undefined && existing.labelKey === labelKey) continue;
      if (existing !== undefined) this.registry.removeSingleMetric(name);
      const snapshot = (): CounterSample[] => this.counterSnapshot.get(name) ?? [];
      const config = { name, help: list[0]!.help || name, labelNames, registers: [] };
      const metric = name.endsWith('_total')
        ? new Counter({
            ...config,
            collect() {
              this.reset();
              for (const s of snapshot()) if (s.value >= 0) this.inc(s.labels ?? {}, s.value);
            },
          })
        : new Gauge({
            ...config,
            collect() {
              this.reset();
              for (const s of snapshot()) this.set(s.labels ?? {}, s.value);
            },
          });
      this.registry.registerMetric(metric);
      this.counterMetrics.set(name, { metric, labelKey });
    }
    for (const name of [...this.counterMetrics.keys()]) {
      if (!byName.has(name)) {
        this.registry.removeSingleMetric(name);
        this.counterMetrics.delete(name);
      }
    }
  }

  private warnOnce(key: string, obj: object, msg: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.options.logger.warn(obj, msg);
  }

  /** Prometheus text of everything (also what `/metrics` serves). */
  async metricsText(): Promise<string> {
    this.syncCounters();
    return this.registry.metrics();
  }

  snapshot(): ProfileSnapshot {
    const ser = (stages: Record<string, StageHistogram>): Record<string, SerializedHistogram> =>
      Object.fromEntries(Object.entries(stages).map(([k, h]) => [k, h.fine.toJSON()]));
    return {
      ue: this.options.ueId,
      sample_every: this.sampleEvery,
      uptime_ms: Math.round(performance.now() - this.createdAt),
      tx: ser(this.tx.stages),
      rx: ser(this.rx.stages),
      call: { tx: this.tx.call.fine.toJSON(), rx: this.rx.call.fine.toJSON() },
    };
  }

  async start(): Promise<void> {
    if (this.summaryIntervalMs > 0 && this.summaryTimer === undefined) {
      this.lastSummary = this.copyFine();
      this.summaryTimer = setInterval(() => this.logSummary(), this.summaryIntervalMs);
      this.summaryTimer.unref();
    }
    if (this.listen === undefined || this.server !== undefined) return;
    const server = createServer((req, res) => void this.handle(req, res));
    const { host, port } = this.listen;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(Object.assign(new Error(`metrics: cannot listen on ${this.options.listen}: ${err.code ?? err.message}`), { code: err.code }));
      };
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', (err) => this.options.logger.error({ err }, 'metrics: HTTP server error'));
    this.server = server;
    const addr = server.address();
    const boundPort = typeof addr === 'object' && addr !== null ? addr.port : port;
    const shownHost = host.includes(':') ? `[${host}]` : host;
    this.boundUrl = `http://${shownHost}:${boundPort}/metrics`;
    this.options.logger.info({ url: this.boundUrl }, 'metrics: serving Prometheus metrics');
  }

  async stop(): Promise<void> {
    if (this.summaryTimer !== undefined) {
      clearInterval(this.summaryTimer);
      this.summaryTimer = undefined;
      this.logSummary();
    }
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    try {
      if (path === '/metrics') {
        const body = await this.metricsText();
        res.writeHead(200, { 'content-type': this.registry.contentType }).end(req.method === 'HEAD' ? undefined : body);
      } else if (path === '/profile.json') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(req.method === 'HEAD' ? undefined : JSON.stringify(this.snapshot()));
      } else {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: try /metrics or /profile.json\n');
      }
    } catch (err) {
      this.options.logger.error({ err }, 'metrics: scrape failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('internal error\n');
    }
  }

  private copyFine(): { at: number; tx: Record<string, LogLinearHistogram>; rx: Record<string, LogLinearHistogram> } {
    const copy = (d: DirectionState): Record<string, LogLinearHistogram> => {
      const out: Record<string, LogLinearHistogram> = { call: d.call.fine.copy() };
      for (const [k, h] of Object.entries(d.stages)) out[k] = h.fine.copy();
      return out;
    };
    return { at: performance.now(), tx: copy(this.tx), rx: copy(this.rx) };
  }

  /** One log line: per direction and stage, p50/p99/mean over the PDUs timed since the last one. */
  private logSummary(): void {
    const now = this.copyFine();
    const last = this.lastSummary ?? now;
    this.lastSummary = now;
    const out: Record<string, Record<string, StageFigures>> = { tx: {}, rx: {} };
    const text: string[] = [];
    for (const dir of ['tx', 'rx'] as const) {
      for (const [stage, h] of Object.entries(now[dir])) {
        const d = h.since(last[dir][stage]!);
        if (d.count === 0) continue;
        const f = figures(d);
        out[dir]![stage] = f;
        text.push(`${dir} ${stage} ${f.p50_us}/${f.p99_us}`);
      }
    }
    const intervalS = Math.round(now.at - last.at) / 1000;
    if (text.length === 0) {
      this.options.logger.debug({ interval_s: intervalS }, 'pdcp stage latency: no PDUs timed');
      return;
    }
    this.options.logger.info(
      { interval_s: intervalS, sample_every: this.sampleEvery, stages_us: out },
      `pdcp stage latency p50/p99 µs: ${text.join(', ')}`,
    );
  }
}
