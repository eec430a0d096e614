/**
 * Labelled input checks shared by every algorithm family of the crypto core. Each throws a
 * TypeError (wrong kind of value) or RangeError (right kind, out of range) whose message names the
 * offending argument, so a caller never gets a silently truncated or wrapped value.
 */

/** A Uint8Array of exactly `length` bytes. */
export function checkBytes(name: string, value: unknown, length?: number): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`${name} must be a Uint8Array, got ${describe(value)}`);
  }
  if (length !== undefined && value.length !== length) {
    throw new RangeError(`${name} must be ${length} bytes (${length * 8} bits), got ${value.length} bytes`);
  }
}

/** An integer in `[min, max]`. */
export function checkInt(name: string, value: unknown, min: number, max: number): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`${name} must be an integer, got ${describe(value)}`);
  }
  if (value < min || value > max) {
    throw new RangeError(`${name} must be in ${min}..${max}, got ${value}`);
  }
}

/** TS 33.501 D.2.1.1 / D.3.1.1: COUNT is 32 bits. */
export const checkCount = (count: unknown): void => checkInt('COUNT', count, 0, 0xffffffff);
/** BEARER is 5 bits. */
export const checkBearer = (bearer: unknown): void => checkInt('BEARER', bearer, 0, 31);
/** DIRECTION is 1 bit. */
export const checkDirection = (direction: unknown): void => checkInt('DIRECTION', direction, 0, 1);

/** The COUNT, BEARER and DIRECTION inputs every 128-NEA/NIA call takes (TS 33.501 D.2.1.1, D.3.1.1). */
export function checkCountBearerDirection(count: unknown, bearer: unknown, direction: unknown): void {
  checkCount(count);
  checkBearer(bearer);
  checkDirection(direction);
}

/**
 * Resolves the LENGTH (in bits) of an algorithm input: defaults to all of `data`; otherwise it must
 * be a non-negative integer no longer than the data (TS 33.501 D.2.1.1: LENGTH in bits).
 */
export function resolveLengthBits(lengthBits: unknown, data: Uint8Array, dataName: string): number {
  checkBytes(dataName, data);
  if (lengthBits === undefined) return data.length * 8;
  checkInt('LENGTH', lengthBits, 0, Number.MAX_SAFE_INTEGER);
  if (lengthBits > data.length * 8) {
    throw new RangeError(
      `LENGTH (${lengthBits} bits) is longer than ${dataName} (${data.length} bytes = ${data.length * 8} bits)`,
    );
  }
  return lengthBits;
}

/** The output buffer of a ciphering call: `out` if given (checked for room), else a new array. */
export function resolveOut(out: unknown, byteLength: number): Uint8Array {
  if (out === undefined) return new Uint8Array(byteLength);
  checkBytes('out', out);
  if (out.length < byteLength) {
    throw new RangeError(`out must hold at least ${byteLength} bytes, got ${out.length}`);
  }
  return out;
}

/** The 128-bit algorithm key of every 128-NEA/NIA algorithm (TS 33.501 D.2.1.1). */
export const checkKey128 = (key: unknown): void => checkBytes('KEY', key, 16);

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'an object';
  if (typeof value === 'number' || typeof value === 'bigint') return `${typeof value} ${String(value)}`;
  return typeof value;
}
