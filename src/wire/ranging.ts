/**
 * `RangingMessage` of proto/bridge.proto: the SDU payload of the bundled ranging application
 * (bridge/app/). Parse/emit pair; no I/O.
 */
import {
  Writer,
  parseFields,
  readBoundedBytes,
  readEnum,
  readFixed64,
  writeBytes,
  writeFixed64,
  writeUint32,
  readUint32,
} from './pb.js';
import { decoded, wireError, type Decoded } from './result.js';

export interface RangingMessage {
  kind: 'request' | 'response';
  /** The requester's random per-instance ID (uint32). */
  requesterId: number;
  /** The requester's request counter (uint32). */
  requestSeq: number;
  /** When the requester sent the request, Unix epoch ns. */
  requestTimeNs: bigint;
  /** Response only (0 in a request): the responder's own instance ID. */
  responderId: number;
  /** Response only (0n in a request): when the responder sent it, Unix epoch ns. */
  responseTimeNs: bigint;
  /** Filler bytes to reach a chosen SDU size; may be empty. */
  padding: Uint8Array;
}

const KIND_CODE = { request: 1, response: 2 } as const;
const MAX_PADDING = 9000;

export function encodeRangingMessage(m: RangingMessage): Uint8Array {
  const kind = KIND_CODE[m.kind];
  if (kind === undefined) throw new RangeError(`kind: expected "request" or "response", got ${String(m.kind)}`);
  const w = Writer.create();
  writeUint32(w, 1, kind);
  writeUint32(w, 2, m.requesterId >>> 0);
  writeUint32(w, 3, m.requestSeq >>> 0);
  writeFixed64(w, 4, m.requestTimeNs);
  writeUint32(w, 5, m.responderId >>> 0);
  writeFixed64(w, 6, m.responseTimeNs);
  writeBytes(w, 7, m.padding);
  return w.finish();
}

/** Decodes a ranging payload from another application. Never throws. */
export function decodeRangingMessage(bytes: Uint8Array): Decoded<RangingMessage> {
  let kind = 0;
  let requesterId = 0;
  let requestSeq = 0;
  let requestTimeNs = 0n;
  let responderId = 0;
  let responseTimeNs = 0n;
  let padding: Uint8Array = EMPTY;
  const parsed = parseFields(bytes, 'RangingMessage', (r, field, wt) => {
    switch (field) {
      case 1:
        kind = readEnum(r, wt, 'RangingMessage.kind', 2);
        return true;
      case 2:
        requesterId = readUint32(r, wt, 'RangingMessage.requester_id');
        return true;
      case 3:
        requestSeq = readUint32(r, wt, 'RangingMessage.request_seq');
        return true;
      case 4:
        requestTimeNs = readFixed64(r, wt, 'RangingMessage.request_time_ns');
        return true;
      case 5:
        responderId = readUint32(r, wt, 'RangingMessage.responder_id');
        return true;
      case 6:
        responseTimeNs = readFixed64(r, wt, 'RangingMessage.response_time_ns');
        return true;
      case 7:
        padding = readBoundedBytes(r, wt, 'RangingMessage.padding', MAX_PADDING);
        return true;
      default:
        return false;
    }
  });
  if (!parsed.ok) return parsed;
  if (kind === 0) return wireError('missing-field', 'RangingMessage.kind', 'RangingMessage.kind: not set');
  return decoded({
    kind: kind === 1 ? 'request' : 'response',
    requesterId,
    requestSeq,
    requestTimeNs,
    responderId,
    responseTimeNs,
    padding,
  });
}

const EMPTY = new Uint8Array(0);
