/**
 * The ZeroMQ transports over real libzmq sockets on loopback: the stack-side transport in both
 * roles, the application server and client, drop accounting (no peer, high-water mark, too large,
 * invalid, closed), malformed input from a socket (counted, never fatal), and reconnection after
 * the bound side restarts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Dealer, Router } from 'zeromq';
import { decodePduEnvelope, encodePduEnvelope, type OutgoingPdu, type PduEnvelope } from '../../src/wire/envelope.js';
import { decodeDaemonToApp, encodeAppToDaemon, type AppToDaemon, type DaemonToApp } from '../../src/wire/app.js';
import { createZmqStackTransport } from '../../bridge/transport/zmq-stack.js';
import { ZmqAppServer } from '../../bridge/transport/zmq-app-server.js';
import { createZmqAppClient } from '../../bridge/transport/zmq-app-client.js';
import { TransportError } from '../../bridge/transport/types.js';
import type { FrameTransport, TransportCounters } from '../../bridge/transport/types.js';
import { CollectingSink, freeTcpPort, sleep, tempDir, waitFor } from '../fixtures/transport-helpers.js';

const closers: Array<() => unknown> = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});
function track<T extends { close(): unknown }>(x: T): T {
  closers.push(() => x.close());
  return x;
}

const pdu = (i: number, src = 0x000101): OutgoingPdu => ({
  l2SourceId: src,
  l2DestinationId: 0xabcdef,
  castType: 'groupcast',
  pdu: Uint8Array.of(0x20, i & 0xff, (i >> 8) & 0xff, 1, 2, 3),
});

function totalDropped(c: TransportCounters): number {
  return Object.values(c.dropped).reduce((a, b) => a + b, 0);
}

/** A shim as a C stack would run it: a DEALER connecting to the daemon's bound stack endpoint. */
async function shimAt(endpoint: string): Promise<{ sock: Dealer; got: PduEnvelope[]; raw: Buffer[] }> {
  const sock = track(new Dealer({ linger: 0, sendTimeout: 0 }));
  sock.connect(endpoint);
  const got: PduEnvelope[] = [];
  const raw: Buffer[] = [];
  void (async () => {
    try {
      for await (const [msg] of sock) {
        raw.push(msg!);
        const d = decodePduEnvelope(msg!);
        if (d.ok) got.push(d.value);
      }
    } catch {
      /* closed */
    }
  })();
  return { sock, got, raw };
}

