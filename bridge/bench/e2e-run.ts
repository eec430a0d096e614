/**
 * `sl-bridge bench e2e`: one-way application-to-application latency through real daemons over the
 * medium emulator, with security on and off in the same run, swept over the offered load.
 *
 * After a warm-up second per stack (not counted), for each rate (probes per second per UE), slices
 * of at most 1 s, at least REPETITIONS (6) per mode, alternate between the security-on and the
 * security-off stack in ABBA order (on, off, off, on, on, off, ...) until each has had `--seconds`
 * of traffic, so both see the same machine at the same time and a drift in load hits both alike.
 * Each slice is one repetition for the 95 % intervals, each on/off pair one for the differences.
 * After each slice the traffic pauses `DRAIN_MS` so its probes land before the next slice's CPU
 * and profile readings. docs/profiling.md explains every figure.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPETITIONS } from '../../src/stats/interval.js';
import type { SourceAuthMode } from '../../src/keys/types.js';
import { CliError, cannotWrite, writeJsonFile } from '../cli-error.js';
import { ChildFailure } from '../demo/children.js';
import { DEMO_NEA, DEMO_NIA } from '../demo/setup.js';
import { LogLinearHistogram } from '../metrics/histogram.js';
import { histogramSeries, parsePrometheusText } from '../metrics/prom-text.js';
import { formatOverhead, measureProfilingOverhead, DEFAULT_OVERHEAD_OPTIONS, type OverheadReport } from './e2e-overhead.js';
import { addProfile, dropDelta, emptyProfile, formatRateResults, profileDelta, rateResults, type CpuSample, type E2eReport, type ProfileDelta, type SecurityMode, type SliceRecord, type StageCheck } from './e2e-results.js';
import { E2eTestbed, sleep } from './e2e-stack.js';
import { formatReliability, formatStalls, judgeReliability, measureStalls, stallIntervals, summarizeStalls, type StallTrace } from './stall-meter.js';
import { E2eAccounting, runProbes } from './e2e-traffic.js';
import { Progress } from './progress.js';
import { runMetadata } from './run-metadata.js';
import { checkLatencyFlags } from '../daemon/busy-poll.js';

/** The flags as bridge/commands/bench.ts parses them. */
export interface BenchE2eFlags {
  ues: number;
  /** Probes per second per UE, one sweep step each. */
  rates: number[];
  /** Traffic time per rate and per security mode. */
  seconds: number;
  sduBytes: number;
  json?: string;
  report?: string;
  overhead?: boolean;
  stallMeter?: boolean;
  metrics?: boolean;
  keep?: boolean;
  /** The security-on stack's group source authentication (docs/pkmf.md); default none. */
  sourceAuth?: SourceAuthMode;
  /** Latency mode: every daemon of both stacks runs with `--keep-warm` this many ms (0 / absent: off). */
  keepWarm?: number;
  /** Latency mode's busy-poll: every daemon of both stacks runs with `--busy-poll` this many µs (0 / absent: off). */
  busyPoll?: number;
}

const SLICE_MS = 1000;
const DRAIN_MS = 250;
/**
 * Traffic per stack before measuring (PTK derivations, engine caches, JIT), not in the results:
 * at least WARMUP_MIN_RATE per UE, so even a low first rate starts with optimised code.
 */
const WARMUP_MS = 1000;
const WARMUP_MIN_RATE = 500;
/** How long the stall meter spins before the stacks start (stall-meter.ts). */
const STALL_METER_MS = 2000;

/** Slices per rate and mode for `seconds` of traffic: at most SLICE_MS each, at least REPETITIONS of them. */
export function slicesPerMode(seconds: number): number {
  return Math.max(REPETITIONS, Math.ceil((seconds * 1000) / SLICE_MS));
}

