/**
 * The static codecs of src/wire against proto/bridge.proto itself (loaded by protobufjs): what one
 * encodes the other decodes to the same record, so the .proto (what C peers compile) and the
 * TypeScript codec cannot drift apart. Plus the contract's range checks on decode and encode.
 */
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import {
  decodeAppToDaemon,
  decodeDaemonToApp,
  decodePduEnvelope,
  decodeRangingMessage,
  encodeAppToDaemon,
  encodeDaemonToApp,
  encodePduEnvelope,
  encodeRangingMessage,
  type AppSendSdu,
  type DaemonToApp,
  type PduEnvelope,
  type RangingMessage,
} from '../../src/wire/index.js';
import { seededRandom } from '../../src/medium/random.js';

const root = protobuf.loadSync(fileURLToPath(new URL('../../proto/bridge.proto', import.meta.url)));
const T = (name: string): protobuf.Type => root.lookupType(`slbridge.bridge.v1.${name}`);
const TO_OBJECT = { longs: String, enums: Number, bytes: Array, defaults: true, oneofs: true } as const;

const rnd = seededRandom(20240601);
const u32 = (): number => Math.floor(rnd() * 0x1_0000_0000);
const u24 = (): number => Math.floor(rnd() * 0x100_0000);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const u64 = (): bigint => (BigInt(u32()) << 32n) | BigInt(u32());
const bytes = (min: number, max: number): Uint8Array => {
  const b = new Uint8Array(min + Math.floor(rnd() * (max - min + 1)));
  for (let i = 0; i < b.length; i++) b[i] = Math.floor(rnd() * 256);
  return b;
};
// Zero is the interesting edge of proto3 (fields omitted); use it often.
const maybeZero = <T>(zero: T, v: () => T): T => (rnd() < 0.2 ? zero : v());

function randomEnvelope(): PduEnvelope {
  return {
    l2SourceId: maybeZero(0, u24),
    l2DestinationId: maybeZero(0, u24),
    castType: pick(['broadcast', 'groupcast', 'unicast'] as const),
    pdu: bytes(1, 300),
    txTimeNs: maybeZero(0n, u64),
    seq: maybeZero(0, u32),
  };
}

const CAST_CODE = { broadcast: 1, groupcast: 2, unicast: 3 } as const;

function envelopeAsObject(e: PduEnvelope): Record<string, unknown> {
  return {
    l2SourceId: e.l2SourceId,
    l2DestinationId: e.l2DestinationId,
    castType: CAST_CODE[e.castType],
    pdu: Array.from(e.pdu),
    txTimeNs: e.txTimeNs.toString(),
    seq: e.seq,
  };
}

