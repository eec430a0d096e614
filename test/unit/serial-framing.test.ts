/**
 * The serial line framing (src/framing): CRC-32 against its published check values and a bitwise
 * reference, COBS and SLIP against the published examples, frame round trips split into arbitrary chunks, every typed error with its
 * counter and the frames after it still delivered, and fuzzing (random chunking, garbage between
 * and inside frames, bit flips, pure noise): the decoder never throws and never delivers a frame
 * that was damaged on the line, and every frame left intact is delivered, in order.
 */
import { describe, expect, it } from 'vitest';
import {
  FRAMINGS,
  FRAMING_ERROR_CODES,
  FrameDecoder,
  cobsDecodeInto,
  cobsEncode,
  crc32,
  encodeFrame,
  maxFramedLength,
  slipDecodeInto,
  slipEncode,
  type DecoderOutput,
  type Framing,
  type FramingErrorCode,
} from '../../src/framing/index.js';
import { decodePduEnvelope } from '../../src/wire/envelope.js';
import { bytes, rng } from '../fixtures/pdcp-helpers.js';

const h = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

function cobsDecode(src: Uint8Array): Uint8Array | undefined {
  const out = new Uint8Array(src.length);
  const n = cobsDecodeInto(src, out);
  return n < 0 ? undefined : out.subarray(0, n);
}

function slipDecode(src: Uint8Array): Uint8Array | undefined {
  const out = new Uint8Array(src.length);
  const n = slipDecodeInto(src, out);
  return n < 0 ? undefined : out.subarray(0, n);
}

function payloads(out: DecoderOutput[]): Uint8Array[] {
  return out.flatMap((o) => (o.ok ? [o.payload] : []));
}

function errorCodes(out: DecoderOutput[]): FramingErrorCode[] {
  return out.flatMap((o) => (o.ok ? [] : [o.error.code]));
}

function concat(parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

/** Feeds `stream` to `decoder` in chunks of random sizes (1..maxChunk). */
function feedChunked(decoder: FrameDecoder, stream: Uint8Array, next: () => number, maxChunk: number): DecoderOutput[] {
  const out: DecoderOutput[] = [];
  for (let i = 0; i < stream.length; ) {
    const n = 1 + (next() % maxChunk);
    out.push(...decoder.push(stream.subarray(i, i + n)));
    i += n;
  }
  return out;
}

/** CRC-32 one bit at a time, straight from its definition: independent of zlib's tables. */
function crc32Bitwise(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of b) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

describe('CRC-32 (IEEE 802.3 / zlib)', () => {
  it('has the published check values', () => {
    const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);
    expect(crc32(ascii('123456789'))).toBe(0xcbf43926);
    expect(crc32(ascii('The quick brown fox jumps over the lazy dog'))).toBe(0x414fa339);
    expect(crc32(new Uint8Array(0))).toBe(0);
    // A sub-range is its own message, not a prefix-dependent continuation.
    expect(crc32(ascii('xx123456789yy'), 2, 11)).toBe(0xcbf43926);
  });

  it('agrees with the bitwise definition on random inputs and sub-ranges', () => {
    for (let n = 1; n < 600; n += 37) {
      const b = bytes(n, n);
      expect(crc32(b)).toBe(crc32Bitwise(b));
      expect(crc32(b, 3, n)).toBe(crc32Bitwise(b.subarray(3)));
      expect(crc32(b, 0, n >> 1)).toBe(crc32Bitwise(b.subarray(0, n >> 1)));
    }
  });
});

