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
 * - failed handshakes (TLS errors, refused client certificates, the deadline, the per-source cap,
 *   `maxConnections`) are counted in the stats, per reason in `handshakesRefused`, and logged as
 *   at most one warn line per `handshakeLogIntervalMs` (throttled-log.ts), with the count and the
 *   last detail per reason. A reason is a TLS error code, OpenSSL's verify code for a refused
 *   client certificate (`UNABLE_TO_VERIFY_LEAF_SIGNATURE`, `CERT_HAS_EXPIRED`, ...; its detail
 *   says what that means in config terms: tls-diagnosis.ts), `deadline`, `per-source cap`,
 *   `maxConnections`.
 *
 * A socket counts as authenticated once the server emits `secureConnection` with
 * `socket.authorized` (the client certificate chains to a trusted CA and is within its
 * validity). A server may let OpenSSL finish the handshake with an unverified certificate
 * (`rejectUnauthorized: false`, the UE port) so that its subject and issuer can be logged: the
 * guard refuses such a socket first thing, before any other `secureConnection` listener, which
 * must still check `socket.authorized` itself. With `rejectUnauthorized: true` (the inter-PKMF
 * port: an HTTP/2 server's own listener would run on the refused socket) Node drops the
 * certificate with the connection, and only the verify code is logged. What the server then
 * checks of an authenticated identity is its own business.
 */
import type net from 'node:net';
import type tls from 'node:tls';
import type { Logger } from 'pino';
import type { PkmfConfig } from './config.js';
import { ThrottledWarn } from './throttled-log.js';
import { explainRefusedClient, NO_CLIENT_CERTIFICATE } from './tls-diagnosis.js';

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
  /**
   * handshakeFailures and droppedMaxConnections by reason (the reasons of the log lines: a TLS
   * error code, a certificate verify code, `deadline`, ...); at most {@link MAX_REFUSAL_REASONS}
   * distinct reasons, further ones counted under `other`.
   */
  handshakesRefused: Record<string, number>;
}

export const MAX_REFUSAL_REASONS = 32;

/** The `limits` of the PKMF config this guard applies. */
export type HandshakeLimits = Pick<PkmfConfig['limits'], 'handshakeTimeoutMs' | 'maxUnauthenticatedPerSource' | 'maxConnections' | 'handshakeLogIntervalMs'>;

export function newHandshakeGuardStats(): HandshakeGuardStats {
  return { unauthenticated: 0, handshakeFailures: 0, handshakeTimeouts: 0, refusedPerSource: 0, droppedMaxConnections: 0, handshakesRefused: {} };
}

export interface HandshakeGuardOptions {
  /** The log message, e.g. `UE connections failed before authentication (...)`. */
  logMessage: string;
  /** The config keys holding the CAs this port trusts for client certificates (in log details). */
  trustedCas: string;
}

/**
 * Installs the guard on `server` (call it right after creating the server, before other
 * listeners); it updates the fields of `stats` in place, logs failures as `opts.logMessage` and
 * flushes its log summary when the server closes.
 */
export function guardHandshakes(server: tls.Server, stats: HandshakeGuardStats, limits: HandshakeLimits, opts: HandshakeGuardOptions, log: Logger): void {
  const { handshakeTimeoutMs, maxUnauthenticatedPerSource } = limits;
  const warn = new ThrottledWarn(log, opts.logMessage, 'failed', limits.handshakeLogIntervalMs);
  /** One more failure: counted by reason, logged (rate-limited). */
  const failed = (reason: string, detail: string | undefined): void => {
    const key = Object.hasOwn(stats.handshakesRefused, reason) || Object.keys(stats.handshakesRefused).length < MAX_REFUSAL_REASONS ? reason : 'other';
    stats.handshakesRefused[key] = (stats.handshakesRefused[key] ?? 0) + 1;
    warn.record(reason, detail);
  };
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

  // First, so that an unverified certificate is refused before any other listener sees the
  // socket, and an authenticated socket is out of the unauthenticated set before the server's own
  // handler (an HTTP/2 server's is registered by its constructor) can destroy it.
  server.prependListener('secureConnection', (socket: tls.TLSSocket) => {
    if (socket.authorized) {
      authenticatedOrGone(`${socket.remoteAddress}|${socket.remotePort}`);
      return;
    }
    const cert = socket.getPeerX509Certificate();
    // Without a certificate OpenSSL reports a missing issuer: say what happened instead.
    const reason = cert ? (socket.authorizationError as unknown as string | undefined) ?? 'UNVERIFIED_CERTIFICATE' : NO_CLIENT_CERTIFICATE;
    stats.handshakeFailures++;
    failed(reason, `${socket.remoteAddress}: ${explainRefusedClient(reason, cert, opts.trustedCas)}`);
    socket.destroy();
  });

  server.on('drop', (d?: { remoteAddress?: string }) => {
    stats.droppedMaxConnections++;
    failed('maxConnections', d?.remoteAddress);
  });

  server.on('tlsClientError', (err, socket) => {
    stats.handshakeFailures++;
    // The raw socket under a server-side TLSSocket is its _parent (Node internals: used for the
    // reason only, so a missing one just reports the TLS error code).
    const raw = (socket as unknown as { _parent?: net.Socket })._parent;
    const remote = socket.remoteAddress ?? raw?.remoteAddress;
    const guardReason = raw && destroyedBecause.get(raw);
    // A certificate OpenSSL could not verify (rejectUnauthorized: true): Node destroys the socket
    // without an alert and reports "socket hang up"; the verify code is what happened.
    const verifyCode = socket.authorizationError as unknown as string | undefined;
    if (guardReason === undefined && verifyCode) {
      failed(verifyCode, `${remote}: ${explainRefusedClient(verifyCode, undefined, opts.trustedCas)}`);
      return;
    }
    failed(guardReason ?? (err as NodeJS.ErrnoException).code ?? err.message, remote);
  });

  server.on('close', () => warn.close());
}
