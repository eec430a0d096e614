/**
 * `sl-bridge medium` as its own process (the built CLI), with daemons' stack transports attached:
 * the medium crashing (SIGKILL) and coming back on the same endpoint mid-run is survived, traffic
 * resumes by itself and nothing is lost beyond what was in flight; SIGINT prints the stats line.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createZmqStackTransport } from '../../bridge/transport/zmq-stack.js';
import type { StackTransport } from '../../bridge/transport/types.js';
import type { PduEnvelope } from '../../src/wire/envelope.js';
import { freeTcpPort, sleep, tempDir, waitFor } from '../fixtures/transport-helpers.js';
import { startMediumProcess, type MediumProcess } from '../fixtures/transport-medium-process.js';

const closers: Array<() => unknown> = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

interface Ue {
  gmi: number;
  t: StackTransport;
  /** Received PDUs per sender GMI, by sequence number. */
  got: Map<number, number[]>;
  /** performance.now() of each send() call, indexed by the envelope's seq. */
  sentAt: number[];
  /** performance.now() of each time the link came up. */
  upAt: number[];
}

async function attach(endpoint: string, n: number): Promise<Ue[]> {
  const ues: Ue[] = [];
  for (let i = 0; i < n; i++) {
    const got = new Map<number, number[]>();
    const upAt: number[] = [];
    const t = createZmqStackTransport({
      role: 'connect',
      endpoint,
      tuning: { reconnectIntervalMs: 20, reconnectMaxIntervalMs: 100 },
    });
    await t.open({
      frame: (e: PduEnvelope) => {
        let l = got.get(e.l2SourceId);
        if (!l) got.set(e.l2SourceId, (l = []));
        l.push(e.seq);
      },
      link: (up) => void (up && upAt.push(performance.now())),
    });
    closers.push(() => t.close());
    ues.push({ gmi: 0x000200 + i, t, got, sentAt: [], upAt });
  }
  return ues;
}


function sendOne(ue: Ue): void {
  ue.sentAt.push(performance.now());
  ue.t.send({ l2SourceId: ue.gmi, l2DestinationId: 0x00abcd, castType: 'groupcast', pdu: Uint8Array.of(1, 2, 3, 4) });
}

/** Sends until every UE has heard every other one (all attached to the medium). */
async function warmUp(ues: Ue[]): Promise<void> {
  await waitFor(
    () => {
      for (const u of ues) sendOne(u);
      return ues.every((r) => ues.every((s) => s === r || (r.got.get(s.gmi)?.length ?? 0) > 0));
    },
    'every UE to hear every other one',
    15_000,
  );
}

function startTraffic(ues: Ue[]): () => void {
  // About 400 PDUs/s per UE.
  const timer = setInterval(() => {
    for (const u of ues) sendOne(u);
  }, 2);
  return () => clearInterval(timer);
}

async function stopMedium(m: MediumProcess, signal: NodeJS.Signals): Promise<void> {
  m.child.kill(signal);
  await m.exited;
}

