/**
 * The medium emulator over real ZeroMQ: UEs attach with the stack-side transport (as daemons
 * do) and exchange envelopes through an in-process MediumServer. Delivery to all others and not
 * back, loss statistics through sockets, seed determinism end to end, delay, and malformed input
 * (bad envelopes, multipart messages, non-ZMTP garbage on the port) counted and survived.
 */
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Dealer } from 'zeromq';
import { MediumServer } from '../../bridge/medium/server.js';
import { createZmqStackTransport } from '../../bridge/transport/zmq-stack.js';
import { unixNowNs } from '../../bridge/transport/clock.js';
import type { StackTransport } from '../../bridge/transport/types.js';
import { NO_IMPAIRMENTS, type ChannelImpairments } from '../../src/medium/channel.js';
import { SequenceTracker } from '../../src/wire/sequence.js';
import { encodePduEnvelope, type PduEnvelope } from '../../src/wire/envelope.js';
import { CollectingSink, sleep, waitFor } from '../fixtures/transport-helpers.js';

const closers: Array<() => unknown> = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

async function startMedium(impairments: Partial<ChannelImpairments> = {}, seed = 1): Promise<MediumServer> {
  const m = new MediumServer({ endpoints: ['tcp://127.0.0.1:*'], impairments: { ...NO_IMPAIRMENTS, ...impairments }, seed });
  await m.start();
  closers.push(() => m.stop());
  return m;
}

interface Ue {
  gmi: number;
  t: StackTransport;
  sink: CollectingSink<PduEnvelope>;
}

/** Attaches UEs one after the other (so their attach order, hence the medium's draw order, is fixed). */
async function attachUes(medium: MediumServer, n: number): Promise<Ue[]> {
  const ues: Ue[] = [];
  for (let i = 0; i < n; i++) {
    const t = createZmqStackTransport({ role: 'connect', endpoint: medium.endpoints[0]! });
    const sink = new CollectingSink<PduEnvelope>();
    await t.open(sink);
    closers.push(() => t.close());
    await waitFor(() => medium.peerCount === i + 1, `UE ${i + 1} to attach`);
    ues.push({ gmi: 0x000100 + i, t, sink });
  }
  return ues;
}

function sendFrom(ue: Ue, i: number): void {
  const outcome = ue.t.send({ l2SourceId: ue.gmi, l2DestinationId: 0x00abcd, castType: 'groupcast', pdu: Uint8Array.of(i & 0xff, i >> 8, 0xee) });
  expect(outcome).toBe('accepted');
}

/** Sends `count` PDUs from each UE, interleaved, pausing now and then so queues never fill. */
async function sendRounds(ues: Ue[], count: number, from: Ue[] = ues): Promise<void> {
  for (let i = 0; i < count; i++) {
    for (const ue of from) sendFrom(ue, i);
    if (i % 50 === 49) await sleep(2);
  }
}

