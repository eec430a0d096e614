/**
 * A point-to-point ZeroMQ link on a DEALER socket: the stack-side transport (daemon <-> medium
 * emulator or stack shim) and the application client (ranging app -> daemon) are both this, with
 * different codecs.
 *
 * - role `connect` (to the medium emulator's ROUTER, or to a daemon's application ROUTER):
 *   ZMQ_IMMEDIATE so frames are only queued on a finished connection (while the peer is down they
 *   are dropped as `no-peer`, not piled up and delivered stale later), and ZMQ_PROBE_ROUTER so
 *   every new connection, including each reconnect after the peer restarted, starts with an empty
 *   "attach" frame that makes the ROUTER side know us before we send anything.
 * - role `bind` (a stack shim connects to us): any number of shims may connect; frames are
 *   round-robined among them (normally there is one).
 *
 * Sends never wait (sendTimeout 0, see zmq-options.ts). Receiving runs one async loop.
 */
import { Dealer } from 'zeromq';
import type { Decoded } from '../../src/wire/result.js';
import { DEFAULT_ZMQ_TUNING, socketOptions, zmqErrorCode, type ZmqTuning } from './zmq-options.js';
import {
  deliverFrame,
  dropMalformed,
  newTransportCounters,
  notifySinkLink,
  TransportError,
  type FrameSink,
  type FrameTransport,
  type SendOutcome,
  type TransportCounters,
} from './types.js';

export interface ZmqDealerOptions {
  role: 'connect' | 'bind';
  /** e.g. tcp://127.0.0.1:5560, tcp://127.0.0.1:* (bind, any port), ipc:///tmp/x.sock */
  endpoint: string;
  tuning?: Partial<ZmqTuning>;
  /**
   * Role `connect` only: sent on every new connection as soon as libzmq reports its handshake
   * (the application's AppHello; frames sent before that may precede it). Not a frame: not
   * counted. A greeting that cannot be sent leaves that connection as if it had none.
   */
  greeting?: Uint8Array;
  /**
   * A multipart message is a batch, one message per frame (the application link after an
   * AppHello asking for it). Otherwise multipart messages are malformed.
   */
  batches?: boolean;
}

export interface FrameCodec<TOut, TIn> {
  /** Encodes an outgoing record; returns a drop reason instead when it cannot be sent. */
  encode(frame: TOut): Uint8Array | 'invalid' | 'too-large';
  decode(bytes: Uint8Array): Decoded<TIn>;
}

export class ZmqDealerTransport<TOut, TIn> implements FrameTransport<TOut, TIn> {
  readonly kind = 'zmq' as const;
  readonly counters: TransportCounters = newTransportCounters();
  private socket: Dealer | undefined;
  private sink: FrameSink<TIn> | undefined;
  private state: 'new' | 'open' | 'closed' = 'new';
  private connections = 0;
  private endpoint: string;
  private readonly tuning: ZmqTuning;
  private receiveLoop: Promise<void> | undefined;
  private readonly onSendError = (err: unknown): void => {
    // The frame was counted as sent when send() accepted it; move it to its drop reason.
    this.counters.sent--;
    const code = zmqErrorCode(err);
    if (code === 'EAGAIN') this.counters.dropped[this.connections > 0 ? 'hwm' : 'no-peer']++;
    else this.counters.dropped.closed++;
  };

  constructor(
    private readonly options: ZmqDealerOptions,
    private readonly codec: FrameCodec<TOut, TIn>,
  ) {
    this.endpoint = options.endpoint;
    this.tuning = { ...DEFAULT_ZMQ_TUNING, ...options.tuning };
    // In role bind a send goes round-robin over the connections, not to the new one.
    if (options.greeting !== undefined && options.role !== 'connect') throw new TypeError('greeting: only for role connect');
  }

  get description(): string {
    return `zmq ${this.options.role} ${this.endpoint}`;
  }

  get linkUp(): boolean {
    return this.connections > 0;
  }

  async open(sink: FrameSink<TIn>): Promise<void> {
    if (this.state !== 'new') throw new Error(`${this.description}: open() called twice`);
    this.sink = sink;
    const connect = this.options.role === 'connect';
    const socket = new Dealer({ ...socketOptions(this.tuning), immediate: connect, probeRouter: connect });
    this.socket = socket;
    const greeting = this.options.greeting;
    socket.events.on('handshake', (e) => {
      // Role connect has one connection at a time (ZMQ_IMMEDIATE): the new one is where it goes.
      if (greeting !== undefined) socket.send(greeting).then(undefined, () => undefined);
      this.linkChange(+1, e.address);
    });
    socket.events.on('disconnect', (e) => this.linkChange(-1, e.address));
    try {
      if (connect) socket.connect(this.endpoint);
      else {
        await socket.bind(this.endpoint);
        this.endpoint = socket.lastEndpoint ?? this.endpoint;
      }
    } catch (e) {
      socket.close();
      this.state = 'closed';
      throw new TransportError('EENDPOINT', `${this.description}: ${(e as Error).message}`);
    }
    this.state = 'open';
    this.receiveLoop = this.receive(socket);
  }

  send(frame: TOut): SendOutcome {
    if (this.state !== 'open') return this.drop(this.state === 'new' ? 'not-open' : 'closed');
    let bytes: Uint8Array | 'invalid' | 'too-large';
    try {
      bytes = this.codec.encode(frame);
    } catch {
      bytes = 'invalid';
    }
    if (typeof bytes === 'string') return this.drop(bytes);
    this.counters.sent++;
    this.socket!.send(bytes).then(undefined, this.onSendError);
    return 'accepted';
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.socket?.close();
    await this.receiveLoop;
  }

  private drop(reason: Exclude<SendOutcome, 'accepted'>): SendOutcome {
    this.counters.dropped[reason]++;
    return reason;
  }

  private linkChange(delta: 1 | -1, address: string): void {
    // One connection in role `connect`; in role `bind` a count of shims (a connection that fails
    // its handshake reports only the disconnect, hence the floor at 0).
    const before = this.connections;
    this.connections = Math.max(0, this.connections + delta);
    if (before === 0 && this.connections > 0) {
      this.counters.linkUps++;
      this.notifyLink(true, address);
    } else if (before > 0 && this.connections === 0) {
      this.counters.linkDowns++;
      this.notifyLink(false, address);
    }
  }

  private notifyLink(up: boolean, address: string): void {
    notifySinkLink(this.counters, this.sink, up, address);
  }

  /** An empty frame here is a message that does not decode (a probe is a message of its own). */
  private decodeAndDeliver(bytes: Uint8Array): void {
    const d = this.codec.decode(bytes);
    if (d.ok) deliverFrame(this.counters, this.sink!, d.value);
    else dropMalformed(this.counters, this.sink, d.error);
  }

  private async receive(socket: Dealer): Promise<void> {
    const sink = this.sink!;
    const c = this.counters;
    try {
      const batches = this.options.batches === true;
      for await (const frames of socket) {
        const bytes = frames[0]!;
        if (frames.length !== 1) {
          if (batches) for (const frame of frames) this.decodeAndDeliver(frame);
          else dropMalformed(c, sink, { code: 'multipart', message: `expected 1 frame per message, got ${frames.length}` });
          continue;
        }
        if (bytes.length === 0) continue; // an attach probe (ZMQ_PROBE_ROUTER), not a message
        this.decodeAndDeliver(bytes);
      }
    } catch (e) {
      // The iterator ends quietly on close(); anything else is a socket failure worth surfacing.
      if (this.state !== 'closed') this.notifyLink(false, `${this.description}: receive failed (${zmqErrorCode(e)})`);
    }
  }
}
