/**
 * The unit of every benchmark table: one named operation at one payload size. The harness in
 * `bridge/bench/harness.ts` times `op` in batches (sub-microsecond work is never timed one call at
 * a time) and reports per-call percentiles.
 */
export interface BenchCase {
  /** Row name, e.g. `nea2`, `baseline-nia2`, `protect-nea2-nia2`, `protect-first-nea2-nia2`. */
  name: string;
  /** Payload size in bytes. */
  size: number;
  /** Builds the operation once (keys, engines, buffers); the returned function is one call. */
  makeOp(): () => void;
}
