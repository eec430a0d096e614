/**
 * The small set of protobuf (proto3) primitives the static codecs of proto/bridge.proto need, over
 * protobufjs' Reader and Writer. The codecs are hand-written rather than generated so that 64-bit
 * fields come out as bigint (fixed64 read as two fixed32 halves, no Long objects), field ranges are
 * checked while parsing, and a malformed frame yields a {@link WireError} instead of an exception.
 * test/unit/wire-codec.test.ts checks them against proto/bridge.proto loaded by protobufjs.
 */
import protobuf from 'protobufjs/minimal.js';
import { wireError, type Decoded } from './result.js';

export const { Reader, Writer } = protobuf;
export type Reader = protobuf.Reader;
export type Writer = protobuf.Writer;

/** Protobuf wire types (protobuf encoding guide, "Message Structure"). */
export const WT_VARINT = 0;
export const WT_I64 = 1;
export const WT_LEN = 2;
export const WT_I32 = 5;

export const MAX_UINT24 = 0xffffff;
const TWO_32 = 0x1_0000_0000n;

export function tag(field: number, wireType: number): number {
  return (field << 3) | wireType;
}

/** Writes a fixed64 field holding an unsigned 64-bit bigint (skipped when 0: proto3 default). */
export function writeFixed64(w: Writer, field: number, value: bigint): void {
  if (value === 0n) return;
  w.uint32(tag(field, WT_I64))
    .fixed32(Number(value & 0xffff_ffffn))
    .fixed32(Number((value >> 32n) & 0xffff_ffffn));
}

/** Reads a fixed64 field as an unsigned bigint, after checking its wire type. */
export function readFixed64(r: Reader, wireType: number, field: string): bigint {
  expectWireType(wireType, WT_I64, field);
  const lo = r.fixed32();
  const hi = r.fixed32();
  return hi === 0 ? BigInt(lo) : BigInt(hi) * TWO_32 + BigInt(lo);
}

export function writeUint32(w: Writer, field: number, value: number): void {
  if (value !== 0) w.uint32(tag(field, WT_VARINT)).uint32(value);
}

export function writeBytes(w: Writer, field: number, value: Uint8Array): void {
  if (value.length !== 0) w.uint32(tag(field, WT_LEN)).bytes(value);
}

export function writeString(w: Writer, field: number, value: string): void {
  if (value.length !== 0) w.uint32(tag(field, WT_LEN)).string(value);
}

/** Writes an embedded message field (always, even when its encoding is empty: it selects a oneof). */
export function writeMessage(w: Writer, field: number, encodeBody: (w: Writer) => void): void {
  w.uint32(tag(field, WT_LEN)).fork();
  encodeBody(w);
  w.ldelim();
}

/**
 * Parses one message: calls `onField(field, wireType)` for every field; it returns true when it
 * consumed the field (after checking the wire type with {@link expectWireType}) or false to have it
 * skipped as unknown. Anything protobufjs throws (truncation, bad wire type) and any
 * {@link FieldError} become a WireError.
 */
export function parseFields(
  bytes: Uint8Array,
  message: string,
  onField: (r: Reader, field: number, wireType: number) => boolean,
): Decoded<true> {
  try {
    const r = Reader.create(bytes);
    while (r.pos < r.len) {
      const t = r.uint32();
      const field = t >>> 3;
      const wireType = t & 7;
      if (field === 0) return wireError('not-protobuf', message, `${message}: field number 0`);
      if (!onField(r, field, wireType)) r.skipType(wireType);
    }
    return PARSED;
  } catch (e) {
    if (e instanceof FieldError) return wireError(e.code, e.field, e.message);
    return wireError('not-protobuf', message, `${message}: ${(e as Error)?.message ?? String(e)}`);
  }
}
const PARSED: Decoded<true> = { ok: true, value: true };

/** Thrown inside {@link parseFields} callbacks only; parseFields turns it into a WireError. */
export class FieldError extends Error {
  constructor(
    readonly code: 'wrong-wire-type' | 'out-of-range' | 'too-large' | 'missing-field',
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

export function expectWireType(wireType: number, expected: number, field: string): void {
  if (wireType !== expected) {
    throw new FieldError('wrong-wire-type', field, `${field}: wire type ${wireType}, expected ${expected}`);
  }
}

export function readUint32(r: Reader, wireType: number, field: string): number {
  expectWireType(wireType, WT_VARINT, field);
  return r.uint32();
}

export function readUint24(r: Reader, wireType: number, field: string): number {
  expectWireType(wireType, WT_VARINT, field);
  const v = r.uint32();
  if (v > MAX_UINT24) throw new FieldError('out-of-range', field, `${field}: ${v} is not a 24-bit ID`);
  return v;
}

export function readBoundedBytes(r: Reader, wireType: number, field: string, maxBytes: number): Uint8Array {
  expectWireType(wireType, WT_LEN, field);
  const v = r.bytes();
  if (v.length > maxBytes) {
    throw new FieldError('too-large', field, `${field}: ${v.length} bytes, at most ${maxBytes} allowed`);
  }
  return v;
}

/** A proto3 bool: a non-zero varint is true (read as protobufjs does: the low 32 bits). */
export function readBool(r: Reader, wireType: number, field: string): boolean {
  expectWireType(wireType, WT_VARINT, field);
  return r.bool();
}

export function readEnum(r: Reader, wireType: number, field: string, max: number): number {
  expectWireType(wireType, WT_VARINT, field);
  const v = r.uint32();
  if (v > max) throw new FieldError('out-of-range', field, `${field}: unknown value ${v}`);
  return v;
}

export function finishBytes(w: Writer): Uint8Array {
  return w.finish();
}
