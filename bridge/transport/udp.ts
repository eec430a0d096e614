/**
 * The stack-side transport over IP: groupcast PDUs as UDP multicast (or broadcast) datagrams on
 * one network interface, typically the TUN interface of an unmodified sidelink stack
 * (OpenAirInterface `oaitun_ue1`, srsRAN `tun_srsue`), which carries them over the sidelink.
 * One datagram = one PduEnvelope (src/wire/envelope.ts), the same bytes as on ZeroMQ and serial.
 * docs/serial-udp.md describes the set-up.
 *
 * Two sockets (node:dgram):
 * - receive: bound to GROUP:PORT with SO_REUSEADDR (so several daemons on one host can listen to
 *   one group), member of the multicast group on the interface (IP_ADD_MEMBERSHIP);
 * - send: bound to the interface's own address and an ephemeral port, IP_MULTICAST_IF on the
 *   interface, IP_MULTICAST_TTL `ttl`, IP_MULTICAST_LOOP `loopback` (or SO_BROADCAST), and
 *   connected to GROUP:PORT.
 * A datagram whose source is our send socket (interface address and that ephemeral port) is our
 * own PDU coming back (multicast loopback, broadcast): it is dropped and counted in
 * `udpCounters.ownFiltered`, so a daemon never receives its own PDUs, also with loopback on.
 *
 * The interface may not exist or have no address yet (the stack creates its TUN interface when
 * it starts, and gives it an address when the UE attaches): open() resolves anyway, `linkUp`
 * stays false and `lastError` says why, and the transport checks the interface every
 * `interfacePollMs` and joins as soon as it has an address; if the address goes away or changes
 * (stack restarted), it leaves and joins again.
 *
 * Back-pressure: drop, never block. UDP has no flow control; a datagram the kernel cannot take
 * (socket send buffer full: the interface is slower than the sender) waits in libuv's send
 * queue, and a frame is refused as `hwm` when that queue already holds `maxQueuedDatagrams`. Send errors reported later (interface gone, no route) move the frame
 * from `sent` to `dropped['no-peer']` (or `too-large` for EMSGSIZE).
 */
import dgram from 'node:dgram';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { ENVELOPE_MAX_PDU_BYTES, decodePduEnvelope, encodePduEnvelope, type OutgoingPdu, type PduEnvelope } from '../../src/wire/envelope.js';
import { unixNowNs } from './clock.js';
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

/** Largest UDP payload: 65535 minus the IPv4 (20) and UDP (8) headers. */
const MAX_DATAGRAM_BYTES = 65_507;

export interface UdpTransportOptions {
  /** `multicast` to `group`, or `broadcast` to `group` (an IPv4 broadcast address). */
  mode?: 'multicast' | 'broadcast';
  /** Multicast group (IPv4 224/4 or IPv6 ff00::/8) or IPv4 broadcast address. */
  group: string;
  port: number;
  /** Interface name, e.g. oaitun_ue1, tun_srsue, eth0, lo. */
  interface: string;
  /** IP TTL / hop limit of the datagrams (default 1: never routed off the link). */
  ttl?: number;
  /** IP_MULTICAST_LOOP: also deliver to other listeners on this host (default false). */
  loopback?: boolean;
  /** Largest PDU sent or accepted (hw-profile `pdu.max_bytes`). */
  maxPduBytes?: number;
  /** Drop limit on datagrams waiting in the send queue (default 64). */
  maxQueuedDatagrams?: number;
  /** SO_RCVBUF asked for (the kernel caps it at net.core.rmem_max); default 1 MiB. */
  receiveBufferBytes?: number;
  /** SO_SNDBUF of the send socket (default: the kernel's); a small one makes `hwm` drops come sooner on a slow link. */
  sendBufferBytes?: number;
  /** How often to check the interface's address, ms (default 1000). */
  interfacePollMs?: number;
  /** Clock for tx_time_ns (tests inject one); default Unix epoch ns from clock.ts. */
  clock?: () => bigint;
}

/** UDP link counters beyond the common ones. */
export interface UdpLinkCounters {
  /** Our own datagrams received back (multicast loopback, broadcast) and dropped. */
  ownFiltered: number;
  /** Attempts to bind/join that failed (interface without address, address in use ...). */
  joinFailures: number;
  /** Frames still in the send queue when the sockets closed (interface gone, or close()); also in `dropped`. */
  lostInFlight: number;
}

