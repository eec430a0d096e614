/**
 * Fuzzing every decoder that reads bytes from a socket: random bytes and mutated valid messages
 * (bit flips, byte changes, cuts, splices, duplicated regions). A decoder must never throw, must
 * return either a record or a typed error with a known code, and every record it returns must
 * survive re-encoding unchanged. Seeded, so a failure repeats.
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
  type Decoded,
} from '../../src/wire/index.js';
import type { WireErrorCode } from '../../src/wire/result.js';
import { seededRandom } from '../../src/medium/random.js';

const CODES: readonly WireErrorCode[] = ['not-protobuf', 'wrong-wire-type', 'missing-field', 'out-of-range', 'too-large'];
const root = protobuf.loadSync(fileURLToPath(new URL('../../proto/bridge.proto', import.meta.url)));

const rnd = seededRandom(0xf022);
const int = (n: number): number => Math.floor(rnd() * n);
const randomBytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => int(256));

function mutate(seed: Uint8Array): Uint8Array {
  const b = Uint8Array.from(seed);
  switch (int(6)) {
    case 0: {
      for (let k = 1 + int(3); k > 0 && b.length > 0; k--) b[int(b.length)]! ^= 1 << int(8);
      return b;
    }
    case 1: {
      for (let k = 1 + int(3); k > 0 && b.length > 0; k--) b[int(b.length)] = pickInteresting();
      return b;
    }
    case 2:
      return b.subarray(0, int(b.length + 1));
    case 3:
      return b.subarray(int(b.length + 1));
    case 4: {
      const at = int(b.length + 1);
      const ins = randomBytes(1 + int(12));
      return Uint8Array.from([...b.subarray(0, at), ...ins, ...b.subarray(at)]);
    }
    default: {
      const from = int(b.length + 1);
      const to = Math.min(b.length, from + int(16));
      return Uint8Array.from([...b, ...b.subarray(from, to)]);
    }
  }
}

// Bytes that make protobuf parsers trip: varint continuation, max lengths, group/end-group and
// invalid wire types, zero tags.
function pickInteresting(): number {
  const xs = [0x00, 0xff, 0x80, 0x7f, 0x0b, 0x0c, 0x0e, 0x0f, 0x06, 0x07, 0x01, 0x02];
  return xs[int(xs.length)]!;
}

function seeds(): Record<string, Uint8Array[]> {
  const env = (): Uint8Array =>
    encodePduEnvelope({
      l2SourceId: int(0x1000000),
      l2DestinationId: int(0x1000000),
      castType: (['broadcast', 'groupcast', 'unicast'] as const)[int(3)]!,
      pdu: randomBytes(1 + int(64)),
      txTimeNs: BigInt(int(2 ** 31)) * 1_000_000_000n,
      seq: int(2 ** 32),
    });
  const app = (): Uint8Array =>
    rnd() < 0.2
      ? encodeAppToDaemon({ kind: 'hello', batchedDeliveries: rnd() < 0.5 })
      : encodeAppToDaemon({ kind: 'send', groupId: int(0x1000000), sduType: int(5), sdu: randomBytes(1 + int(64)), appSeq: int(1000), appTimeNs: 5n });
  const toApp = (): Uint8Array =>
    rnd() < 0.5
      ? encodeDaemonToApp({ kind: 'refused', appSeq: int(100), reason: 'no-key' })
      : encodeDaemonToApp({
          kind: 'delivery',
          groupId: int(0x1000000),
          sduType: int(5),
          sdu: randomBytes(1 + int(64)),
          senderGmi: int(0x1000000),
          txTimeNs: 1n,
          rxTimeNs: 2n,
          deliveredTimeNs: 3n,
          envelopeSeq: int(1000),
        });
  const ranging = (): Uint8Array =>
    encodeRangingMessage({
      kind: rnd() < 0.5 ? 'request' : 'response',
      requesterId: int(2 ** 32),
      requestSeq: int(1000),
      requestTimeNs: 99n,
      responderId: int(2 ** 32),
      responseTimeNs: 100n,
      padding: randomBytes(int(20)),
    });
  const many = (f: () => Uint8Array): Uint8Array[] => Array.from({ length: 20 }, f);
  return { envelope: many(env), app: many(app), toApp: many(toApp), ranging: many(ranging) };
}

type Case = {
  decode: (b: Uint8Array) => Decoded<unknown>;
  reencode: (v: never) => Uint8Array;
  type: string;
};

const CASES: Record<string, Case> = {
  envelope: { decode: (b) => decodePduEnvelope(b, 200), reencode: encodePduEnvelope, type: 'PduEnvelope' },
  app: { decode: (b) => decodeAppToDaemon(b, 200), reencode: encodeAppToDaemon, type: 'AppToDaemon' },
  toApp: { decode: (b) => decodeDaemonToApp(b, 200), reencode: encodeDaemonToApp, type: 'DaemonToApp' },
  ranging: { decode: decodeRangingMessage, reencode: encodeRangingMessage, type: 'RangingMessage' },
};

describe('decoder fuzzing', () => {
  const corpus = seeds();
  for (const [name, c] of Object.entries(CASES)) {
    it(`${name}: 20000 random and mutated inputs never throw and give records or typed errors`, () => {
      const Type = root.lookupType(`slbridge.bridge.v1.${c.type}`);
      const outcomes = { ok: 0, error: 0 };
      for (let i = 0; i < 20_000; i++) {
        const input = i % 4 === 0 ? randomBytes(int(80)) : mutate(corpus[name]![int(20)]!);
        let d: Decoded<unknown>;
        try {
          d = c.decode(input);
        } catch (e) {
          throw new Error(`${name} decoder threw on ${Buffer.from(input).toString('hex')}: ${String(e)}`);
        }
        if (!d.ok) {
          outcomes.error++;
          expect(CODES).toContain(d.error.code);
          expect(d.error.message.length).toBeGreaterThan(0);
          continue;
        }
        outcomes.ok++;
        // Whatever we accept, protobufjs reading proto/bridge.proto accepts too...
        expect(() => Type.decode(input)).not.toThrow();
        // ...and it re-encodes to a message that decodes to the same record.
        const again = c.decode(c.reencode(d.value as never));
        expect(again.ok).toBe(true);
        if (again.ok) expect(normalize(again.value)).toEqual(normalize(d.value));
      }
      // The mutations must exercise both paths, or the test proves little.
      expect(outcomes.ok).toBeGreaterThan(1000);
      expect(outcomes.error).toBeGreaterThan(1000);
    });
  }
});

function normalize(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return Array.from(v);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalize(x)]));
  return v;
}
