/**
 * `sl-bridge bench stalls`: how much this machine stalls a running thread, and the floor that
 * puts under the wall-clock percentiles of a short computation (stall-meter.ts).
 */
import { cpus, loadavg } from 'node:os';
import { writeJsonFile } from '../cli-error.js';
import { formatStalls, measureStalls, stallFloor, summarizeStalls } from './stall-meter.js';
import { formatWake, measureWake, type WakeRow } from './wake-meter.js';

/** The flags as bridge/commands/bench.ts parses them. */
export interface BenchStallsFlags {
  seconds: number;
  /** CPU times (µs) of the computations to give the floor for. */
  cpuUs: number[];
  /** µs to sleep before each call of the wake measurement; absent: no wake measurement. */
  afterSleep?: number;
  samples: number;
  json?: string;
}

export function benchStalls(flags: BenchStallsFlags): void {
  const { seconds, cpuUs, afterSleep: afterSleepUs, samples } = flags;
  process.stderr.write(`bench stalls: spinning one core on the clock for ${seconds} s\n`);
  const loadBefore = loadavg();
  const trace = measureStalls({ durationMs: seconds * 1000 });
  const summary = summarizeStalls(trace);
  const floors = cpuUs.map((d) => stallFloor(trace, d));
  process.stdout.write(formatStalls(summary, floors));
  let wake: WakeRow[] | null = null;
  if (afterSleepUs !== undefined) {
    process.stderr.write(`bench stalls: timing calls right after a ${afterSleepUs} µs sleep and back to back (${samples} each)\n`);
    wake = measureWake({ sleepUs: afterSleepUs, samples, sduBytes: 128, spinUs: 2 });
    process.stdout.write(formatWake(wake, afterSleepUs, samples));
  }
  if (flags.json !== undefined) {
    const doc = {
      machine: { cpus: cpus().length, node: process.version, loadavg_before: loadBefore },
      stalls: summary,
      floors,
      wake: wake && { sleep_us: afterSleepUs, samples, rows: wake },
    };
    writeJsonFile(flags.json, doc);
    process.stderr.write(`bench stalls: wrote ${flags.json}\n`);
  }
}
