/**
 * The application <-> daemon messages of proto/bridge.proto (`AppToDaemon`, `DaemonToApp`) as
 * typed records, with their parse/emit pairs. No I/O.
 */
import {
  Writer,
  parseFields,
  readBoundedBytes,
  readEnum,
  readFixed64,
  readUint24,
  writeBytes,
  writeFixed64,
  writeMessage,
  writeString,
  writeUint32,
  MAX_UINT24,
  readUint32,
  readBool,
} from './pb.js';
import { decoded, wireError, type Decoded } from './result.js';

/** The largest PDCP SDU (TS 38.323: 9000 octets); the default bound on SDU fields. */
export const APP_MAX_SDU_BYTES = 9000;
/** SDU Type codes 0..4 (TS 38.323 6.3.12); 5..7 are reserved. */
export const MAX_SDU_TYPE = 4;
const MAX_REASON_BYTES = 256;
const UTF8 = new TextDecoder();
const UTF8_ENCODER = new TextEncoder();

/** An SDU the application asks the daemon to protect and send to a group. */
export interface SendSdu {
  /** 24-bit Group ID. */
  groupId: number;
  /** SDU Type code 0..4 (0 IP, 1 non-IP, 2 Ethernet, 3 unstructured, 4 ARP). */
  sduType: number;
  /** Never empty. */
  sdu: Uint8Array;
  /** Application's tag, echoed in a refusal. uint32. */
  appSeq: number;
  /** Unix epoch ns when the application handed the SDU over; 0n if unknown. */
  appTimeNs: bigint;
}

/** An SDU to send, as the daemon's application socket hands it on. */
export type AppSendSdu = { kind: 'send' } & SendSdu;

/**
 * What one connection of an application can take (proto AppHello). The application's transport
 * sends it on every new connection; the daemon's application socket consumes it.
 */
export interface AppHello {
  kind: 'hello';
  /** The application splits a multipart message into one DaemonToApp per frame. */
  batchedDeliveries: boolean;
}

export type AppToDaemon = AppSendSdu | AppHello;

/** A verified, deciphered SDU from another group member. */
export interface Delivery {
  groupId: number;
  sduType: number;
  sdu: Uint8Array;
  /** 24-bit GMI of the sender, authenticated by the inner identity block. */
  senderGmi: number;
  /** The envelope's transmit time (sending daemon), Unix epoch ns. */
  txTimeNs: bigint;
  /** When this daemon received the envelope, Unix epoch ns. */
  rxTimeNs: bigint;
  /** When this daemon handed the delivery to the application socket, Unix epoch ns. */
  deliveredTimeNs: bigint;
  /** The envelope's per-sender sequence number. */
  envelopeSeq: number;
}

/** The daemon did not send the SDU tagged `appSeq`. */
export interface SendRefused {
  appSeq: number;
  /** Short kebab-case reason code (never empty). */
  reason: string;
}

export type DaemonToApp = ({ kind: 'delivery' } & Delivery) | ({ kind: 'refused' } & SendRefused);

// --- AppToDaemon ----------------------------------------------------------------------------

export function encodeAppToDaemon(m: AppToDaemon): Uint8Array {
  const w = Writer.create();
  if (m.kind === 'send') {
    checkUint24(m.groupId, 'groupId');
    checkSduType(m.sduType);
    checkSdu(m.sdu);
    checkUint32(m.appSeq, 'appSeq');
    checkTime(m.appTimeNs, 'appTimeNs');
    writeMessage(w, 1, (w) => {
      writeUint32(w, 1, m.groupId);
      writeUint32(w, 2, m.sduType);
      writeBytes(w, 3, m.sdu);
      writeUint32(w, 4, m.appSeq);
      writeFixed64(w, 5, m.appTimeNs);
    });
  } else if (m.kind === 'hello') {
    if (typeof m.batchedDeliveries !== 'boolean') throw new TypeError('batchedDeliveries: expected a boolean');
    writeMessage(w, 2, (w) => writeUint32(w, 1, m.batchedDeliveries ? 1 : 0));
  } else {
    throw new RangeError(`kind: expected "send" or "hello", got ${String((m as { kind: unknown }).kind)}`);
  }
  return w.finish();
}

