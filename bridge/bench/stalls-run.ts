/**
 * `sl-bridge bench stalls`: how much this machine stalls a running thread, and the floor that
 * puts under the wall-clock percentiles of a short computation (stall-meter.ts).
 */
import { cpus, loadavg } from 'node:os';
import { CliError, writeJsonFile } from '../cli-error.js';
import { formatStalls, measureStalls, stallFloor, summarizeStalls } from './stall-meter.js';
import { formatWake, measureWake, type WakeRow } from './wake-meter.js';

export interface BenchStallsFlags {
  seconds?: string;
  cpuUs?: string;
  afterSleep?: string;
  samples?: string;
  json?: string;
}

export interface StallsSettings {
  seconds: number;
  cpuUs: number[];
  /** µs to sleep before each call of the wake measurement; null: no wake measurement. */
  afterSleepUs: number | null;
  samples: number;
}

export function parseStallsFlags(flags: BenchStallsFlags): StallsSettings {
  const secondsRaw = flags.seconds ?? '3';
  const seconds = Number(secondsRaw);
  if (!/^\d+(\.\d+)?$/.test(secondsRaw.trim()) || !(seconds >= 0.1) || seconds > 600) {
    throw new CliError(`--seconds: expected 0.1 to 600, got ${JSON.stringify(secondsRaw)}`, 2);
  }
  const cpuUs = (flags.cpuUs ?? '2,5,10,20').split(',').map((p) => {
    const t = p.trim();
    const n = Number(t);
    if (!/^\d+(\.\d+)?$/.test(t) || !(n > 0) || n > 10_000) throw new CliError(`--cpu-us: ${JSON.stringify(p)} is not a time from 0 to 10000 µs`, 2);
    return n;
  });
  let afterSleepUs: number | null = null;
  if (flags.afterSleep !== undefined) {
    const t = flags.afterSleep.trim();
    afterSleepUs = Number(t);
    if (!/^\d+(\.\d+)?$/.test(t) || !(afterSleepUs > 0) || afterSleepUs > 100_000) {
      throw new CliError(`--after-sleep: expected a sleep from 0 to 100000 µs, got ${JSON.stringify(flags.afterSleep)}`, 2);
    }
  }
  const samplesRaw = flags.samples ?? '5000';
  const samples = Number(samplesRaw);
  if (!/^\d+$/.test(samplesRaw.trim()) || samples < 100 || samples > 1_000_000) {
    throw new CliError(`--samples: expected an integer from 100 to 1000000, got ${JSON.stringify(samplesRaw)}`, 2);
  }
  return { seconds, cpuUs: [...new Set(cpuUs)], afterSleepUs, samples };
}

export function benchStalls(flags: BenchStallsFlags): void {
  const { seconds, cpuUs, afterSleepUs, samples } = parseStallsFlags(flags);
  process.stderr.write(`bench stalls: spinning one core on the clock for ${seconds} s\n`);
  const loadBefore = loadavg();
  const trace = measureStalls({ durationMs: seconds * 1000 });
  const summary = summarizeStalls(trace);
  const floors = cpuUs.map((d) => stallFloor(trace, d));
  process.stdout.write(formatStalls(summary, floors));
  let wake: WakeRow[] | null = null;
  if (afterSleepUs !== null) {
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
