/**
 * The ZeroMQ transports over real libzmq sockets on loopback: the stack-side transport in both
 * roles, the application server and client, drop accounting (no peer, high-water mark, too large,
 * invalid, closed), malformed input from a socket (counted, never fatal), and reconnection after
 * the bound side restarts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Dealer, Router } from 'zeromq';
import { decodePduEnvelope, encodePduEnvelope, type OutgoingPdu, type PduEnvelope } from '../../src/wire/envelope.js';
import { decodeAppToDaemon, decodeDaemonToApp, encodeAppToDaemon, encodeDaemonToApp, type AppSendSdu, type DaemonToApp } from '../../src/wire/app.js';
import { createZmqStackTransport } from '../../bridge/transport/zmq-stack.js';
import { MAX_BATCH_FRAMES, ZmqAppServer } from '../../bridge/transport/zmq-app-server.js';
import { createZmqAppClient } from '../../bridge/transport/zmq-app-client.js';
import { ZmqDealerTransport } from '../../bridge/transport/zmq-dealer.js';
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
  const send = (i: number): AppSendSdu => ({ kind: 'send', groupId: 0x00abcd, sduType: 1, sdu: Uint8Array.of(i), appSeq: i, appTimeNs: 5n });
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

  async function openClient(endpoint: string): Promise<{ client: FrameTransport<AppSendSdu, DaemonToApp>; sink: CollectingSink<DaemonToApp> }> {
    const client = track(createZmqAppClient({ endpoint }));
    const sink = new CollectingSink<DaemonToApp>();
    await client.open(sink);
    return { client, sink };
  }

  it('fans deliveries out to every attached application and answers one with sendTo', async () => {
    const server = track(new ZmqAppServer({ endpoints: ['tcp://127.0.0.1:*'] }));
    const inbox = new CollectingSink<AppSendSdu>();
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
    const inbox = new CollectingSink<AppSendSdu>();
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
    const inbox = new CollectingSink<AppSendSdu>();
    await s2.open(inbox);
    await waitFor(() => s2.peerCount === 1, 'the app to re-attach by itself');
    // The new connection starts with its own AppHello: deliveries are batched again.
    await waitFor(() => s2.batchedPeerCount === 1, 'the hello on the new connection');
    s2.send(delivery(2));
    app.client.send(send(2));
    await waitFor(() => app.sink.frames.length === 2 && inbox.frames.length === 1, 'traffic after the restart');
    expect(inbox.frames[0]!.appSeq).toBe(2);
  });
});

describe('application link: batched deliveries (AppHello)', () => {
  const delivery = (i: number, bytes = 1): DaemonToApp => ({
    kind: 'delivery',
    groupId: 0x00abcd,
    sduType: 1,
    sdu: new Uint8Array(bytes).fill(i & 0xff),
    senderGmi: 0x000202,
    txTimeNs: 1n,
    rxTimeNs: 2n,
    deliveredTimeNs: 3n,
    envelopeSeq: i,
  });
  const hello = (batchedDeliveries: boolean): Uint8Array => encodeAppToDaemon({ kind: 'hello', batchedDeliveries });
  const sdu = (i: number): Uint8Array => encodeAppToDaemon({ kind: 'send', groupId: 0x00abcd, sduType: 1, sdu: Uint8Array.of(i), appSeq: i, appTimeNs: 0n });

  /** Every ZeroMQ message `sock` receives from now on, as frames. */
  function collect(sock: Dealer | Router): Buffer[][] {
    const messages: Buffer[][] = [];
    void (async () => {
      try {
        for await (const frames of sock) messages.push(frames);
      } catch {
        /* closed */
      }
    })();
    return messages;
  }
  /** An application written against the socket directly; one that `stalls` never reads. */
  function rawApp(endpoint: string, options: { receiveHighWaterMark?: number; stalls?: boolean } = {}): { sock: Dealer; messages: Buffer[][] } {
    const { stalls = false, ...socketOptions } = options;
    const sock = track(new Dealer({ linger: 0, probeRouter: true, ...socketOptions }));
    sock.connect(endpoint);
    return { sock, messages: stalls ? [] : collect(sock) };
  }
  const envelopeSeqs = (frames: Buffer[]): unknown[] => frames.map((f) => {
    const d = decodeDaemonToApp(f);
    return d.ok ? (d.value.kind === 'delivery' ? d.value.envelopeSeq : d.value.reason) : 'malformed';
  });

  it('sends one turn as one multipart message to an application that asked, one frame per message to one that did not', async () => {
    const server = track(new ZmqAppServer({ endpoints: ['tcp://127.0.0.1:*'] }));
    const inbox = new CollectingSink<AppSendSdu>();
    await server.open(inbox);
    const batched = rawApp(server.endpoints[0]!);
    const plain = rawApp(server.endpoints[0]!);
    await batched.sock.send(hello(true));
    await batched.sock.send(sdu(1)); // to learn its peer handle for sendTo
    await waitFor(() => server.peerCount === 2 && inbox.frames.length === 1, 'both applications and the SDU');
    expect(server.batchedPeerCount).toBe(1);
    // The hello is the transport's: the daemon's sink saw only the SDU.
    expect(server.counters.received).toBe(1);

    for (let i = 0; i < 10; i++) expect(server.send(delivery(i))).toBe('accepted');
    expect(server.sendTo(inbox.from[0]!, { kind: 'refused', appSeq: 1, reason: 'no-key' })).toBe('accepted');
    await waitFor(() => batched.messages.length === 1 && plain.messages.length === 10, 'the batch and the ten single messages');
    expect(batched.messages[0]).toHaveLength(11);
    expect(envelopeSeqs(batched.messages[0]!)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 'no-key']);
    expect(plain.messages.every((m) => m.length === 1)).toBe(true);
    expect(plain.messages.flatMap(envelopeSeqs)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(server.counters.sent).toBe(21);

    // Asking for single messages again: from the next turn on, one frame per message.
    await batched.sock.send(hello(false));
    await waitFor(() => server.batchedPeerCount === 0, 'the second hello');
    server.send(delivery(20));
    server.send(delivery(21));
    await waitFor(() => batched.messages.length === 3, 'two single messages');
    expect(batched.messages.slice(1).map((m) => m.length)).toEqual([1, 1]);
  });

  it(`splits a turn with more than ${MAX_BATCH_FRAMES} frames for one application into messages of at most ${MAX_BATCH_FRAMES}`, async () => {
    const server = track(new ZmqAppServer({ endpoints: ['tcp://127.0.0.1:*'] }));
    await server.open(new CollectingSink());
    const app = rawApp(server.endpoints[0]!);
    await app.sock.send(hello(true));
    await waitFor(() => server.batchedPeerCount === 1, 'the hello');
    const n = 2 * MAX_BATCH_FRAMES + 22;
    for (let i = 0; i < n; i++) server.send(delivery(i));
    await waitFor(() => app.messages.flat().length === n, 'every frame');
    expect(app.messages.map((m) => m.length)).toEqual([MAX_BATCH_FRAMES, MAX_BATCH_FRAMES, 22]);
    expect(app.messages.flatMap(envelopeSeqs)).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  it('sends what the last turn batched when the server closes', async () => {
    const server = new ZmqAppServer({ endpoints: ['tcp://127.0.0.1:*'] });
    await server.open(new CollectingSink());
    const app = rawApp(server.endpoints[0]!);
    await app.sock.send(hello(true));
    await waitFor(() => server.batchedPeerCount === 1, 'the hello');
    for (let i = 0; i < 5; i++) server.send(delivery(i));
    await server.close();
    await waitFor(() => app.messages.length === 1, 'the batch sent at close');
    expect(envelopeSeqs(app.messages[0]!)).toEqual([0, 1, 2, 3, 4]);
  });

  it('counts a batch to an application that had gone as one no-peer drop per frame', async () => {
    const server = track(new ZmqAppServer({ endpoints: ['tcp://127.0.0.1:*'] }));
    await server.open(new CollectingSink());
    const gone = track(createZmqAppClient({ endpoint: server.endpoints[0]! }));
    await gone.open(new CollectingSink());
    await waitFor(() => server.batchedPeerCount === 1, 'the client to say hello');
    await gone.close();
    await sleep(50);
    for (let i = 0; i < 3; i++) expect(server.send(delivery(i))).toBe('accepted');
    await waitFor(() => server.peerCount === 0, 'the departed application to be forgotten');
    expect(server.batchedPeerCount).toBe(0);
    expect(server.counters.dropped['no-peer']).toBe(3);
    expect(server.counters.sent).toBe(0);
  });

  it('drops whole batches at a stalled application\'s high-water mark, counted per frame: sent + dropped = offered', async () => {
    const server = track(new ZmqAppServer({ endpoints: ['tcp://127.0.0.1:*'], tuning: { sendHighWaterMark: 2 } }));
    await server.open(new CollectingSink());
    const app = rawApp(server.endpoints[0]!, { receiveHighWaterMark: 2, stalls: true });
    await app.sock.send(hello(true));
    await waitFor(() => server.batchedPeerCount === 1, 'the hello');
    const offered = 40 * MAX_BATCH_FRAMES; // full batches only: each is sent or refused whole
    for (let i = 0; i < offered; i++) {
      expect(server.send(delivery(i, 8000))).toBe('accepted');
      if ((i + 1) % (4 * MAX_BATCH_FRAMES) === 0) await sleep(1); // after a full batch
    }
    await sleep(100);
    const c = server.counters;
    expect(c.dropped.hwm).toBeGreaterThan(0);
    expect(c.dropped.hwm % MAX_BATCH_FRAMES).toBe(0);
    expect(c.sent + totalDropped(c)).toBe(offered);
  });

  it('refuses a greeting on a bound DEALER, where a send would go round-robin instead of to the new connection', () => {
    const codec = { encode: () => new Uint8Array(1), decode: decodeDaemonToApp };
    expect(() => new ZmqDealerTransport({ role: 'bind', endpoint: 'tcp://127.0.0.1:*', greeting: hello(true) }, codec)).toThrow(/greeting: only for role connect/);
  });

  it('the client asks on connecting, splits batches for its sink, and counts bad frames in a batch one by one', async () => {
    const router = track(new Router({ linger: 0 }));
    await router.bind('tcp://127.0.0.1:*');
    const heard = collect(router);
    const asks = track(createZmqAppClient({ endpoint: router.lastEndpoint! }));
    const asksSink = new CollectingSink<DaemonToApp>();
    await asks.open(asksSink);
    const plain = track(createZmqAppClient({ endpoint: router.lastEndpoint!, batchedDeliveries: false }));
    const plainSink = new CollectingSink<DaemonToApp>();
    await plain.open(plainSink);
    await waitFor(() => heard.length === 3, 'two attach probes and one hello');
    const hellos = heard.filter(([, body]) => body!.length > 0);
    expect(hellos).toHaveLength(1);
    const h = decodeAppToDaemon(hellos[0]![1]!);
    expect(h.ok && h.value).toEqual({ kind: 'hello', batchedDeliveries: true });
    const askerId = hellos[0]![0]!;
    const plainId = heard.find(([id]) => !id!.equals(askerId))![0]!;

    const good = (i: number): Uint8Array => encodeDaemonToApp(delivery(i));
    await router.send([askerId, good(1), Buffer.from([0xff, 0xff]), Buffer.alloc(0), good(2)]);
    await router.send([plainId, good(1), good(2)]);
    await waitFor(() => asksSink.frames.length === 2 && asks.counters.malformed === 2, 'two deliveries and two bad frames');
    expect(asksSink.frames.map((f) => (f.kind === 'delivery' ? f.envelopeSeq : -1))).toEqual([1, 2]);
    expect(asksSink.malformedFrames.map((m) => m.code).sort()).toEqual(['missing-field', 'not-protobuf']);
    expect(asks.counters.received).toBe(2);
    // A client that did not ask keeps the one-frame contract: the whole message is malformed.
    await waitFor(() => plain.counters.malformed === 1, 'the multipart message to be refused');
    expect(plainSink.malformedFrames[0]!.code).toBe('multipart');
    expect(plainSink.frames).toHaveLength(0);
  });
});
