/**
 * The stack-side ZeroMQ transport: PduEnvelopes between a daemon and the medium emulator (role
 * `connect`) or a stack shim (role `bind`, the shim connects). The transport stamps each outgoing
 * PDU with its transmit time and its sequence number, as late as possible before the socket.
 */
import {
  ENVELOPE_MAX_PDU_BYTES,
  decodePduEnvelope,
  encodePduEnvelope,
  type OutgoingPdu,
  type PduEnvelope,
} from '../../src/wire/envelope.js';
import { unixNowNs } from './clock.js';
import { ZmqDealerTransport, type FrameCodec } from './zmq-dealer.js';
import type { ZmqTuning } from './zmq-options.js';
import type { StackTransport } from './types.js';

export interface ZmqStackOptions {
  role: 'connect' | 'bind';
  endpoint: string;
  /** Largest PDU sent or accepted (hw-profile `pdu.max_bytes`). */
  maxPduBytes?: number;
  tuning?: Partial<ZmqTuning>;
  /** Clock for tx_time_ns (tests inject one); default Unix epoch ns from clock.ts. */
  clock?: () => bigint;
}

export function createZmqStackTransport(options: ZmqStackOptions): StackTransport {
  const maxPduBytes = options.maxPduBytes ?? ENVELOPE_MAX_PDU_BYTES;
  const clock = options.clock ?? unixNowNs;
  let seq = 0;
  const codec: FrameCodec<OutgoingPdu, PduEnvelope> = {
    encode(pdu) {
      if (pdu.pdu.length > maxPduBytes) return 'too-large';
      // The sequence number is used even if the frame is then dropped below: receivers see
      // the gap, which is what happened on the path.
      const envelope: PduEnvelope = {
        l2SourceId: pdu.l2SourceId,
        l2DestinationId: pdu.l2DestinationId,
        castType: pdu.castType,
        pdu: pdu.pdu,
        txTimeNs: clock(),
        seq,
      };
      const bytes = encodePduEnvelope(envelope);
      seq = (seq + 1) >>> 0;
      return bytes;
    },
    decode: (bytes) => decodePduEnvelope(bytes, maxPduBytes),
  };
  return new ZmqDealerTransport({ role: options.role, endpoint: options.endpoint, tuning: options.tuning }, codec);
}
