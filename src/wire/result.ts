/**
 * Typed outcome of decoding bytes that came from outside the process. Decoders in src/wire never
 * throw on bad input: they return `{ ok: false, error }` with one of these codes, which the
 * transports count as `malformed` and drop.
 */

export type WireErrorCode =
  /** Not valid protobuf: truncated varint/length, length past the end, invalid wire type or tag. */
  | 'not-protobuf'
  /** A known field arrived with a wire type other than the schema's. */
  | 'wrong-wire-type'
  /** A required field is absent or empty (proto3 cannot say "required"; our contract can). */
  | 'missing-field'
  /** A field is outside its range (e.g. a 24-bit ID above 0xFFFFFF, an unknown enum value). */
  | 'out-of-range'
  /** A bytes field is larger than the configured limit. */
  | 'too-large';

export interface WireError {
  readonly code: WireErrorCode;
  /** The message and field concerned, e.g. `PduEnvelope.l2_source_id`. */
  readonly field: string;
  /** Human-readable detail for logs. */
  readonly message: string;
}

export type Decoded<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: WireError };

export function wireError(code: WireErrorCode, field: string, message: string): Decoded<never> {
  return { ok: false, error: { code, field, message } };
}

export function decoded<T>(value: T): Decoded<T> {
  return { ok: true, value };
}
