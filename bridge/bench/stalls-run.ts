/**
 * `sl-bridge bench stalls`: how much this machine stalls a running thread, and the floor that
 * puts under the wall-clock percentiles of a short computation (stall-meter.ts).
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { CliError } from '../cli-error.js';
import { formatStalls, measureStalls, stallFloor, summarizeStalls } from './stall-meter.js';

export interface BenchStallsFlags {
  seconds?: string;
  cpuUs?: string;
  json?: string;
}

export function parseStallsFlags(flags: BenchStallsFlags): { seconds: number; cpuUs: number[] } {
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
  return { seconds, cpuUs: [...new Set(cpuUs)] };
}

export function benchStalls(flags: BenchStallsFlags): void {
  const { seconds, cpuUs } = parseStallsFlags(flags);
  process.stderr.write(`bench stalls: spinning one core on the clock for ${seconds} s\n`);
  const loadBefore = loadavg();
  const trace = measureStalls({ durationMs: seconds * 1000 });
  const summary = summarizeStalls(trace);
  const floors = cpuUs.map((d) => stallFloor(trace, d));
  process.stdout.write(formatStalls(summary, floors));
  if (flags.json !== undefined) {
    const doc = { machine: { cpus: cpus().length, node: process.version, loadavg_before: loadBefore }, stalls: summary, floors };
    try {
      writeFileSync(flags.json, `${JSON.stringify(doc, null, 2)}\n`);
    } catch (err) {
      throw new CliError(`cannot write ${flags.json}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 1);
    }
    process.stderr.write(`bench stalls: wrote ${flags.json}\n`);
  }
}
