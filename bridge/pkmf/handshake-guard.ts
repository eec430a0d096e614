/**
 * What a PKMF listener does with sockets before their TLS handshake has finished (clients without a
 * certificate are the cheap attack), shared by the UE port (ue-server.ts) and the inter-PKMF port
 * (peer-server.ts; an HTTP/2 secure server is a tls.Server), from the config's `limits`:
 *
 * - every accepted socket must finish the handshake within `handshakeTimeoutMs` of its accept, or
 *   it is destroyed. Node 20's own `handshakeTimeout` only emits tlsClientError on a plain
 *   tls.Server and leaves a silent socket open, so `maxConnections` of them would lock every client
 *   out (an HTTP/2 server does destroy it, but nothing counts or names it). Servers pass
 *   `handshakeTimeout: 0`, which Node takes as its default, 120 s: after ours unless configured
 *   longer;
 * - one source address may have at most `maxUnauthenticatedPerSource` sockets in that state;
 *   further ones are destroyed at once;
 * - at most `maxConnections` sockets are open (the listener refuses more: Node's `drop` event);
 * - failed handshakes (TLS errors, the deadline, the per-source cap, `maxConnections`) are counted
 *   in the stats and logged as at most one warn line per `handshakeLogIntervalMs`
 *   (throttled-log.ts), with the count per reason: a TLS error code, `deadline`, `per-source cap`,
 *   `maxConnections`.
 *
 * A socket counts as authenticated once the server emits `secureConnection` (the handshake is
 * done, so the client certificate chains to a trusted CA); what the server then checks of the
 * identity is its own business.
 */
import type net from 'node:net';
import type tls from 'node:tls';
import type { Logger } from 'pino';
import type { PkmfConfig } from './config.js';
import { ThrottledWarn } from './throttled-log.js';

/** The counters this guard keeps (fields of the server's own stats object). */
export interface HandshakeGuardStats {
  /** Accepted sockets whose TLS handshake has not finished (now). */
  unauthenticated: number;
  /** Connections that ended before their TLS handshake finished, whatever the reason (below). */
  handshakeFailures: number;
  /** ... of them destroyed at the handshake deadline. */
  handshakeTimeouts: number;
  /** ... of them destroyed at once: their source already had maxUnauthenticatedPerSource. */
  refusedPerSource: number;
  /** Connections refused because maxConnections were open (never handshaked; not above). */
  droppedMaxConnections: number;
}

/** The `limits` of the PKMF config this guard applies. */
export type HandshakeLimits = Pick<PkmfConfig['limits'], 'handshakeTimeoutMs' | 'maxUnauthenticatedPerSource' | 'maxConnections' | 'handshakeLogIntervalMs'>;

export function newHandshakeGuardStats(): HandshakeGuardStats {
  return { unauthenticated: 0, handshakeFailures: 0, handshakeTimeouts: 0, refusedPerSource: 0, droppedMaxConnections: 0 };
}

/**
 * Installs the guard on `server` (call it right after creating the server, before other
 * listeners); it updates the fields of `stats` in place, logs failures as `logMessage` (e.g.
 * `UE connections failed before authentication (...)`) and flushes its log summary when the
 * server closes.
 */
export function guardHandshakes(server: tls.Server, stats: HandshakeGuardStats, limits: HandshakeLimits, logMessage: string, log: Logger): void {
  const { handshakeTimeoutMs, maxUnauthenticatedPerSource } = limits;
  const failures = new ThrottledWarn(log, logMessage, 'failed', limits.handshakeLogIntervalMs);
  server.maxConnections = limits.maxConnections;

  /** Sockets not through the handshake yet, by `address|port`, and their count per address. */
  const unauthenticated = new Map<string, { source: string; timer: NodeJS.Timeout }>();
  const perSource = new Map<string, number>();
  /** Why the guard itself destroyed a raw socket before its handshake (for the failure reason). */
  const destroyedBecause = new WeakMap<net.Socket, string>();

  const authenticatedOrGone = (key: string): void => {
    const u = unauthenticated.get(key);
    if (!u) return;
    unauthenticated.delete(key);
    clearTimeout(u.timer);
    stats.unauthenticated--;
    const n = (perSource.get(u.source) ?? 1) - 1;
    if (n > 0) perSource.set(u.source, n);
    else perSource.delete(u.source);
  };

  server.on('connection', (raw: net.Socket) => {
    const source = raw.remoteAddress;
    if (source === undefined) {
      raw.destroy(); // already gone
      return;
    }
    if ((perSource.get(source) ?? 0) >= maxUnauthenticatedPerSource) {
      stats.refusedPerSource++;
      destroyedBecause.set(raw, 'per-source cap');
      raw.destroy();
      return;
    }
    const key = `${source}|${raw.remotePort}`;
    authenticatedOrGone(key); // a stale entry of an earlier socket with the same address and port
    perSource.set(source, (perSource.get(source) ?? 0) + 1);
    stats.unauthenticated++;
    const timer = setTimeout(() => {
      if (!unauthenticated.has(key)) return;
      stats.handshakeTimeouts++;
      destroyedBecause.set(raw, 'deadline');
      raw.destroy();
    }, handshakeTimeoutMs);
    timer.unref();
    unauthenticated.set(key, { source, timer });
    raw.once('close', () => authenticatedOrGone(key));
  });

  // First, so that the socket is out of the unauthenticated set before the server's own handler
  // (an HTTP/2 server's is registered by its constructor) can destroy it.
  server.prependListener('secureConnection', (socket: tls.TLSSocket) => authenticatedOrGone(`${socket.remoteAddress}|${socket.remotePort}`));

  server.on('drop', (d?: { remoteAddress?: string }) => {
    stats.droppedMaxConnections++;
    failures.record('maxConnections', d?.remoteAddress);
  });

  server.on('tlsClientError', (err, socket) => {
    stats.handshakeFailures++;
    // The raw socket under a server-side TLSSocket is its _parent (Node internals: used for the
    // reason only, so a missing one just reports the TLS error code).
    const raw = (socket as unknown as { _parent?: net.Socket })._parent;
    const reason = (raw && destroyedBecause.get(raw)) ?? (err as NodeJS.ErrnoException).code ?? err.message;
    failures.record(reason, socket.remoteAddress ?? raw?.remoteAddress);
  });

  server.on('close', () => failures.close());
}
