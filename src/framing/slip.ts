/**
 * SLIP, RFC 1055 ("A Nonstandard for Transmission of IP Datagrams over Serial Lines"): END
 * (0xC0) delimits frames; inside a frame END is sent as ESC ESC_END (0xDB 0xDC) and ESC as
 * ESC ESC_ESC (0xDB 0xDD). RFC 1055 lets a receiver keep a byte after ESC that is neither; here
 * that is an error (`slip-invalid`), because on our links it can only be line noise.
 */

export const SLIP_END = 0xc0;
export const SLIP_ESC = 0xdb;
export const SLIP_ESC_END = 0xdc;
export const SLIP_ESC_ESC = 0xdd;

/** The largest encoding of `n` bytes (every byte escaped). */
export function slipMaxEncodedLength(n: number): number {
  return 2 * n;
}

/** Escapes `src`; the result contains no END byte. */
export function slipEncode(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(slipMaxEncodedLength(src.length));
  let o = 0;
  for (let i = 0; i < src.length; i++) {
    const b = src[i]!;
    if (b === SLIP_END) {
      out[o++] = SLIP_ESC;
      out[o++] = SLIP_ESC_END;
    } else if (b === SLIP_ESC) {
      out[o++] = SLIP_ESC;
      out[o++] = SLIP_ESC_ESC;
    } else {
      out[o++] = b;
    }
  }
  return out.subarray(0, o);
}

/**
 * Unescapes the bytes between two END delimiters into `out` (at least `src.length` long).
 * Returns the decoded length, or -1 for an invalid escape (ESC followed by anything but
 * ESC_END / ESC_ESC, or ESC last) or an END inside `src`. Never throws.
 */
export function slipDecodeInto(src: Uint8Array, out: Uint8Array): number {
  let o = 0;
  const n = src.length;
  for (let i = 0; i < n; i++) {
    const b = src[i]!;
    if (b === SLIP_END) return -1;
    if (b !== SLIP_ESC) {
      out[o++] = b;
      continue;
    }
    if (++i === n) return -1;
    const e = src[i]!;
    if (e === SLIP_ESC_END) out[o++] = SLIP_END;
    else if (e === SLIP_ESC_ESC) out[o++] = SLIP_ESC;
    else return -1;
  }
  return o;
}
