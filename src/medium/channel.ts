/**
 * The sidelink channel of the medium emulator, without I/O: it decides, for every PDU a UE sends
 * and every other attached UE, whether and when that UE receives it. Time is an argument and the
 * randomness is an injected {@link RandomSource}, so a seed repeats a run decision for decision.
 *
 * Model (per PDU and per receiver, independently, like separate radio links):
 * - the sender never receives its own PDU;
 * - lost with probability `loss`;
 * - otherwise delivered after `delayMs` plus a uniform jitter in [-jitterMs, +jitterMs]
 *   (the total is clamped at 0);
 * - with probability `duplicate` a second copy follows, with its own jitter;
 * - with probability `reorder` the copy is held back when it becomes due and released right
 *   after the next PDU for the same receiver (it is overtaken), or after `reorderHoldMs` if no
 *   next PDU comes (then it is late but not reordered).
 *
 * Every (PDU, receiver) pair consumes exactly five random draws, in this order: loss, jitter,
 * duplicate, reorder, jitter of the duplicate. So the loss decisions of a seed do not change when
 * delay, jitter, duplication or reordering are changed.
 */
import { TimedHeap, type Timed } from './heap.js';
import type { RandomSource } from './random.js';

export interface ChannelImpairments {
  /** Probability (0..1) that a PDU does not reach a given receiver. */
  loss: number;
  /** Base one-way delay, ms (>= 0). */
  delayMs: number;
  /** Half-width of the uniform jitter around the delay, ms (>= 0). */
  jitterMs: number;
  /** Probability (0..1) that a delivered PDU arrives twice. */
  duplicate: number;
  /** Probability (0..1) that a delivered PDU is overtaken by the next one to the same receiver. */
  reorder: number;
  /** Longest time a held-back PDU waits for a PDU to overtake it, ms (> 0). */
  reorderHoldMs: number;
}

export const NO_IMPAIRMENTS: Readonly<ChannelImpairments> = {
  loss: 0,
  delayMs: 0,
  jitterMs: 0,
  duplicate: 0,
  reorder: 0,
  reorderHoldMs: 20,
};

export interface ChannelCounters {
  /** PDUs submitted. */
  submitted: number;
  /** (PDU, receiver) pairs considered. */
  pairs: number;
  /** Pairs lost. */
  lost: number;
  /** Extra copies created by duplication. */
  duplicated: number;
  /** Copies handed to `emit`. */
  delivered: number;
  /** Held-back copies released after another PDU overtook them. */
  reordered: number;
  /** Held-back copies released by the hold timer (nothing overtook them). */
  reorderTimeouts: number;
  /** Copies scheduled but not yet delivered (including held-back ones). */
  pending: number;
}

/** Receives each copy that reaches a receiver, at the time it is due. */
export type Emit<R, P> = (receiver: R, packet: P) => void;

interface Scheduled<R, P> extends Timed {
  receiver: R;
  packet: P;
  /** Held back when due (reordering). */
  reorder: boolean;
  /** For hold timers: the hold this timer ends (0 for deliveries). */
  holdToken: number;
}

interface Held<P> {
  packet: P;
  token: number;
}

export class MediumChannel<R, P> {
  readonly counters: ChannelCounters = {
    submitted: 0,
    pairs: 0,
    lost: 0,
    duplicated: 0,
    delivered: 0,
    reordered: 0,
    reorderTimeouts: 0,
    pending: 0,
  };
  private readonly queue = new TimedHeap<Scheduled<R, P>>();
  private readonly held = new Map<R, Held<P>>();
  private order = 0;
  private holdTokens = 0;
  private readonly impairments: ChannelImpairments;

  constructor(
    impairments: ChannelImpairments,
    private readonly random: RandomSource,
  ) {
    this.impairments = checkImpairments(impairments);
  }

