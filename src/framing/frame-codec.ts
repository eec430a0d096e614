/**
 * Frames over a byte stream (a serial line): each frame is a payload followed by its CRC-32,
 * byte-stuffed with COBS or SLIP and written between two delimiters:
 *
 *   DELIM | stuff(payload || CRC-32(payload), big-endian) | DELIM
 *
 * DELIM is 0x00 for COBS and END (0xC0) for SLIP. The leading delimiter costs one byte and makes
 * line noise between frames harmless: noise ends at the next frame's leading delimiter, so it is
 * counted as one bad frame and the frame after it still arrives whole. Two delimiters in a row
 * are idle fill and ignored.
 *
 * {@link FrameDecoder} is the streaming receive side: it is fed chunks split anywhere (the serial
 * driver hands over whatever has arrived) and returns whole, CRC-checked payloads and typed
 * errors. It never throws on input and never returns a payload whose CRC did not match; a bad
 * frame costs only the bytes up to the next delimiter. No I/O, no clock.
 */
import { cobsDecodeInto, cobsEncode, cobsMaxEncodedLength } from './cobs.js';
import { crc32 } from './crc32.js';
import { SLIP_END, slipDecodeInto, slipEncode, slipMaxEncodedLength } from './slip.js';

export const FRAMINGS = ['cobs', 'slip'] as const;
export type Framing = (typeof FRAMINGS)[number];

export const FRAME_CRC_BYTES = 4;

/** Why the bytes between two delimiters (or before the first one) did not make a frame. */
export const FRAMING_ERROR_CODES = [
  /** Bytes before the first delimiter after start or {@link FrameDecoder.reset}: a frame whose beginning was missed (device opened mid-frame, cable pulled mid-frame). */
  'truncated',
  /** More bytes than the largest allowed frame without a delimiter (noise ate one), or a payload above the limit. The rest up to the next delimiter is skipped. */
  'too-long',
  /** Not a valid COBS encoding (a code byte running past the frame's end). */
  'cobs-invalid',
  /** Not a valid SLIP encoding (ESC followed by something other than ESC_END / ESC_ESC). */
  'slip-invalid',
  /** Fewer bytes than a CRC-32. */
  'too-short',
  /** The CRC-32 does not match: noise or bit flips in the frame. */
  'crc-mismatch',
  /** A correct CRC-32 over an empty payload: nothing to deliver. */
  'empty',
] as const;
export type FramingErrorCode = (typeof FRAMING_ERROR_CODES)[number];

export interface FramingError {
  readonly code: FramingErrorCode;
  readonly message: string;
  /** Raw bytes (delimiters excluded) this error threw away, as far as known when reported. */
  readonly discardedBytes: number;
}

export type DecoderOutput = { readonly ok: true; readonly payload: Uint8Array } | { readonly ok: false; readonly error: FramingError };

export interface FrameDecoderCounters {
  /** Payloads delivered (CRC verified). */
  frames: number;
  /** Bad frames per reason. */
  errors: Record<FramingErrorCode, number>;
  /** Raw bytes thrown away (everything not part of a delivered frame or a delimiter). */
  discardedBytes: number;
}

export function newFrameDecoderCounters(): FrameDecoderCounters {
  const errors = {} as Record<FramingErrorCode, number>;
  for (const c of FRAMING_ERROR_CODES) errors[c] = 0;
  return { frames: 0, errors, discardedBytes: 0 };
}

function delimiterOf(framing: Framing): number {
  return framing === 'cobs' ? 0x00 : SLIP_END;
}

function stuffedLength(framing: Framing, n: number): number {
  return framing === 'cobs' ? cobsMaxEncodedLength(n) : slipMaxEncodedLength(n);
}

/** The most bytes a payload of `payloadBytes` takes on the line, delimiters included. */
export function maxFramedLength(framing: Framing, payloadBytes: number): number {
  return stuffedLength(framing, payloadBytes + FRAME_CRC_BYTES) + 2;
}

function checkFraming(framing: Framing): void {
  if (framing !== 'cobs' && framing !== 'slip') throw new RangeError(`framing: expected "cobs" or "slip", got ${String(framing)}`);
}

/** The line bytes of one frame. Throws TypeError for an empty payload (a caller bug). */
export function encodeFrame(payload: Uint8Array, framing: Framing): Uint8Array {
  checkFraming(framing);
  if (!(payload instanceof Uint8Array) || payload.length === 0) throw new TypeError('payload: expected a non-empty Uint8Array');
  const body = new Uint8Array(payload.length + FRAME_CRC_BYTES);
  body.set(payload);
  new DataView(body.buffer).setUint32(payload.length, crc32(payload), false);
  const stuffed = framing === 'cobs' ? cobsEncode(body) : slipEncode(body);
  const out = new Uint8Array(stuffed.length + 2);
  const d = delimiterOf(framing);
  out[0] = d;
  out.set(stuffed, 1);
  out[out.length - 1] = d;
  return out;
}

export interface FrameDecoderOptions {
  framing: Framing;
  /** Largest payload accepted (the serial MTU); longer frames are `too-long`. */
  maxPayloadBytes: number;
}

/** Streaming decoder: see the module comment. One per byte stream; `reset` when the stream restarts. */
export class FrameDecoder {
  readonly counters: FrameDecoderCounters = newFrameDecoderCounters();
  readonly framing: Framing;
  readonly maxPayloadBytes: number;
  private readonly delimiter: number;
  /** Stuffed bytes of the frame being received. */
  private readonly pending: Uint8Array;
  private pendingLength = 0;
  private readonly unstuffed: Uint8Array;
  /** False until the first delimiter: bytes before it are the tail of a frame we missed. */
  private synced = false;
  private unsyncedBytes = 0;
  /** The current frame outgrew `pending`: skipping to the next delimiter. */
  private skipping = false;

