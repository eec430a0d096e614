/**
 * What the live stage profiler costs, and whether its stages account for the time of a call.
 * Part of `bench e2e` (and usable alone); docs/profiling.md quotes its output.
 *
 * 1. Overhead on protect (and unprotect) throughput: the same PdcpTxEntity / PdcpRxEntity work
 *    without a profiler, with createDaemonMetrics' profiler timing every PDU, and timing one PDU
 *    in the default `sampleEvery`. The variants run in interleaved rounds (A B C A B C ...) in one
 *    process, so drift in machine load hits each alike. Each round is a harness.ts measurement
 *    (batches of calls); its p50 per-call time is robust to the preemptions of a shared machine,
 *    so throughput is taken as 1 / p50 and the figure per variant is the median over its rounds;
 *    the overhead is 1 - throughput / throughput(no profiler), taken within each round (the
 *    variants of a round ran back to back) and reported as the median over the rounds with its
 *    95 % interval: "no measurable difference" when that interval contains 0.
 * 2. Stage sum vs call: with every PDU timed, the per-stage `_sum`s of the PDUs against the time
 *    measured around each `protect` / `unprotect` call by the caller (performance.now() before
 *    and after). The difference is what the stages do not cover: the entity's own first and last
 *    instructions, building the result, and the clock readings themselves.
 */
import type { AlgId } from '../../src/crypto/types.js';
import { GroupKeyState } from '../../src/keys/group-key-state.js';
import { MemoryPtkHighWaterStore, PdcpRxEntity, PdcpTxEntity, PtkIdAllocator } from '../../src/pdcp/index.js';
import type { PdcpProfiler } from '../../src/pdcp/profiler.js';
import { createDaemonMetrics, DEFAULT_SAMPLE_EVERY, type DaemonMetrics } from '../metrics/daemon-metrics.js';
import { median } from '../../src/stats/percentile.js';
import { formatDifference, formatInterval, judge, mapInterval, medianInterval, type Interval, type Judged } from '../../src/stats/interval.js';
import { consume, measureCase, type BenchOptions } from './harness.js';
import pino from 'pino';

const GROUP_ID = 0x00be7c;
const SENDER = 0x000a01;
const RECEIVER = 0x000b02;
const NOW = Date.UTC(2030, 0, 1);
const PGK = Uint8Array.from({ length: 32 }, (_, i) => (i * 13 + 5) & 0xff);

export interface OverheadOptions {
  sduBytes: number;
  nea: AlgId;
  nia: AlgId;
  /** Interleaved rounds per variant. */
  rounds: number;
  /** Measuring time per round and variant, ms. */
  roundMs: number;
  /** PDUs for the stage-sum check. */
  checkPdus: number;
  /** After each round: `done` of `total` rounds (both ops), `what` names it. */
  progress?: (done: number, total: number, what: string) => void;
}

export const DEFAULT_OVERHEAD_OPTIONS: OverheadOptions = { sduBytes: 128, nea: 2, nia: 2, rounds: 7, roundMs: 150, checkPdus: 20_000 };

export interface OverheadRow {
  op: 'protect' | 'unprotect';
  /** 0: no profiler. */
  sample_every: number;
  /** 1e9 / p50 per-call ns, median over the rounds. */
  ops_per_s: number;
  /** 1e9 / p50 of each round: median and 95 % interval. */
  ops_per_s_ci: Interval;
  /** p50 per-call ns of each round. */
  p50_ns_rounds: number[];
  /**
   * 1 - throughput / throughput(no profiler) in each round, percent: median over the rounds, 95 %
   * interval, and whether it is measurable (the interval excludes 0). Null for the no-profiler row.
   */
  overhead_pct: Judged | null;
}

