/**
 * bridge/transport/clock.ts: the Unix-epoch nanoseconds every *_time_ns field carries. One-way
 * latencies subtract two processes' readings, so each process's anchor to the realtime clock must
 * be right. Seen in the OpenAirInterface interop run: a daemon started while real-time threads
 * held the CPU stamped its envelopes 80 ms in the future, because `performance.timeOrigin` (read
 * by Node at start-up) was off by that much. The attack below makes timeOrigin wrong on purpose.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { unixNowNs } from '../../bridge/transport/clock.js';

const CLOCK = fileURLToPath(new URL('../../bridge/transport/clock.ts', import.meta.url));

describe('unixNowNs', () => {
  it('agrees with Date.now() to within a millisecond', () => {
    for (let i = 0; i < 100; i++) {
      const before = BigInt(Date.now()) * 1_000_000n;
      const t = unixNowNs();
      const after = BigInt(Date.now() + 1) * 1_000_000n;
      expect(t >= before && t <= after, `${t} not in [${before}, ${after}]`).toBe(true);
    }
  });

  it('does not inherit an error of performance.timeOrigin (80 ms off here)', () => {
    const script = `
      const { performance } = await import('node:perf_hooks');
      const real = performance.timeOrigin;
      Object.defineProperty(performance, 'timeOrigin', { get: () => real + 80 });
      const { unixNowNs } = await import(${JSON.stringify(CLOCK)});
      const d = Number(unixNowNs() - BigInt(Date.now()) * 1000000n) / 1e6;
      process.stdout.write(String(d));`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    const offsetMs = Number(out);
    expect(Math.abs(offsetMs), `unixNowNs - Date.now() = ${offsetMs} ms`).toBeLessThan(2);
  });
});