interface Attached {
  address: string;
  rx: dgram.Socket;
  tx: dgram.Socket;
  txPort: number;
  generation: number;
}

export function createUdpStackTransport(options: UdpTransportOptions): UdpStackTransport {
  return new UdpStackTransport(options);
}

export class UdpStackTransport implements StackTransport {
  readonly kind = 'udp' as const;
  readonly counters: TransportCounters = newTransportCounters();
  readonly udpCounters: UdpLinkCounters = { ownFiltered: 0, joinFailures: 0, lostInFlight: 0 };
  readonly mode: 'multicast' | 'broadcast';
  readonly group: string;
  readonly port: number;
  readonly interfaceName: string;
  readonly ttl: number;
  readonly loopback: boolean;
  readonly maxPduBytes: number;
  readonly maxQueuedDatagrams: number;
  private readonly family: 4 | 6;
  private readonly receiveBufferBytes: number;
  private readonly sendBufferBytes: number | undefined;
  private readonly interfacePollMs: number;
  private readonly clock: () => bigint;
  private sink: FrameSink<PduEnvelope> | undefined;
  private state: 'new' | 'open' | 'closed' = 'new';
  private attached: Attached | undefined;
  private attaching: Promise<void> | undefined;
  private generation = 0;
  /** Sends handed to a socket whose completion has not been seen yet. */
  private pendingSends = 0;
  private onSendsDone: (() => void) | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private seq = 0;
  private lastErrorText: string | undefined;

  /**
   * Completion of one datagram's send. libuv completes every send, also those still queued when
   * the socket closes (with ECANCELED), so failures are accounted for here and only here.
   */
  private readonly onSent = (err: Error | null): void => {
    if (--this.pendingSends === 0) this.onSendsDone?.();
    if (!err) return;
    const code = (err as NodeJS.ErrnoException).code;
    this.counters.sent--;
    if (code === 'EMSGSIZE') this.counters.dropped['too-large']++;
    else if (this.state === 'closed') this.counters.dropped.closed++;
    else this.counters.dropped['no-peer']++;
    if (code === 'ECANCELED') this.udpCounters.lostInFlight++;
  };