describe('PduEnvelope codec', () => {
  it('matches a hand-checked encoding byte for byte', () => {
    const e: PduEnvelope = {
      l2SourceId: 1,
      l2DestinationId: 2,
      castType: 'groupcast',
      pdu: Uint8Array.of(0xab),
      txTimeNs: 1_700_000_000_000_000_000n,
      seq: 7,
    };
    // 08 01 | 10 02 | 18 02 | 22 01 ab | 29 <fixed64 LE> | 30 07
    expect(Buffer.from(encodePduEnvelope(e)).toString('hex')).toBe('0801100218022201ab2900002a36fe9c97173007');
  });

  it('agrees with proto/bridge.proto in both directions on 500 random envelopes', () => {
    const Envelope = T('PduEnvelope');
    for (let i = 0; i < 500; i++) {
      const e = randomEnvelope();
      const ours = encodePduEnvelope(e);
      expect(Envelope.toObject(Envelope.decode(ours), TO_OBJECT)).toEqual(envelopeAsObject(e));
      const theirs = Envelope.encode(Envelope.fromObject({ ...envelopeAsObject(e), pdu: Buffer.from(e.pdu) })).finish();
      const back = decodePduEnvelope(theirs);
      expect(back.ok).toBe(true);
      if (back.ok) expect({ ...back.value, pdu: Array.from(back.value.pdu) }).toEqual({ ...e, pdu: Array.from(e.pdu) });
    }
  });

  it('keeps 64-bit timestamps exact (no double rounding)', () => {
    for (const t of [1n, 0xffff_ffffn, 0x1_0000_0000n, 1_732_000_000_123_456_789n, (1n << 64n) - 1n]) {
      const d = decodePduEnvelope(encodePduEnvelope({ ...randomEnvelope(), txTimeNs: t }));
      expect(d.ok && d.value.txTimeNs).toBe(t);
    }
  });

  it('skips unknown fields (a newer peer may add some)', () => {
    const e = randomEnvelope();
    const extra = protobuf.Writer.create().uint32((99 << 3) | 2).bytes(Uint8Array.of(1, 2, 3)).uint32((98 << 3) | 0).uint32(5).finish();
    const d = decodePduEnvelope(Buffer.concat([extra, encodePduEnvelope(e)]));
    expect(d.ok).toBe(true);
  });

  it.each([
    ['cast type not set', { castType: 0 }, 'missing-field', 'cast_type'],
    ['empty PDU', { pdu: Buffer.alloc(0) }, 'missing-field', 'pdu'],
    ['L2 source above 24 bits', { l2SourceId: 0x100_0000 }, 'out-of-range', 'l2_source_id'],
    ['L2 destination above 24 bits', { l2DestinationId: 0xffff_ffff }, 'out-of-range', 'l2_destination_id'],
    ['unknown cast type', { castType: 9 }, 'out-of-range', 'cast_type'],
  ])('rejects %s with a typed error', (_name, patch, code, field) => {
    const Envelope = T('PduEnvelope');
    const obj = { l2SourceId: 1, l2DestinationId: 2, castType: 2, pdu: Buffer.from([1, 2, 3]), txTimeNs: '5', seq: 1, ...patch };
    const d = decodePduEnvelope(Envelope.encode(Envelope.fromObject(obj)).finish());
    expect(d.ok).toBe(false);
    if (!d.ok) {
      expect(d.error.code).toBe(code);
      expect(d.error.field).toContain(field);
    }
  });

  it('rejects a PDU above the caller limit as too-large, and a wrong wire type', () => {
    const e = { ...randomEnvelope(), pdu: new Uint8Array(100).fill(1) };
    const d = decodePduEnvelope(encodePduEnvelope(e), 99);
    expect(!d.ok && d.error.code).toBe('too-large');
    expect(decodePduEnvelope(encodePduEnvelope(e), 100).ok).toBe(true);
    // field 1 (l2_source_id) sent as a length-delimited field
    const wrong = protobuf.Writer.create().uint32((1 << 3) | 2).bytes(Uint8Array.of(1)).finish();
    const w = decodePduEnvelope(wrong);
    expect(!w.ok && w.error.code).toBe('wrong-wire-type');
  });

  it('rejects input truncated before the PDU ends; after it, only a cut between fields decodes', () => {
    const e: PduEnvelope = { l2SourceId: 5, l2DestinationId: 6, castType: 'groupcast', pdu: new Uint8Array(20).fill(7), txTimeNs: 123456789n, seq: 300 };
    const full = encodePduEnvelope(e);
    // 08 05 | 10 06 | 18 02 | 22 14 <20 bytes> | 29 <8> | 30 ac 02
    const pduEnd = 6 + 2 + 20;
    const fieldEnds = new Set([pduEnd, pduEnd + 9, full.length]);
    for (let n = 0; n < full.length; n++) {
      const d = decodePduEnvelope(full.subarray(0, n));
      if (n < pduEnd || !fieldEnds.has(n)) {
        expect(d.ok, `cut at ${n}`).toBe(false);
        if (!d.ok) expect(['not-protobuf', 'missing-field']).toContain(d.error.code);
      } else {
        expect(d.ok && Array.from(d.value.pdu)).toEqual(Array.from(e.pdu));
      }
    }
  });

  it('refuses to encode an invalid record, naming the field', () => {
    const e = randomEnvelope();
    expect(() => encodePduEnvelope({ ...e, l2SourceId: 0x100_0000 })).toThrow(/l2SourceId/);
    expect(() => encodePduEnvelope({ ...e, pdu: new Uint8Array(0) })).toThrow(/pdu/);
    expect(() => encodePduEnvelope({ ...e, txTimeNs: -1n })).toThrow(/txTimeNs/);
    expect(() => encodePduEnvelope({ ...e, seq: 2 ** 32 })).toThrow(/seq/);
    expect(() => encodePduEnvelope({ ...e, castType: 'multicast' as never })).toThrow(/castType/);
  });
});

