/**
 * The daemon's application socket: a ROUTER (see zmq-hub.ts) that ranging applications connect
 * their DEALER to. `send` fans a DaemonToApp message out to every attached application (each
 * picks the groups it cares about from `group_id`); `sendTo` answers one (e.g. a refusal).
 *
 * Batches: an application whose connection sent AppHello{batched_deliveries} gets everything one
 * event-loop turn has for it as one multipart message (one DaemonToApp per frame, at most
 * {@link MAX_BATCH_FRAMES}), sent when the turn ends (setImmediate) or on close. At ranging rates
 * the daemon often delivers several SDUs per turn (one PDU from each of several members), and on
 * a shared machine a wake-up of the application costs more than the bytes. Applications that did
 * not ask keep one frame per message, sent at once.
 */
import { decodeAppToDaemon, encodeDaemonToApp, type AppSendSdu, type DaemonToApp } from '../../src/wire/app.js';
import { APP_MAX_SDU_BYTES } from '../../src/wire/app.js';
import { checkIpcBindable } from './ipc-endpoint.js';
import { ZmqHub, type HubPeer } from './zmq-hub.js';
import type { ZmqTuning } from './zmq-options.js';
import {
  newTransportCounters,
  type AppServerTransport,
  type FrameSink,
  type PeerHandle,
  type SendOutcome,
  type TransportCounters,
} from './types.js';

export interface ZmqAppServerOptions {
  /** Endpoints to bind (e.g. ipc:///run/sl-bridge/ue1.sock, tcp://127.0.0.1:*). */
  endpoints: readonly string[];
  /** Largest SDU accepted from an application (default 9000, TS 38.323). */
  maxSduBytes?: number;
  tuning?: Partial<ZmqTuning>;
}

/** The most DaemonToApp frames in one message: a turn with more for one application sends several. */
export const MAX_BATCH_FRAMES = 64;

export class ZmqAppServer implements AppServerTransport {
  readonly kind = 'zmq' as const;
  private readonly hub: ZmqHub;
  private readonly own: TransportCounters = newTransportCounters();
  private state: 'new' | 'open' | 'closed' = 'new';
  private readonly maxSduBytes: number;
  /** Applications that asked for batches, with the frames this turn has for them (in order). */
  private readonly batches = new Map<HubPeer, Uint8Array[]>();
  private flushPending = false;
  private readonly flushTurn = (): void => {
    this.flushPending = false;
    for (const peer of this.batches.keys()) this.flush(peer);
  };

  constructor(private readonly options: ZmqAppServerOptions) {
    this.hub = new ZmqHub({ endpoints: options.endpoints, tuning: options.tuning });
    this.maxSduBytes = options.maxSduBytes ?? APP_MAX_SDU_BYTES;
  }

  get description(): string {
    const eps = this.hub.endpoints.length > 0 ? this.hub.endpoints : this.options.endpoints;
    return `zmq app server ${eps.join(', ')}`;
  }

  /** Bound endpoints with `*` ports resolved (after open). */
  get endpoints(): readonly string[] {
    return this.hub.endpoints;
  }

  get peerCount(): number {
    return this.hub.peers.length;
  }

  get linkUp(): boolean {
    return this.hub.peers.length > 0;
  }

  /** Attached applications that asked for batched deliveries. */
  get batchedPeerCount(): number {
    return this.batches.size;
  }

  /**
   * `sent` and `dropped` count per application copy; `hwm` drops are copies refused because that
   * application's queue was full, `no-peer` covers sends with no application attached and copies
   * to an application that had gone.
   */
  get counters(): Readonly<TransportCounters> {
    const c = this.own;
    return {
      ...c,
      dropped: { ...c.dropped, hwm: this.hub.counters.hwmDrops, 'no-peer': c.dropped['no-peer'] + this.hub.counters.unreachableDrops },
      sent: c.sent - this.hub.counters.hwmDrops - this.hub.counters.unreachableDrops,
      malformed: c.malformed + this.hub.counters.badFraming,
      handlerErrors: c.handlerErrors + this.hub.counters.handlerErrors,
    };
  }

