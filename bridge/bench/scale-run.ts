/**
 * `sl-bridge bench scale`: the demo (PKI, home and visited PKMF, the medium emulator, N daemons
 * and N ranging applications) run once per point of a sweep over the number of UEs and the
 * ranging request rate, and how round trips, throughput and CPU per process change with them.
 *
 * Each point is one `sl-bridge demo --slices K --json F` child process, so its figures are the
 * demo's own, every point starts from fresh processes, and this process only waits while it runs.
 * The demo cuts its measured interval into K slices (bridge/demo/slices.ts); each slice is one
 * repetition for the medians and 95 % intervals (scale-results.ts). Before each point the stall
 * meter runs for 1 s on the otherwise quiet machine (the previous point's processes are gone):
 * more than 5 % of the time lost marks the point, and over all points the run, unreliable.
 */
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CliError, cannotWrite, writeJsonFile } from '../cli-error.js';
import { Child, describeExit } from '../demo/children.js';
import type { DemoResult } from '../demo/report.js';
import { DEMO_NEA, DEMO_NIA } from '../demo/setup.js';
import { Progress } from './progress.js';
import { runMetadata } from './run-metadata.js';
import { failedPoint, formatScaleTables, scalePoint, type PointContext, type ScalePoint, type ScaleReport, type ScaleSecurity } from './scale-results.js';
import { concatTraces, formatReliability, judgeReliability, measureStalls, summarizeStalls, type StallTrace } from './stall-meter.js';

/** The flags as bridge/commands/bench.ts parses them. */
export interface BenchScaleFlags {
  ues: number[];
  /** Ranging requests per second per UE. */
  rates: number[];
  /** Measured traffic per point. */
  seconds: number;
  /** Traffic before the measured interval of each point. */
  warmup: number;
  /** Slices the measured interval of each point is cut into (the repetitions). */
  slices: number;
  security: ScaleSecurity | 'both';
  json?: string;
  report?: string;
  keep?: boolean;
  stallMeter?: boolean;
}

const STALL_METER_MS = 1000;
/**
 * A demo that has not ended this long after its traffic should have is stopped (its own start,
 * key and settle timeouts are 30 + 30 + 10 s; this is the backstop for a hung child).
 */
const POINT_SLACK_S = 180;

/** Seconds a point takes besides its traffic (start, keys, settle, stop): a guess for the progress line only. */
function overheadGuessS(ues: number): number {
  return 6 + 0.9 * ues;
}

interface PointPlan {
  ues: number;
  rate: number;
  security: ScaleSecurity;
}

/** The sweep's points in run order: rate, then UEs (ascending), then security mode. */
export function planPoints(flags: Pick<BenchScaleFlags, 'ues' | 'rates' | 'security'>): PointPlan[] {
  const modes: ScaleSecurity[] = flags.security === 'both' ? ['on', 'off'] : [flags.security];
  const ues = [...new Set(flags.ues)].sort((a, b) => a - b);
  const rates = [...new Set(flags.rates)];
  return rates.flatMap((rate) => ues.flatMap((n) => modes.map((security) => ({ ues: n, rate, security }))));
}

/** The demo arguments of one point. */
export function demoArgs(p: PointPlan, flags: Pick<BenchScaleFlags, 'seconds' | 'warmup' | 'slices'>, json: string): string[] {
  return ['demo', '--ues', String(p.ues), '--rate', String(p.rate), '--seconds', String(flags.seconds), '--warmup', String(flags.warmup), '--slices', String(flags.slices), '--security', p.security, '--json', json];
}

class Interrupted extends Error {}