describe('sl-bridge medium as a process', () => {
  it('is survived when it crashes and restarts mid-run: traffic resumes, only in-flight PDUs are lost', async () => {
    const { dir, cleanup } = tempDir('slb-medium-');
    closers.push(cleanup);
    const endpoint = `ipc://${dir}/medium.sock`;
    let medium = await startMediumProcess(['--endpoint', endpoint]);
    closers.push(() => medium.child.kill('SIGKILL'));
    const ues = await attach(endpoint, 3);
    await warmUp(ues);

    // From here on every PDU is accounted for.
    const baseGot = ues.map((r) => new Map(ues.map((s) => [s.gmi, r.got.get(s.gmi)?.length ?? 0])));
    const noPeerBefore = ues.reduce((n, u) => n + u.t.counters.dropped['no-peer'], 0);
    const stop = startTraffic(ues);
    await sleep(700);

    const crashAt = performance.now();
    await stopMedium(medium, 'SIGKILL');
    const seqAtCrash = ues.map((u) => u.sentAt.length);
    await waitFor(() => ues.every((u) => !u.t.linkUp), 'every UE to notice the crash');
    await sleep(300); // PDUs sent now are dropped as no-peer, and counted
    expect(ues.every((u) => u.t.counters.dropped['no-peer'] > 0)).toBe(true);

    medium = await startMediumProcess(['--endpoint', endpoint]);
    await waitFor(() => ues.every((u) => u.t.linkUp), 'every UE to reconnect by itself');
    // Traffic resumes: every UE hears PDUs every other UE sent after the crash.
    await waitFor(
      () => ues.every((r) => ues.every((s, si) => s === r || (r.got.get(s.gmi) ?? []).some((q) => q > seqAtCrash[si]!))),
      'traffic from every UE to every other after the restart',
      15_000,
    );
    await sleep(700);
    stop();
    await sleep(300);

    // Every PDU sent after warm-up reached every other UE, except those sent between the crash
    // (minus what was in flight: 100 ms) and the moment the receiver was attached again (its
    // link up, plus 100 ms for its attach probe to reach the medium). Outside that window:
    // nothing lost, nothing duplicated, nothing out of order.
    const MARGIN_MS = 100;
    let lostInWindow = 0;
    for (const s of ues) {
      for (const [ri, r] of ues.entries()) {
        if (r === s) continue;
        const reattachedAt = r.upAt[r.upAt.length - 1]!;
        const seqs = r.got.get(s.gmi) ?? [];
        for (let i = 1; i < seqs.length; i++) expect(seqs[i]!).toBeGreaterThan(seqs[i - 1]!);
        const have = new Set(seqs);
        const firstCounted = baseGot[ri]!.get(s.gmi)! === 0 ? 0 : seqs[baseGot[ri]!.get(s.gmi)! - 1]! + 1;
        const lostOutside: number[] = [];
        for (let q = firstCounted; q < s.sentAt.length; q++) {
          if (have.has(q)) continue;
          const at = s.sentAt[q]!;
          if (at >= crashAt - MARGIN_MS && at <= reattachedAt + MARGIN_MS) lostInWindow++;
          else lostOutside.push(q);
        }
        expect(lostOutside, `${s.gmi.toString(16)} -> ${r.gmi.toString(16)} lost outside the outage`).toEqual([]);
      }
    }
    const localDrops = ues.reduce((n, u) => n + u.t.counters.dropped['no-peer'], 0) - noPeerBefore;
    process.stdout.write(
      `medium crash/restart: ${lostInWindow} PDU copies lost inside the outage windows (${2 * localDrops} of them dropped ` +
        `and counted by their sender while the medium was down, ${lostInWindow - 2 * localDrops} in flight or sent before ` +
        `the receiver re-attached), 0 outside\n`,
    );
    await stopMedium(medium, 'SIGKILL');
  });

  it('rebinds the same TCP port after a clean stop and prints its stats line on SIGINT', async () => {
    const port = await freeTcpPort();
    const endpoint = `tcp://127.0.0.1:${port}`;
    let medium = await startMediumProcess(['--endpoint', endpoint, '--loss', '10%', '--seed', '3']);
    closers.push(() => medium.child.kill('SIGKILL'));
    const ues = await attach(endpoint, 3);
    await warmUp(ues);
    // Let the last copies arrive: a UE drops what it received but had not read yet when its link
    // goes down (ZMQ_IMMEDIATE), which would make this count race the stop.
    await sleep(200);
    const totalGot = (): number => ues.reduce((n, r) => n + [...r.got.values()].reduce((m, l) => m + l.length, 0), 0);
    const gotBeforeStop = totalGot();
    await stopMedium(medium, 'SIGINT');
    const line = /medium: 3 peers attached.*/.exec(medium.output())?.[0];
    expect(line).toBeDefined();
    const pdusIn = Number(/in (\d+) PDUs, 0 malformed/.exec(line!)?.[1]);
    const delivered = Number(/out (\d+) copies delivered/.exec(line!)?.[1]);
    const [, lost, pairs] = /(\d+) lost \([\d.]+% of (\d+)\)/.exec(line!)!.map(Number);
    expect(pdusIn).toBeGreaterThan(0);
    expect(totalGot()).toBe(gotBeforeStop);
    expect(delivered).toBe(gotBeforeStop);
    // Each PDU reaches the others attached at that moment (2 once all are), unless lost.
    expect(delivered + lost!).toBe(pairs);
    expect(pairs).toBeLessThanOrEqual(2 * pdusIn);

    medium = await startMediumProcess(['--endpoint', endpoint]);
    const before = ues.map((r) => [...r.got.values()].reduce((m, l) => m + l.length, 0));
    await waitFor(() => ues.every((u) => u.t.linkUp), 'reconnection');
    await waitFor(
      () => {
        for (const u of ues) sendOne(u);
        return ues.every((r, i) => [...r.got.values()].reduce((m, l) => m + l.length, 0) > before[i]!);
      },
      'traffic through the restarted medium',
      15_000,
    );
  });
});
