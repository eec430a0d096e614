/**
 * The UE-facing PKMF endpoint: TLS 1.3 only, mutual certificate authentication, length-prefixed
 * protobuf frames (proto/pkmf.proto). The UE's identity is the SUPI in its client certificate,
 * which must have been issued by the CA of the SUPI's home network (our own CA, or a roaming
 * partner's). Requests on one connection are answered in order.
 *
 * Bad input: an oversized, empty or undecodable frame, or an unacceptable certificate identity,
 * makes this connection get one ConnectionError frame and close; a decodable but invalid request
 * gets a MALFORMED_REQUEST response. Neither affects other connections. Every case is counted.
 *
 * Back-pressure: at most MAX_PIPELINED requests of a connection are queued; more close it.
 *
 * Before authentication (clients without a certificate are the cheap attack): every accepted
 * socket must finish the TLS handshake within `limits.handshakeTimeoutMs` or it is destroyed (Node
 * 20's own `handshakeTimeout` only emits tlsClientError and leaves a silent socket open, so
 * `maxConnections` of them would lock every UE out); one source address may have at most
 * `limits.maxUnauthenticatedPerSource` sockets in that state, further ones are destroyed at once.
 * Failed handshakes (TLS errors, refused certificates, the deadline, the per-source cap,
 * `maxConnections`) are counted in the stats, by reason in `handshakesRefused`, and logged as at
 * most one warn line per `limits.handshakeLogIntervalMs`; a refused certificate's line names its
 * subject, issuer and OpenSSL's verify code. All of it is handshake-guard.ts, shared with the
 * inter-PKMF port.
 */
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import type { Logger } from 'pino';
import type { KeyRequestMsg, KeyResponseMsg } from '../../src/pkmf/codec.js';
import {
  decodeClientFrame,
  encodeConnectionError,
  encodeFrame,
  encodeKeyResponse,
  FrameDecoder,
  MAX_FRAME_BYTES_LIMIT,
} from '../../src/pkmf/codec.js';
import { homeOf } from '../../src/pkmf/authorize.js';
import { ErrorCode, errorName } from '../../src/pkmf/errors.js';
import { supiFromSubjectAltName } from '../../src/pkmf/identity.js';
import { validateKeyRequest } from '../../src/pkmf/validate.js';
import type { PkmfConfig } from './config.js';
import type { HandshakeGuardStats } from './handshake-guard.js';
import { guardHandshakes, newHandshakeGuardStats } from './handshake-guard.js';
import { requestResult } from './request-stats.js';
import type { PkmfService } from './service.js';

const MAX_PIPELINED = 16;
const CLOSE_GRACE_MS = 1_000;

/** Before authentication: `unauthenticated`, `handshakeFailures`, ... (handshake-guard.ts). */
export interface UeServerStats extends HandshakeGuardStats {
  /** Authenticated connections (TLS handshake done) so far. */
  connections: number;
  activeConnections: number;
  /** Connections closed with a ConnectionError, by code name. */
  connectionErrors: Record<string, number>;
  malformedRequests: number;
}

/** The CA certificates that may sign UE certificates of each known PLMN. */
function issuersByPlmn(config: PkmfConfig): Map<string, X509Certificate[]> {
  const m = new Map<string, X509Certificate[]>();
  m.set(config.plmn, config.tls.caPem.map((p) => new X509Certificate(p)));
  for (const peer of config.peers) if (peer.roaming) m.set(peer.plmn, peer.caPem.map((p) => new X509Certificate(p)));
  return m;
}

/** Trusted roots for UE certificates: our CA and our roaming partners' CAs. */
export function ueTrustedCas(config: PkmfConfig): string[] {
  return [...config.tls.caPem, ...config.peers.filter((p) => p.roaming).flatMap((p) => p.caPem)];
}

