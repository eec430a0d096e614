/**
 * CRC-32 as in ISO/IEC 3309 / ITU-T V.42 / IEEE 802.3 (the Ethernet FCS, zlib's `crc32`): the
 * reflected polynomial 0xEDB88320, initial value 0xFFFFFFFF, final XOR 0xFFFFFFFF. Check value
 * ("123456789") 0xCBF43926. Table-driven, one byte per step: the serial line, not this loop,
 * limits the rate (test/unit/serial-framing.test.ts compares it with node:zlib's crc32).
 */

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 of `bytes[start, end)` as an unsigned 32-bit integer. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
