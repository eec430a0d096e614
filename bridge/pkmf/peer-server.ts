/**
 * Server side of the inter-PKMF interface (roaming relays and multi-operator groups): HTTP/2 over
 * TLS 1.3 with mutual certificate authentication, JSON bodies, one resource:
 * `POST /npkmf-keyreq/v1/key-request` (src/pkmf/json.ts). The calling PKMF is identified by the
 * PLMN in its certificate's URI SAN (`urn:3gpp:pkmf:plmn:MCC-MNC`), which must be a configured
 * peer whose CA issued that certificate; any other session is closed at once.
 *
 * Before authentication, as on the UE port (handshake-guard.ts): a deadline on every accepted
 * socket (`limits.handshakeTimeoutMs`), at most `limits.maxUnauthenticatedPerSource` unfinished
 * handshakes per source address, at most `limits.maxConnections` sockets, and failed handshakes
 * counted (by reason in `handshakesRefused`) and logged as at most one warn line per
 * `limits.handshakeLogIntervalMs`. A calling PKMF's certificate that no peer's CA signed (or
 * expired) is refused by OpenSSL's verification here (`rejectUnauthorized: true`: the HTTP/2
 * server's own listener would run on a socket the guard refused), so its log line has the verify
 * code, not the certificate's subject.
 */
import { X509Certificate } from 'node:crypto';
import http2 from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { ErrorCode, errorName } from '../../src/pkmf/errors.js';
import { plmnFromSubjectAltName } from '../../src/pkmf/identity.js';
import { buildProblem, KEY_REQUEST_PATH, MAX_JSON_BODY_BYTES } from '../../src/pkmf/json.js';
import type { PkmfConfig } from './config.js';
import type { HandshakeGuardStats } from './handshake-guard.js';
import { guardHandshakes, newHandshakeGuardStats } from './handshake-guard.js';
import type { PkmfService } from './service.js';

/** Before authentication: `unauthenticated`, `handshakeFailures`, ... (handshake-guard.ts). */
export interface PeerServerStats extends HandshakeGuardStats {
  /** Sessions of configured peers (certificate checked) so far. */
  sessions: number;
  /** ... of them open now. */
  activeSessions: number;
  /** Sessions closed at once: the certificate names no configured peer PLMN, or its CA did not issue it. */
  rejectedSessions: number;
  requests: number;
}

export function createPeerServer(config: PkmfConfig, service: PkmfService, log: Logger): { server: http2.Http2SecureServer; stats: PeerServerStats } {
  const stats: PeerServerStats = { sessions: 0, activeSessions: 0, rejectedSessions: 0, requests: 0, ...newHandshakeGuardStats() };
  const peerCas = new Map(config.peers.map((p) => [p.plmn, p.caPem.map((pem) => new X509Certificate(pem))]));
  const sessionPeer = new WeakMap<http2.ServerHttp2Session, string>();

  const server = http2.createSecureServer({
    cert: config.tls.certPem,
    key: config.tls.keyPem,
    ca: config.peers.flatMap((p) => p.caPem),
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
    allowHTTP1: false,
    // handshake-guard.ts destroys the socket at the deadline and counts it; Node's timer (0: its
    // default, 120 s) does not count or name it.
    handshakeTimeout: 0,
  });
  guardHandshakes(
    server,
    stats,
    config.limits,
    { logMessage: 'peer PKMF connections failed before authentication (TLS handshake failed or refused)', trustedCas: 'peers[].ca' },
    log,
  );

  server.on('session', (session) => {
    const socket = session.socket as TLSSocket;
    const cert = socket.getPeerX509Certificate();
    const plmn = plmnFromSubjectAltName(cert?.subjectAltName);
    const cas = plmn === undefined ? undefined : peerCas.get(plmn);
    if (!cert || !plmn || !cas || !cas.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey))) {
      stats.rejectedSessions++;
      log.warn({ plmn, remote: socket.remoteAddress }, 'peer session refused: certificate names no configured peer PLMN or its CA did not issue it');
      session.destroy();
      return;
    }
    stats.sessions++;
    stats.activeSessions++;
    session.once('close', () => stats.activeSessions--);
    sessionPeer.set(session, plmn);
    session.on('error', (err) => log.debug({ err: err.message, peer: plmn }, 'peer session error'));
  });

  server.on('stream', (stream, headers) => {
    const started = performance.now();
    const plmn = sessionPeer.get(stream.session as http2.ServerHttp2Session);
    stream.on('error', (err) => log.debug({ err: err.message }, 'peer stream error'));
    /** Every request of an accepted peer gets one reply, counted by `result` (request-stats.ts). */
    const reply = (status: number, body: object, result: string): void => {
      service.requests.answered('peer', result, (performance.now() - started) / 1000, plmn);
      if (stream.destroyed || stream.closed) return;
      stream.respond({
        ':status': status,
        'content-type': status === 200 ? 'application/json' : 'application/problem+json',
      });
      stream.end(JSON.stringify(body));
    };
    const problem = (status: number, detail: string): void =>
      reply(status, { ...buildProblem(ErrorCode.MALFORMED_REQUEST, detail), status }, errorName(ErrorCode.MALFORMED_REQUEST));
    if (!plmn) {
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    stats.requests++;
    if (headers[':path'] !== KEY_REQUEST_PATH) return problem(404, `no resource ${String(headers[':path'])}`);
    if (headers[':method'] !== 'POST') return problem(405, 'only POST is allowed');
    const type = String(headers['content-type'] ?? '');
    if (!type.startsWith('application/json')) return problem(415, 'expected Content-Type application/json');
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    stream.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_JSON_BODY_BYTES) tooLarge = true;
      else chunks.push(c);
    });
    stream.on('end', () => {
      if (tooLarge) return problem(413, `body larger than ${MAX_JSON_BODY_BYTES} bytes`);
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return problem(400, 'body is not JSON');
      }
      service.handlePeerRequest(plmn, body).then(
        (answer) => reply(answer.status, answer.body, answer.result),
        (e: unknown) => {
          log.error({ err: e, peer: plmn }, 'peer Key Request failed');
          reply(500, buildProblem(ErrorCode.INTERNAL_ERROR, 'internal error'), errorName(ErrorCode.INTERNAL_ERROR));
        },
      );
    });
  });

  return { server, stats };
}