  async open(sink: FrameSink<AppSendSdu>): Promise<void> {
    if (this.state !== 'new') throw new Error(`${this.description}: open() called twice`);
    const c = this.own;
    // libzmq's ipc bind would take a live daemon's endpoint over (or delete a file): refuse first.
    for (const endpoint of this.options.endpoints) await checkIpcBindable(endpoint);
    await this.hub.start({
      message: (peer, bytes) => {
        const d = decodeAppToDaemon(bytes, this.maxSduBytes);
        if (!d.ok) {
          c.malformed++;
          sink.malformed?.(d.error, peer);
          return;
        }
        if (d.value.kind === 'hello') return this.hello(peer, d.value.batchedDeliveries);
        c.received++;
        sink.frame(d.value, peer);
      },
      badFraming: (peer, n) => sink.malformed?.({ code: 'multipart', message: `expected 1 frame per message, got ${n}` }, peer),
      attach: (peer) => {
        if (this.hub.peers.length === 1) {
          c.linkUps++;
          sink.link?.(true, `application ${peer.key} attached`);
        }
      },
      detach: (peer) => {
        this.dropBatch(peer);
        if (this.hub.peers.length === 0) {
          c.linkDowns++;
          sink.link?.(false, `application ${peer.key} gone`);
        }
      },
    });
    this.state = 'open';
  }

  send(frame: DaemonToApp): SendOutcome {
    const bytes = this.encode(frame);
    if (typeof bytes === 'string') return bytes;
    const peers = this.hub.peers;
    if (peers.length === 0) return this.drop('no-peer');
    for (const peer of peers) if (this.queue(peer, bytes)) this.own.sent++;
    return 'accepted';
  }

  sendTo(peer: PeerHandle, frame: DaemonToApp): SendOutcome {
    const bytes = this.encode(frame);
    if (typeof bytes === 'string') return bytes;
    if (!this.queue(peer as HubPeer, bytes)) return this.drop('no-peer');
    this.own.sent++;
    return 'accepted';
  }

  async close(): Promise<void> {
    if (this.state === 'open') for (const peer of this.batches.keys()) this.flush(peer);
    this.state = 'closed';
    await this.hub.close();
  }

  /** Sends `bytes` to `peer` now, or adds it to the peer's batch; false if the peer is gone. */
  private queue(peer: HubPeer, bytes: Uint8Array): boolean {
    const batch = this.batches.get(peer);
    if (batch === undefined) return this.hub.sendTo(peer, bytes);
    // A batch exists only while its peer is attached: the hub's detach removes it.
    batch.push(bytes);
    if (batch.length >= MAX_BATCH_FRAMES) this.flush(peer);
    else if (!this.flushPending) {
      this.flushPending = true;
      setImmediate(this.flushTurn);
    }
    return true;
  }

  private flush(peer: HubPeer): void {
    const batch = this.batches.get(peer);
    if (batch === undefined || batch.length === 0) return;
    this.batches.set(peer, []);
    // Counted as sent when queued; a peer forgotten since then makes them `no-peer` drops.
    if (!this.hub.sendTo(peer, ...batch)) this.moveToNoPeer(batch.length);
  }

  private hello(peer: HubPeer, batched: boolean): void {
    if (batched) {
      if (!this.batches.has(peer)) this.batches.set(peer, []);
    } else if (this.batches.has(peer)) {
      this.flush(peer); // what was batched goes before anything sent one by one from now on
      this.batches.delete(peer);
    }
  }

  private dropBatch(peer: HubPeer): void {
    const batch = this.batches.get(peer);
    if (batch === undefined) return;
    this.batches.delete(peer);
    this.moveToNoPeer(batch.length);
  }

  private moveToNoPeer(frames: number): void {
    this.own.sent -= frames;
    this.own.dropped['no-peer'] += frames;
  }

  private encode(frame: DaemonToApp): Uint8Array | Exclude<SendOutcome, 'accepted'> {
    if (this.state !== 'open') return this.drop(this.state === 'new' ? 'not-open' : 'closed');
    try {
      return encodeDaemonToApp(frame);
    } catch {
      return this.drop('invalid');
    }
  }

  private drop(reason: Exclude<SendOutcome, 'accepted'>): Exclude<SendOutcome, 'accepted'> {
    this.own.dropped[reason]++;
    return reason;
  }
}
