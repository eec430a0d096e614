/**
 * Per-stage timing hook of the PDCP entities (live latency profiling, issue 7). The entities
 * take an optional {@link PdcpProfiler} in their options; without one they run no timing code.
 * The clock is injected (`nowNs`), so `src/` stays free of real clocks: the daemon passes one
 * reading `process.hrtime.bigint()` or `performance.now()`.
 *
 * What each stage covers, exactly (the clock readings are contiguous, so the stages of one PDU
 * add up to the whole call from its first reading to its last):
 *
 *   transmit (`PdcpTxEntity.protect`)
 *     key        argument checks, group lookup, PTK context check; on a PTK change also PGK
 *                selection, PTK ID allocation (a durable write) and PTK -> PEK/PIK derivation
 *     encode     PDU buffer, header, inner identity block, SDU copy
 *     integrity  MAC-I over header || identity block || SDU (not recorded when NIA is off)
 *     cipher     NEA over identity block || SDU || MAC-I, in place
 *   receive (`PdcpRxEntity.unprotect`, accepted PDUs only; drops are counted by reason)
 *     decode     L2 ID, length and SDU Type checks, group state, own-source check
 *     key        PGK lookup by index (expiry), replay pre-check, engine cache or rate-limited
 *                derivation; after verification: inner identity check, engine promotion,
 *                replay-window update
 *     cipher     plaintext buffer, header copy, NEA over everything after the header
 *     integrity  MAC-I recomputation and comparison (not recorded when NIA is off)
 *   handoff      timed by the daemon: from the SDU/envelope arriving to the entity call, and from
 *                its return to the transport's send
 */

/** Stages of `PdcpTxEntity.protect`. */
export type TxStage = 'key' | 'integrity' | 'cipher' | 'encode';
/** Stages of `PdcpRxEntity.unprotect`. */
export type RxStage = 'decode' | 'key' | 'integrity' | 'cipher';
/** Stages timed outside the entities, by the daemon: hand-off to / from the transports. */
export type HandoffStage = 'handoff';
export type ProfileDirection = 'tx' | 'rx';

export interface PdcpProfiler {
  /** A monotonic time in nanoseconds (a plain number: ~104 days of range at ns resolution). */
  nowNs(): number;
  /** One timing of a transmit stage of one PDU. */
  tx(stage: TxStage | HandoffStage, ns: number): void;
  /** One timing of a receive stage of one PDU. */
  rx(stage: RxStage | HandoffStage, ns: number): void;
  /**
   * Optional: the whole timed `protect` / `unprotect` call of the same PDU, from its first clock
   * reading to its last (= the sum of its stages). Called after the stages of that PDU.
   */
  call?(direction: ProfileDirection, ns: number): void;
  /**
   * Optional: time one PDU in every `sampleEvery` (default 1: every PDU). A clock reading costs
   * tens of ns, a protect call a few µs, so timing every PDU has a measurable price
   * (docs/profiling.md). Read once, when an entity is constructed.
   */
  readonly sampleEvery?: number;
}

/**
 * Clock readings at the stage boundaries of one timed PDU. Each entity owns one and hands it to
 * `sealPdu` / `openPdu`, which fill in the boundaries inside them. Not for use outside src/pdcp.
 */
export class StageMarks {
  readonly at = new Float64Array(6);
  /** Whether the PDU had a MAC-I (set by sealPdu / openPdu): integrity is recorded only then. */
  integrity = false;
  constructor(readonly profiler: PdcpProfiler) {}

  mark(i: number): void {
    this.at[i] = this.profiler.nowNs();
  }
}

/** Counts PDUs down to the next timed one; `next()` is true for one PDU in `every`. */
export class SampleGate {
  readonly every: number;
  private left = 1;

  constructor(profiler: PdcpProfiler) {
    const every = profiler.sampleEvery ?? 1;
    if (!Number.isInteger(every) || every < 1) {
      throw new RangeError(`profiler.sampleEvery: expected an integer >= 1, got ${String(every)}`);
    }
    this.every = every;
  }

  next(): boolean {
    if (--this.left > 0) return false;
    this.left = this.every;
    return true;
  }
}