  constructor(options: FrameDecoderOptions) {
    checkFraming(options.framing);
    const max = options.maxPayloadBytes;
    if (!Number.isInteger(max) || max < 1 || max > 1 << 24) throw new RangeError(`maxPayloadBytes: expected an integer from 1 to 2^24, got ${max}`);
    this.framing = options.framing;
    this.maxPayloadBytes = max;
    this.delimiter = delimiterOf(options.framing);
    this.pending = new Uint8Array(stuffedLength(options.framing, max + FRAME_CRC_BYTES));
    this.unstuffed = new Uint8Array(this.pending.length);
  }

  /** Feeds the next bytes of the stream; returns the frames and errors they completed, in order. */
  push(chunk: Uint8Array): DecoderOutput[] {
    const out: DecoderOutput[] = [];
    let start = 0;
    while (start < chunk.length) {
      const d = chunk.indexOf(this.delimiter, start);
      const end = d < 0 ? chunk.length : d;
      if (end > start) this.take(chunk, start, end, out);
      if (d < 0) break;
      this.endOfFrame(out);
      start = d + 1;
    }
    return out;
  }

  /**
   * The stream restarted (device reopened): a partly received frame is discarded and reported as
   * `truncated`, and bytes up to the next delimiter are treated as the tail of a missed frame.
   */
  reset(): DecoderOutput | undefined {
    let result: DecoderOutput | undefined;
    if (this.synced && this.pendingLength > 0) {
      result = this.fail('truncated', `stream restarted ${this.pendingLength} bytes into a frame`, this.pendingLength);
    } else if (!this.synced && this.unsyncedBytes > 0) {
      result = this.fail('truncated', `${this.unsyncedBytes} bytes before the first delimiter`, this.unsyncedBytes);
    }
    this.pendingLength = 0;
    this.unsyncedBytes = 0;
    this.skipping = false;
    this.synced = false;
    return result;
  }

  private take(chunk: Uint8Array, start: number, end: number, out: DecoderOutput[]): void {
    const n = end - start;
    if (!this.synced) {
      this.unsyncedBytes += n;
      return;
    }
    if (this.skipping) {
      this.counters.discardedBytes += n;
      return;
    }
    if (this.pendingLength + n > this.pending.length) {
      const have = this.pendingLength + n;
      this.pendingLength = 0;
      this.skipping = true;
      out.push(this.fail('too-long', `more than ${this.pending.length} stuffed bytes without a delimiter`, have));
      return;
    }
    this.pending.set(chunk.subarray(start, end), this.pendingLength);
    this.pendingLength += n;
  }

  private endOfFrame(out: DecoderOutput[]): void {
    if (!this.synced) {
      this.synced = true;
      if (this.unsyncedBytes > 0) {
        out.push(this.fail('truncated', `${this.unsyncedBytes} bytes before the first delimiter`, this.unsyncedBytes));
        this.unsyncedBytes = 0;
      }
      return;
    }
    if (this.skipping) {
      this.skipping = false;
      return;
    }
    const stuffed = this.pendingLength;
    if (stuffed === 0) return; // idle fill between frames
    this.pendingLength = 0;
    const src = this.pending.subarray(0, stuffed);
    const n = this.framing === 'cobs' ? cobsDecodeInto(src, this.unstuffed) : slipDecodeInto(src, this.unstuffed);
    if (n < 0) {
      const code = this.framing === 'cobs' ? 'cobs-invalid' : 'slip-invalid';
      out.push(this.fail(code, `${stuffed} bytes are not a valid ${this.framing.toUpperCase()} encoding`, stuffed));
      return;
    }
    if (n < FRAME_CRC_BYTES) {
      out.push(this.fail('too-short', `${n} bytes, fewer than a CRC-32`, stuffed));
      return;
    }
    const payloadLength = n - FRAME_CRC_BYTES;
    if (payloadLength > this.maxPayloadBytes) {
      out.push(this.fail('too-long', `payload of ${payloadLength} bytes, above the limit of ${this.maxPayloadBytes}`, stuffed));
      return;
    }
    const u = this.unstuffed;
    const carried = ((u[payloadLength]! << 24) | (u[payloadLength + 1]! << 16) | (u[payloadLength + 2]! << 8) | u[payloadLength + 3]!) >>> 0;
    const computed = crc32(u, 0, payloadLength);
    if (carried !== computed) {
      out.push(this.fail('crc-mismatch', `CRC-32 0x${hex32(carried)} carried, 0x${hex32(computed)} computed over ${payloadLength} bytes`, stuffed));
      return;
    }
    if (payloadLength === 0) {
      out.push(this.fail('empty', 'a frame with an empty payload', stuffed));
      return;
    }
    this.counters.frames++;
    out.push({ ok: true, payload: u.slice(0, payloadLength) });
  }

  private fail(code: FramingErrorCode, message: string, discardedBytes: number): DecoderOutput {
    this.counters.errors[code]++;
    this.counters.discardedBytes += discardedBytes;
    return { ok: false, error: { code, message: `${code}: ${message}`, discardedBytes } };
  }
}

function hex32(v: number): string {
  return v.toString(16).padStart(8, '0');
}
