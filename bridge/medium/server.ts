/**
 * The medium emulator's ZeroMQ side: a ROUTER hub (bridge/transport/zmq-hub.ts) that daemons
 * attach to, feeding each valid PduEnvelope into the I/O-free channel model (src/medium/) and
 * sending the copies it releases. Envelopes are checked (a malformed one is counted and dropped)
 * but forwarded byte for byte.
 *
 * An ipc:// endpoint is checked before the bind (bridge/transport/ipc-endpoint.ts): libzmq's bind
 * unlinks whatever is at the path, so a second medium would silently take a live one's endpoint
 * over. A socket that accepts connections (in use) or a path that is not a socket is refused with
 * a TransportError; the stale socket file of a medium that died is replaced.
 */
import { performance } from 'node:perf_hooks';
import { decodePduEnvelope } from '../../src/wire/envelope.js';
import { MediumChannel, type ChannelCounters, type ChannelImpairments } from '../../src/medium/channel.js';
import { seededRandom } from '../../src/medium/random.js';
import { checkIpcBindable } from '../transport/ipc-endpoint.js';
import { ZmqHub, type HubCounters, type HubPeer } from '../transport/zmq-hub.js';
import type { ZmqTuning } from '../transport/zmq-options.js';

export interface MediumServerOptions {
  /** Endpoints to bind (tcp://HOST:PORT, tcp://HOST:* for any port, ipc:///PATH). */
  endpoints: readonly string[];
  impairments: ChannelImpairments;
  seed: number;
  /** Largest PDU accepted (default 65535). */
  maxPduBytes?: number;
  tuning?: Partial<ZmqTuning>;
  /** Monotonic milliseconds (tests may inject); default performance.now. */
  nowMs?: () => number;
}

export interface MediumStats {
  peers: number;
  /** Envelopes received. */
  received: number;
  /** Received messages that were not valid envelopes (dropped). */
  malformed: number;
  /** Malformed messages per WireError code. */
  malformedByCode: Record<string, number>;
  channel: ChannelCounters;
  hub: HubCounters;
  /** Copies released for a peer that had already gone (not sent). */
  toGonePeers: number;
}

export class MediumServer {
  private readonly hub: ZmqHub;
  private readonly channel: MediumChannel<HubPeer, Uint8Array>;
  private readonly nowMs: () => number;
  private readonly maxPduBytes: number | undefined;
  private readonly bindEndpoints: readonly string[];
  private timer: NodeJS.Timeout | undefined;
  private timerDueMs = Infinity;
  private received = 0;
  private malformed = 0;
  private readonly malformedByCode: Record<string, number> = {};
  private toGonePeers = 0;
  private readonly emit = (peer: HubPeer, bytes: Uint8Array): void => {
    if (!this.hub.sendTo(peer, bytes)) this.toGonePeers++;
  };
  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.timerDueMs = Infinity;
    this.channel.release(this.nowMs(), this.emit);
    this.schedule();
  };

  constructor(options: MediumServerOptions) {
    this.bindEndpoints = options.endpoints;
    this.hub = new ZmqHub({ endpoints: options.endpoints, tuning: options.tuning });
    this.channel = new MediumChannel(options.impairments, seededRandom(options.seed));
    this.nowMs = options.nowMs ?? (() => performance.now());
    this.maxPduBytes = options.maxPduBytes;
  }

  /**
   * Binds and starts; returns the bound endpoints (`*` ports resolved). Throws a TransportError
   * (code `EENDPOINT`) before binding anything if an ipc:// endpoint is in use or not a socket.
   */
  async start(): Promise<readonly string[]> {
    for (const endpoint of this.bindEndpoints) await checkIpcBindable(endpoint);
    return this.hub.start({
      message: (peer, bytes) => {
        const d = decodePduEnvelope(bytes, this.maxPduBytes);
        if (!d.ok) {
          this.malformed++;
          this.malformedByCode[d.error.code] = (this.malformedByCode[d.error.code] ?? 0) + 1;
          return;
        }
        this.received++;
        this.channel.submit(bytes, peer, this.hub.peers, this.nowMs(), this.emit);
        this.schedule();
      },
      badFraming: () => {
        this.malformed++;
        this.malformedByCode.multipart = (this.malformedByCode.multipart ?? 0) + 1;
      },
    });
  }

  get endpoints(): readonly string[] {
    return this.hub.endpoints;
  }

  get peerCount(): number {
    return this.hub.peers.length;
  }

  stats(): MediumStats {
    return {
      peers: this.hub.peers.length,
      received: this.received,
      malformed: this.malformed,
      malformedByCode: { ...this.malformedByCode },
      channel: { ...this.channel.counters },
      hub: { ...this.hub.counters },
      toGonePeers: this.toGonePeers,
    };
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.channel.clear();
    await this.hub.close();
  }

  private schedule(): void {
    const due = this.channel.nextDueMs();
    if (due === undefined || due >= this.timerDueMs) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDueMs = due;
    this.timer = setTimeout(this.onTimer, Math.max(0, Math.ceil(due - this.nowMs())));
  }
}

/** The one-line summary printed on exit. */
export function formatMediumStats(s: MediumStats): string {
  const c = s.channel;
  const pct = c.pairs > 0 ? ((100 * c.lost) / c.pairs).toFixed(2) : '0.00';
  return (
    `medium: ${s.peers} peers attached (${s.hub.attaches} attaches, ${s.hub.detaches} gone); ` +
    `in ${s.received} PDUs, ${s.malformed} malformed; ` +
    `out ${c.delivered} copies delivered, ${c.lost} lost (${pct}% of ${c.pairs}), ${c.duplicated} duplicated, ` +
    `${c.reordered} reordered (${c.reorderTimeouts} hold timeouts), ${c.pending} pending; ` +
    `send drops: ${s.hub.hwmDrops} full queue, ${s.hub.unreachableDrops + s.toGonePeers} peer gone`
  );
}