function randomAppToDaemon(): AppSendSdu {
  return {
    kind: 'send',
    groupId: maybeZero(0, u24),
    sduType: Math.floor(rnd() * 5),
    sdu: bytes(1, 200),
    appSeq: maybeZero(0, u32),
    appTimeNs: maybeZero(0n, u64),
  };
}

function randomDaemonToApp(): DaemonToApp {
  if (rnd() < 0.3) return { kind: 'refused', appSeq: maybeZero(0, u32), reason: pick(['no-key', 'unknown-group', 'oversized', 'ünïcode-réason']) };
  return {
    kind: 'delivery',
    groupId: maybeZero(0, u24),
    sduType: Math.floor(rnd() * 5),
    sdu: bytes(1, 200),
    senderGmi: maybeZero(0, u24),
    txTimeNs: maybeZero(0n, u64),
    rxTimeNs: maybeZero(0n, u64),
    deliveredTimeNs: maybeZero(0n, u64),
    envelopeSeq: maybeZero(0, u32),
  };
}

describe('application messages', () => {
  it('AppToDaemon agrees with proto/bridge.proto in both directions', () => {
    const M = T('AppToDaemon');
    for (let i = 0; i < 300; i++) {
      const m = randomAppToDaemon();
      const expected = {
        body: 'send',
        send: { groupId: m.groupId, sduType: m.sduType, sdu: Array.from(m.sdu), appSeq: m.appSeq, appTimeNs: m.appTimeNs.toString() },
      };
      expect(M.toObject(M.decode(encodeAppToDaemon(m)), TO_OBJECT)).toEqual(expected);
      const theirs = M.encode(M.fromObject({ send: { ...expected.send, sdu: Buffer.from(m.sdu) } })).finish();
      const back = decodeAppToDaemon(theirs);
      expect(back.ok && back.value.kind === 'send' && { ...back.value, sdu: Array.from(back.value.sdu) }).toEqual({ ...m, sdu: Array.from(m.sdu) });
    }
  });

  it('AppHello agrees with proto/bridge.proto in both directions', () => {
    const M = T('AppToDaemon');
    for (const batchedDeliveries of [true, false]) {
      const ours = encodeAppToDaemon({ kind: 'hello', batchedDeliveries });
      const theirs = M.toObject(M.decode(ours), TO_OBJECT);
      expect(theirs.body).toBe('hello');
      expect(theirs.hello).toEqual({ batchedDeliveries });
      const back = decodeAppToDaemon(M.encode(M.fromObject(theirs)).finish());
      expect(back.ok && back.value).toEqual({ kind: 'hello', batchedDeliveries });
    }
    // Unknown fields inside the hello are skipped (a later version may add some)...
    const later = decodeAppToDaemon(Uint8Array.of(0x12, 0x04, 0x08, 0x01, 0x18, 0x07));
    expect(later.ok && later.value).toEqual({ kind: 'hello', batchedDeliveries: true });
    // ...a truncated one is not protobuf, and an empty one asks for nothing.
    expect(!decodeAppToDaemon(Uint8Array.of(0x12, 0x05, 0x08, 0x01)).ok).toBe(true);
    const empty = decodeAppToDaemon(Uint8Array.of(0x12, 0x00));
    expect(empty.ok && empty.value).toEqual({ kind: 'hello', batchedDeliveries: false });
    // oneof: the last member on the wire wins, as in protobufjs.
    const both = Buffer.concat([encodeAppToDaemon(randomAppToDaemon()), encodeAppToDaemon({ kind: 'hello', batchedDeliveries: true })]);
    expect(M.toObject(M.decode(both), TO_OBJECT).body).toBe('hello');
    const last = decodeAppToDaemon(both);
    expect(last.ok && last.value.kind).toBe('hello');
    expect(() => encodeAppToDaemon({ kind: 'hello', batchedDeliveries: 1 as unknown as boolean })).toThrow(/batchedDeliveries/);
  });

  it('DaemonToApp agrees with proto/bridge.proto in both directions', () => {
    const M = T('DaemonToApp');
    for (let i = 0; i < 300; i++) {
      const m = randomDaemonToApp();
      const decoded = M.toObject(M.decode(encodeDaemonToApp(m)), TO_OBJECT);
      if (m.kind === 'refused') {
        expect(decoded.body).toBe('refused');
        expect(decoded.refused).toEqual({ appSeq: m.appSeq, reason: m.reason });
      } else {
        expect(decoded.body).toBe('delivery');
        expect(decoded.delivery).toEqual({
          groupId: m.groupId,
          sduType: m.sduType,
          sdu: Array.from(m.sdu),
          senderGmi: m.senderGmi,
          txTimeNs: m.txTimeNs.toString(),
          rxTimeNs: m.rxTimeNs.toString(),
          deliveredTimeNs: m.deliveredTimeNs.toString(),
          envelopeSeq: m.envelopeSeq,
        });
      }
      const back = decodeDaemonToApp(M.encode(M.fromObject(decoded)).finish());
      expect(back.ok).toBe(true);
      if (back.ok) {
        const norm = (x: DaemonToApp): unknown => (x.kind === 'delivery' ? { ...x, sdu: Array.from(x.sdu) } : x);
        expect(norm(back.value)).toEqual(norm(m));
      }
    }
  });

  it('rejects reserved SDU types, empty SDUs, oversized SDUs and empty bodies', () => {
    const M = T('AppToDaemon');
    const enc = (send: Record<string, unknown>): Uint8Array => M.encode(M.fromObject({ send })).finish();
    const code = (b: Uint8Array, max?: number): string | undefined => {
      const d = decodeAppToDaemon(b, max);
      return d.ok ? undefined : d.error.code;
    };
    expect(code(enc({ groupId: 1, sduType: 5, sdu: Buffer.from([1]) }))).toBe('out-of-range');
    expect(code(enc({ groupId: 1, sduType: 1 }))).toBe('missing-field');
    expect(code(enc({ groupId: 1, sduType: 1, sdu: Buffer.alloc(101, 1) }), 100)).toBe('too-large');
    expect(code(enc({ groupId: 0x1000000, sduType: 1, sdu: Buffer.from([1]) }))).toBe('out-of-range');
    expect(code(new Uint8Array(0))).toBe('missing-field');
    expect(decodeDaemonToApp(new Uint8Array(0)).ok).toBe(false);
    const refusedEmpty = T('DaemonToApp').encode(T('DaemonToApp').fromObject({ refused: { appSeq: 3 } })).finish();
    expect(!decodeDaemonToApp(refusedEmpty).ok).toBe(true);
  });

  it('refuses to encode invalid application records, naming the field', () => {
    expect(() => encodeAppToDaemon({ ...randomAppToDaemon(), sduType: 7 })).toThrow(/sduType/);
    expect(() => encodeAppToDaemon({ ...randomAppToDaemon(), groupId: -1 })).toThrow(/groupId/);
    expect(() => encodeDaemonToApp({ kind: 'refused', appSeq: 1, reason: '' })).toThrow(/reason/);
  });
});

