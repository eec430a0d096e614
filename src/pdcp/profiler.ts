/**
 * Per-stage timing hook of the PDCP entities (live latency profiling, issue 7). The entities
 * take an optional {@link PdcpProfiler} in their options; without one they run no timing code.
 * The clock is injected (`nowNs`), so `src/` stays free of real clocks: the daemon passes one
 * reading `process.hrtime.bigint()` or `performance.now()`.
 */

/** Stages of `PdcpTxEntity.protect`. */
export type TxStage = 'key' | 'integrity' | 'cipher' | 'encode';
/** Stages of `PdcpRxEntity.unprotect`. */
export type RxStage = 'decode' | 'key' | 'integrity' | 'cipher';
/** Stages timed outside the entities, by the daemon: hand-off to / from the transports. */
export type HandoffStage = 'handoff';

export interface PdcpProfiler {
  /** A monotonic time in nanoseconds (a plain number: ~104 days of range at ns resolution). */
  nowNs(): number;
  /** One timing of a transmit stage of one PDU. */
  tx(stage: TxStage | HandoffStage, ns: number): void;
  /** One timing of a receive stage of one PDU. */
  rx(stage: RxStage | HandoffStage, ns: number): void;
}
