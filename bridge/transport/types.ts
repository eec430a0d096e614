/**
 * The contract every transport of sl-bridge implements (ZeroMQ here; serial and UDP in the
 * integrations issue): frames out, frames in, counters. docs/transport.md describes the ZeroMQ
 * sockets behind it.
 *
 * Rules every implementation keeps:
 * - `send` never blocks and never throws: it returns `'accepted'` or why the frame was dropped.
 *   A frame the transport accepted may still be refused later by the layer below (ZeroMQ
 *   high-water mark, no peer attached); it is then moved from `sent` to `dropped[reason]`, so
 *   once the transport is idle `sent + sum(dropped) = frames offered`.
 * - Received bytes that do not decode are counted in `malformed`, reported to `sink.malformed`
 *   and dropped; nothing received is ever thrown.
 * - A sink callback that throws is counted in `handlerErrors` and does not stop the transport.
 * - A peer that goes away and comes back is picked up again without the caller doing anything.
 */
import type { OutgoingPdu, PduEnvelope } from '../../src/wire/envelope.js';
import type { AppSendSdu, DaemonToApp } from '../../src/wire/app.js';

export type TransportKind = 'zmq' | 'serial' | 'udp';

/** An error from setting a transport up (bad endpoint, address in use, ...); `code` names it. */
export class TransportError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

/** Why `send` did not (or the layer below did not) take a frame. */
export const SEND_DROP_REASONS = [
  /** `send` before `open` finished. */
  'not-open',
  /** `send` after `close`. */
  'closed',
  /** The frame is not a valid record (a bug in the caller): it could not be encoded. */
  'invalid',
  /** Larger than the configured limit (hw-profile `pdu.max_bytes`, the serial MTU, ...). */
  'too-large',
  /** No peer attached: nobody to send to (stack/emulator/application down or not started). */
  'no-peer',
  /** Every attached peer is at its high-water mark (it does not keep up): dropped, not queued. */
  'hwm',
] as const;
export type SendDropReason = (typeof SEND_DROP_REASONS)[number];
export type SendOutcome = 'accepted' | SendDropReason;

export interface TransportCounters {
  /** Frames accepted by `send` and not refused since. */
  sent: number;
  /** Frames received, decoded and handed to the sink. */
  received: number;
  /** Frames received that did not decode (dropped). */
  malformed: number;
  /** Frames not sent, per reason. */
  dropped: Record<SendDropReason, number>;
  /** Sink callbacks that threw. */
  handlerErrors: number;
  /** Times the link came up / went down (peer attached / lost). */
  linkUps: number;
  linkDowns: number;
}

export function newTransportCounters(): TransportCounters {
  const dropped = {} as Record<SendDropReason, number>;
  for (const r of SEND_DROP_REASONS) dropped[r] = 0;
  return { sent: 0, received: 0, malformed: 0, dropped, handlerErrors: 0, linkUps: 0, linkDowns: 0 };
}

/** Why a received frame was dropped: a WireError, or a framing error of a byte-stream transport. */
export interface MalformedFrame {
  readonly code: string;
  readonly message: string;
}

/** An attached peer of a transport that has several (the application server); opaque otherwise. */
export interface PeerHandle {
  /** Stable for the life of the peer's connection; a reconnect makes a new peer. */
  readonly key: string;
}

/** Where a transport delivers what it receives. */
export interface FrameSink<TIn> {
  /** A decoded frame; `from` is the peer for transports with several peers, else undefined. */
  frame(frame: TIn, from: PeerHandle | undefined): void;
  /** A frame that did not decode (already counted). */
  malformed?(error: MalformedFrame, from: PeerHandle | undefined): void;
  /** The link came up (a peer attached) or went down; `detail` names the endpoint/device. */
  link?(up: boolean, detail: string): void;
}

/**
 * The receive-side rules above, kept in one place for the single-peer transports (serial, UDP,
 * ZeroMQ dealer): a frame that did not decode is counted in `malformed` and reported; a decoded
 * one is counted in `received` and delivered; a sink callback that throws is counted in
 * `handlerErrors` and never rethrown.
 */
export function dropMalformed(counters: TransportCounters, sink: FrameSink<unknown> | undefined, error: MalformedFrame): void {
  counters.malformed++;
  try {
    sink?.malformed?.(error, undefined);
  } catch {
    counters.handlerErrors++;
  }
}

export function deliverFrame<T>(counters: TransportCounters, sink: FrameSink<T>, frame: T): void {
  counters.received++;
  try {
    sink.frame(frame, undefined);
  } catch {
    counters.handlerErrors++;
  }
}

/** Tells the sink the link came up or went down (`linkUps` / `linkDowns` are the caller's). */
export function notifySinkLink(counters: TransportCounters, sink: FrameSink<unknown> | undefined, up: boolean, detail: string): void {
  try {
    sink?.link?.(up, detail);
  } catch {
    counters.handlerErrors++;
  }
}

export interface FrameTransport<TOut, TIn> {
  readonly kind: TransportKind;
  /** Endpoint / device / group, for logs. After `open`, bound ZeroMQ endpoints are resolved. */
  readonly description: string;
  /** Binds/connects/opens and starts delivering received frames to `sink`. Call once. */
  open(sink: FrameSink<TIn>): Promise<void>;
  /** Hands one frame to the layer below. Never blocks, never throws. */
  send(frame: TOut): SendOutcome;
  /** Live counters (read them; do not modify). */
  readonly counters: Readonly<TransportCounters>;
  /** True while at least one peer is attached, as far as the transport can tell. */
  readonly linkUp: boolean;
  /** Stops receiving and releases the socket/device. Frames still queued are dropped. */
  close(): Promise<void>;
}

/**
 * What a serial or UDP transport knows beyond the common counters: why the link is down, the
 * serial framing errors by code (line noise shows up here, not only as `malformed`), the UDP
 * own-frame filter. Only the fields the transport has are present.
 */
export interface StackDetails {
  lastError?: string | null;
  serial?: { frames: number; discardedBytes: number; errors: Record<string, number>; openFailures: number; lostInFlight: number; queuedBytes: number };
  udp?: { ownFiltered: number; joinFailures: number; lostInFlight: number };
}

/**
 * Daemon <-> sidelink stack (or medium emulator). The transport stamps each outgoing PDU with its
 * transmit time and its per-sender sequence number (PduEnvelope.tx_time_ns, .seq).
 */
export interface StackTransport extends FrameTransport<OutgoingPdu, PduEnvelope> {
  /** Figures of this kind of transport beyond the common counters (for status lines). */
  details?(): StackDetails;
}

/**
 * Daemon side of the application link: any number of applications attach. An application's
 * AppHello is the transport's own business (how it frames that application's deliveries): the
 * sink only sees SDUs.
 */
export interface AppServerTransport extends FrameTransport<DaemonToApp, AppSendSdu> {
  /** `send` goes to every attached application; this one to a single one (e.g. a refusal). */
  sendTo(peer: PeerHandle, frame: DaemonToApp): SendOutcome;
  /** Applications attached now. */
  readonly peerCount: number;
}

/** Application side of the application link (its AppHello is the transport's, as on the daemon side). */
export type AppClientTransport = FrameTransport<AppSendSdu, DaemonToApp>;
