/**
 * The stack-side transport over a serial line (a sidelink modem on /dev/ttyUSB0, or a PTY in
 * tests), through `serialport`. One frame per PduEnvelope (src/wire/envelope.ts, the same bytes
 * the ZeroMQ and UDP transports carry), framed by src/framing: COBS or SLIP byte stuffing, a
 * CRC-32, a delimiter before and after. docs/serial-udp.md describes the line format.
 *
 * - Receiving: the streaming FrameDecoder resynchronises after line noise; every bad frame is
 *   counted (`counters.malformed`, and per framing error in `framingCounters`), reported to
 *   `sink.malformed` and skipped; the frames after it are delivered.
 * - Device lost (USB modem unplugged, PTY pair gone): serialport reports the disconnect; the
 *   transport drops what it had queued (moved from `sent` to `dropped['no-peer']`), reports the
 *   link down and retries opening the same path with exponential backoff from `reopenMs` to
 *   `reopenMaxMs`, for as long as it is open. The same happens when the device is absent at
 *   `open`: open() still resolves, `linkUp` stays false and `lastError` says why.
 * - Back-pressure: drop, never block. A frame is refused as `hwm` when the bytes queued in the
 *   port's write stream plus the frame would exceed `maxQueuedBytes` (default: 100 ms of line
 *   time at the baud rate, at least 4 frames of MTU size). While the device is not open, frames
 *   are refused as `no-peer`, never queued for later (they would be stale).
 */
import { SerialPort } from 'serialport';
import { FrameDecoder, encodeFrame, maxFramedLength, type FrameDecoderCounters, type Framing } from '../../src/framing/index.js';
import { ENVELOPE_MAX_PDU_BYTES, decodePduEnvelope, encodePduEnvelope, type OutgoingPdu, type PduEnvelope } from '../../src/wire/envelope.js';
import { unixNowNs } from './clock.js';
import { ENVELOPE_OVERHEAD_BYTES } from './serial-limits.js';
import {
  deliverFrame,
  dropMalformed,
  newTransportCounters,
  notifySinkLink,
  TransportError,
  type FrameSink,
  type SendDropReason,
  type SendOutcome,
  type StackDetails,
  type StackTransport,
  type TransportCounters,
} from './types.js';

export { ENVELOPE_OVERHEAD_BYTES };

export interface SerialTransportOptions {
  /** Device path, e.g. /dev/ttyUSB0, /dev/serial/by-id/..., or a socat PTY link. */
  device: string;
  baudRate: number;
  /** `xon-xoff` is refused: XON/XOFF bytes occur in binary frames and the tty would eat them. */
  flowControl?: 'none' | 'rts-cts' | 'xon-xoff';
  /** Largest encoded PduEnvelope on the line (the frame payload, before CRC and stuffing). */
  mtu: number;
  framing?: Framing;
  /** Largest PDU sent or accepted (hw-profile `pdu.max_bytes`); default mtu - ENVELOPE_OVERHEAD_BYTES. */
  maxPduBytes?: number;
  /** First delay before reopening a lost or absent device, ms (hw-profile `timing.reopen_ms`). */
  reopenMs?: number;
  /** Longest delay between reopen attempts (the backoff doubles up to it), ms. */
  reopenMaxMs?: number;
  /** Drop limit on bytes queued for writing (see the module comment). */
  maxQueuedBytes?: number;
  /** Clock for tx_time_ns (tests inject one); default Unix epoch ns from clock.ts. */
  clock?: () => bigint;
}

/** Serial link counters beyond the common ones. */
export interface SerialLinkCounters {
  /** Open attempts that failed (device absent, busy, no permission). */
  openFailures: number;
  /** Frames accepted but not written because the device went away (queued, or their write failed); also in `dropped['no-peer']`. */
  lostInFlight: number;
}

export function createSerialStackTransport(options: SerialTransportOptions): SerialStackTransport {
  return new SerialStackTransport(options);
}

export class SerialStackTransport implements StackTransport {
  readonly kind = 'serial' as const;
  readonly counters: TransportCounters = newTransportCounters();
  readonly linkCounters: SerialLinkCounters = { openFailures: 0, lostInFlight: 0 };
  readonly device: string;
  readonly baudRate: number;
  readonly framing: Framing;
  readonly mtu: number;
  readonly maxPduBytes: number;
  readonly maxQueuedBytes: number;
  private readonly rtscts: boolean;
  private readonly reopenMs: number;
  private readonly reopenMaxMs: number;
  private readonly clock: () => bigint;
  private readonly decoder: FrameDecoder;
  private sink: FrameSink<PduEnvelope> | undefined;
  private state: 'new' | 'open' | 'closed' = 'new';
  private port: SerialPort | undefined;
  private portOpen = false;
  /** Bumped on every disconnect so that callbacks of an old port are ignored. */
  private generation = 0;
  /** Frames handed to the current port whose write has not completed. */
  private inFlight = 0;
  private reopenTimer: NodeJS.Timeout | undefined;
  private nextDelayMs: number;
  private seq = 0;
  private lastErrorText: string | undefined;

