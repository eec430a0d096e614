/**
 * The serial stack transport over real PTY pairs made by socat: envelopes both ways with their
 * L2 IDs, drop accounting (not open, too large, invalid, no device, queue limit, closed),
 * garbage and bad frames written on the line (counted, the frames after them delivered),
 * PDCP-protected PDUs through a relay that injects noise and bit flips, and a cable pull (the
 * socat pair killed and recreated at the same paths) after which traffic resumes by itself.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SerialPort } from 'serialport';
import { encodeFrame } from '../../src/framing/index.js';
import type { OutgoingPdu, PduEnvelope } from '../../src/wire/envelope.js';
import { encodePduEnvelope } from '../../src/wire/envelope.js';
import { createSerialStackTransport, ENVELOPE_OVERHEAD_BYTES, type SerialStackTransport, type SerialTransportOptions } from '../../bridge/transport/serial.js';
import { TransportError } from '../../bridge/transport/types.js';
import type { TransportCounters } from '../../bridge/transport/types.js';
import { CollectingSink, sleep, waitFor } from '../fixtures/transport-helpers.js';
import { NoisyRelay, PtyPair, ptyDir } from '../fixtures/serial-pty.js';
import { GroupcastUe } from '../fixtures/serial-udp-ue.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
function later<T>(x: T, cleanup: (x: T) => unknown): T {
  cleanups.push(() => cleanup(x));
  return x;
}

async function pair(): Promise<{ dir: string; pty: PtyPair }> {
  const { dir } = later(ptyDir(), (d) => d.cleanup());
  const pty = later(await PtyPair.start(join(dir, 'a'), join(dir, 'b')), (p) => p.kill());
  return { dir, pty };
}

function transport(device: string, options: Partial<SerialTransportOptions> = {}): SerialStackTransport {
  return later(
    createSerialStackTransport({ device, baudRate: 921600, flowControl: 'rts-cts', mtu: 2048, framing: 'cobs', reopenMs: 20, reopenMaxMs: 200, maxQueuedBytes: 1 << 16, ...options }),
    (t) => t.close(),
  );
}

const pduOf = (i: number, src = 0x000101): OutgoingPdu => ({
  l2SourceId: src,
  l2DestinationId: 0xabcdef,
  castType: 'groupcast',
  pdu: Uint8Array.from({ length: 10 + (i % 300) }, (_, k) => (i * 31 + k) & 0xff),
});

const dropped = (c: TransportCounters): number => Object.values(c.dropped).reduce((a, b) => a + b, 0);

/** Opens a raw serialport on a PTY end, for writing bytes onto the line by hand. */
async function rawPort(path: string): Promise<SerialPort> {
  const port = new SerialPort({ path, baudRate: 921600, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
  later(port, (p) => p.isOpen && new Promise<void>((r) => p.close(() => r())));
  return port;
}

describe.each(['cobs', 'slip'] as const)('serial transport over a socat PTY pair (%s)', (framing) => {
  it('exchanges envelopes both ways with L2 IDs, cast type, tx time and sequence numbers', async () => {
    const { pty } = await pair();
    let now = 1_000n;
    const a = transport(pty.a, { framing, clock: () => now++ });
    const b = transport(pty.b, { framing });
    const sa = new CollectingSink<PduEnvelope>();
    const sb = new CollectingSink<PduEnvelope>();
    await a.open(sa);
    await b.open(sb);
    expect(a.linkUp && b.linkUp).toBe(true);
    expect(sa.links).toEqual([true]);
    const n = 300;
    for (let i = 0; i < n; i++) {
      expect(a.send(pduOf(i))).toBe('accepted');
      if (i % 50 === 49) await waitFor(() => sb.frames.length === i + 1, 'a batch to arrive');
    }
    for (let i = 0; i < 20; i++) b.send({ ...pduOf(i, 0x000202), castType: i % 2 ? 'unicast' : 'broadcast' });
    await waitFor(() => sb.frames.length === n && sa.frames.length === 20, 'all frames');
    for (let i = 0; i < n; i++) {
      const f = sb.frames[i]!;
      expect(f.seq).toBe(i);
      expect(f.txTimeNs).toBe(1_000n + BigInt(i));
      expect(f.l2SourceId).toBe(0x000101);
      expect(f.l2DestinationId).toBe(0xabcdef);
      expect(f.castType).toBe('groupcast');
      expect(f.pdu).toEqual(pduOf(i).pdu);
    }
    expect(sa.frames.map((f) => f.castType)).toEqual(Array.from({ length: 20 }, (_, i) => (i % 2 ? 'unicast' : 'broadcast')));
    expect(a.counters.sent).toBe(n);
    expect(b.counters.received).toBe(n);
    expect(b.counters.malformed).toBe(0);
    expect(b.framingCounters.frames).toBe(n);
    expect(b.framingCounters.discardedBytes).toBe(0);
  });
});

describe('serial transport: drops, bad input, configuration', () => {
  it('accounts for every frame not sent: not-open, too-large, invalid, hwm, closed', async () => {
    const { pty } = await pair();
    const a = transport(pty.a, { mtu: 512, maxPduBytes: 400, maxQueuedBytes: 4096 });
    const b = transport(pty.b, { mtu: 512 });
    const sb = new CollectingSink<PduEnvelope>();
    expect(a.send(pduOf(0))).toBe('not-open');
    await a.open(new CollectingSink());
    await b.open(sb);
    expect(a.send({ ...pduOf(0), pdu: new Uint8Array(401) })).toBe('too-large');
    expect(a.send({ ...pduOf(0), l2SourceId: 0x1000000 })).toBe('invalid');
    expect(a.send({ ...pduOf(0), pdu: new Uint8Array(0) })).toBe('invalid');
    // A burst larger than the queue limit: the write stream holds what fits, the rest is dropped.
    const burst = 100;
    const outcomes = Array.from({ length: burst }, () => a.send({ ...pduOf(1), pdu: new Uint8Array(390).fill(7) }));
    const accepted = outcomes.filter((o) => o === 'accepted').length;
    expect(accepted).toBeGreaterThan(0);
    expect(outcomes.filter((o) => o === 'hwm').length).toBe(burst - accepted);
    await waitFor(() => sb.frames.length === accepted, 'the accepted part of the burst');
    await sleep(100);
    expect(sb.frames.length).toBe(accepted);
    await a.close();
    expect(a.send(pduOf(0))).toBe('closed');
    expect(a.counters.sent).toBe(accepted);
    expect(a.counters.dropped).toMatchObject({ 'not-open': 1, 'too-large': 1, invalid: 2, hwm: burst - accepted, closed: 1 });
    expect(a.counters.sent + dropped(a.counters)).toBe(1 + 1 + 2 + burst + 1);
  });

  it('counts garbage, bad CRCs, truncated frames and bad envelopes on the line, and delivers the frames after them', async () => {
    const { pty } = await pair();
    const b = transport(pty.b);
    const sb = new CollectingSink<PduEnvelope>();
    await b.open(sb);
    const line = await rawPort(pty.a);
    const env = (i: number): Uint8Array => encodePduEnvelope({ ...pduOf(i), txTimeNs: 5n, seq: i });
    const corrupted = encodeFrame(env(2), 'cobs');
    corrupted[9]! ^= 0x04;
    const notAnEnvelope = encodeFrame(Uint8Array.of(0xff, 0xff, 0xff), 'cobs'); // CRC fine, protobuf not
    const truncated = encodeFrame(env(4), 'cobs').subarray(0, 30);
    const parts = [
      Buffer.from('line noise before anything'),
      encodeFrame(env(1), 'cobs'),
      Buffer.from([0x13, 0x37, 0x00, 0x42]), // garbage between frames
      corrupted,
      encodeFrame(env(3), 'cobs'),
      notAnEnvelope,
      truncated,
      encodeFrame(env(5), 'cobs'),
    ];
    for (const p of parts) {
      line.write(Buffer.from(p));
      await sleep(5); // separate reads, like a real line
    }
    await waitFor(() => sb.frames.length === 3, 'the good frames');
    expect(sb.frames.map((f) => f.seq)).toEqual([1, 3, 5]);
    const codes = sb.malformedFrames.map((m) => m.code);
    expect(codes).toContain('truncated'); // bytes before the first delimiter
    expect(codes).toContain('crc-mismatch');
    expect(codes).toContain('not-protobuf');
    expect(b.counters.malformed).toBe(codes.length);
    expect(b.counters.malformed).toBeGreaterThanOrEqual(5);
    expect(b.counters.received).toBe(3);
  });

  it('refuses configurations that cannot work, with errors naming the setting', () => {
    expect(() => createSerialStackTransport({ device: '/dev/null', baudRate: 9600, mtu: 256, flowControl: 'xon-xoff' })).toThrow(/xon-xoff/);
    expect(() => createSerialStackTransport({ device: '/dev/null', baudRate: 9600, mtu: 256, maxPduBytes: 256 })).toThrow(/mtu/);
    expect(() => createSerialStackTransport({ device: '/dev/null', baudRate: 9600, mtu: 256, framing: 'hdlc' as 'cobs' })).toThrow(TransportError);
    // The envelope overhead bound is tight: reached with every field at its largest.
    const biggest = encodePduEnvelope({
      l2SourceId: 0xffffff,
      l2DestinationId: 0xffffff,
      castType: 'unicast',
      pdu: new Uint8Array(65_535),
      txTimeNs: (1n << 64n) - 1n,
      seq: 0xffff_ffff,
    });
    expect(biggest.length - 65_535).toBe(ENVELOPE_OVERHEAD_BYTES);
    const t = createSerialStackTransport({ device: '/dev/null', baudRate: 9600, mtu: 256 });
    expect(t.maxPduBytes).toBe(256 - ENVELOPE_OVERHEAD_BYTES);
    expect(t.maxQueuedBytes).toBeGreaterThanOrEqual(4 * 256);
  });

  it('starts without its device, reports why, and attaches once the device appears', async () => {
    const { dir } = later(ptyDir(), (d) => d.cleanup());
    const pathA = join(dir, 'late-a');
    const pathB = join(dir, 'late-b');
    const a = transport(pathA);
    const sa = new CollectingSink<PduEnvelope>();
    await a.open(sa);
    expect(a.linkUp).toBe(false);
    expect(a.lastError).toMatch(/cannot open/);
    expect(a.send(pduOf(0))).toBe('no-peer');
    await sleep(100);
    const pty = later(await PtyPair.start(pathA, pathB), (p) => p.kill());
    const b = transport(pty.b);
    await b.open(new CollectingSink());
    await waitFor(() => a.linkUp, 'the transport to open the device');
    expect(a.linkCounters.openFailures).toBeGreaterThan(0);
    expect(b.send(pduOf(1))).toBe('accepted');
    await waitFor(() => sa.frames.length === 1, 'a frame');
    expect(a.counters.dropped['no-peer']).toBe(1);
  });
});

describe('serial transport with PDCP-protected PDUs', () => {
  it('delivers protected PDUs through a relay injecting garbage and bit flips; nothing damaged gets through', async () => {
    // transport A <-> PTY pair 1 <-> noisy relay <-> PTY pair 2 <-> transport B
    const { dir } = later(ptyDir(), (d) => d.cleanup());
    const pty1 = later(await PtyPair.start(join(dir, 'a'), join(dir, 'ra')), (p) => p.kill());
    const pty2 = later(await PtyPair.start(join(dir, 'rb'), join(dir, 'b')), (p) => p.kill());
    const relay = later(new NoisyRelay(pty1.b, pty2.a, { seed: 42, garbage: 0.08, bitFlip: 0.08 }), (r) => r.close());
    await relay.start();
    const ueA = new GroupcastUe(0x00a001);
    const ueB = new GroupcastUe(0x00b002);
    const a = transport(pty1.a);
    const b = transport(pty2.b, { framing: 'cobs' });
    await a.open({ frame: (e) => ueA.receive(e) });
    await b.open({ frame: (e) => ueB.receive(e) });

    const sent = new Map<GroupcastUe, number[]>([
      [ueA, []],
      [ueB, []],
    ]);
    const sendOne = (ue: GroupcastUe, t: SerialStackTransport): void => {
      const { n, pdu } = ue.nextPdu();
      if (t.send(pdu) === 'accepted') sent.get(ue)!.push(n);
    };
    const perSide = 400;
    for (let i = 0; i < perSide; i++) {
      sendOne(ueA, a);
      sendOne(ueB, b);
      // Paced so that PTY reads come in many chunks (each chunk may be hit by noise).
      if (i % 4 === 3) await sleep(2);
    }
    // The last frames go over a quiet line: they must all arrive.
    await sleep(200);
    relay.noisy = false;
    const quiet = 20;
    for (let i = 0; i < quiet; i++) {
      sendOne(ueA, a);
      sendOne(ueB, b);
    }
    const lastQuiet = Array.from({ length: quiet }, (_, i) => perSide + i);
    expect(sent.get(ueA)!.slice(-quiet)).toEqual(lastQuiet);
    await waitFor(
      () => lastQuiet.every((n) => ueB.acceptedFrom(ueA.gmi).includes(n) && ueA.acceptedFrom(ueB.gmi).includes(n)),
      'the frames sent on the quiet line',
    );

    const noise = relay.stats;
    for (const [rx, tx, stats, t] of [
      [ueB, ueA, noise.leftToRight, b],
      [ueA, ueB, noise.rightToLeft, a],
    ] as const) {
      const got = rx.acceptedFrom(tx.gmi);
      const accepted = sent.get(tx)!;
      expect(accepted.length).toBeGreaterThan(perSide * 0.9);
      const injections = stats.garbageInsertions + stats.bitFlips;
      expect(injections).toBeGreaterThan(5);
      // Each injection damages at most one frame: everything else arrives, in order, once.
      expect(got.length).toBeGreaterThanOrEqual(accepted.length - injections);
      expect(got.length).toBeLessThan(accepted.length);
      expect(got.every((n) => accepted.includes(n))).toBe(true);
      expect(got).toEqual([...got].sort((x, y) => x - y));
      expect(new Set(got).size).toBe(got.length);
      // Nothing damaged was delivered: no PDU failed its MAC or any other PDCP check.
      expect(rx.drops).toEqual({});
      expect(t.counters.received).toBe(got.length);
      expect(t.counters.malformed).toBeGreaterThan(0);
      expect(t.framingCounters.discardedBytes).toBeGreaterThan(0);
    }
  });

  it('survives a cable pull: the PTY pair killed and recreated, both ends reopen and protected traffic resumes', async () => {
    const { pty } = await pair();
    const ueA = new GroupcastUe(0x00a001);
    const ueB = new GroupcastUe(0x00b002);
    const a = transport(pty.a);
    const b = transport(pty.b);
    const linksA: boolean[] = [];
    await a.open({ frame: (e) => ueA.receive(e), link: (up) => linksA.push(up) });
    await b.open({ frame: (e) => ueB.receive(e) });

    const exchange = async (count: number): Promise<void> => {
      const before = [ueB.acceptedFrom(ueA.gmi).length, ueA.acceptedFrom(ueB.gmi).length];
      for (let i = 0; i < count; i++) {
        expect(a.send(ueA.nextPdu().pdu)).toBe('accepted');
        expect(b.send(ueB.nextPdu().pdu)).toBe('accepted');
      }
      await waitFor(
        () => ueB.acceptedFrom(ueA.gmi).length === before[0]! + count && ueA.acceptedFrom(ueB.gmi).length === before[1]! + count,
        `${count} PDUs each way`,
      );
    };
    await exchange(50);

    await pty.kill(); // the cable pull
    await waitFor(() => !a.linkUp && !b.linkUp, 'both ends to notice');
    expect(a.lastError).toMatch(/lost/);
    // While the cable is out, PDUs are refused (never queued to be sent stale later).
    for (let i = 0; i < 10; i++) expect(a.send(ueA.nextPdu().pdu)).toBe('no-peer');
    await sleep(300); // some failed reopen attempts
    await pty.restart();
    await waitFor(() => a.linkUp && b.linkUp, 'both ends to reopen');
    await exchange(50);

    expect(linksA).toEqual([true, false, true]);
    expect(a.counters.linkUps).toBe(2);
    expect(a.counters.linkDowns).toBe(1);
    expect(a.linkCounters.openFailures).toBeGreaterThan(0);
    expect(a.counters.dropped['no-peer']).toBe(10 + a.linkCounters.lostInFlight);
    // The receiver's PDCP state carried over the pull: the SNs after it were accepted in order.
    const got = ueB.acceptedFrom(ueA.gmi);
    expect(got.slice(0, 50)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(got.slice(50)).toEqual(Array.from({ length: 50 }, (_, i) => 60 + i));
    expect(ueA.drops).toEqual({});
    expect(ueB.drops).toEqual({});
  });
});