describe('COBS (Cheshire and Baker 1999)', () => {
  // The examples of the COBS article (also on Wikipedia's "Consistent Overhead Byte Stuffing").
  const examples: Array<[string, Uint8Array, Uint8Array]> = [
    ['00', h('00'), h('01 01')],
    ['00 00', h('00 00'), h('01 01 01')],
    ['00 11 00', h('00 11 00'), h('01 02 11 01')],
    ['11 22 00 33', h('11 22 00 33'), h('03 11 22 02 33')],
    ['11 22 33 44', h('11 22 33 44'), h('05 11 22 33 44')],
    ['11 00 00 00', h('11 00 00 00'), h('02 11 01 01 01')],
    ['01..FE', Uint8Array.from(range(1, 254)), Uint8Array.from([0xff, ...range(1, 254)])],
    ['00..FE', Uint8Array.from(range(0, 254)), Uint8Array.from([0x01, 0xff, ...range(1, 254)])],
    ['01..FF', Uint8Array.from(range(1, 255)), Uint8Array.from([0xff, ...range(1, 254), 0x02, 0xff])],
    ['02..FF 00', Uint8Array.from([...range(2, 255), 0]), Uint8Array.from([0xff, ...range(2, 255), 0x01, 0x01])],
    ['03..FF 00 01', Uint8Array.from([...range(3, 255), 0, 1]), Uint8Array.from([0xfe, ...range(3, 255), 0x02, 0x01])],
  ];
  for (const [name, raw, encoded] of examples) {
    it(`encodes and decodes ${name}`, () => {
      expect(Buffer.from(cobsEncode(raw)).toString('hex')).toBe(Buffer.from(encoded).toString('hex'));
      expect(cobsDecode(encoded)).toEqual(raw);
    });
  }

  it('round-trips random inputs, never emits 0x00 and stays within the overhead bound', () => {
    const r = rng(5);
    for (let k = 0; k < 300; k++) {
      const n = r() % 1200;
      const zeroBias = r() % 4; // from no zeros to mostly zeros
      const raw = Uint8Array.from({ length: n }, () => (r() % 4 < zeroBias ? 0 : 1 + (r() % 255)));
      const enc = cobsEncode(raw);
      expect(enc.includes(0)).toBe(false);
      expect(enc.length).toBeLessThanOrEqual(n + Math.floor(n / 254) + 1);
      expect(cobsDecode(enc)).toEqual(raw);
    }
  });

  it('rejects a code byte running past the end and an embedded 0x00', () => {
    expect(cobsDecode(h('05 11 22'))).toBeUndefined();
    expect(cobsDecode(h('03 11 00'))).toBeUndefined();
    expect(cobsDecode(h('00'))).toBeUndefined();
  });
});

describe('SLIP (RFC 1055)', () => {
  it('escapes END and ESC and round-trips', () => {
    expect(Buffer.from(slipEncode(h('01 c0 02 db 03'))).toString('hex')).toBe('01dbdc02dbdd03');
    expect(slipDecode(h('01 db dc 02 db dd 03'))).toEqual(h('01 c0 02 db 03'));
    const r = rng(9);
    for (let k = 0; k < 200; k++) {
      const raw = Uint8Array.from({ length: r() % 700 }, () => [0xc0, 0xdb, r() & 0xff][r() % 3]!);
      const enc = slipEncode(raw);
      expect(enc.includes(0xc0)).toBe(false);
      expect(slipDecode(enc)).toEqual(raw);
    }
  });

  it('rejects an invalid escape, a trailing ESC and an END inside', () => {
    expect(slipDecode(h('01 db 02'))).toBeUndefined();
    expect(slipDecode(h('01 db'))).toBeUndefined();
    expect(slipDecode(h('01 c0'))).toBeUndefined();
  });
});

