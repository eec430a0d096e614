/** Parse/emit pairs for every message of proto/bridge.proto, and envelope sequence accounting. */
export type { Decoded, WireError, WireErrorCode } from './result.js';
export { CAST_TYPES, ENVELOPE_MAX_PDU_BYTES, decodePduEnvelope, encodePduEnvelope } from './envelope.js';
export type { CastType, OutgoingPdu, PduEnvelope } from './envelope.js';
export {
  APP_MAX_SDU_BYTES,
  MAX_SDU_TYPE,
  decodeAppToDaemon,
  decodeDaemonToApp,
  encodeAppToDaemon,
  encodeDaemonToApp,
} from './app.js';
export type { AppHello, AppSendSdu, AppToDaemon, DaemonToApp, Delivery, SendRefused, SendSdu } from './app.js';
export { decodeRangingMessage, encodeRangingMessage } from './ranging.js';
export type { RangingMessage } from './ranging.js';
export { RESTART_DISTANCE, SEQUENCE_WINDOW, SequenceTracker } from './sequence.js';
export type { SequenceCounters, SequenceVerdict } from './sequence.js';
