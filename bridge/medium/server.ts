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
 *
 * Links attaching and going are logged at info, malformed input at debug (never per forwarded
 * PDU); the delay of every copy sent is recorded per receiving link (link-delays.ts).
 */
import { performance } from 'node:perf_hooks';
import { pino, type Logger } from 'pino';
import { decodePduEnvelope } from '../../src/wire/envelope.js';
import { MediumChannel, type ChannelCounters, type ChannelImpairments } from '../../src/medium/channel.js';
import { seededRandom } from '../../src/medium/random.js';
import { checkIpcBindable } from '../transport/ipc-endpoint.js';
import { ZmqHub, type HubCounters, type HubPeer } from '../transport/zmq-hub.js';
import type { ZmqTuning } from '../transport/zmq-options.js';
import { LinkDelays, type DelaySeries } from './link-delays.js';

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
  /** Default: silent. */
  logger?: Logger;
}

/** A PDU as the channel holds it: its bytes and when it reached the medium. */
interface Arrival {
  bytes: Uint8Array;
  atMs: number;
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
  private readonly channel: MediumChannel<HubPeer, Arrival>;
  private readonly nowMs: () => number;
  private readonly log: Logger;
  /** Delay of each copy sent, per receiving link. */
  readonly delays = new LinkDelays();
  private readonly delaySeries = new Map<HubPeer, DelaySeries>();
  /** The time the channel is being run at (submit or release), for the delay of the copies it emits. */
  private channelNowMs = 0;
  private readonly maxPduBytes: number | undefined;
  private readonly bindEndpoints: readonly string[];
  private timer: NodeJS.Timeout | undefined;
  private timerDueMs = Infinity;
  private received = 0;
  private malformed = 0;
  private readonly malformedByCode: Record<string, number> = {};
  private toGonePeers = 0;
  private readonly emit = (peer: HubPeer, arrival: Arrival): void => {
    if (!this.hub.sendTo(peer, arrival.bytes)) {
      this.toGonePeers++;
      return;
    }
    this.delays.record(this.seriesOf(peer), this.channelNowMs - arrival.atMs);
  };
  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.timerDueMs = Infinity;
    this.channelNowMs = this.nowMs();
    this.channel.release(this.channelNowMs, this.emit);
    this.schedule();
  };

  constructor(options: MediumServerOptions) {
    this.bindEndpoints = options.endpoints;
    this.hub = new ZmqHub({ endpoints: options.endpoints, tuning: options.tuning });
    this.channel = new MediumChannel(options.impairments, seededRandom(options.seed));
    this.nowMs = options.nowMs ?? (() => performance.now());
    this.maxPduBytes = options.maxPduBytes;
    this.log = options.logger ?? pino({ level: 'silent' });
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
          this.countMalformed(d.error.code, peer);
          return;
        }
        this.received++;
        this.channelNowMs = this.nowMs();
        this.channel.submit({ bytes, atMs: this.channelNowMs }, peer, this.hub.peers, this.channelNowMs, this.emit);
        this.schedule();
      },
      badFraming: (peer, frameCount) => this.countMalformed('multipart', peer, frameCount),
      attach: (peer) => this.log.info({ link: peer.key, links: this.hub.peers.length }, 'medium: link attached'),
      detach: (peer, reason) => {
        this.delaySeries.delete(peer);
        this.log.info({ link: peer.key, reason, links: this.hub.peers.length, rx: peer.rx, tx: peer.tx }, 'medium: link detached');
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

  private countMalformed(code: string, peer: HubPeer | undefined, frameCount?: number): void {
    this.malformed++;
    this.malformedByCode[code] = (this.malformedByCode[code] ?? 0) + 1;
    this.log.debug({ link: peer?.key, code, ...(frameCount === undefined ? {} : { frameCount }) }, 'medium: malformed message dropped');
  }

  private seriesOf(peer: HubPeer): DelaySeries {
    let series = this.delaySeries.get(peer);
    if (series === undefined) {
      series = this.delays.seriesFor(peer.key);
      this.delaySeries.set(peer, series);
    }
    return series;
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
