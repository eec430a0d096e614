/**
 * Latency mode's busy-poll (bridge/daemon/busy-poll.ts), with the clock and the loop turns in the
 * test's hands: a spell starts on a message that finds the loop asleep, lasts until the window has
 * passed without another message, runs a keep-warm pass at its period (also under 1 ms, which the
 * daemon's timer cannot) and never otherwise; and the flags that go with it.
 */
import { describe, expect, it } from 'vitest';
import { CliError } from '../../bridge/cli-error.js';
import { BusyPoll, checkLatencyFlags } from '../../bridge/daemon/busy-poll.js';

/** A BusyPoll on a clock the test moves; `step` advances it and runs one queued turn. */
function harness(windowUs: number, warmEveryMs: number) {
  let now = 1000;
  let queued: (() => void)[] = [];
  const warmedAt: number[] = [];
  const poll = new BusyPoll({ windowUs, warmEveryMs, warm: () => warmedAt.push(now), nowMs: () => now, turn: (next) => void queued.push(next) });
  return {
    poll,
    warmedAt,
    get queued() {
      return queued.length;
    },
    at: (ms: number) => void (now = ms),
    /** Moves the clock by `ms`, then runs the turn the loop has queued (if any). */
    step(ms: number): void {
      now += ms;
      const turns = queued;
      queued = [];
      for (const t of turns) t();
    },
  };
}

describe('BusyPoll', () => {
  it('a message starts a spell that turns the loop until the window has passed, then sleeps', () => {
    const h = harness(1000, 0.1);
    expect(h.queued).toBe(0);
    expect(h.poll.figures()).toMatchObject({ spells: 0, passes: 0, spinning: false });
    h.poll.kick();
    expect(h.poll.spinning).toBe(true);
    expect(h.queued).toBe(1);
    // Steps that add up exactly in binary floating point.
    for (let i = 0; i < 7; i++) h.step(0.125); // 0.875 ms into the 1 ms window
    expect(h.poll.spinning).toBe(true);
    expect(h.queued).toBe(1);
    h.step(0.125); // 1.0 ms: the window has passed
    expect(h.poll.spinning).toBe(false);
    expect(h.queued).toBe(0);
    expect(h.poll.figures()).toMatchObject({ windowUs: 1000, spells: 1, spinningMs: 1, spinning: false });
  });

  it('a message during a spell extends it without a second loop', () => {
    const h = harness(1000, 0.1);
    h.poll.kick();
    h.step(0.5);
    h.poll.kick(); // the window now ends at 1.5 ms
    expect(h.queued).toBe(1);
    h.step(0.75);
    expect(h.poll.spinning).toBe(true);
    h.step(0.25);
    expect(h.poll.spinning).toBe(false);
    expect(h.poll.figures()).toMatchObject({ spells: 1, spinningMs: 1.5 });
    h.poll.kick(); // asleep again: a new spell
    expect(h.poll.figures()).toMatchObject({ spells: 2, spinning: true });
  });

  it('runs a keep-warm pass at its period while turning, also under 1 ms, and none while asleep', () => {
    const h = harness(2000, 0.25);
    h.poll.kick();
    for (let i = 0; i < 32; i++) h.step(0.0625); // 2 ms of turns, 62.5 µs apart
    expect(h.poll.spinning).toBe(false);
    // The first turn warms; then one pass per 0.25 ms: 1000.0625, 1000.3125, ... 1001.8125.
    expect(h.warmedAt).toHaveLength(8);
    for (let i = 1; i < h.warmedAt.length; i++) expect(h.warmedAt[i]! - h.warmedAt[i - 1]!).toBe(0.25);
    expect(h.poll.figures().passes).toBe(8);
    h.step(50); // asleep: nothing queued, nothing runs
    expect(h.warmedAt).toHaveLength(8);
  });

  it('a pass is due by the clock, not by the number of turns: slow turns warm every turn', () => {
    const h = harness(10_000, 0.1);
    h.poll.kick();
    for (let i = 0; i < 5; i++) h.step(1); // turns 1 ms apart (a loaded loop)
    expect(h.warmedAt).toHaveLength(5);
  });

  it('stop ends the spell at its next turn and later messages start none', () => {
    const h = harness(100_000, 0.1);
    h.poll.kick();
    h.step(0.1);
    h.poll.stop();
    h.step(0.1);
    expect(h.poll.spinning).toBe(false);
    expect(h.queued).toBe(0);
    h.poll.kick();
    expect(h.queued).toBe(0);
    expect(h.poll.figures()).toMatchObject({ spells: 1, spinning: false });
  });

  it('refuses a window or a period that is not above 0', () => {
    const base = { warm: () => undefined, nowMs: () => 0 };
    expect(() => new BusyPoll({ ...base, windowUs: 0, warmEveryMs: 0.1 })).toThrow(RangeError);
    expect(() => new BusyPoll({ ...base, windowUs: 100, warmEveryMs: 0 })).toThrow(/warmEveryMs \(0\)/);
    expect(() => new BusyPoll({ ...base, windowUs: Number.NaN, warmEveryMs: 1 })).toThrow(RangeError);
  });
});

describe('latency mode flags', () => {
  const check = (flags: { keepWarm?: number; busyPoll?: number }): CliError | undefined => {
    try {
      checkLatencyFlags(flags, 'run');
      return undefined;
    } catch (e) {
      expect(e).toBeInstanceOf(CliError);
      return e as CliError;
    }
  };

  it('accepts off, keep-warm alone from 1 ms, and busy-poll with any keep-warm period', () => {
    expect(check({})).toBeUndefined();
    expect(check({ keepWarm: 1 })).toBeUndefined();
    expect(check({ keepWarm: 0.1, busyPoll: 100_000 })).toBeUndefined();
    expect(check({ keepWarm: 5, busyPoll: 1 })).toBeUndefined();
  });

  it('refuses busy-poll without keep-warm, and keep-warm under 1 ms without busy-poll (exit 2)', () => {
    const spin = check({ busyPoll: 1000 });
    expect(spin?.message).toMatch(/^run: --busy-poll needs --keep-warm MS/);
    expect(spin?.exitCode).toBe(2);
    const fast = check({ keepWarm: 0.5 });
    expect(fast?.message).toMatch(/^run: --keep-warm below 1 ms needs --busy-poll US/);
    expect(fast?.exitCode).toBe(2);
  });
});
