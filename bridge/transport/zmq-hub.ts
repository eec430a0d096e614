/**
 * The bound side of a star: one ROUTER socket that any number of DEALER peers connect to. Used by
 * the medium emulator (UEs attach) and by the daemon's application server (applications attach).
 *
 * Peers are known by their ZeroMQ routing ID, which libzmq assigns per connection: a peer that
 * reconnects (it or we restarted) is a new peer. A peer becomes known with its first message, and
 * connecting DEALERs send an empty "attach" frame first (ZMQ_PROBE_ROUTER), so a peer that only
 * listens is known too. ZMQ_ROUTER_MANDATORY makes a send to a vanished peer fail with
 * EHOSTUNREACH instead of disappearing silently: the peer is then forgotten; a send to a peer
 * whose queue is full (ZMQ_SNDHWM) fails with EAGAIN and is counted as a `hwm` drop.
 */
import { Router } from 'zeromq';
import { DEFAULT_ZMQ_TUNING, socketOptions, zmqErrorCode, type ZmqTuning } from './zmq-options.js';
import { TransportError, type PeerHandle } from './types.js';

export interface HubPeer extends PeerHandle {
  /** The routing ID frame. */
  readonly id: Buffer;
  /** Messages received from / frames sent (accepted) to this peer. */
  rx: number;
  tx: number;
}

export interface HubHandlers {
  /** A non-empty message from a peer. */
  message(peer: HubPeer, bytes: Buffer): void;
  attach?(peer: HubPeer): void;
  detach?(peer: HubPeer, reason: 'unreachable'): void;
  /** A message that is not [routing id, one frame] (already counted in `badFraming`). */
  badFraming?(peer: HubPeer | undefined, frameCount: number): void;
}

export interface HubCounters {
  /** Messages received with other than [routing id, one frame] (dropped). */
  badFraming: number;
  attaches: number;
  detaches: number;
  /** Frames refused because that peer's queue was full (EAGAIN). */
  hwmDrops: number;
  /** Frames sent to a peer that had gone (EHOSTUNREACH). */
  unreachableDrops: number;
  /** Handler callbacks that threw. */
  handlerErrors: number;
}

export interface ZmqHubOptions {
  /** Endpoints to bind, e.g. tcp://127.0.0.1:5560, tcp://127.0.0.1:* (any port), ipc:///x.sock */
  endpoints: readonly string[];
  tuning?: Partial<ZmqTuning>;
}

export class ZmqHub {
  readonly counters: HubCounters = { badFraming: 0, attaches: 0, detaches: 0, hwmDrops: 0, unreachableDrops: 0, handlerErrors: 0 };
  private readonly byKey = new Map<string, HubPeer>();
  /** The attached peers in attach order, rebuilt on attach/detach so fan-out loops stay cheap. */
  private peerList: HubPeer[] = [];
  private socket: Router | undefined;
  private handlers: HubHandlers | undefined;
  private receiveLoop: Promise<void> | undefined;
  private closed = false;
  private bound: string[] = [];

  constructor(private readonly options: ZmqHubOptions) {
    if (options.endpoints.length === 0) throw new TypeError('endpoints: expected at least one endpoint to bind');
  }

  /** The bound endpoints, with `*` ports resolved (after start). */
  get endpoints(): readonly string[] {
    return this.bound;
  }

  get peers(): readonly HubPeer[] {
    return this.peerList;
  }

  async start(handlers: HubHandlers): Promise<readonly string[]> {
    if (this.socket) throw new Error('ZmqHub: start() called twice');
    this.handlers = handlers;
    const tuning = { ...DEFAULT_ZMQ_TUNING, ...this.options.tuning };
    const socket = new Router({ ...socketOptions(tuning), mandatory: true });
    this.socket = socket;
    try {
      for (const endpoint of this.options.endpoints) {
        await socket.bind(endpoint);
        this.bound.push(socket.lastEndpoint ?? endpoint);
      }
    } catch (e) {
      socket.close();
      this.closed = true;
      throw new TransportError('EENDPOINT', `cannot bind ${this.options.endpoints.join(', ')}: ${(e as Error).message}`);
    }
    this.receiveLoop = this.receive(socket);
    return this.bound;
  }

  /**
   * Queues `frames` for `peer` as one message; false if the hub is closed or the peer already
   * forgotten. Several frames only go to a peer that asked for them (a batch of messages, one per
   * frame): `tx` and the drop counters count frames, since the whole message is sent or refused.
   */
  sendTo(peer: HubPeer, ...frames: Uint8Array[]): boolean {
    if (this.closed || this.byKey.get(peer.key) !== peer) return false;
    peer.tx += frames.length;
    this.socket!.send([peer.id, ...frames]).then(undefined, (err: unknown) => this.sendFailed(peer, err, frames.length));
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.socket?.close();
    await this.receiveLoop;
  }

  private sendFailed(peer: HubPeer, err: unknown, frames: number): void {
    peer.tx -= frames;
    if (zmqErrorCode(err) === 'EHOSTUNREACH') {
      this.counters.unreachableDrops += frames;
      this.forget(peer);
    } else {
      this.counters.hwmDrops += frames;
    }
  }

  private forget(peer: HubPeer): void {
    if (this.byKey.get(peer.key) !== peer) return;
    this.byKey.delete(peer.key);
    this.peerList = this.peerList.filter((p) => p !== peer);
    this.counters.detaches++;
    this.call(() => this.handlers!.detach?.(peer, 'unreachable'));
  }

  private peerFor(id: Buffer): HubPeer {
    const key = id.toString('hex');
    let peer = this.byKey.get(key);
    if (peer === undefined) {
      peer = { key, id: Buffer.from(id), rx: 0, tx: 0 };
      this.byKey.set(key, peer);
      this.peerList = [...this.peerList, peer];
      this.counters.attaches++;
      const attached = peer;
      this.call(() => this.handlers!.attach?.(attached));
    }
    return peer;
  }

  private call(f: () => void): void {
    try {
      f();
    } catch {
      this.counters.handlerErrors++;
    }
  }

  private async receive(socket: Router): Promise<void> {
    const handlers = this.handlers!;
    try {
      for await (const frames of socket) {
        if (frames.length !== 2) {
          this.counters.badFraming++;
          // Still learn the peer: it is attached, it just sent something we do not understand.
          const peer = frames.length > 0 ? this.peerFor(frames[0]!) : undefined;
          this.call(() => handlers.badFraming?.(peer, frames.length));
          continue;
        }
        const peer = this.peerFor(frames[0]!);
        const bytes = frames[1]!;
        if (bytes.length === 0) continue; // attach probe
        peer.rx++;
        try {
          handlers.message(peer, bytes);
        } catch {
          this.counters.handlerErrors++;
        }
      }
    } catch {
      // Ends on close(); a socket failure otherwise leaves the hub without peers (callers see it).
    }
  }
}