describe('RangingMessage codec', () => {
  it('agrees with proto/bridge.proto in both directions', () => {
    const M = T('RangingMessage');
    for (let i = 0; i < 300; i++) {
      const m: RangingMessage = {
        kind: pick(['request', 'response'] as const),
        requesterId: maybeZero(0, u32),
        requestSeq: maybeZero(0, u32),
        requestTimeNs: maybeZero(0n, u64),
        responderId: maybeZero(0, u32),
        responseTimeNs: maybeZero(0n, u64),
        padding: rnd() < 0.5 ? new Uint8Array(0) : bytes(1, 100),
      };
      const obj = M.toObject(M.decode(encodeRangingMessage(m)), TO_OBJECT);
      expect(obj).toEqual({
        kind: m.kind === 'request' ? 1 : 2,
        requesterId: m.requesterId,
        requestSeq: m.requestSeq,
        requestTimeNs: m.requestTimeNs.toString(),
        responderId: m.responderId,
        responseTimeNs: m.responseTimeNs.toString(),
        padding: Array.from(m.padding),
      });
      const back = decodeRangingMessage(M.encode(M.fromObject({ ...obj, padding: Buffer.from(m.padding) })).finish());
      expect(back.ok && { ...back.value, padding: Array.from(back.value.padding) }).toEqual({ ...m, padding: Array.from(m.padding) });
    }
    expect(decodeRangingMessage(new Uint8Array(0)).ok).toBe(false);
  });
});
