/**
 * The periodic log line of the stage profiler: per direction and stage (and whole call), the
 * p50 / p99 / mean of the PDUs timed since the previous line, e.g.
 *
 *   pdcp stage latency p50/p99 µs: tx key 0.07/0.72, tx encode 0.31/6.02, ...
 *
 * with the same figures as `stages_us` in the log record. Format: docs/profiling.md.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { LogLinearHistogram, StageHistogram } from './histogram.js';
import type { StageRecorder } from './stage-recorder.js';

export const DEFAULT_SUMMARY_INTERVAL_MS = 10_000;

/** Per-stage figures of one interval. */
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

/** Copies of the cumulative histograms at one moment: per direction, each stage and `call`. */
interface Reading {
  at: number;
  tx: Record<string, LogLinearHistogram>;
  rx: Record<string, LogLinearHistogram>;
}

export class StageSummaryLog {
  private timer: NodeJS.Timeout | undefined;
  private last: Reading | undefined;

  constructor(
    private readonly recorder: StageRecorder,
    private readonly logger: Logger,
    /** A line every this many ms; 0: never. */
    readonly intervalMs: number = DEFAULT_SUMMARY_INTERVAL_MS,
  ) {
    if (!(intervalMs >= 0)) throw new RangeError(`summaryIntervalMs: expected >= 0, got ${intervalMs}`);
  }

  /** Starts the lines (once), each covering the PDUs timed since the previous one or since here. */
  start(): void {
    if (this.intervalMs === 0 || this.timer !== undefined) return;
    this.last = this.read();
    this.timer = setInterval(() => this.log(), this.intervalMs);
    this.timer.unref();
  }

  /** Stops the lines, logging a last one for the PDUs timed since the previous line. */
  stop(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.log();
  }

  private read(): Reading {
    const copy = (stages: Readonly<Record<string, StageHistogram>>, call: StageHistogram): Record<string, LogLinearHistogram> => {
      const out: Record<string, LogLinearHistogram> = { call: call.fine.copy() };
      for (const [stage, h] of Object.entries(stages)) out[stage] = h.fine.copy();
      return out;
    };
    const { stages, calls } = this.recorder;
    return { at: performance.now(), tx: copy(stages.tx, calls.tx), rx: copy(stages.rx, calls.rx) };
  }

  private log(): void {
    const now = this.read();
    const last = this.last ?? now;
    this.last = now;
    const stagesUs: Record<'tx' | 'rx', Record<string, StageFigures>> = { tx: {}, rx: {} };
    const text: string[] = [];
    for (const dir of ['tx', 'rx'] as const) {
      for (const [stage, h] of Object.entries(now[dir])) {
        const interval = h.since(last[dir][stage]!);
        if (interval.count === 0) continue;
        const f = figures(interval);
        stagesUs[dir][stage] = f;
        text.push(`${dir} ${stage} ${f.p50_us}/${f.p99_us}`);
      }
    }
    const intervalS = Math.round(now.at - last.at) / 1000;
    if (text.length === 0) {
      this.logger.debug({ interval_s: intervalS }, 'pdcp stage latency: no PDUs timed');
      return;
    }
    this.logger.info(
      { interval_s: intervalS, sample_every: this.recorder.sampleEvery, stages_us: stagesUs },
      `pdcp stage latency p50/p99 µs: ${text.join(', ')}`,
    );
  }
}