export interface StageSumCheck {
  op: 'protect' | 'unprotect';
  pdus: number;
  /** Sum over the PDUs of the time measured around each call, µs. */
  around_call_us: number;
  /** Sum of the stages' `_sum`, µs. */
  stage_sum_us: number;
  /** The profiler's own whole-call histogram sum (first to last clock reading), µs. */
  call_sum_us: number;
  /** (around_call - stage_sum) / around_call, percent. */
  uncovered_pct: number;
}

export interface OverheadReport {
  sdu_bytes: number;
  algorithms: string;
  rows: OverheadRow[];
  stage_sums: StageSumCheck[];
}

function keys(gmi: number, nea: AlgId, nia: AlgId): GroupKeyState {
  const k = new GroupKeyState();
  k.install({ groupId: GROUP_ID, gmi, nea, nia, profile: 'pcr', pgks: [{ pgkId: 1, pgk: PGK, expiresAtMs: NOW + 86_400_000 }] });
  return k;
}

const silent = pino({ level: 'silent' });

function metrics(sampleEvery: number): DaemonMetrics {
  return createDaemonMetrics({ ueId: 'overhead', logger: silent, counters: () => [], sampleEvery, summaryIntervalMs: 0 });
}

function sender(o: OverheadOptions, profiler?: PdcpProfiler): PdcpTxEntity {
  return new PdcpTxEntity(keys(SENDER, o.nea, o.nia), new PtkIdAllocator(new MemoryPtkHighWaterStore()), { profiler });
}

function sdu(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7) & 0xff);
}

/** PDUs of one sender, in order, for unprotect rounds (a fresh receiver per pass). */
function makePdus(o: OverheadOptions, n: number): Uint8Array[] {
  const tx = sender(o);
  const s = sdu(o.sduBytes);
  return Array.from({ length: n }, () => tx.protect(s, 1, GROUP_ID, NOW).pdu);
}

function protectOp(o: OverheadOptions, profiler?: PdcpProfiler): () => void {
  const tx = sender(o, profiler);
  const s = sdu(o.sduBytes);
  return () => consume(tx.protect(s, 1, GROUP_ID, NOW));
}

function unprotectOp(o: OverheadOptions, pdus: Uint8Array[], profiler?: PdcpProfiler): () => void {
  const make = (): PdcpRxEntity => new PdcpRxEntity(keys(RECEIVER, o.nea, o.nia), { profiler });
  let rx = make();
  let i = 0;
  return () => {
    if (i === pdus.length) {
      rx = make();
      i = 0;
    }
    const r = rx.unprotect(pdus[i++]!, SENDER, GROUP_ID, NOW);
    if (!r.ok) throw new Error(`overhead bench: PDU dropped (${r.reason})`);
    consume(r);
  };
}

export function measureProfilingOverhead(o: OverheadOptions = DEFAULT_OVERHEAD_OPTIONS): OverheadReport {
  const variants = [0, 1, DEFAULT_SAMPLE_EVERY];
  const pdus = makePdus(o, 32_768);
  const benchOpts: BenchOptions = { warmupMs: 30, minTimeMs: o.roundMs, minSamples: 50, batchTargetNs: 30_000 };
  const rows: OverheadRow[] = [];
  for (const op of ['protect', 'unprotect'] as const) {
    // One op per variant, built once: its engines and histograms stay warm across rounds.
    const ops = variants.map((every) => {
      const profiler = every === 0 ? undefined : metrics(every).profiler;
      return op === 'protect' ? protectOp(o, profiler) : unprotectOp(o, pdus, profiler);
    });
    const perRound: number[][] = variants.map(() => []);
    for (let r = 0; r < o.rounds; r++) {
      variants.forEach((every, v) => {
        const res = measureCase({ name: `${op}-${every}`, size: o.sduBytes, makeOp: () => ops[v]! }, benchOpts);
        perRound[v]!.push(res.p50_ns);
      });
      o.progress?.((op === 'protect' ? 0 : o.rounds) + r + 1, 2 * o.rounds, `profiling overhead: ${op} round ${r + 1}/${o.rounds}`);
    }
    const r1 = (x: number): number => Math.round(x * 10) / 10;
    variants.forEach((every, v) => {
      // Throughput 1 / p50: within a round, 1 - t_v / t_0 = 1 - p50_0 / p50_v.
      const overheads = perRound[v]!.map((p50, r) => 100 * (1 - perRound[0]![r]! / p50));
      rows.push({
        op,
        sample_every: every,
        ops_per_s: Math.round(1e9 / median(perRound[v]!)),
        ops_per_s_ci: mapInterval(medianInterval(perRound[v]!.map((p50) => 1e9 / p50))!, Math.round),
        p50_ns_rounds: perRound[v]!,
        overhead_pct: every === 0 ? null : mapInterval(judge(medianInterval(overheads)!), r1),
      });
    });
  }
  return { sdu_bytes: o.sduBytes, algorithms: `nea${o.nea}/nia${o.nia}`, rows, stage_sums: [stageSums(o, 'protect', pdus), stageSums(o, 'unprotect', pdus)] };
}

