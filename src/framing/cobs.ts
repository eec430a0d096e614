/**
 * Consistent Overhead Byte Stuffing: S. Cheshire, M. Baker, "Consistent Overhead Byte Stuffing",
 * IEEE/ACM Transactions on Networking 7(2), 1999. The encoded block never contains 0x00, so 0x00
 * delimits frames on the line. Each block starts with a code byte n (1..255): n - 1 data bytes
 * follow, then an implied 0x00 unless n = 0xFF (a full 254-byte run) or the block ends the frame.
 * Overhead: at most 1 byte per 254, plus 1.
 */

/** The largest encoding of `n` bytes. */
export function cobsMaxEncodedLength(n: number): number {
  return n + Math.floor(n / 254) + 1;
}

/** Encodes `src` (any bytes, may be empty); the result contains no 0x00. */
export function cobsEncode(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(cobsMaxEncodedLength(src.length));
  let codeAt = 0;
  let pos = 1;
  let code = 1;
  for (let i = 0; i < src.length; i++) {
    const b = src[i]!;
    if (b === 0) {
      out[codeAt] = code;
      codeAt = pos++;
      code = 1;
    } else {
      out[pos++] = b;
      // A full run of 254 ends its block; a new block starts only if input follows.
      if (++code === 0xff && i + 1 < src.length) {
        out[codeAt] = code;
        codeAt = pos++;
        code = 1;
      }
    }
  }
  out[codeAt] = code;
  return out.subarray(0, pos);
}

/**
 * Decodes one COBS block sequence (the bytes between two delimiters, delimiters excluded) into
 * `out` (at least `src.length` bytes long: decoding never grows). Returns the decoded length, or
 * -1 when `src` is not a valid encoding: a 0x00 inside it, or a code byte that runs past its end.
 * Never throws.
 */
export function cobsDecodeInto(src: Uint8Array, out: Uint8Array): number {
  let i = 0;
  let o = 0;
  const n = src.length;
  while (i < n) {
    const code = src[i++]!;
    if (code === 0) return -1;
    const end = i + code - 1;
    if (end > n) return -1;
    for (; i < end; i++) {
      const b = src[i]!;
      if (b === 0) return -1;
      out[o++] = b;
    }
    if (code !== 0xff && i < n) out[o++] = 0;
  }
  return o;
}
