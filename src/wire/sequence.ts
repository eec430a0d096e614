/**
 * Loss / duplicate / reordering accounting from the per-sender `seq` of PduEnvelope (uint32,
 * wrapping). Receivers keep one {@link SequenceTracker} per L2 source. I/O-free.
 *
 * A gap counts its missing numbers as lost; a missing number that arrives later (within the
 * window) is moved from lost to reordered; a number seen twice is a duplicate. A number more than
 * {@link RESTART_DISTANCE} behind the highest one is taken as the sender having restarted (its
 * transport counts from 0 again): the tracker starts over and counts a restart.
 */

/** How far back a late arrival is still recognised (duplicate vs reordered). */
export const SEQUENCE_WINDOW = 1024;
/** A step back larger than this is a sender restart, not reordering. */
export const RESTART_DISTANCE = 4096;

export type SequenceVerdict = 'first' | 'next' | 'gap' | 'duplicate' | 'reordered' | 'too-old' | 'restart';

export interface SequenceCounters {
  /** Envelopes observed (every verdict). */
  received: number;
  /** Numbers skipped and not (yet) seen. */
  lost: number;
  duplicates: number;
  /** Arrived after a higher number (counted once, and removed from `lost`). */
  reordered: number;
  /** Older than the window: cannot tell duplicate from reordered. */
  tooOld: number;
  restarts: number;
}

export class SequenceTracker {
  private highest = 0;
  private started = false;
  /** seen[n % WINDOW] === 1 when n (within WINDOW of highest) has been seen. */
  private readonly seen = new Uint8Array(SEQUENCE_WINDOW);
  readonly counters: SequenceCounters = { received: 0, lost: 0, duplicates: 0, reordered: 0, tooOld: 0, restarts: 0 };

  observe(seq: number): SequenceVerdict {
    const c = this.counters;
    c.received++;
    seq >>>= 0;
    if (!this.started) {
      this.started = true;
      this.reset(seq);
      return 'first';
    }
    const ahead = (seq - this.highest) | 0; // signed distance modulo 2^32
    if (ahead > 0) {
      // Forget the slots the window slides over (2^32 is a multiple of the window, so modulo
      // arithmetic on unwrapped sums stays right across the uint32 wrap).
      if (ahead >= SEQUENCE_WINDOW) this.seen.fill(0);
      else for (let i = 1; i < ahead; i++) this.seen[(this.highest + i) % SEQUENCE_WINDOW] = 0;
      this.seen[seq % SEQUENCE_WINDOW] = 1;
      this.highest = seq;
      c.lost += ahead - 1;
      return ahead === 1 ? 'next' : 'gap';
    }
    if (ahead === 0) {
      c.duplicates++;
      return 'duplicate';
    }
    if (-ahead > RESTART_DISTANCE) {
      c.restarts++;
      this.reset(seq);
      return 'restart';
    }
    if (-ahead >= SEQUENCE_WINDOW) {
      c.tooOld++;
      return 'too-old';
    }
    const slot = seq % SEQUENCE_WINDOW;
    if (this.seen[slot] === 1) {
      c.duplicates++;
      return 'duplicate';
    }
    this.seen[slot] = 1;
    c.reordered++;
    if (c.lost > 0) c.lost--;
    return 'reordered';
  }

  private reset(seq: number): void {
    this.seen.fill(0);
    this.seen[seq % SEQUENCE_WINDOW] = 1;
    this.highest = seq;
  }
}