  constructor(options: SerialTransportOptions) {
    const framing = options.framing ?? 'cobs';
    if (framing !== 'cobs' && framing !== 'slip') throw new TransportError('ECONFIG', `framing: expected cobs or slip, got ${String(framing)}`);
    if (typeof options.device !== 'string' || options.device.length === 0) throw new TransportError('ECONFIG', 'device: expected a device path');
    if (!Number.isInteger(options.baudRate) || options.baudRate <= 0) throw new TransportError('ECONFIG', `baudRate: expected a positive integer, got ${options.baudRate}`);
    const flow = options.flowControl ?? 'none';
    if (flow === 'xon-xoff') {
      throw new TransportError('ECONFIG', `${options.device}: flow control xon-xoff would corrupt binary frames (0x11/0x13 occur in them); use rts-cts or none`);
    }
    if (flow !== 'none' && flow !== 'rts-cts') throw new TransportError('ECONFIG', `flowControl: expected none or rts-cts, got ${String(flow)}`);
    if (!Number.isInteger(options.mtu) || options.mtu < ENVELOPE_OVERHEAD_BYTES + 1) {
      throw new TransportError('ECONFIG', `mtu: expected an integer of at least ${ENVELOPE_OVERHEAD_BYTES + 1}, got ${options.mtu}`);
    }
    const maxPduBytes = options.maxPduBytes ?? Math.min(ENVELOPE_MAX_PDU_BYTES, options.mtu - ENVELOPE_OVERHEAD_BYTES);
    if (maxPduBytes + ENVELOPE_OVERHEAD_BYTES > options.mtu) {
      throw new TransportError(
        'ECONFIG',
        `${options.device}: a PDU of pdu.max_bytes (${maxPduBytes}) needs an MTU of ${maxPduBytes + ENVELOPE_OVERHEAD_BYTES} (envelope overhead ${ENVELOPE_OVERHEAD_BYTES}), mtu is ${options.mtu}`,
      );
    }
    this.device = options.device;
    this.baudRate = options.baudRate;
    this.framing = framing;
    this.mtu = options.mtu;
    this.maxPduBytes = maxPduBytes;
    this.rtscts = flow === 'rts-cts';
    this.reopenMs = options.reopenMs ?? 500;
    this.reopenMaxMs = Math.max(this.reopenMs, options.reopenMaxMs ?? 5000);
    this.nextDelayMs = this.reopenMs;
    const lineBytesPer100ms = Math.ceil(options.baudRate / 100); // 10 bits per byte on the line (8N1)
    this.maxQueuedBytes = options.maxQueuedBytes ?? Math.max(lineBytesPer100ms, 4 * maxFramedLength(framing, options.mtu));
    this.clock = options.clock ?? unixNowNs;
    this.decoder = new FrameDecoder({ framing, maxPayloadBytes: options.mtu });
  }

  get description(): string {
    return `serial ${this.device} ${this.baudRate} baud ${this.framing}${this.rtscts ? ' rts-cts' : ''}`;
  }

  get linkUp(): boolean {
    return this.portOpen;
  }

  /** Why the device is not open (last open failure or disconnect), for logs; undefined while up. */
  get lastError(): string | undefined {
    return this.portOpen ? undefined : this.lastErrorText;
  }

  /** Receive-side framing counters (frames, errors per reason, discarded bytes). */
  get framingCounters(): Readonly<FrameDecoderCounters> {
    return this.decoder.counters;
  }

  /** Bytes queued in the port's write stream now. */
  get queuedBytes(): number {
    return this.portOpen ? (this.port?.writableLength ?? 0) : 0;
  }

  details(): StackDetails {
    const f = this.framingCounters;
    const errors = Object.fromEntries(Object.entries(f.errors).filter(([, n]) => n > 0));
    return { lastError: this.lastError ?? null, serial: { frames: f.frames, discardedBytes: f.discardedBytes, errors, ...this.linkCounters, queuedBytes: this.queuedBytes } };
  }

  async open(sink: FrameSink<PduEnvelope>): Promise<void> {
    if (this.state !== 'new') throw new Error(`${this.description}: open() called twice`);
    this.sink = sink;
    this.state = 'open';
    await this.attemptOpen();
  }

