/**
 * The UDP stack transport on the loopback interface only (runs anywhere, no namespaces): three
 * transports in one multicast group exchanging protected PDUs, each filtering out its own
 * looped-back datagrams; envelope fields; broadcast; malformed datagrams counted and survived;
 * drop accounting and configuration errors; an interface that does not exist. (On `lo` every
 * datagram comes back whatever IP_MULTICAST_LOOP says: test/integration/udp-netns.test.ts checks that flag.)
 */
import dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createUdpStackTransport, type UdpStackTransport, type UdpTransportOptions } from '../../bridge/transport/udp.js';
import { TransportError } from '../../bridge/transport/types.js';
import { encodePduEnvelope, type OutgoingPdu, type PduEnvelope } from '../../src/wire/envelope.js';
import { CollectingSink, sleep, waitFor } from '../fixtures/transport-helpers.js';
import { GroupcastUe } from '../fixtures/serial-udp-ue.js';

const closers: Array<() => unknown> = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

/** A UDP port that was free a moment ago. */
async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A group of its own for each test, so that parallel runs do not hear each other. */
const randomGroup = (): string => `239.255.${randomInt(1, 255)}.${randomInt(1, 255)}`;

function transport(options: Partial<UdpTransportOptions> & Pick<UdpTransportOptions, 'group' | 'port'>): UdpStackTransport {
  const t = createUdpStackTransport({ mode: 'multicast', interface: 'lo', loopback: true, ttl: 1, ...options });
  closers.push(() => t.close());
  return t;
}

const pduOf = (i: number, src = 0x000101): OutgoingPdu => ({
  l2SourceId: src,
  l2DestinationId: 0xabcdef,
  castType: 'groupcast',
  pdu: Uint8Array.from({ length: 10 + (i % 200) }, (_, k) => (i + k) & 0xff),
});

