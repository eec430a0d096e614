/**
 * `sl-bridge bench stalls`: how much this machine stalls a running thread, and the floor that
 * puts under the wall-clock percentiles of a short computation (stall-meter.ts).
 *
 * The meter runs in REPETITIONS windows back to back (progress between them, never during one);
 * each window is one repetition for the 95 % intervals of the lost time, the stall rates and the
 * floors. The run is unreliable for benchmarks when more than 5 % of the time is lost.
 */
import { cpus, loadavg } from 'node:os';
import { REPETITIONS } from '../../src/stats/interval.js';
import { writeJsonFile } from '../cli-error.js';
import { Progress } from './progress.js';
import { runMetadata } from './run-metadata.js';
import {
  concatTraces,
  floorWithInterval,
  formatReliability,
  formatStalls,
  judgeReliability,
  measureStalls,
  stallIntervals,
  summarizeStalls,
  type StallTrace,
} from './stall-meter.js';
import { formatWake, measureWake, type WakeIdle, type WakeRow } from './wake-meter.js';

/** The flags as bridge/commands/bench.ts parses them. */
export interface BenchStallsFlags {
  seconds: number;
  /** CPU times (µs) of the computations to give the floor for. */
  cpuUs: number[];
  /** µs to sleep before each call of the wake measurement; absent: no wake measurement. */
  afterSleep?: number;
  /** The same with the gap spent spinning on the clock (commander refuses both together). */
  afterSpin?: number;
  samples: number;
  json?: string;
}

export function benchStalls(flags: BenchStallsFlags): void {
  const run = runMetadata('bench stalls', flags);
  const { seconds, cpuUs, samples } = flags;
  const gap: { idle: WakeIdle; us: number } | undefined =
    flags.afterSleep !== undefined ? { idle: 'sleep', us: flags.afterSleep } : flags.afterSpin !== undefined ? { idle: 'spin', us: flags.afterSpin } : undefined;
  process.stderr.write(`bench stalls: spinning one core on the clock for ${seconds} s in ${REPETITIONS} windows\n`);
  const loadBefore = loadavg();
  const progress = new Progress({ label: 'bench stalls', total: REPETITIONS });
  const windows: StallTrace[] = [];
  for (let w = 0; w < REPETITIONS; w++) {
    progress.update(w, `window ${w + 1}/${REPETITIONS}`);
    windows.push(measureStalls({ durationMs: (seconds * 1000) / REPETITIONS }));
  }
  progress.update(REPETITIONS, 'floors');
  progress.finish();
  const trace = concatTraces(windows);
  const summary = summarizeStalls(trace);
  const intervals = stallIntervals(trace, REPETITIONS);
  const floors = cpuUs.map((d) => floorWithInterval(trace, d, REPETITIONS));
  const reliability = judgeReliability(summary);
  process.stdout.write(formatStalls(summary, floors, intervals));
  let wake: WakeRow[] | null = null;
  if (gap !== undefined) {
    process.stderr.write(`bench stalls: timing calls right after ${gap.us} µs of ${gap.idle === 'sleep' ? 'sleep' : 'spinning'} and back to back (${samples} each)\n`);
    const wakeProgress = new Progress({ label: 'bench stalls', total: 1 });
    wake = measureWake({ gapUs: gap.us, idle: gap.idle, samples, sduBytes: 128, spinUs: 2, progress: (done, total, what) => wakeProgress.update(done / total, what) });
    wakeProgress.finish();
    process.stdout.write(formatWake(wake, gap.us, gap.idle, samples));
  }
  process.stdout.write(`${formatReliability(reliability)}\n`);
  if (flags.json !== undefined) {
    const doc = {
      run,
      unreliable: reliability.unreliable,
      stall_lost_pct: reliability.stall_lost_pct,
      machine: { cpus: cpus().length, node: process.version, loadavg_before: loadBefore },
      stalls: { ...summary, ci: intervals },
      floors,
      wake: wake && gap && { idle: gap.idle, gap_us: gap.us, samples, rows: wake },
    };
    writeJsonFile(flags.json, doc);
    process.stderr.write(`bench stalls: wrote ${flags.json}\n`);
  }
}