  constructor(options: UdpTransportOptions) {
    const mode = options.mode ?? 'multicast';
    const family = isIP(options.group);
    if (mode === 'multicast') {
      const multicast = family === 4 ? isIpv4Multicast(options.group) : family === 6 && /^ff/i.test(options.group);
      if (!multicast) throw new TransportError('ECONFIG', `group: expected an IPv4 (224.0.0.0/4) or IPv6 (ff00::/8) multicast address, got ${options.group}`);
    } else if (mode === 'broadcast') {
      if (family !== 4) throw new TransportError('ECONFIG', `group: expected an IPv4 broadcast address, got ${options.group}`);
    } else {
      throw new TransportError('ECONFIG', `mode: expected multicast or broadcast, got ${String(mode)}`);
    }
    if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65_535) throw new TransportError('ECONFIG', `port: expected 1..65535, got ${options.port}`);
    if (typeof options.interface !== 'string' || options.interface.length === 0) throw new TransportError('ECONFIG', 'interface: expected an interface name');
    const ttl = options.ttl ?? 1;
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 255) throw new TransportError('ECONFIG', `ttl: expected 1..255, got ${ttl}`);
    for (const [name, v] of [
      ['maxPduBytes', options.maxPduBytes],
      ['maxQueuedDatagrams', options.maxQueuedDatagrams],
      ['receiveBufferBytes', options.receiveBufferBytes],
      ['sendBufferBytes', options.sendBufferBytes],
      ['interfacePollMs', options.interfacePollMs],
    ] as const) {
      if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new TransportError('ECONFIG', `${name}: expected a positive integer, got ${v}`);
    }
    this.mode = mode;
    this.family = family as 4 | 6;
    this.group = options.group;
    this.port = options.port;
    this.interfaceName = options.interface;
    this.ttl = ttl;
    this.loopback = options.loopback ?? false;
    this.maxPduBytes = options.maxPduBytes ?? ENVELOPE_MAX_PDU_BYTES;
    this.maxQueuedDatagrams = options.maxQueuedDatagrams ?? 64;
    this.receiveBufferBytes = options.receiveBufferBytes ?? 1 << 20;
    this.sendBufferBytes = options.sendBufferBytes;
    this.interfacePollMs = options.interfacePollMs ?? 1000;
    this.clock = options.clock ?? unixNowNs;
  }

  get description(): string {
    const at = this.attached ? ` (${this.attached.address})` : '';
    return `udp ${this.mode} ${this.family === 6 ? `[${this.group}]` : this.group}:${this.port} on ${this.interfaceName}${at}`;
  }

  get linkUp(): boolean {
    return this.attached !== undefined;
  }

  /** Why the transport is not attached (interface missing, bind failed ...); undefined while up. */
  get lastError(): string | undefined {
    return this.attached ? undefined : this.lastErrorText;
  }

  details(): StackDetails {
    return { lastError: this.lastError ?? null, udp: { ...this.udpCounters } };
  }

  /** The send socket's local address and port: the source of our datagrams. */
  get localSource(): { address: string; port: number } | undefined {
    return this.attached && { address: this.attached.address, port: this.attached.txPort };
  }

  async open(sink: FrameSink<PduEnvelope>): Promise<void> {
    if (this.state !== 'new') throw new Error(`${this.description}: open() called twice`);
    this.sink = sink;
    this.state = 'open';
    await this.checkInterface();
    this.pollTimer = setInterval(() => {
      this.checkInterface().catch((e: unknown) => {
        // A timer must not crash the daemon: the next poll tries again.
        this.lastErrorText = `${this.interfaceName}: ${(e as Error).message}`;
      });
    }, this.interfacePollMs);
  }

  send(frame: OutgoingPdu): SendOutcome {
    if (this.state !== 'open') return this.drop(this.state === 'new' ? 'not-open' : 'closed');
    let bytes: Uint8Array;
    try {
      if (frame.pdu.length > this.maxPduBytes) return this.drop('too-large');
      bytes = encodePduEnvelope({
        l2SourceId: frame.l2SourceId,
        l2DestinationId: frame.l2DestinationId,
        castType: frame.castType,
        pdu: frame.pdu,
        txTimeNs: this.clock(),
        seq: this.seq,
      });
    } catch {
      return this.drop('invalid');
    }
    if (bytes.length > MAX_DATAGRAM_BYTES) return this.drop('too-large');
    // Used even if the datagram is dropped below: receivers see the gap (as on ZeroMQ).
    this.seq = (this.seq + 1) >>> 0;
    const link = this.attached;
    if (link === undefined) return this.drop('no-peer');
    if (link.tx.getSendQueueCount() >= this.maxQueuedDatagrams) return this.drop('hwm');
    this.counters.sent++;
    this.pendingSends++;
    link.tx.send(bytes, this.onSent);
    return 'accepted';
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearInterval(this.pollTimer);
    await this.attaching;
    await this.detach(`${this.interfaceName}: closed`);
    // Node reports the socket closed before libuv has completed (cancelled) the queued sends;
    // wait for those completions so that the counters are final when close() returns.
    if (this.pendingSends > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        this.onSendsDone = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** The interface's address for our family, or undefined when it has none (or does not exist). */
  private interfaceAddress(): string | undefined {
    const addrs = networkInterfaces()[this.interfaceName];
    const want = this.family === 4 ? 'IPv4' : 'IPv6';
    // A global address first: a link-local one may still be tentative (duplicate detection).
    const a = addrs?.find((x) => x.family === want && !x.address.startsWith('fe80:')) ?? addrs?.find((x) => x.family === want);
    if (a === undefined) return undefined;
    return this.family === 6 && a.scopeid ? `${a.address}%${this.interfaceName}` : a.address;
  }

  private async checkInterface(): Promise<void> {
    if (this.state !== 'open' || this.attaching) return;
    const address = this.interfaceAddress();
    if (this.attached && this.attached.address === address) return;
    this.attaching = (async () => {
      if (this.attached) await this.detach(`${this.interfaceName}: address ${address === undefined ? 'gone' : `changed to ${address}`}`);
      if (address === undefined) {
        this.lastErrorText = `${this.interfaceName}: no ${this.family === 4 ? 'IPv4' : 'IPv6'} address (interface down or not created yet)`;
        return;
      }
      await this.attach(address);
    })();
    try {
      await this.attaching;
    } finally {
      this.attaching = undefined;
    }
  }

  private async attach(address: string): Promise<void> {
    const type = this.family === 4 ? 'udp4' : 'udp6';
    const rx = dgram.createSocket({ type, reuseAddr: true, recvBufferSize: this.receiveBufferBytes });
    const tx = dgram.createSocket({ type, ...(this.sendBufferBytes ? { sendBufferSize: this.sendBufferBytes } : {}) });
    const failed = (e: unknown): void => {
      this.udpCounters.joinFailures++;
      this.lastErrorText = `${this.interfaceName}: cannot join ${this.group}:${this.port} (${(e as Error).message})`;
      rx.close();
      tx.close();
    };
    rx.on('error', () => undefined);
    tx.on('error', () => undefined);
    try {
      // Bound to the group (not the wildcard) so that only the group's datagrams arrive here.
      await bindSocket(rx, this.port, this.family === 6 ? '::' : this.group);
      await bindSocket(tx, 0, address);
      const ifaceForMembership = this.family === 6 ? `::%${this.interfaceName}` : address;
      if (this.mode === 'multicast') {
        rx.addMembership(this.group, ifaceForMembership);
        tx.setMulticastInterface(ifaceForMembership);
        tx.setMulticastTTL(this.ttl);
        tx.setMulticastLoopback(this.loopback);
      } else {
        tx.setBroadcast(true);
        tx.setTTL(this.ttl);
      }
      // Connected: send() then skips its per-datagram address lookup (the lookup would defer the
      // hand-over to the kernel to a later tick, and the send queue would look empty to us).
      await connectSocket(tx, this.port, this.family === 6 ? `${this.group}%${this.interfaceName}` : this.group);
    } catch (e) {
      failed(e);
      return;
    }
    if (this.state !== 'open') {
      rx.close();
      tx.close();
      return;
    }
    const generation = ++this.generation;
    const link: Attached = { address, rx, tx, txPort: tx.address().port, generation };
    const ownAddress = stripScope(address);
    rx.on('message', (msg, rinfo) => {
      if (generation !== this.generation) return;
      if (rinfo.port === link.txPort && stripScope(rinfo.address) === ownAddress) {
        this.udpCounters.ownFiltered++;
        return;
      }
      this.onDatagram(msg);
    });
    const onSocketError = (e: Error): void => {
      if (generation !== this.generation) return;
      void this.detach(`${this.interfaceName}: socket error (${e.message})`);
    };
    rx.removeAllListeners('error').on('error', onSocketError);
    tx.removeAllListeners('error').on('error', onSocketError);
    this.attached = link;
    this.lastErrorText = undefined;
    this.counters.linkUps++;
    this.notifyLink(true, this.description);
  }

  /** Leaves the group and closes both sockets; datagrams still queued are dropped (see onSent). */
  private async detach(detail: string): Promise<void> {
    const link = this.attached;
    if (link === undefined) return;
    this.attached = undefined;
    this.generation++;
    this.lastErrorText = detail;
    this.counters.linkDowns++;
    this.notifyLink(false, detail);
    link.rx.on('error', () => undefined);
    link.tx.on('error', () => undefined);
    await Promise.all([closeSocket(link.rx), closeSocket(link.tx)]);
  }

  private onDatagram(msg: Buffer): void {
    const d = decodePduEnvelope(msg, this.maxPduBytes);
    if (d.ok) deliverFrame(this.counters, this.sink!, d.value);
    else dropMalformed(this.counters, this.sink, { code: d.error.code, message: d.error.message });
  }

  private notifyLink(up: boolean, detail: string): void {
    notifySinkLink(this.counters, this.sink, up, detail);
  }

  private drop(reason: SendDropReason): SendOutcome {
    this.counters.dropped[reason]++;
    return reason;
  }
}

function isIpv4Multicast(address: string): boolean {
  const first = Number(address.split('.')[0]);
  return first >= 224 && first <= 239;
}

function stripScope(address: string): string {
  const i = address.indexOf('%');
  return i < 0 ? address : address.slice(0, i);
}

function bindSocket(socket: dgram.Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    socket.once('error', onError);
    socket.bind({ port, address, exclusive: false }, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}

function connectSocket(socket: dgram.Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // Node passes the error to the callback (its typings say no argument).
    const done = ((err?: Error) => (err ? reject(err) : resolve())) as () => void;
    socket.connect(port, address, done);
  });
}

function closeSocket(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}