export async function benchScale(flags: BenchScaleFlags): Promise<void> {
  const run = runMetadata('bench scale', flags);
  const say = (line: string): void => void process.stderr.write(`${line}\n`);
  // A sweep takes minutes: a path that cannot be written is an error before it, not after.
  if (flags.json !== undefined) {
    try {
      accessSync(dirname(resolve(flags.json)), constants.W_OK);
    } catch (err) {
      throw cannotWrite(flags.json, err);
    }
  }
  if (flags.report !== undefined) {
    try {
      mkdirSync(flags.report, { recursive: true });
      accessSync(flags.report, constants.W_OK);
    } catch (err) {
      throw cannotWrite(`the report to ${flags.report}`, err);
    }
  }
  const plan = planPoints(flags);
  const dir = mkdtempSync(join(tmpdir(), 'sl-bridge-bench-scale-'));
  const pointUnits = (p: PointPlan): number => overheadGuessS(p.ues) + flags.warmup + flags.seconds;
  const totalUnits = plan.reduce((a, p) => a + pointUnits(p), 0);
  say(`bench scale: ${plan.length} points (UEs ${[...new Set(plan.map((p) => p.ues))].join(', ')} x ${flags.rates.join(', ')} requests/s per UE), ~${Math.ceil(totalUnits / 60)} min; each one \`sl-bridge demo\``);

  let current: Child | undefined;
  let interrupts = 0;
  const onSignal = (): void => {
    interrupts++;
    if (interrupts === 1) say('\nbench scale: interrupted; stopping the current point (Ctrl-C again to kill it at once)');
    // The demo stops gracefully on the first signal and kills its children at once on the second.
    current?.process.kill('SIGTERM');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const killCurrent = (): void => current?.kill();
  process.on('exit', killCurrent);

  const points: ScalePoint[] = [];
  const traces: StallTrace[] = [];
  const progress = new Progress({ label: 'bench scale', total: totalUnits });
  let doneUnits = 0;
  try {
    for (const [i, p] of plan.entries()) {
      if (interrupts > 0) throw new Interrupted();
      const what = `point ${i + 1}/${plan.length}: ${p.ues} UEs at ${p.rate}/s${flags.security === 'both' ? `, security ${p.security}` : ''}`;
      progress.update(doneUnits, what);
      let stallLostPct: number | null = null;
      let unreliable = false;
      if (flags.stallMeter !== false) {
        const trace = measureStalls({ durationMs: STALL_METER_MS });
        traces.push(trace);
        ({ stall_lost_pct: stallLostPct, unreliable } = judgeReliability(summarizeStalls(trace)));
      }
      const ctx: PointContext = { ues: p.ues, ratePerUe: p.rate, security: p.security, stallLostPct, unreliable };
      const name = `demo-${p.ues}ues-${p.rate}ps-${p.security}`;
      const json = join(dir, `${name}.json`);
      const child = new Child(`sl-bridge demo (${p.ues} UEs, ${p.rate}/s)`, demoArgs(p, flags, json), join(dir, `${name}.log`));
      current = child;
      const t0 = performance.now();
      const units = pointUnits(p);
      const tick = setInterval(() => progress.update(doneUnits + Math.min(units - 1, (performance.now() - t0) / 1000), what), 1000);
      const backstop = setTimeout(() => void child.stop('SIGTERM', 5000), (flags.warmup + flags.seconds + POINT_SLACK_S) * 1000);
      const exit = await child.exited;
      clearInterval(tick);
      clearTimeout(backstop);
      await child.stop();
      current = undefined;
      doneUnits += units;
      if (interrupts > 0) throw new Interrupted();
      let point: ScalePoint;
      if (existsSync(json)) {
        try {
          point = scalePoint(ctx, JSON.parse(readFileSync(json, 'utf8')) as DemoResult);
        } catch (e) {
          point = failedPoint(ctx, `the demo's JSON did not parse: ${(e as Error).message}`);
        }
      } else {
        const last = child.tail(3).split('\n').filter((l) => l.trim() !== '').pop() ?? '';
        point = failedPoint(ctx, `the demo wrote no result (${describeExit(exit)}): ${last.trim()}`);
      }
      if (point.error !== null || !point.ok) progress.log(`bench scale: ${p.ues} UEs at ${p.rate}/s: ${point.error ?? point.problems.join('; ')}`);
      points.push(point);
    }
    progress.update(totalUnits, 'done');
  } catch (e) {
    if (!(e instanceof Interrupted)) throw e;
  } finally {
    progress.finish();
    if (current) await current.stop('SIGTERM', 3000);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', killCurrent);
    if (flags.keep) say(`bench scale: kept ${dir} (each point's demo log and JSON)`);
    else rmSync(dir, { recursive: true, force: true });
  }
  if (interrupts > 0) say(`bench scale: stopped after ${points.length} of ${plan.length} points`);
  if (points.length === 0) throw new CliError('bench scale: no point completed', 1);

  const stalls = traces.length > 0 ? summarizeStalls(concatTraces(traces)) : null;
  const reliability = judgeReliability(stalls);
  const report: ScaleReport = {
    run,
    unreliable: reliability.unreliable,
    stall_lost_pct: reliability.stall_lost_pct,
    settings: {
      ues: [...new Set(plan.map((p) => p.ues))],
      rates_per_ue: [...new Set(flags.rates)],
      security: [...new Set(plan.map((p) => p.security))],
      seconds_per_point: flags.seconds,
      warmup_seconds: flags.warmup,
      slices: flags.slices,
      demo_command: `sl-bridge demo --ues N --rate R --seconds ${flags.seconds} --warmup ${flags.warmup} --slices ${flags.slices} --security ${flags.security === 'both' ? 'on|off' : flags.security} --json F`,
      medium: 'sl-bridge medium, no loss, no delay',
      algorithms: `128-NEA${DEMO_NEA}/128-NIA${DEMO_NIA} (security on), profile pcr`,
    },
    machine: { cpus: cpus().length, node: process.version, stalls },
    points,
  };
  process.stdout.write(formatScaleTables(points));
  process.stdout.write(`${formatReliability(reliability)}${stalls ? ` (1 s before each point, ${traces.length} points together)` : ''}\n`);
  if (flags.json !== undefined) {
    writeJsonFile(flags.json, report);
    say(`bench scale: wrote ${flags.json}`);
  }
  if (flags.report !== undefined) {
    const { writeScaleReport } = await import('../report/scale-report.js');
    try {
      for (const f of writeScaleReport(flags.report, report)) say(`bench scale: wrote ${f}`);
    } catch (err) {
      throw cannotWrite(`the report to ${flags.report}`, err);
    }
  }
  if (points.some((p) => p.error !== null)) process.exitCode = 1;
}