describe('UDP transport on loopback', () => {
  it('three UEs in one multicast group exchange protected PDUs; nobody receives its own', async () => {
    const group = randomGroup();
    const port = await freeUdpPort();
    const ues = [0x00a001, 0x00b002, 0x00c003].map((gmi) => new GroupcastUe(gmi));
    const ts = ues.map(() => transport({ group, port }));
    for (let i = 0; i < 3; i++) await ts[i]!.open({ frame: (e) => ues[i]!.receive(e) });
    expect(ts.every((t) => t.linkUp)).toBe(true);
    expect(ts[0]!.description).toMatch(new RegExp(`udp multicast ${group}:${port} on lo \\(127\\.0\\.0\\.1\\)`));
    const n = 200;
    for (let k = 0; k < n; k++) {
      for (let i = 0; i < 3; i++) expect(ts[i]!.send(ues[i]!.nextPdu().pdu)).toBe('accepted');
      if (k % 20 === 19) await sleep(1);
    }
    await waitFor(() => ues.every((ue, i) => ues.every((other, j) => i === j || ue.acceptedFrom(other.gmi).length === n)), 'every PDU at every other UE');
    for (let i = 0; i < 3; i++) {
      expect(ues[i]!.acceptedFrom(ues[i]!.gmi)).toEqual([]);
      expect(ues[i]!.drops).toEqual({});
      expect(ts[i]!.counters.received).toBe(2 * n);
      // Every UE's socket heard its own 200 datagrams come back and dropped them.
      expect(ts[i]!.udpCounters.ownFiltered).toBe(n);
      for (let j = 0; j < 3; j++) if (i !== j) expect(ues[i]!.acceptedFrom(ues[j]!.gmi)).toEqual(Array.from({ length: n }, (_, k) => k));
    }
  });

  it('carries the envelope fields: L2 IDs, cast type, tx time, sequence numbers', async () => {
    const group = randomGroup();
    const port = await freeUdpPort();
    let now = 7_000n;
    const a = transport({ group, port, clock: () => now++ });
    const b = transport({ group, port });
    const sb = new CollectingSink<PduEnvelope>();
    await a.open(new CollectingSink());
    await b.open(sb);
    const casts = ['broadcast', 'groupcast', 'unicast'] as const;
    for (let i = 0; i < 30; i++) a.send({ ...pduOf(i), castType: casts[i % 3]! });
    await waitFor(() => sb.frames.length === 30, '30 envelopes');
    sb.frames.forEach((f, i) => {
      expect({ ...f, pdu: new Uint8Array(f.pdu) }).toEqual({ ...pduOf(i), castType: casts[i % 3], txTimeNs: 7_000n + BigInt(i), seq: i });
    });
  });

  it('broadcast mode on 127.255.255.255', async () => {
    const port = await freeUdpPort();
    const a = transport({ mode: 'broadcast', group: '127.255.255.255', port });
    const b = transport({ mode: 'broadcast', group: '127.255.255.255', port });
    const sa = new CollectingSink<PduEnvelope>();
    const sb = new CollectingSink<PduEnvelope>();
    await a.open(sa);
    await b.open(sb);
    for (let i = 0; i < 20; i++) {
      a.send(pduOf(i, 0x1));
      b.send(pduOf(i, 0x2));
    }
    await waitFor(() => sa.frames.length === 20 && sb.frames.length === 20, 'both ways');
    expect(sa.frames.every((f) => f.l2SourceId === 0x2)).toBe(true);
    expect(sb.frames.every((f) => f.l2SourceId === 0x1)).toBe(true);
    expect(a.udpCounters.ownFiltered).toBe(20);
  });

  it('counts malformed datagrams and keeps delivering', async () => {
    const group = randomGroup();
    const port = await freeUdpPort();
    const b = transport({ group, port, maxPduBytes: 100 });
    const sb = new CollectingSink<PduEnvelope>();
    await b.open(sb);
    const raw = dgram.createSocket('udp4');
    closers.push(() => new Promise<void>((r) => raw.close(() => r())));
    await new Promise<void>((r) => raw.bind(0, '127.0.0.1', () => r()));
    raw.setMulticastInterface('127.0.0.1');
    const sendRaw = (b: Uint8Array): Promise<void> => new Promise((r) => raw.send(b, port, group, () => r()));
    await sendRaw(Uint8Array.of(0xff, 0xff, 0xff));
    await sendRaw(new Uint8Array(0));
    await sendRaw(encodePduEnvelope({ ...pduOf(1), pdu: new Uint8Array(101), txTimeNs: 1n, seq: 1 }));
    await sendRaw(encodePduEnvelope({ ...pduOf(2), txTimeNs: 2n, seq: 2 }));
    await waitFor(() => sb.frames.length === 1, 'the good datagram');
    expect(sb.frames[0]!.seq).toBe(2);
    expect(b.counters.malformed).toBe(3);
    expect(sb.malformedFrames.map((m) => m.code).sort()).toEqual(['missing-field', 'not-protobuf', 'too-large']);
  });

  it('accounts for frames not sent and for an interface that does not exist', async () => {
    const group = randomGroup();
    const port = await freeUdpPort();
    const a = transport({ group, port, maxPduBytes: 64 });
    expect(a.send(pduOf(0))).toBe('not-open');
    await a.open(new CollectingSink());
    expect(a.send({ ...pduOf(0), pdu: new Uint8Array(65) })).toBe('too-large');
    expect(a.send({ ...pduOf(0), l2DestinationId: -1 })).toBe('invalid');
    expect(a.send(pduOf(1))).toBe('accepted');
    await a.close();
    expect(a.send(pduOf(2))).toBe('closed');
    expect(a.counters.sent).toBe(1);
    expect(a.counters.dropped).toMatchObject({ 'not-open': 1, 'too-large': 1, invalid: 1, closed: 1, 'no-peer': 0, hwm: 0 });

    const missing = transport({ group, port, interface: 'slbnone0', interfacePollMs: 20 });
    await missing.open(new CollectingSink());
    expect(missing.linkUp).toBe(false);
    expect(missing.lastError).toMatch(/slbnone0: no IPv4 address/);
    expect(missing.send(pduOf(0))).toBe('no-peer');
  });

  it('refuses configurations that cannot work, naming the setting', () => {
    const base = { group: '239.1.2.3', port: 5600, interface: 'lo' };
    expect(() => createUdpStackTransport({ ...base, group: '10.0.0.1' })).toThrow(/group: expected an IPv4 .* multicast/);
    expect(() => createUdpStackTransport({ ...base, mode: 'broadcast', group: 'ff02::1' })).toThrow(/broadcast/);
    expect(() => createUdpStackTransport({ ...base, port: 0 })).toThrow(/port/);
    expect(() => createUdpStackTransport({ ...base, ttl: 256 })).toThrow(/ttl/);
    expect(() => createUdpStackTransport({ ...base, interface: '' })).toThrow(TransportError);
  });
});
