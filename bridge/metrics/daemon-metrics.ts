/**
 * Live metrics of one daemon (issue 7): the PDCP stage profiler, a Prometheus endpoint and a
 * periodic summary line in the log.
 *
 *   const metrics = createDaemonMetrics({ ueId, listen: '127.0.0.1:9464', logger, counters });
 *   new PdcpTxEntity(keys, allocator, { profiler: metrics.profiler });
 *   await metrics.start();   // serves http://127.0.0.1:9464/metrics and /profile.json
 *
 * Four parts, composed here:
 *   stage-recorder.ts  the profiler the entities call; the histograms; `/profile.json`
 *   prom-registry.ts   the prom-client Registry: histograms, the daemon's counters, process metrics
 *   http-endpoint.ts   node:http, GET/HEAD `/metrics` (Prometheus text 0.0.4, every series
 *                      carries `ue="<ueId>"`) and `/profile.json` (cumulative log-linear
 *                      histograms per stage, for `bench e2e`)
 *   summary-log.ts     the periodic log line
 * Metric names: docs/profiling.md.
 */
import type { Logger } from 'pino';
import type { PdcpProfiler } from '../../src/pdcp/profiler.js';
import { MetricsHttpServer } from './http-endpoint.js';
import { DaemonPromRegistry, type CounterSample } from './prom-registry.js';
import { StageRecorder, type ProfileSnapshot } from './stage-recorder.js';
import { StageSummaryLog } from './summary-log.js';

export type { CounterSample } from './prom-registry.js';
export { DEFAULT_SAMPLE_EVERY, type ProfileSnapshot } from './stage-recorder.js';

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

export function createDaemonMetrics(options: DaemonMetricsOptions): DaemonMetrics {
  const { ueId, logger } = options;
  if (typeof ueId !== 'string' || ueId === '') throw new TypeError('ueId: expected a non-empty string');
  const recorder = new StageRecorder(ueId, options.sampleEvery);
  const summary = new StageSummaryLog(recorder, logger, options.summaryIntervalMs);
  // Made when first needed: prom-client's process collector starts a GC observer and an event
  // loop monitor that live as long as the process, which a daemon without `listen` (or a bench
  // timing the profiler) has no use for. With `listen` it is made now, so that the process CPU
  // counters count from here.
  let prom: DaemonPromRegistry | undefined;
  const promRegistry = (): DaemonPromRegistry => (prom ??= new DaemonPromRegistry({ ueId, recorder, counters: options.counters, logger }));
  const server =
    options.listen === undefined
      ? undefined
      : new MetricsHttpServer(
          options.listen,
          {
            '/metrics': async () => ({ contentType: promRegistry().contentType, body: await promRegistry().metrics() }),
            '/profile.json': () => ({ contentType: 'application/json', body: JSON.stringify(recorder.snapshot()) }),
          },
          logger,
        );
  if (server !== undefined) promRegistry();
  const metricsUrl = (): string | undefined => (server?.origin === undefined ? undefined : `${server.origin}/metrics`);

  return {
    profiler: recorder.profiler,
    get url() {
      return metricsUrl();
    },
    snapshot: () => recorder.snapshot(),
    metricsText: () => promRegistry().metrics(),
    async start() {
      summary.start();
      if (server === undefined || server.listening) return;
      await server.start();
      logger.info({ url: metricsUrl() }, 'metrics: serving Prometheus metrics');
    },
    async stop() {
      summary.stop();
      await server?.stop();
    },
  };
}