export async function benchE2e(flags: BenchE2eFlags): Promise<void> {
  checkLatencyFlags(flags, 'bench e2e');
  const run = runMetadata('bench e2e', flags);
  const withMetrics = flags.metrics !== false;
  const say = (line: string): void => void process.stderr.write(`${line}\n`);
  const loadBefore = loadavg();

  let overhead: OverheadReport | null = null;
  if (flags.overhead !== false) {
    say('bench e2e: measuring the profiler overhead on protect / unprotect (in this process, before the daemons start)');
    const progress = new Progress({ label: 'bench e2e', total: 1 });
    overhead = measureProfilingOverhead({ ...DEFAULT_OVERHEAD_OPTIONS, sduBytes: flags.sduBytes, progress: (done, total, what) => progress.update(done / total, what) });
    progress.finish();
  }

  let stallTrace: StallTrace | null = null;
  if (flags.stallMeter !== false) {
    say(`bench e2e: measuring this machine's stalls for ${STALL_METER_MS / 1000} s (before the daemons start)`);
    stallTrace = measureStalls({ durationMs: STALL_METER_MS });
  }

  const dir = mkdtempSync(join(tmpdir(), 'sl-bridge-bench-e2e-'));
  const accounting = new E2eAccounting();
  const sourceAuth = flags.sourceAuth ?? 'none';
  const keepWarmMs = flags.keepWarm ?? 0;
  const busyPollUs = flags.busyPoll ?? 0;
  const tb = new E2eTestbed({ dir, ues: flags.ues, metrics: withMetrics, say, accounting, sourceAuth, keepWarmMs, busyPollUs });
  let interrupted = false;
  const onSignal = (): void => {
    if (interrupted) {
      tb.kill();
      process.exit(130);
    }
    interrupted = true;
    say('\nbench e2e: interrupted; stopping (Ctrl-C again to kill at once)');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const killAll = (): void => tb.kill();
  process.on('exit', killAll);

  const records: SliceRecord[] = [];
  const problems: string[] = [];
  let keepWarm: E2eReport['keep_warm'] = null;
  let stageCheck: StageCheck | null = null;
  let sampleEvery: number | null = null;
  let mediumStats: Partial<Record<SecurityMode, unknown>> = {};
  try {
    await tb.start();
    const seqs = { on: new Map<number, number>(), off: new Map<number, number>() };
    const perMode = slicesPerMode(flags.seconds);
    const sliceMs = (flags.seconds * 1000) / perMode;
    const progress = new Progress({ label: 'bench e2e', total: flags.rates.length * perMode * 2 * sliceMs });
    let doneMs = 0;
    let sliceId = 0;
    for (const mode of ['on', 'off'] as const) {
      progress.update(0, `warm-up, security ${mode}`);
      const warm = accounting.openSlice(sliceId++, flags.ues);
      await runProbes({ clients: tb.stacks[mode].clients, accounting, slice: warm, ratePerClient: Math.max(flags.rates[0]!, WARMUP_MIN_RATE), durationMs: WARMUP_MS, sduBytes: flags.sduBytes, seqs: seqs[mode] });
      await sleep(DRAIN_MS);
    }
    for (const rate of flags.rates) {
      for (let k = 0; k < perMode * 2; k++) {
        if (interrupted) throw new Interrupted();
        tb.check();
        // ABBA: on off | off on | on off ...
        const mode: SecurityMode = (k % 2 === 0) === (Math.floor(k / 2) % 2 === 0) ? 'on' : 'off';
        const what = `${rate}/s per UE, security ${mode}, slice ${Math.floor(k / 2) + 1}/${perMode}`;
        progress.update(doneMs, what);
        const slice = accounting.openSlice(sliceId++, flags.ues);
        const before = { prof: await tb.profiles(mode), drops: await tb.drops(mode), cpu: tb.cpuMs(mode), bench: process.cpuUsage(), at: performance.now() };
        // Within the slice's traffic time only: the pause and the readings after it are not progress.
        const tick = setInterval(() => progress.update(doneMs + Math.min(sliceMs, performance.now() - before.at), what), 250);
        const t0 = performance.now();
        await runProbes({ clients: tb.stacks[mode].clients, accounting, slice, ratePerClient: rate, durationMs: sliceMs, sduBytes: flags.sduBytes, seqs: seqs[mode] });
        const trafficMs = performance.now() - t0;
        await sleep(DRAIN_MS);
        clearInterval(tick);
        const after = { prof: await tb.profiles(mode), drops: await tb.drops(mode), cpu: tb.cpuMs(mode), bench: process.cpuUsage(before.bench), at: performance.now() };
        doneMs += sliceMs;
        let cpu: CpuSample | null = null;
        if (before.cpu && after.cpu) {
          cpu = {
            daemonsMs: after.cpu.daemons - before.cpu.daemons,
            mediumMs: after.cpu.medium - before.cpu.medium,
            benchMs: (after.bench.user + after.bench.system) / 1000,
            wallMs: after.at - before.at,
          };
        }
        let profile: ProfileDelta | null = null;
        if (mode === 'on' && before.prof.every((p) => p) && after.prof.every((p) => p) && before.prof.length > 0) {
          profile = emptyProfile();
          for (const [i, b] of before.prof.entries()) addProfile(profile, profileDelta(b!, after.prof[i]!));
        }
        const drops = before.drops && after.drops ? dropDelta(before.drops, after.drops) : null;
        records.push({ rate, mode, account: slice, trafficMs, cpu, profile, drops });
      }
    }
    progress.finish();
    await sleep(DRAIN_MS);
    if (accounting.foreign > 0) problems.push(`${accounting.foreign} deliveries were not probes of this run`);
    ({ check: stageCheck, sampleEvery } = await checkStages(tb, problems));
    if (keepWarmMs > 0) {
      const warm = tb.stacks.on.daemons.map((d) => d.status?.keepWarm);
      const busy = tb.stacks.on.daemons.map((d) => d.status?.busyPoll);
      keepWarm = {
        passes: warm.map((w) => w?.passes ?? 0),
        round_trips: warm.map((w) => w?.roundTrips ?? 0),
        busy_poll: busyPollUs > 0 ? { spells: busy.map((b) => b?.spells ?? 0), spinning_ms: busy.map((b) => b?.spinningMs ?? 0), passes: busy.map((b) => b?.passes ?? 0) } : null,
      };
      if (warm.some((w) => w === undefined)) problems.push('latency mode: a security-on daemon reported no keep-warm passes (does `sl-bridge run` know --keep-warm?)');
      if (busyPollUs > 0 && busy.some((b) => b === undefined)) problems.push('latency mode: a security-on daemon reported no busy-poll figures (does `sl-bridge run` know --busy-poll?)');
    }
    for (const mode of ['on', 'off'] as const) {
      for (const d of tb.stacks[mode].daemons) {
        const sec = d.status?.securityDrops ?? 0;
        if (sec > 0) problems.push(`${d.id}: ${sec} security drops (${JSON.stringify(d.status?.dropped)})`);
      }
    }
  } catch (e) {
    if (e instanceof Interrupted) {
      say('bench e2e: stopped before the end; no results');
      return;
    }
    if (e instanceof ChildFailure) throw new CliError(`bench e2e: ${e.message}\n--- last lines of ${e.child.logFile} ---\n${e.child.tail()}\n---`, 1);
    throw e;
  } finally {
    mediumStats = await tb.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', killAll);
    if (flags.keep) say(`bench e2e: kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }

  const stalls = stallTrace && summarizeStalls(stallTrace);
  const stallWindows = stallTrace && stallIntervals(stallTrace);
  const reliability = judgeReliability(stalls);
  const results = rateResults(records, flags.rates, flags.ues, stallTrace ?? undefined, reliability.unreliable);
  const report: E2eReport = {
    run,
    unreliable: reliability.unreliable,
    stall_lost_pct: reliability.stall_lost_pct,
    settings: {
      ues: flags.ues,
      rates_per_ue: flags.rates,
      seconds_per_rate_and_mode: flags.seconds,
      slice_ms: Math.round((flags.seconds * 1000) / slicesPerMode(flags.seconds)),
      drain_ms: DRAIN_MS,
      sdu_bytes: flags.sduBytes,
      algorithms: `128-NEA${DEMO_NEA}/128-NIA${DEMO_NIA}${sourceAuth === 'none' ? '' : ` + source authentication ${sourceAuth}`}`,
      profile: 'pcr',
      medium: 'sl-bridge medium, no loss, no delay',
      metrics: withMetrics,
      sample_every: sampleEvery,
      keep_warm_ms: keepWarmMs,
      busy_poll_us: busyPollUs,
    },
    machine: {
      cpus: cpus().length,
      node: process.version,
      loadavg_before: loadBefore.map((v) => Math.round(v * 100) / 100),
      loadavg_after: loadavg().map((v) => Math.round(v * 100) / 100),
      stalls,
      stall_windows: stallWindows,
    },
    rates: results,
    stage_check: stageCheck,
    keep_warm: keepWarm,
    medium: mediumStats,
    overhead,
    problems,
  };
  if (stageCheck === null && withMetrics) problems.push('no stage profile: the daemons did not serve /profile.json (is --metrics supported by `sl-bridge run`?)');
  if (keepWarmMs > 0) {
    const spin = busyPollUs > 0 ? `, and after each message polls instead of sleeping for ${busyPollUs} µs (run --busy-poll)` : '';
    process.stdout.write(`latency mode: every daemon of both stacks runs a keep-warm pass every ${keepWarmMs} ms (run --keep-warm)${spin}\n`);
  }
  process.stdout.write(formatRateResults(results));
  if (stageCheck) {
    const c = stageCheck;
    process.stdout.write(
      `stage sums vs the daemons' own timing around each call (whole run, p50/p99 µs): protect ${c.protect.stage_sum_p50_us}/${c.protect.stage_sum_p99_us} vs ` +
        `${c.protect.daemon_measured_p50_us}/${c.protect.daemon_measured_p99_us}, unprotect ${c.unprotect.stage_sum_p50_us}/${c.unprotect.stage_sum_p99_us} vs ` +
        `${c.unprotect.daemon_measured_p50_us}/${c.unprotect.daemon_measured_p99_us}\n`,
    );
  }
  if (stalls) process.stdout.write(`this machine, before the run: ${formatStalls(stalls, [], stallWindows ?? undefined)}`);
  if (overhead) process.stdout.write(formatOverhead(overhead));
  for (const p of problems) process.stdout.write(`problem: ${p}\n`);
  process.stdout.write(`${formatReliability(reliability)}\n`);
  if (flags.json !== undefined) {
    writeJsonFile(flags.json, report);
    say(`bench e2e: wrote ${flags.json}`);
  }
  if (flags.report !== undefined) {
    const { writeE2eReport } = await import('../report/e2e-report.js');
    try {
      for (const f of writeE2eReport(flags.report, report)) say(`bench e2e: wrote ${f}`);
    } catch (err) {
      throw cannotWrite(`the report to ${flags.report}`, err);
    }
  }
}

class Interrupted extends Error {}

/**
 * End of run: the security-on daemons' /metrics must parse as Prometheus text; their profiles'
 * whole-call p50/p99 (the sum of the stages of each timed PDU) next to the daemons' own timing
 * around every protect / unprotect call (their status lines).
 */
async function checkStages(tb: E2eTestbed, problems: string[]): Promise<{ check: StageCheck | null; sampleEvery: number | null }> {
  const profs = await tb.profiles('on');
  if (profs.some((p) => p === undefined) || profs.length === 0) return { check: null, sampleEvery: null };
  let prometheusOk = true;
  for (const d of tb.stacks.on.daemons) {
    try {
      const text = await tb.metricsText(d);
      if (text === undefined) throw new Error('no answer');
      const fam = parsePrometheusText(text).find((f) => f.name === 'slbridge_stage_seconds');
      if (!fam) throw new Error('no slbridge_stage_seconds');
      histogramSeries(fam);
    } catch (e) {
      prometheusOk = false;
      problems.push(`${d.id}: /metrics is not valid Prometheus text: ${(e as Error).message}`);
    }
  }
  const call = { tx: new LogLinearHistogram(), rx: new LogLinearHistogram() };
  for (const p of profs) {
    call.tx.add(LogLinearHistogram.fromJSON(p!.call.tx));
    call.rx.add(LogLinearHistogram.fromJSON(p!.call.rx));
  }
  // The daemons' percentiles are per daemon; the mean over daemons is close enough for a check.
  const statuses = tb.stacks.on.daemons.map((d) => d.status?.latency).filter((l) => l !== undefined);
  const avg = (xs: number[]): number => Math.round((xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1)) * 100) / 100;
  const us = (ns: number): number => Math.round(ns / 10) / 100;
  const check: StageCheck = {
    protect: {
      stage_sum_p50_us: us(call.tx.percentile(50)),
      daemon_measured_p50_us: avg(statuses.map((l) => l.protect.p50Us)),
      stage_sum_p99_us: us(call.tx.percentile(99)),
      daemon_measured_p99_us: avg(statuses.map((l) => l.protect.p99Us)),
    },
    unprotect: {
      stage_sum_p50_us: us(call.rx.percentile(50)),
      daemon_measured_p50_us: avg(statuses.map((l) => l.unprotect.p50Us)),
      stage_sum_p99_us: us(call.rx.percentile(99)),
      daemon_measured_p99_us: avg(statuses.map((l) => l.unprotect.p99Us)),
    },
    prometheus_ok: prometheusOk,
  };
  return { check, sampleEvery: profs[0]!.sample_every };
}
