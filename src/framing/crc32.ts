/**
 * CRC-32 as in ISO/IEC 3309 / ITU-T V.42 / IEEE 802.3 (the Ethernet FCS): the reflected polynomial
 * 0xEDB88320, initial value 0xFFFFFFFF, final XOR 0xFFFFFFFF; check value ("123456789")
 * 0xCBF43926. zlib computes exactly this one, natively and faster than a table loop in JavaScript.
 */
import { crc32 as zlibCrc32 } from 'node:zlib';

/** CRC-32 of `bytes[start, end)` as an unsigned 32-bit integer. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return zlibCrc32(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end));
}