  send(frame: OutgoingPdu): SendOutcome {
    if (this.state !== 'open') return this.drop(this.state === 'new' ? 'not-open' : 'closed');
    let bytes: Uint8Array;
    try {
      if (frame.pdu.length > this.maxPduBytes) return this.drop('too-large');
      const envelope = encodePduEnvelope({
        l2SourceId: frame.l2SourceId,
        l2DestinationId: frame.l2DestinationId,
        castType: frame.castType,
        pdu: frame.pdu,
        txTimeNs: this.clock(),
        seq: this.seq,
      });
      if (envelope.length > this.mtu) return this.drop('too-large');
      // Used even if the frame is dropped below: the receiver sees the gap (as on ZeroMQ).
      this.seq = (this.seq + 1) >>> 0;
      bytes = encodeFrame(envelope, this.framing);
    } catch {
      return this.drop('invalid');
    }
    const port = this.port;
    if (!this.portOpen || port === undefined) return this.drop('no-peer');
    if (port.writableLength + bytes.length > this.maxQueuedBytes) return this.drop('hwm');
    this.counters.sent++;
    this.inFlight++;
    const generation = this.generation;
    port.write(bytes, (err) => {
      if (generation !== this.generation) return; // already accounted for at the disconnect
      this.inFlight--;
      if (err) {
        // The device went away under this write (its 'close' comes after): lost in flight, like
        // the frames still queued when the disconnect is seen.
        this.counters.sent--;
        this.counters.dropped['no-peer']++;
        this.linkCounters.lostInFlight++;
      }
    });
    return 'accepted';
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const wasUp = this.portOpen;
    this.state = 'closed';
    clearTimeout(this.reopenTimer);
    this.reopenTimer = undefined;
    const port = this.abandonPort('closed');
    if (wasUp) {
      this.counters.linkDowns++;
      this.notifyLink(false, `${this.device}: closed`);
    }
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  private async attemptOpen(): Promise<void> {
    let port: SerialPort | undefined;
    let err: Error | null;
    try {
      const opening = new SerialPort({
        path: this.device,
        baudRate: this.baudRate,
        rtscts: this.rtscts,
        autoOpen: false,
        // Exclusive (TIOCEXCL): a second process on the same device is refused, not interleaved.
        lock: true,
      });
      port = opening;
      err = await new Promise<Error | null>((resolve) => opening.open((e) => resolve(e ?? null)));
    } catch (e) {
      // Runs from a timer: whatever the binding throws becomes a failed attempt, never a crash.
      err = e as Error;
    }
    if (this.state !== 'open') {
      if (!err) port?.close(() => undefined);
      return;
    }
    if (err || port === undefined) {
      this.linkCounters.openFailures++;
      this.lastErrorText = `${this.device}: cannot open (${err?.message ?? 'unknown error'})`;
      this.scheduleReopen();
      return;
    }
    this.port = port;
    this.portOpen = true;
    this.nextDelayMs = this.reopenMs;
    this.lastErrorText = undefined;
    this.reportFraming(this.decoder.reset());
    const generation = this.generation;
    port.on('data', (chunk: Buffer) => {
      if (generation === this.generation) this.onBytes(chunk);
    });
    port.on('close', (e: (Error & { disconnected?: boolean }) | null) => {
      if (generation === this.generation && this.state === 'open') this.onLost(e?.message ?? 'closed by the system');
    });
    // Write and read failures end in 'close' (disconnect) as well; without a listener an
    // 'error' event would be thrown.
    port.on('error', (e: Error) => {
      if (generation === this.generation) this.lastErrorText = `${this.device}: ${e.message}`;
    });
    this.counters.linkUps++;
    this.notifyLink(true, this.device);
  }

  private onLost(reason: string): void {
    const port = this.abandonPort('no-peer');
    if (port?.isOpen) port.close(() => undefined);
    this.lastErrorText = `${this.device}: lost (${reason})`;
    this.counters.linkDowns++;
    this.notifyLink(false, this.lastErrorText);
    this.scheduleReopen();
  }

  /** Forgets the current port (returned, for the caller to close); frames still queued on it are dropped with `reason`. */
  private abandonPort(reason: SendDropReason): SerialPort | undefined {
    this.generation++;
    this.portOpen = false;
    const port = this.port;
    this.port = undefined;
    if (this.inFlight > 0) {
      this.counters.sent -= this.inFlight;
      this.counters.dropped[reason] += this.inFlight;
      this.linkCounters.lostInFlight += this.inFlight;
      this.inFlight = 0;
    }
    if (port) {
      port.removeAllListeners('data');
      port.removeAllListeners('close');
      // Keep an 'error' listener: a late write error on the dead port must not crash us.
      port.on('error', () => undefined);
    }
    return port;
  }

  private scheduleReopen(): void {
    if (this.state !== 'open') return;
    const delay = this.nextDelayMs;
    this.nextDelayMs = Math.min(this.reopenMaxMs, this.nextDelayMs * 2);
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      void this.attemptOpen();
    }, delay);
  }

  private onBytes(chunk: Uint8Array): void {
    const sink = this.sink!;
    const c = this.counters;
    for (const out of this.decoder.push(chunk)) {
      if (!out.ok) {
        this.reportFraming(out);
        continue;
      }
      const d = decodePduEnvelope(out.payload, this.maxPduBytes);
      if (d.ok) deliverFrame(c, sink, d.value);
      else dropMalformed(c, sink, { code: d.error.code, message: d.error.message });
    }
  }

  private reportFraming(out: ReturnType<FrameDecoder['reset']>): void {
    if (out === undefined || out.ok) return;
    dropMalformed(this.counters, this.sink, { code: out.error.code, message: out.error.message });
  }

  private notifyLink(up: boolean, detail: string): void {
    notifySinkLink(this.counters, this.sink, up, detail);
  }

  private drop(reason: SendDropReason): SendOutcome {
    this.counters.dropped[reason]++;
    return reason;
  }
}