describe('stack transport, role bind (a stack shim connects)', () => {
  it('exchanges envelopes both ways with a shim, stamping tx time and sequence numbers', async () => {
    const stack = track(createZmqStackTransport({ role: 'bind', endpoint: 'tcp://127.0.0.1:*', clock: () => 42n }));
    const sink = new CollectingSink<PduEnvelope>();
    await stack.open(sink);
    expect(stack.description).toMatch(/^zmq bind tcp:\/\/127\.0\.0\.1:\d+$/);
    const shim = await shimAt(stack.description.split(' ')[2]!);
    await waitFor(() => stack.linkUp, 'the shim to connect');
    for (let i = 0; i < 100; i++) expect(stack.send(pdu(i))).toBe('accepted');
    await waitFor(() => shim.got.length === 100, 'the shim to get 100 envelopes');
    expect(shim.got.map((e) => e.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(shim.got.every((e) => e.txTimeNs === 42n && e.castType === 'groupcast' && e.l2DestinationId === 0xabcdef)).toBe(true);
    expect(Array.from(shim.got[7]!.pdu)).toEqual(Array.from(pdu(7).pdu));

    for (let i = 0; i < 50; i++) {
      await shim.sock.send(encodePduEnvelope({ ...pdu(i, 0x000202), txTimeNs: BigInt(i), seq: i }));
    }
    await waitFor(() => sink.frames.length === 50, 'the daemon to get 50 envelopes');
    expect(sink.frames.map((e) => e.l2SourceId)).toEqual(new Array(50).fill(0x000202));
    expect(stack.counters).toMatchObject({ sent: 100, received: 50, malformed: 0 });
  });

  it('counts and drops malformed frames from the shim and keeps receiving', async () => {
    const stack = track(createZmqStackTransport({ role: 'bind', endpoint: 'tcp://127.0.0.1:*', maxPduBytes: 64 }));
    const sink = new CollectingSink<PduEnvelope>();
    await stack.open(sink);
    const shim = await shimAt(stack.description.split(' ')[2]!);
    const good = (i: number): Uint8Array => encodePduEnvelope({ ...pdu(i), txTimeNs: 1n, seq: i });
    await shim.sock.send(good(1));
    await shim.sock.send(Buffer.from('this is not protobuf \xff\xff\xff\xff'));
    await shim.sock.send(encodePduEnvelope({ ...pdu(2), pdu: new Uint8Array(65).fill(1), txTimeNs: 1n, seq: 2 })); // too large
    await shim.sock.send([good(3), good(4)]); // multipart: not our framing
    await shim.sock.send(Buffer.alloc(0)); // an attach probe: ignored, not malformed
    await shim.sock.send(good(5));
    await waitFor(() => sink.frames.length === 2 && stack.counters.malformed === 3, 'two good frames and three malformed');
    expect(sink.frames.map((e) => e.seq)).toEqual([1, 5]);
    expect(sink.malformedFrames.map((m) => m.code).sort()).toEqual(['multipart', 'not-protobuf', 'too-large']);
  });

  it('survives a sink that throws (counted) and a shim that restarts', async () => {
    const stack = track(createZmqStackTransport({ role: 'bind', endpoint: 'tcp://127.0.0.1:*' }));
    let calls = 0;
    await stack.open({
      frame: () => {
        calls++;
        throw new Error('a bug in the daemon');
      },
    });
    const ep = stack.description.split(' ')[2]!;
    const first = await shimAt(ep);
    await first.sock.send(encodePduEnvelope({ ...pdu(1), txTimeNs: 1n, seq: 0 }));
    await waitFor(() => calls === 1, 'the first frame');
    first.sock.close();
    await waitFor(() => !stack.linkUp, 'the link to go down');
    const second = await shimAt(ep);
    await waitFor(() => stack.linkUp, 'the restarted shim');
    await second.sock.send(encodePduEnvelope({ ...pdu(2), txTimeNs: 1n, seq: 0 }));
    expect(stack.send(pdu(3))).toBe('accepted');
    await waitFor(() => calls === 2 && second.got.length === 1, 'traffic with the restarted shim');
    expect(stack.counters.handlerErrors).toBe(2);
    expect(stack.counters.linkUps).toBe(2);
    expect(stack.counters.linkDowns).toBe(1);
  });
});

describe('stack transport, role connect', () => {
  it('drops (and counts) sends while nothing is bound, then delivers once the peer is up', async () => {
    const port = await freeTcpPort();
    const ep = `tcp://127.0.0.1:${port}`;
    const stack = track(createZmqStackTransport({ role: 'connect', endpoint: ep, tuning: { reconnectIntervalMs: 20, reconnectMaxIntervalMs: 20 } }));
    await stack.open(new CollectingSink());
    for (let i = 0; i < 20; i++) expect(stack.send(pdu(i))).toBe('accepted');
    await waitFor(() => stack.counters.dropped['no-peer'] === 20, 'the refusals to be counted');
    expect(stack.counters.sent).toBe(0);

    const router = track(new Router({ linger: 0 }));
    await router.bind(ep);
    const got: Buffer[][] = [];
    void (async () => {
      try {
        for await (const m of router) got.push(m);
      } catch {
        /* closed */
      }
    })();
    // The first thing the router hears is the empty attach probe (ZMQ_PROBE_ROUTER).
    await waitFor(() => got.length === 1, 'the attach probe');
    expect(got[0]![1]!.length).toBe(0);
    await waitFor(() => stack.linkUp, 'the link to come up');
    stack.send(pdu(99));
    await waitFor(() => got.length === 2, 'the PDU');
    const d = decodePduEnvelope(got[1]![1]!);
    // Sequence numbers kept counting through the drops: receivers see the gap.
    expect(d.ok && d.value.seq).toBe(20);
    expect(stack.counters.sent).toBe(1);
  });

  it('drops at the high-water mark instead of queueing without bound; sent + dropped = offered', async () => {
    // A peer that never reads: our queue and the socket buffers fill, then sends are refused.
    const router = track(new Router({ linger: 0, receiveHighWaterMark: 10 }));
    await router.bind('tcp://127.0.0.1:*');
    const stack = track(
      createZmqStackTransport({ role: 'connect', endpoint: router.lastEndpoint!, tuning: { sendHighWaterMark: 10, receiveHighWaterMark: 10 } }),
    );
    await stack.open(new CollectingSink());
    await waitFor(() => stack.linkUp, 'the link');
    const big = { ...pdu(0), pdu: new Uint8Array(8000).fill(9) };
    const offered = 3000;
    for (let i = 0; i < offered; i++) {
      expect(stack.send(big)).toBe('accepted');
      if (i % 100 === 0) await sleep(1);
    }
    await sleep(50);
    const c = stack.counters;
    expect(c.dropped.hwm).toBeGreaterThan(0);
    expect(c.sent + totalDropped(c)).toBe(offered);
  });

  it('refuses with a reason: not open, too large, invalid record, closed', async () => {
    const stack = createZmqStackTransport({ role: 'bind', endpoint: 'tcp://127.0.0.1:*', maxPduBytes: 10 });
    expect(stack.send(pdu(1))).toBe('not-open');
    await stack.open(new CollectingSink());
    expect(stack.send({ ...pdu(1), pdu: new Uint8Array(11) })).toBe('too-large');
    expect(stack.send({ ...pdu(1), l2SourceId: 0x1000000 })).toBe('invalid');
    expect(stack.send({ ...pdu(1), pdu: new Uint8Array(0) })).toBe('invalid');
    await stack.close();
    expect(stack.send(pdu(1))).toBe('closed');
    expect(stack.counters.dropped).toMatchObject({ 'not-open': 1, 'too-large': 1, invalid: 2, closed: 1 });
  });

  it('reports a bad endpoint as a TransportError with a code', async () => {
    const a = track(createZmqStackTransport({ role: 'bind', endpoint: 'tcp://127.0.0.1:*' }));
    await a.open(new CollectingSink());
    const taken = a.description.split(' ')[2]!;
    const b = createZmqStackTransport({ role: 'bind', endpoint: taken });
    const err = await b.open(new CollectingSink()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).code).toBe('EENDPOINT');
    expect((err as Error).message).toContain(taken);
  });
});

describe('application server and client', () => {
  const send = (i: number): AppToDaemon => ({ kind: 'send', groupId: 0x00abcd, sduType: 1, sdu: Uint8Array.of(i), appSeq: i, appTimeNs: 5n });
  const delivery = (i: number): DaemonToApp => ({
    kind: 'delivery',
    groupId: 0x00abcd,
    sduType: 1,
    sdu: Uint8Array.of(i),
    senderGmi: 0x000202,
    txTimeNs: 1n,
    rxTimeNs: 2n,
    deliveredTimeNs: 3n,
    envelopeSeq: i,
  });

  async function openClient(endpoint: string): Promise<{ client: FrameTransport<AppToDaemon, DaemonToApp>; sink: CollectingSink<DaemonToApp> }> {
    const client = track(createZmqAppClient({ endpoint }));
    const sink = new CollectingSink<DaemonToApp>();
    await client.open(sink);
    return { client, sink };
  }

  it('fans deliveries out to every attached application and answers one with sendTo', async () => {
    const server = track(new ZmqAppServer({ endpoints: ['tcp://127.0.0.1:*'] }));
    const inbox = new CollectingSink<AppToDaemon>();
    await server.open(inbox);
    expect(server.send(delivery(0))).toBe('no-peer');
    const a = await openClient(server.endpoints[0]!);
    const b = await openClient(server.endpoints[0]!);
    await waitFor(() => server.peerCount === 2, 'two applications to attach (attach probes)');
    for (let i = 0; i < 10; i++) expect(server.send(delivery(i))).toBe('accepted');
    await waitFor(() => a.sink.frames.length === 10 && b.sink.frames.length === 10, 'both to get 10 deliveries');

    expect(a.client.send(send(7))).toBe('accepted');
    await waitFor(() => inbox.frames.length === 1, 'the SDU');
    expect(inbox.frames[0]).toMatchObject({ kind: 'send', groupId: 0x00abcd, appSeq: 7 });
    expect(server.sendTo(inbox.from[0]!, { kind: 'refused', appSeq: 7, reason: 'no-key' })).toBe('accepted');
    await waitFor(() => a.sink.frames.length === 11, 'the refusal');
    expect(a.sink.frames[10]).toEqual({ kind: 'refused', appSeq: 7, reason: 'no-key' });
    await sleep(50);
    expect(b.sink.frames).toHaveLength(10);
  });

  it('counts and drops a malformed SDU message from a socket, and keeps serving', async () => {
    const server = track(new ZmqAppServer({ endpoints: ['tcp://127.0.0.1:*'], maxSduBytes: 100 }));
    const inbox = new CollectingSink<AppToDaemon>();
    await server.open(inbox);
    const raw = track(new Dealer({ linger: 0 }));
    raw.connect(server.endpoints[0]!);
    await raw.send(Buffer.from([0x0a, 0x05, 0x10, 0x07, 0x1a, 0x01, 0x01])); // sdu_type 7: reserved
    await raw.send(Buffer.from([0xff, 0xff, 0xff]));
    await raw.send(encodeAppToDaemon({ ...send(1), sdu: new Uint8Array(101) }));
    await raw.send(['two', 'frames']);
    await raw.send(encodeAppToDaemon(send(2)));
    await waitFor(() => inbox.frames.length === 1 && server.counters.malformed === 4, 'one good SDU and four malformed');
    expect(inbox.malformedFrames.map((m) => m.code).sort()).toEqual(['multipart', 'not-protobuf', 'out-of-range', 'too-large']);
    // The misbehaving application still gets deliveries: it is a peer like any other.
    server.send(delivery(3));
    const [msg] = await raw.receive();
    const d = decodeDaemonToApp(msg!);
    expect(d.ok && d.value.kind).toBe('delivery');
  });

  it('forgets an application that went away and serves the one that replaced it', async () => {
    const server = track(new ZmqAppServer({ endpoints: ['tcp://127.0.0.1:*'] }));
    await server.open(new CollectingSink());
    const first = await openClient(server.endpoints[0]!);
    await waitFor(() => server.peerCount === 1, 'the first application');
    await first.client.close();
    const second = await openClient(server.endpoints[0]!);
    await waitFor(() => server.peerCount === 2, 'the second application (the first is not known to be gone yet)');
    server.send(delivery(1));
    // The copy to the departed one fails with EHOSTUNREACH: it is forgotten.
    await waitFor(() => server.peerCount === 1, 'the departed application to be forgotten');
    await waitFor(() => second.sink.frames.length === 1, 'the delivery');
    expect(server.counters.dropped['no-peer']).toBe(1);
  });

  it('reconnects the application after the daemon (bound side) restarts on the same endpoint', async () => {
    const { dir, cleanup } = tempDir();
    closers.push(cleanup);
    const ep = `ipc://${dir}/ue1.sock`;
    const s1 = new ZmqAppServer({ endpoints: [ep] });
    await s1.open(new CollectingSink());
    const app = await openClient(ep);
    await waitFor(() => s1.peerCount === 1, 'attach');
    s1.send(delivery(1));
    await waitFor(() => app.sink.frames.length === 1, 'first delivery');
    await s1.close();
    await waitFor(() => !app.client.linkUp, 'the app to notice');
    expect(app.client.send(send(1))).toBe('accepted');
    await waitFor(() => app.client.counters.dropped['no-peer'] === 1, 'the send while the daemon is down to be dropped');

    const s2 = track(new ZmqAppServer({ endpoints: [ep] }));
    const inbox = new CollectingSink<AppToDaemon>();
    await s2.open(inbox);
    await waitFor(() => s2.peerCount === 1, 'the app to re-attach by itself');
    s2.send(delivery(2));
    app.client.send(send(2));
    await waitFor(() => app.sink.frames.length === 2 && inbox.frames.length === 1, 'traffic after the restart');
    expect(inbox.frames[0]!.appSeq).toBe(2);
  });
});