/** Decodes an application's message. Never throws; `sdu` is a view into `bytes`. */
export function decodeAppToDaemon(bytes: Uint8Array, maxSduBytes = APP_MAX_SDU_BYTES): Decoded<AppToDaemon> {
  let which = 0;
  let body: Uint8Array | undefined;
  const outer = parseFields(bytes, 'AppToDaemon', (r, field, wt) => {
    if (field !== 1 && field !== 2) return false;
    // oneof: the last member on the wire wins (protobuf encoding rules).
    body = field === 1 ? readBoundedBytes(r, wt, 'AppToDaemon.send', maxSduBytes + 64) : readBoundedBytes(r, wt, 'AppToDaemon.hello', 256);
    which = field;
    return true;
  });
  if (!outer.ok) return outer;
  if (body === undefined) return wireError('missing-field', 'AppToDaemon.body', 'AppToDaemon.body: no message set');
  return which === 1 ? decodeSendSdu(body, maxSduBytes) : decodeHello(body);
}

function decodeHello(body: Uint8Array): Decoded<AppToDaemon> {
  let batchedDeliveries = false;
  const parsed = parseFields(body, 'AppHello', (r, field, wt) => {
    if (field !== 1) return false;
    batchedDeliveries = readBool(r, wt, 'AppHello.batched_deliveries');
    return true;
  });
  if (!parsed.ok) return parsed;
  return decoded({ kind: 'hello', batchedDeliveries });
}

function decodeSendSdu(body: Uint8Array, maxSduBytes: number): Decoded<AppToDaemon> {
  let groupId = 0;
  let sduType = 0;
  let sdu: Uint8Array | undefined;
  let appSeq = 0;
  let appTimeNs = 0n;
  const inner = parseFields(body, 'SendSdu', (r, field, wt) => {
    switch (field) {
      case 1:
        groupId = readUint24(r, wt, 'SendSdu.group_id');
        return true;
      case 2:
        sduType = readEnum(r, wt, 'SendSdu.sdu_type', MAX_SDU_TYPE);
        return true;
      case 3:
        sdu = readBoundedBytes(r, wt, 'SendSdu.sdu', maxSduBytes);
        return true;
      case 4:
        appSeq = readUint32(r, wt, 'SendSdu.app_seq');
        return true;
      case 5:
        appTimeNs = readFixed64(r, wt, 'SendSdu.app_time_ns');
        return true;
      default:
        return false;
    }
  });
  if (!inner.ok) return inner;
  if (sdu === undefined || sdu.length === 0) return wireError('missing-field', 'SendSdu.sdu', 'SendSdu.sdu: empty');
  return decoded({ kind: 'send', groupId, sduType, sdu, appSeq, appTimeNs });
}

// --- DaemonToApp ----------------------------------------------------------------------------

export function encodeDaemonToApp(m: DaemonToApp): Uint8Array {
  const w = Writer.create();
  if (m.kind === 'delivery') {
    checkUint24(m.groupId, 'groupId');
    checkSduType(m.sduType);
    checkSdu(m.sdu);
    checkUint24(m.senderGmi, 'senderGmi');
    checkTime(m.txTimeNs, 'txTimeNs');
    checkTime(m.rxTimeNs, 'rxTimeNs');
    checkTime(m.deliveredTimeNs, 'deliveredTimeNs');
    checkUint32(m.envelopeSeq, 'envelopeSeq');
    writeMessage(w, 1, (w) => {
      writeUint32(w, 1, m.groupId);
      writeUint32(w, 2, m.sduType);
      writeBytes(w, 3, m.sdu);
      writeUint32(w, 4, m.senderGmi);
      writeFixed64(w, 5, m.txTimeNs);
      writeFixed64(w, 6, m.rxTimeNs);
      writeFixed64(w, 7, m.deliveredTimeNs);
      writeUint32(w, 8, m.envelopeSeq);
    });
  } else if (m.kind === 'refused') {
    checkUint32(m.appSeq, 'appSeq');
    if (typeof m.reason !== 'string' || m.reason.length === 0 || UTF8_ENCODER.encode(m.reason).length > MAX_REASON_BYTES) {
      throw new RangeError(`reason: expected a non-empty string of at most ${MAX_REASON_BYTES} UTF-8 bytes`);
    }
    writeMessage(w, 2, (w) => {
      writeUint32(w, 1, m.appSeq);
      writeString(w, 2, m.reason);
    });
  } else {
    throw new RangeError(`kind: expected "delivery" or "refused", got ${String((m as { kind: unknown }).kind)}`);
  }
  return w.finish();
}

