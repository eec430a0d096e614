/**
 * Latency mode's busy-poll (`run --busy-poll US`, docs/profiling.md, "Latency mode").
 *
 * On the development VM a protect + unprotect takes ~5-10 µs when the same code ran 100 µs
 * before and ~50 µs when it ran 10 ms before, also when the process spun on the clock in
 * between: the time since the code last ran is what cools it, not what ran meanwhile. The
 * keep-warm timer cannot warm more often than every 1 ms (Node's timers), where a packet still
 * costs 2-3x. So, after each message from the stack or an application, the event loop keeps
 * turning (one `setImmediate` per turn: with an immediate pending, libuv polls the sockets with a
 * zero timeout instead of sleeping) until `windowUs` have passed without another message, and
 * runs the keep-warm pass every `warmEveryMs` meanwhile. The cost is up to one core while
 * traffic flows and nothing once it stops; the spin allocates one Immediate per turn.
 *
 * Spinning alone was measured not to help (the pass is what keeps the code warm), hence
 * `warmEveryMs` is required.
 */
import { CliError } from '../cli-error.js';

export interface BusyPollOptions {
  /** How long after the last message the loop keeps turning, µs (> 0). */
  windowUs: number;
  /** Period of the keep-warm pass while turning, ms (> 0; below 1 ms is the point). */
  warmEveryMs: number;
  /** One keep-warm pass (DaemonCore.warm). */
  warm: () => void;
  /** A monotonic clock in ms (performance.now). */
  nowMs: () => number;
  /** Runs `next` on the next loop turn after polling I/O (default setImmediate). */
  turn?: (next: () => void) => void;
}

/** What the status line shows of the busy-poll. */
export interface BusyPollFigures {
  windowUs: number;
  /** Spells of turning started (one per message that found the loop asleep). */
  spells: number;
  /** Time spent turning, ms, the current spell included. */
  spinningMs: number;
  /** Keep-warm passes run by the spin (the timer's are not counted here). */
  passes: number;
  spinning: boolean;
}

export class BusyPoll {
  private readonly windowMs: number;
  private readonly turn: (next: () => void) => void;
  private until = 0;
  private spellStart = 0;
  private lastWarm = -Infinity;
  private spells = 0;
  private spunMs = 0;
  private passes = 0;
  private active = false;
  private stopped = false;

  constructor(private readonly o: BusyPollOptions) {
    if (!(o.windowUs > 0) || !(o.warmEveryMs > 0)) throw new RangeError(`busy-poll: windowUs (${o.windowUs}) and warmEveryMs (${o.warmEveryMs}) must be above 0`);
    this.windowMs = o.windowUs / 1000;
    this.turn = o.turn ?? ((next) => void setImmediate(next));
  }

  /** A message arrived: keep turning until `windowUs` from now. */
  kick(): void {
    if (this.stopped) return;
    const now = this.o.nowMs();
    this.until = now + this.windowMs;
    if (this.active) return;
    this.active = true;
    this.spells++;
    this.spellStart = now;
    this.turn(this.spin);
  }

  /** True while the loop turns: the keep-warm timer leaves its passes to the spin. */
  get spinning(): boolean {
    return this.active;
  }

  /** Ends the current spell at its next turn; later messages start none. */
  stop(): void {
    this.stopped = true;
  }

  figures(): BusyPollFigures {
    const current = this.active ? this.o.nowMs() - this.spellStart : 0;
    return { windowUs: this.o.windowUs, spells: this.spells, spinningMs: Math.round((this.spunMs + current) * 10) / 10, passes: this.passes, spinning: this.active };
  }

  private readonly spin = (): void => {
    const now = this.o.nowMs();
    if (this.stopped || now >= this.until) {
      this.active = false;
      this.spunMs += now - this.spellStart;
      return;
    }
    if (now - this.lastWarm >= this.o.warmEveryMs) {
      this.lastWarm = now;
      this.passes++;
      this.o.warm();
    }
    this.turn(this.spin);
  };
}

/**
 * Latency mode's flags together (docs/profiling.md, "Latency mode"): Node's timers fire at most
 * every 1 ms, so a shorter keep-warm period only means something while busy-polling; and a
 * busy-poll without keep-warm passes spins for nothing (measured).
 */
export function checkLatencyFlags(flags: { keepWarm?: number | undefined; busyPoll?: number | undefined }, command: string): void {
  const keepWarm = flags.keepWarm ?? 0;
  const busyPoll = flags.busyPoll ?? 0;
  if (busyPoll > 0 && keepWarm === 0) {
    throw new CliError(`${command}: --busy-poll needs --keep-warm MS (spinning without keep-warm passes keeps nothing warm; try --keep-warm 0.1)`, 2);
  }
  if (keepWarm > 0 && keepWarm < 1 && busyPoll === 0) {
    throw new CliError(`${command}: --keep-warm below 1 ms needs --busy-poll US (timers fire at most every 1 ms; only a busy-polling loop warms more often)`, 2);
  }
}