describe('medium emulator over ZeroMQ', () => {
  it('delivers each PDU of 4 UEs to the 3 others, in order, never back to the sender', async () => {
    const medium = await startMedium();
    const ues = await attachUes(medium, 4);
    await sendRounds(ues, 500);
    await waitFor(() => ues.every((u) => u.sink.frames.length === 1500), 'every UE to get 1500 PDUs');
    for (const ue of ues) {
      const trackers = new Map<number, SequenceTracker>();
      for (const e of ue.sink.frames) {
        expect(e.l2SourceId).not.toBe(ue.gmi);
        if (!trackers.has(e.l2SourceId)) trackers.set(e.l2SourceId, new SequenceTracker());
        trackers.get(e.l2SourceId)!.observe(e.seq);
      }
      expect([...trackers.keys()].sort()).toEqual(ues.filter((u) => u !== ue).map((u) => u.gmi));
      for (const tr of trackers.values()) expect(tr.counters).toMatchObject({ received: 500, lost: 0, duplicates: 0, reordered: 0 });
    }
    const s = medium.stats();
    expect(s).toMatchObject({ peers: 4, received: 2000, malformed: 0 });
    expect(s.channel).toMatchObject({ pairs: 6000, delivered: 6000, lost: 0 });
  });

  it('loses about 10% per receiver at --loss 0.1, matching its own count', async () => {
    const medium = await startMedium({ loss: 0.1 }, 7);
    const ues = await attachUes(medium, 4);
    await sendRounds(ues, 1000);
    await waitFor(() => medium.stats().channel.pairs === 12_000, 'the medium to see every PDU');
    const expected = 12_000 - medium.stats().channel.lost;
    await waitFor(() => ues.reduce((n, u) => n + u.sink.frames.length, 0) === expected, 'every surviving copy');
    for (const ue of ues) {
      const fraction = 1 - ue.sink.frames.length / 3000;
      expect(fraction).toBeGreaterThan(0.075);
      expect(fraction).toBeLessThan(0.125);
    }
  });

  it('makes the same decisions for the same seed through real sockets', async () => {
    const run = async (seed: number): Promise<string[][]> => {
      const medium = await startMedium({ loss: 0.3, duplicate: 0.1 }, seed);
      const ues = await attachUes(medium, 3);
      // One sender, so the order of PDUs at the medium is fixed too.
      await sendRounds(ues, 600, [ues[0]!]);
      await waitFor(() => medium.stats().channel.pairs === 1200, 'the medium to see every PDU');
      const copies = medium.stats().channel.delivered;
      await waitFor(() => ues[1]!.sink.frames.length + ues[2]!.sink.frames.length === copies, 'every copy');
      const got = ues.slice(1).map((u) => u.sink.frames.map((e) => String(e.seq)));
      while (closers.length) await closers.pop()!();
      return got;
    };
    const a = await run(2024);
    const b = await run(2024);
    const c = await run(2025);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    expect(a[0]!.length).toBeLessThan(600); // losses happened
  });

  it('holds PDUs back by at least --delay-ms', async () => {
    const medium = await startMedium({ delayMs: 30 });
    const ues = await attachUes(medium, 2);
    const arrivals: bigint[] = [];
    ues[1]!.sink.frame = (e: PduEnvelope) => void arrivals.push(unixNowNs() - e.txTimeNs);
    await sendRounds(ues, 20, [ues[0]!]);
    await waitFor(() => arrivals.length === 20, '20 delayed PDUs');
    for (const d of arrivals) expect(d).toBeGreaterThanOrEqual(30_000_000n);
  });

  it('counts and drops malformed envelopes and bad framing, survives garbage on its port, keeps forwarding', async () => {
    const medium = await startMedium();
    const ues = await attachUes(medium, 2);
    const raw = new Dealer({ linger: 0, probeRouter: true });
    closers.push(() => raw.close());
    raw.connect(medium.endpoints[0]!);
    await waitFor(() => medium.peerCount === 3, 'the raw peer');
    await raw.send(Buffer.from([0x08, 0x01, 0x22])); // truncated
    await raw.send(encodePduEnvelope({ l2SourceId: 1, l2DestinationId: 2, castType: 'groupcast', pdu: Uint8Array.of(1), txTimeNs: 0n, seq: 0 }).subarray(0, 6)); // cut before the PDU
    await raw.send(Buffer.from([0x18, 0x00, 0x22, 0x01, 0x01])); // cast type unspecified
    await raw.send(['a', 'b']); // two frames
    // Not ZeroMQ at all: the handshake fails, the connection is dropped, nothing else happens.
    const [host, port] = medium.endpoints[0]!.slice('tcp://'.length).split(':');
    const sock = connect(Number(port), host!);
    sock.on('error', () => undefined);
    sock.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00\xff\xff\xff'));
    await waitFor(() => medium.stats().malformed === 4, 'four malformed messages');
    sock.destroy();
    await sendRounds(ues, 10);
    await waitFor(() => ues[0]!.sink.frames.length === 10 && ues[1]!.sink.frames.length === 10, 'traffic to flow');
    // The raw peer gets the good PDUs (it is attached) but none of the bad ones reached anybody.
    expect(medium.stats().malformedByCode).toEqual({ 'not-protobuf': 1, 'missing-field': 2, multipart: 1 });
    expect(ues.every((u) => u.t.counters.malformed === 0)).toBe(true);
  });
});