export function createUeServer(config: PkmfConfig, service: PkmfService, log: Logger): { server: tls.Server; stats: UeServerStats } {
  const stats: UeServerStats = {
    connections: 0,
    activeConnections: 0,
    ...newHandshakeGuardStats(),
    connectionErrors: {},
    malformedRequests: 0,
  };
  const issuers = issuersByPlmn(config);
  const { maxFrameBytes, idleTimeoutMs } = config.limits;

  const server = tls.createServer({
    cert: config.tls.certPem,
    key: config.tls.keyPem,
    ca: ueTrustedCas(config),
    requestCert: true,
    // OpenSSL finishes the handshake whatever the certificate, so that a refused one can be named
    // in the log (subject, issuer: which operator's CA is missing); handshake-guard.ts refuses
    // every socket that is not `authorized` before any other listener sees it, and the handler
    // below checks again. (With `true`, Node drops the certificate with the connection.)
    rejectUnauthorized: false,
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
    // handshake-guard.ts destroys the socket at the deadline; Node's timer (0: its default, 120 s)
    // would only emit tlsClientError (Node 20).
    handshakeTimeout: 0,
  });
  guardHandshakes(
    server,
    stats,
    config.limits,
    { logMessage: 'UE connections failed before authentication (TLS handshake failed or refused)', trustedCas: 'tls.ca, or peers[].ca of a peer with roaming: true' },
    log,
  );

  /** The certified SUPI, or the reason the identity is refused. */
  function identify(socket: tls.TLSSocket): { supi: string } | { reason: string } {
    const cert = socket.getPeerX509Certificate();
    if (!cert) return { reason: 'no client certificate' };
    const supi = supiFromSubjectAltName(cert.subjectAltName);
    if (!supi) return { reason: 'the client certificate names no SUPI (URI SAN urn:3gpp:supi:imsi-...)' };
    const home = homeOf(service.table, supi);
    if (home !== undefined) {
      const cas = issuers.get(home) ?? [];
      if (!cas.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey))) {
        return { reason: `the certificate of ${supi} was not issued by the CA of its home network ${home}` };
      }
    }
    return { supi };
  }

  server.on('secureConnection', (socket: tls.TLSSocket) => {
    // Refused (and counted, logged) by the guard; nothing of it reaches the service.
    if (!socket.authorized || socket.destroyed) {
      socket.destroy();
      return;
    }
    stats.connections++;
    stats.activeConnections++;
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    let closing = false;
    let pending = 0;
    let queue: Promise<void> = Promise.resolve();
    const decoder = new FrameDecoder(maxFrameBytes);

    socket.on('close', () => {
      stats.activeConnections--;
    });
    // A UE may half-close after writing its requests: they are still answered, then we close
    // (with Node's default, our side would end at once, dropping the answers not yet written).
    // Only once authenticated: before, a half-closed socket just goes away.
    socket.allowHalfOpen = true;
    socket.on('end', () => {
      queue = queue.then(() => {
        if (!socket.destroyed) socket.end();
      });
    });
    socket.on('error', (err) => log.debug({ err: err.message, remote }, 'UE connection error'));
    socket.setTimeout(idleTimeoutMs, () => {
      log.debug({ remote }, 'UE connection idle, closing');
      socket.destroy();
    });

    const closeWithError = (code: ErrorCode, message: string): void => {
      if (closing) return;
      closing = true;
      const name = errorName(code);
      stats.connectionErrors[name] = (stats.connectionErrors[name] ?? 0) + 1;
      log.warn({ remote, code: name, reason: message }, 'closing UE connection');
      socket.end(encodeFrame(encodeConnectionError(code, message), MAX_FRAME_BYTES_LIMIT));
      setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
    };

    /** Requests accepted before the bad input still get their answers, then the error closes. */
    const closeAfterAnswers = (code: ErrorCode, message: string): void => {
      if (closing) return;
      socket.pause();
      queue = queue.then(() => closeWithError(code, message));
    };

    const who = identify(socket);
    if ('reason' in who) {
      closeWithError(ErrorCode.IDENTITY_REJECTED, who.reason);
      return;
    }
    const { supi } = who;

    const respond = async (req: KeyRequestMsg): Promise<KeyResponseMsg> => {
      const valid = validateKeyRequest(req);
      if (!valid.ok) {
        stats.malformedRequests++;
        log.info({ remote, supi, reason: valid.reason }, 'malformed Key Request');
        return service.requestError(req.transactionId, ErrorCode.MALFORMED_REQUEST);
      }
      try {
        return await service.handleUeRequest(supi, valid.value);
      } catch (e) {
        log.error({ err: e, supi }, 'Key Request failed');
        return service.requestError(req.transactionId, ErrorCode.INTERNAL_ERROR);
      }
    };

    /** Timed from the moment its turn in this connection's queue comes. */
    const answer = async (req: KeyRequestMsg): Promise<KeyResponseMsg> => {
      const started = performance.now();
      const res = await respond(req);
      service.requests.answered('ue', requestResult(res.error, res.groups), (performance.now() - started) / 1000);
      return res;
    };

    socket.on('data', (chunk: Buffer) => {
      if (closing) return;
      for (const frame of decoder.push(chunk)) {
        // Decoded now, so that garbage closes the connection before anything queued behind it.
        let req: KeyRequestMsg;
        try {
          req = decodeClientFrame(frame);
        } catch (e) {
          closeAfterAnswers(ErrorCode.MALFORMED_REQUEST, (e as Error).message);
          return;
        }
        if (++pending > MAX_PIPELINED) {
          closeWithError(ErrorCode.MALFORMED_REQUEST, `more than ${MAX_PIPELINED} requests in flight`);
          return;
        }
        queue = queue
          .then(() => answer(req))
          .then((res) => {
            pending--;
            if (!closing && !socket.destroyed) socket.write(encodeFrame(encodeKeyResponse(res), MAX_FRAME_BYTES_LIMIT));
          })
          .catch((e: unknown) => {
            pending--;
            closeWithError(ErrorCode.INTERNAL_ERROR, (e as Error).message);
          });
      }
      const err = decoder.error;
      if (err) closeAfterAnswers(err.errorCode, err.message);
    });
  });

  return { server, stats };
}
