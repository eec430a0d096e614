/**
 * The ranging application's request pacing: instances are out of step by their phase, so
 * applications started together do not send in bursts (every request at once, then every answer).
 * Time is vitest's fake clock; the transport an in-memory one that records what is sent.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RangingApp } from '../../bridge/app/ranging.js';
import { newTransportCounters, type AppClientTransport, type SendOutcome } from '../../bridge/transport/types.js';
import type { AppToDaemon } from '../../src/wire/app.js';

function recordingTransport(): AppClientTransport & { sent: AppToDaemon[] } {
  const sent: AppToDaemon[] = [];
  return {
    kind: 'zmq',
    description: 'in-memory',
    counters: newTransportCounters(),
    linkUp: true,
    sent,
    open: async () => undefined,
    send(frame: AppToDaemon): SendOutcome {
      sent.push(frame);
      return 'accepted';
    },
    close: async () => undefined,
  } as AppClientTransport & { sent: AppToDaemon[] };
}

describe('ranging request pacing', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'performance'] }));
  afterEach(() => vi.useRealTimers());

  it('sends at the rate, each instance at its own phase of the period', async () => {
    const apps = [0, 0.5, 0.9].map((phase) => {
      const transport = recordingTransport();
      return { transport, app: new RangingApp({ endpoint: 'inproc://unused', groupId: 0x0d0001, ratePerSecond: 10, transport, phase }) };
    });
    for (const { app } of apps) {
      await app.start();
      app.startRequests();
    }
    const requests = (i: number): number => apps[i]!.transport.sent.length;
    // 10/s: request k is due at (k - phase) x 100 ms (phase 0: 100, 200, ...; 0.5: 50, 150, ...;
    // 0.9: 10, 110, ...), sent at the next 20 ms tick.
    vi.advanceTimersByTime(20);
    expect([0, 1, 2].map(requests)).toEqual([0, 0, 1]);
    vi.advanceTimersByTime(40); // 60 ms
    expect([0, 1, 2].map(requests)).toEqual([0, 1, 1]);
    vi.advanceTimersByTime(40); // 100 ms
    expect([0, 1, 2].map(requests)).toEqual([1, 1, 1]);
    vi.advanceTimersByTime(20); // 120 ms
    expect([0, 1, 2].map(requests)).toEqual([1, 1, 2]);
    vi.advanceTimersByTime(880); // 1000 ms: all at the same rate
    expect([0, 1, 2].map(requests)).toEqual([10, 10, 10]);
    for (const { app } of apps) await app.close();
  });

  it('refuses a phase outside [0, 1)', () => {
    expect(() => new RangingApp({ endpoint: 'inproc://x', groupId: 1, ratePerSecond: 1, transport: recordingTransport(), phase: 1 })).toThrow(/phase: expected 0 to 1/);
  });
});