describe.each(FRAMINGS)('frames (%s)', (framing: Framing) => {
  const delimiter = framing === 'cobs' ? 0x00 : 0xc0;

  it('lays a frame out as DELIM | stuffed(payload || CRC-32 big-endian) | DELIM', () => {
    const payload = h('11 00 c0 db 22');
    const frame = encodeFrame(payload, framing);
    expect(frame[0]).toBe(delimiter);
    expect(frame[frame.length - 1]).toBe(delimiter);
    const inner = frame.subarray(1, -1);
    expect(inner.includes(delimiter)).toBe(false);
    const body = framing === 'cobs' ? cobsDecode(inner)! : slipDecode(inner)!;
    expect(body.subarray(0, payload.length)).toEqual(payload);
    expect(Buffer.from(body.subarray(payload.length)).readUInt32BE(0)).toBe(crc32Bitwise(payload));
    expect(frame.length).toBeLessThanOrEqual(maxFramedLength(framing, payload.length));
  });

  it('decodes frames split at every possible point and byte by byte', () => {
    const frames = [bytes(1, 1), bytes(300, 2), Uint8Array.of(0, 0, 0xc0, 0xdb), bytes(257, 3)];
    const stream = concat(frames.map((p) => encodeFrame(p, framing)));
    for (let cut = 0; cut <= stream.length; cut += 7) {
      const d = new FrameDecoder({ framing, maxPayloadBytes: 512 });
      const out = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
      expect(payloads(out)).toEqual(frames);
      expect(errorCodes(out)).toEqual([]);
    }
    const d = new FrameDecoder({ framing, maxPayloadBytes: 512 });
    const out: DecoderOutput[] = [];
    for (const b of stream) out.push(...d.push(Uint8Array.of(b)));
    expect(payloads(out)).toEqual(frames);
    expect(d.counters.frames).toBe(4);
    expect(d.counters.discardedBytes).toBe(0);
  });

  it('delivers a payload of exactly the limit and refuses one byte more as too-long', () => {
    const fill = framing === 'slip' ? 0xc0 : 0x00; // the worst case for the stuffing
    const max = 600;
    const d = new FrameDecoder({ framing, maxPayloadBytes: max });
    const ok = new Uint8Array(max).fill(fill);
    const over = new Uint8Array(max + 1).fill(fill);
    const after = bytes(20, 8);
    const out = d.push(concat([encodeFrame(ok, framing), encodeFrame(over, framing), encodeFrame(after, framing)]));
    expect(payloads(out)).toEqual([ok, after]);
    expect(errorCodes(out)).toEqual(['too-long']);
    expect(d.counters.errors['too-long']).toBe(1);
  });

  it('skips a frame that never ends (lost delimiter) as too-long and syncs on the next one', () => {
    const d = new FrameDecoder({ framing, maxPayloadBytes: 64 });
    const junk = new Uint8Array(1000).fill(0x55);
    const good = bytes(30, 4);
    const out = feedChunked(d, concat([Uint8Array.of(delimiter), junk, encodeFrame(good, framing)]), rng(1), 50);
    expect(errorCodes(out)).toEqual(['too-long']);
    expect(payloads(out)).toEqual([good]);
    expect(d.counters.discardedBytes).toBe(1000);
  });

  it('types every error, counts it, and still delivers the frames after it', () => {
    const d = new FrameDecoder({ framing, maxPayloadBytes: 256 });
    const good = (i: number): Uint8Array => encodeFrame(bytes(10 + i, 100 + i), framing);
    const D = Uint8Array.of(delimiter);
    const flipped = good(99);
    flipped[5]! ^= 0x10;
    if (flipped[5] === delimiter) flipped[5]! ^= 0x01;
    const invalid = framing === 'cobs' ? h('09 41 42') : h('41 db 42');
    const emptyPayload = framing === 'cobs' ? cobsEncode(new Uint8Array(4)) : slipEncode(new Uint8Array(4)); // CRC-32 of nothing is 0
    const stream = concat([
      h('41 42 43'), // tail of a frame started before we listened
      D,
      good(0),
      flipped, // crc-mismatch
      good(1),
      D, invalid, D, // cobs-invalid / slip-invalid
      good(2),
      D, framing === 'cobs' ? h('03 41 42') : h('41 42'), D, // too-short (2 bytes)
      good(3),
      D, emptyPayload, D, // empty
      good(4),
      D, D, D, // idle fill: not an error
      good(5),
    ]);
    const out = d.push(stream);
    const invalidCode: FramingErrorCode = framing === 'cobs' ? 'cobs-invalid' : 'slip-invalid';
    expect(errorCodes(out)).toEqual(['truncated', 'crc-mismatch', invalidCode, 'too-short', 'empty']);
    expect(payloads(out)).toEqual([0, 1, 2, 3, 4, 5].map((i) => bytes(10 + i, 100 + i)));
    expect(d.counters.frames).toBe(6);
    for (const code of FRAMING_ERROR_CODES) {
      const expected = ['truncated', 'crc-mismatch', invalidCode, 'too-short', 'empty'].includes(code) ? 1 : 0;
      expect(d.counters.errors[code], code).toBe(expected);
    }
    for (const o of out) if (!o.ok) expect(o.error.message.startsWith(`${o.error.code}: `)).toBe(true);
  });

  it('reset() reports a partly received frame as truncated and resynchronises', () => {
    const d = new FrameDecoder({ framing, maxPayloadBytes: 256 });
    const a = encodeFrame(bytes(50, 1), framing);
    const b = encodeFrame(bytes(60, 2), framing);
    expect(d.push(a.subarray(0, 20))).toEqual([]);
    const r = d.reset();
    expect(r?.ok).toBe(false);
    expect(r && !r.ok && r.error.code).toBe('truncated');
    // After a restart the peer's next frame starts with its leading delimiter: nothing is lost.
    expect(payloads(d.push(b))).toEqual([bytes(60, 2)]);
    // Opened in the middle of a frame: the tail is dropped as truncated, the next frame arrives.
    expect(d.reset()).toBeUndefined();
    const out = d.push(concat([b.subarray(10), a]));
    expect(errorCodes(out)).toEqual(['truncated']);
    expect(payloads(out)).toEqual([bytes(50, 1)]);
    expect(d.counters.errors.truncated).toBe(2);
  });

  it('refuses bad arguments with labelled errors', () => {
    expect(() => encodeFrame(new Uint8Array(0), framing)).toThrow(/payload/);
    expect(() => encodeFrame(Uint8Array.of(1), 'hdlc' as Framing)).toThrow(/framing/);
    expect(() => new FrameDecoder({ framing, maxPayloadBytes: 0 })).toThrow(/maxPayloadBytes/);
  });
});

