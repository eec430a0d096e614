/**
 * Byte-stream framing for the serial transport (docs/serial-udp.md): COBS or SLIP byte stuffing,
 * a CRC-32 per frame, and a streaming decoder that resynchronises after line noise. I/O-free.
 */
export { crc32 } from './crc32.js';
export { cobsDecodeInto, cobsEncode, cobsMaxEncodedLength } from './cobs.js';
export { SLIP_END, SLIP_ESC, SLIP_ESC_END, SLIP_ESC_ESC, slipDecodeInto, slipEncode, slipMaxEncodedLength } from './slip.js';
export {
  FRAME_CRC_BYTES,
  FRAMINGS,
  FRAMING_ERROR_CODES,
  FrameDecoder,
  encodeFrame,
  maxFramedLength,
  newFrameDecoderCounters,
  type DecoderOutput,
  type FrameDecoderCounters,
  type FrameDecoderOptions,
  type Framing,
  type FramingError,
  type FramingErrorCode,
} from './frame-codec.js';