/** Time around each call vs the stage sums, every PDU timed. */
function stageSums(o: OverheadOptions, op: 'protect' | 'unprotect', pdus: Uint8Array[]): StageSumCheck {
  const m = metrics(1);
  const snapshotSums = (): { stages: number; call: number } => {
    const snap = m.snapshot();
    const dir = op === 'protect' ? snap.tx : snap.rx;
    const stages = Object.values(dir).reduce((a, h) => a + h.sum_ns, 0);
    return { stages, call: (op === 'protect' ? snap.call.tx : snap.call.rx).sum_ns };
  };
  const run = op === 'protect' ? protectOp(o, m.profiler) : unprotectOp(o, pdus, m.profiler);
  for (let i = 0; i < 2000; i++) run(); // warm-up, not counted
  const before = snapshotSums();
  let around = 0;
  const n = Math.min(o.checkPdus, op === 'unprotect' ? pdus.length - 2000 : o.checkPdus);
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    run();
    around += performance.now() - t0;
  }
  const after = snapshotSums();
  const aroundUs = around * 1000;
  const stageUs = (after.stages - before.stages) / 1000;
  return {
    op,
    pdus: n,
    around_call_us: Math.round(aroundUs),
    stage_sum_us: Math.round(stageUs),
    call_sum_us: Math.round((after.call - before.call) / 1000),
    uncovered_pct: Math.round(((aroundUs - stageUs) / aroundUs) * 1000) / 10,
  };
}

export function formatOverhead(r: OverheadReport): string {
  const rounds = r.rows[0]?.p50_ns_rounds.length ?? 0;
  const lines = [`profiling overhead (${r.sdu_bytes}-byte SDUs, ${r.algorithms}; 1 / p50 per call, median of ${rounds} interleaved rounds [95 % confidence interval]):`];
  const pct = (v: number): string => v.toFixed(1);
  for (const row of r.rows) {
    const what = row.sample_every === 0 ? 'no profiler' : row.sample_every === 1 ? 'every PDU timed' : `1 PDU in ${row.sample_every} timed`;
    const overhead = row.overhead_pct ? `overhead ${formatDifference(row.overhead_pct, pct, '%')}` : '';
    lines.push(`  ${row.op.padEnd(9)} ${what.padEnd(18)} ${formatInterval(row.ops_per_s_ci, String).padStart(26)} ops/s  ${overhead}`.trimEnd());
  }
  lines.push('stage sums vs time measured around each call (every PDU timed):');
  for (const s of r.stage_sums) {
    lines.push(
      `  ${s.op.padEnd(9)} ${s.pdus} PDUs: around the calls ${s.around_call_us} µs, stages ${s.stage_sum_us} µs ` +
        `(whole-call histogram ${s.call_sum_us} µs); not covered by a stage ${s.uncovered_pct.toFixed(1)}%`,
    );
  }
  return lines.join('\n') + '\n';
}