/** Decodes a daemon's message. Never throws; `sdu` is a view into `bytes`. */
export function decodeDaemonToApp(bytes: Uint8Array, maxSduBytes = APP_MAX_SDU_BYTES): Decoded<DaemonToApp> {
  let which = 0;
  let body: Uint8Array | undefined;
  const outer = parseFields(bytes, 'DaemonToApp', (r, field, wt) => {
    if (field !== 1 && field !== 2) return false;
    // oneof: the last member on the wire wins (protobuf encoding rules).
    body = readBoundedBytes(r, wt, field === 1 ? 'DaemonToApp.delivery' : 'DaemonToApp.refused', maxSduBytes + 128);
    which = field;
    return true;
  });
  if (!outer.ok) return outer;
  if (body === undefined) return wireError('missing-field', 'DaemonToApp.body', 'DaemonToApp.body: no message set');
  return which === 1 ? decodeDelivery(body, maxSduBytes) : decodeRefused(body);
}

function decodeDelivery(body: Uint8Array, maxSduBytes: number): Decoded<DaemonToApp> {
  let groupId = 0;
  let sduType = 0;
  let sdu: Uint8Array | undefined;
  let senderGmi = 0;
  let txTimeNs = 0n;
  let rxTimeNs = 0n;
  let deliveredTimeNs = 0n;
  let envelopeSeq = 0;
  const parsed = parseFields(body, 'Delivery', (r, field, wt) => {
    switch (field) {
      case 1:
        groupId = readUint24(r, wt, 'Delivery.group_id');
        return true;
      case 2:
        sduType = readEnum(r, wt, 'Delivery.sdu_type', MAX_SDU_TYPE);
        return true;
      case 3:
        sdu = readBoundedBytes(r, wt, 'Delivery.sdu', maxSduBytes);
        return true;
      case 4:
        senderGmi = readUint24(r, wt, 'Delivery.sender_gmi');
        return true;
      case 5:
        txTimeNs = readFixed64(r, wt, 'Delivery.tx_time_ns');
        return true;
      case 6:
        rxTimeNs = readFixed64(r, wt, 'Delivery.rx_time_ns');
        return true;
      case 7:
        deliveredTimeNs = readFixed64(r, wt, 'Delivery.delivered_time_ns');
        return true;
      case 8:
        envelopeSeq = readUint32(r, wt, 'Delivery.envelope_seq');
        return true;
      default:
        return false;
    }
  });
  if (!parsed.ok) return parsed;
  if (sdu === undefined || sdu.length === 0) return wireError('missing-field', 'Delivery.sdu', 'Delivery.sdu: empty');
  return decoded({ kind: 'delivery', groupId, sduType, sdu, senderGmi, txTimeNs, rxTimeNs, deliveredTimeNs, envelopeSeq });
}

function decodeRefused(body: Uint8Array): Decoded<DaemonToApp> {
  let appSeq = 0;
  let reason = '';
  const parsed = parseFields(body, 'SendRefused', (r, field, wt) => {
    switch (field) {
      case 1:
        appSeq = readUint32(r, wt, 'SendRefused.app_seq');
        return true;
      case 2: {
        const raw = readBoundedBytes(r, wt, 'SendRefused.reason', MAX_REASON_BYTES);
        reason = UTF8.decode(raw);
        return true;
      }
      default:
        return false;
    }
  });
  if (!parsed.ok) return parsed;
  if (reason.length === 0) return wireError('missing-field', 'SendRefused.reason', 'SendRefused.reason: empty');
  return decoded({ kind: 'refused', appSeq, reason });
}

// --- shared checks --------------------------------------------------------------------------

function checkUint24(v: number, name: string): void {
  if (!Number.isInteger(v) || v < 0 || v > MAX_UINT24) throw new RangeError(`${name}: expected a 24-bit ID (0..0xFFFFFF), got ${v}`);
}

function checkUint32(v: number, name: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new RangeError(`${name}: expected a uint32, got ${v}`);
}

function checkSduType(v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > MAX_SDU_TYPE) throw new RangeError(`sduType: expected 0..${MAX_SDU_TYPE}, got ${v}`);
}

function checkSdu(v: Uint8Array): void {
  if (!(v instanceof Uint8Array) || v.length === 0) throw new TypeError('sdu: expected a non-empty Uint8Array');
}

function checkTime(v: bigint, name: string): void {
  if (typeof v !== 'bigint' || v < 0n || v >= 1n << 64n) throw new RangeError(`${name}: expected a bigint from 0 to 2^64-1`);
}