describe('the worked example of docs/serial-udp.md', () => {
  // PduEnvelope{src 0x00A001, dst 0x12AB34, groupcast, pdu 27 00 01 00 00 C0 DB,
  //             tx_time_ns 0x18C2F3A4B5C6D7E8, seq 5}
  const envelope = h('08 81 c0 02 10 b4 d6 4a 18 02 22 07 27 00 01 00 00 c0 db 29 e8 d7 c6 b5 a4 f3 c2 18 30 05');
  it('has CRC-32 0x4353CE04 and these COBS and SLIP line bytes', () => {
    expect(decodePduEnvelope(envelope)).toEqual({
      ok: true,
      value: { l2SourceId: 0xa001, l2DestinationId: 0x12ab34, castType: 'groupcast', pdu: h('27 00 01 00 00 c0 db'), txTimeNs: 0x18c2f3a4b5c6d7e8n, seq: 5 },
    });
    expect(crc32(envelope)).toBe(0x4353ce04);
    expect(encodeFrame(envelope, 'cobs')).toEqual(h('00 0e 08 81 c0 02 10 b4 d6 4a 18 02 22 07 27 02 01 01 12 c0 db 29 e8 d7 c6 b5 a4 f3 c2 18 30 05 43 53 ce 04 00'));
    expect(encodeFrame(envelope, 'slip')).toEqual(
      h('c0 08 81 db dc 02 10 b4 d6 4a 18 02 22 07 27 00 01 00 00 db dc db dd 29 e8 d7 c6 b5 a4 f3 c2 18 30 05 43 53 ce 04 c0'),
    );
  });
});

