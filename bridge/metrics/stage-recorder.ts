/**
 * The daemon's PDCP stage profiler (issue 7): a {@link PdcpProfiler} that records every timed
 * stage into a {@link StageHistogram}, and the cumulative snapshot that `/profile.json` serves.
 *
 * Hot path: the entities call `profiler.tx/rx(stage, ns)` for one PDU in `sampleEvery`; each call
 * records into typed arrays (histogram.ts) and does nothing else: no labels, no allocation.
 * Prometheus (prom-registry.ts) and the log line (summary-log.ts) read the histograms when they
 * need them.
 */
import { performance } from 'node:perf_hooks';
import type { HandoffStage, PdcpProfiler, ProfileDirection, RxStage, TxStage } from '../../src/pdcp/profiler.js';
import { StageHistogram, type SerializedHistogram } from './histogram.js';

/**
 * Default sampling: one PDU in 8. Timing every PDU costs ~5 clock readings (about 70 ns each on
 * a KVM guest) per protect call; see docs/profiling.md for the measured overhead.
 */
export const DEFAULT_SAMPLE_EVERY = 8;

export const TX_STAGES = ['key', 'encode', 'integrity', 'cipher', 'handoff'] as const satisfies readonly (TxStage | HandoffStage)[];
export const RX_STAGES = ['decode', 'key', 'cipher', 'integrity', 'handoff'] as const satisfies readonly (RxStage | HandoffStage)[];

export type StageHistograms<S extends string> = Readonly<Record<S, StageHistogram>>;

/** What `/profile.json` serves. */
export interface ProfileSnapshot {
  ue: string;
  sample_every: number;
  /** Milliseconds since the recorder was created (monotonic). */
  uptime_ms: number;
  tx: Record<string, SerializedHistogram>;
  rx: Record<string, SerializedHistogram>;
  /** Whole protect / unprotect calls of the timed PDUs. */
  call: { tx: SerializedHistogram; rx: SerializedHistogram };
}

function histograms<S extends string>(stages: readonly S[]): StageHistograms<S> {
  return Object.fromEntries(stages.map((s) => [s, new StageHistogram()])) as Record<S, StageHistogram>;
}

export class StageRecorder {
  readonly profiler: PdcpProfiler;
  /** One histogram per stage and direction, cumulative since creation. */
  readonly stages: { readonly tx: StageHistograms<(typeof TX_STAGES)[number]>; readonly rx: StageHistograms<(typeof RX_STAGES)[number]> } = {
    tx: histograms(TX_STAGES),
    rx: histograms(RX_STAGES),
  };
  /** Whole timed protect (tx) and accepted unprotect (rx) calls. */
  readonly calls: Readonly<Record<ProfileDirection, StageHistogram>> = { tx: new StageHistogram(), rx: new StageHistogram() };
  private readonly createdAt = performance.now();

  constructor(
    /** The UE whose PDUs are timed (named in the snapshot). */
    readonly ueId: string,
    /** One PDU in this many is timed by each entity. */
    readonly sampleEvery: number = DEFAULT_SAMPLE_EVERY,
  ) {
    if (!Number.isInteger(sampleEvery) || sampleEvery < 1) {
      throw new RangeError(`sampleEvery: expected an integer >= 1, got ${sampleEvery}`);
    }
    // Plain closures over the histograms: the entities call these on the packet path.
    const tx: Record<string, StageHistogram | undefined> = this.stages.tx;
    const rx: Record<string, StageHistogram | undefined> = this.stages.rx;
    const calls: Record<string, StageHistogram | undefined> = this.calls;
    this.profiler = {
      sampleEvery,
      nowNs: () => performance.now() * 1e6,
      // A stage or direction this recorder does not know (a caller in plain JS) is ignored.
      tx: (stage, ns) => tx[stage]?.record(ns),
      rx: (stage, ns) => rx[stage]?.record(ns),
      call: (direction, ns) => calls[direction]?.record(ns),
    };
  }

  snapshot(): ProfileSnapshot {
    const serialize = (stages: Readonly<Record<string, StageHistogram>>): Record<string, SerializedHistogram> =>
      Object.fromEntries(Object.entries(stages).map(([stage, h]) => [stage, h.fine.toJSON()]));
    return {
      ue: this.ueId,
      sample_every: this.sampleEvery,
      uptime_ms: Math.round(performance.now() - this.createdAt),
      tx: serialize(this.stages.tx),
      rx: serialize(this.stages.rx),
      call: { tx: this.calls.tx.fine.toJSON(), rx: this.calls.rx.fine.toJSON() },
    };
  }
}