  /**
   * A PDU sent by `from` at `nowMs`, heard by `receivers` (all attached UEs; `from` is skipped).
   * Copies due at once go to `emit` before this returns; the rest wait for {@link release}.
   */
  submit(packet: P, from: R, receivers: Iterable<R>, nowMs: number, emit: Emit<R, P>): void {
    const { loss, delayMs, jitterMs, duplicate, reorder } = this.impairments;
    const c = this.counters;
    c.submitted++;
    for (const receiver of receivers) {
      if (receiver === from) continue;
      c.pairs++;
      const uLoss = this.random();
      const uJitter = this.random();
      const uDuplicate = this.random();
      const uReorder = this.random();
      const uJitter2 = this.random();
      if (uLoss < loss) {
        c.lost++;
        continue;
      }
      const held = uReorder < reorder;
      this.schedule(receiver, packet, nowMs + delay(delayMs, jitterMs, uJitter), held, nowMs, emit);
      if (uDuplicate < duplicate) {
        c.duplicated++;
        this.schedule(receiver, packet, nowMs + delay(delayMs, jitterMs, uJitter2), false, nowMs, emit);
      }
    }
    if (this.queue.size !== 0) this.release(nowMs, emit);
  }

  /** Hands every copy due at `nowMs` to `emit`. */
  release(nowMs: number, emit: Emit<R, P>): void {
    for (;;) {
      const next = this.queue.peek();
      if (next === undefined || next.dueMs > nowMs) return;
      this.queue.pop();
      if (next.holdToken !== 0) {
        const held = this.held.get(next.receiver);
        if (held !== undefined && held.token === next.holdToken) {
          this.held.delete(next.receiver);
          this.counters.pending--;
          this.counters.reorderTimeouts++;
          this.emit(next.receiver, held.packet, emit);
        }
        continue;
      }
      this.counters.pending--;
      this.arrive(next.receiver, next.packet, next.reorder, nowMs, emit);
    }
  }

  /** When {@link release} next has something to do, or undefined if nothing is pending. */
  nextDueMs(): number | undefined {
    return this.queue.peek()?.dueMs;
  }

  /** Drops everything pending (the medium is shutting down). */
  clear(): void {
    this.queue.clear();
    this.held.clear();
    this.counters.pending = 0;
  }

  private schedule(receiver: R, packet: P, dueMs: number, reorder: boolean, nowMs: number, emit: Emit<R, P>): void {
    if (dueMs <= nowMs && this.queue.size === 0) {
      // Fast path (no delay configured): nothing queued can be due earlier, so no ordering to keep.
      this.arrive(receiver, packet, reorder, nowMs, emit);
      return;
    }
    this.counters.pending++;
    this.queue.push({ dueMs, order: ++this.order, receiver, packet, reorder, holdToken: 0 });
  }

  /** A copy reaches its receiver's radio at `nowMs`. */
  private arrive(receiver: R, packet: P, reorder: boolean, nowMs: number, emit: Emit<R, P>): void {
    const held = this.held.get(receiver);
    if (held === undefined) {
      if (reorder) {
        const token = ++this.holdTokens;
        this.held.set(receiver, { packet, token });
        this.counters.pending++;
        this.queue.push({
          dueMs: nowMs + this.impairments.reorderHoldMs,
          order: ++this.order,
          receiver,
          packet,
          reorder: false,
          holdToken: token,
        });
        return;
      }
      this.emit(receiver, packet, emit);
      return;
    }
    this.held.delete(receiver);
    this.counters.pending--;
    this.emit(receiver, packet, emit);
    this.counters.reordered++;
    this.emit(receiver, held.packet, emit);
  }

  private emit(receiver: R, packet: P, emit: Emit<R, P>): void {
    this.counters.delivered++;
    emit(receiver, packet);
  }
}

function delay(delayMs: number, jitterMs: number, u: number): number {
  const d = delayMs + (2 * u - 1) * jitterMs;
  return d > 0 ? d : 0;
}

/** Validates impairments; throws RangeError naming the field. */
export function checkImpairments(i: ChannelImpairments): ChannelImpairments {
  const prob = (name: keyof ChannelImpairments): void => {
    const v = i[name];
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new RangeError(`${name}: expected a probability from 0 to 1, got ${v}`);
  };
  const ms = (name: keyof ChannelImpairments, min: number): void => {
    const v = i[name];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw new RangeError(`${name}: expected milliseconds >= ${min}, got ${v}`);
  };
  prob('loss');
  prob('duplicate');
  prob('reorder');
  ms('delayMs', 0);
  ms('jitterMs', 0);
  ms('reorderHoldMs', 0);
  if (i.reorderHoldMs === 0 && i.reorder > 0) throw new RangeError('reorderHoldMs: expected > 0 when reorder > 0');
  return { ...i };
}