describe.each(FRAMINGS)('fuzz (%s)', (framing: Framing) => {
  it('never throws and never delivers a damaged frame; every intact frame arrives, in order', () => {
    const r = rng(framing === 'cobs' ? 0xc0b5 : 0x511b);
    const maxPayloadBytes = 300;
    let intactTotal = 0;
    let damagedTotal = 0;
    for (let round = 0; round < 40; round++) {
      const originals: Uint8Array[] = [];
      const intact: Uint8Array[] = [];
      const parts: Uint8Array[] = [];
      const nFrames = 20 + (r() % 40);
      for (let i = 0; i < nFrames; i++) {
        // Payloads rich in the bytes that matter to the stuffing.
        const len = 1 + (r() % maxPayloadBytes);
        const payload = Uint8Array.from({ length: len }, () => [0x00, 0xc0, 0xdb, r() & 0xff][r() % 4]!);
        payload[0] = i & 0xff; // distinct-ish, so a mix-up would show
        originals.push(payload);
        const frame = encodeFrame(payload, framing);
        let damaged = false;
        const action = r() % 10;
        if (action === 0) {
          // Bit flips anywhere in the frame, its delimiters included.
          const flips = 1 + (r() % 3);
          for (let k = 0; k < flips; k++) frame[r() % frame.length]! ^= 1 << (r() % 8);
          damaged = true;
        } else if (action === 1) {
          // Garbage inside the frame.
          const at = 1 + (r() % (frame.length - 1));
          const garbage = Uint8Array.from({ length: 1 + (r() % 40) }, () => r() & 0xff);
          parts.push(frame.subarray(0, at), garbage);
          parts.push(frame.subarray(at));
          damagedTotal++;
          continue;
        } else if (action === 2) {
          // The frame is cut short (a byte run lost).
          const cutFrom = r() % frame.length;
          const cutLen = 1 + (r() % Math.max(1, frame.length - cutFrom - 1));
          parts.push(frame.subarray(0, cutFrom), frame.subarray(cutFrom + cutLen));
          damagedTotal++;
          continue;
        }
        parts.push(frame);
        if (damaged) damagedTotal++;
        else {
          intact.push(payload);
          intactTotal++;
        }
        if (r() % 6 === 0) {
          // Garbage between frames (after this frame's trailing delimiter), sometimes very long.
          const n = r() % 4 === 0 ? 500 + (r() % 1500) : 1 + (r() % 30);
          parts.push(Uint8Array.from({ length: n }, () => r() & 0xff));
        }
      }
      const decoder = new FrameDecoder({ framing, maxPayloadBytes });
      // Start synced, as after the leading delimiter of the first frame.
      decoder.push(Uint8Array.of(framing === 'cobs' ? 0 : 0xc0));
      let out: DecoderOutput[] = [];
      expect(() => {
        out = feedChunked(decoder, concat(parts), r, 1 + (r() % 200));
      }).not.toThrow();
      const got = payloads(out);
      // Every delivered payload is an original, in sending order (a subsequence)...
      let j = 0;
      for (const p of got) {
        while (j < originals.length && Buffer.compare(originals[j]!, p) !== 0) j++;
        expect(j, `delivered payload not among the originals (round ${round})`).toBeLessThan(originals.length);
        j++;
      }
      // ...and every frame the noise did not touch is among them.
      let k = 0;
      for (const p of intact) {
        while (k < got.length && Buffer.compare(got[k]!, p) !== 0) k++;
        expect(k, `intact frame not delivered (round ${round})`).toBeLessThan(got.length);
        k++;
      }
      expect(decoder.counters.frames).toBe(got.length);
    }
    expect(intactTotal).toBeGreaterThan(500);
    expect(damagedTotal).toBeGreaterThan(200);
  });

  it('survives pure noise without throwing and without delivering anything', () => {
    const r = rng(framing === 'cobs' ? 77 : 78);
    const d = new FrameDecoder({ framing, maxPayloadBytes: 128 });
    let delivered = 0;
    let errors = 0;
    for (let k = 0; k < 200; k++) {
      // Noise biased towards delimiters and escapes so that many short "frames" form.
      const chunk = Uint8Array.from({ length: 1 + (r() % 2000) }, () => [0x00, 0xc0, 0xdb, r() & 0xff, r() & 0xff][r() % 5]!);
      for (const o of d.push(chunk)) {
        if (o.ok) delivered++;
        else errors++;
      }
    }
    expect(delivered).toBe(0);
    expect(errors).toBeGreaterThan(1000);
    expect(Object.values(d.counters.errors).reduce((a, b) => a + b, 0)).toBe(errors);
  });
});
