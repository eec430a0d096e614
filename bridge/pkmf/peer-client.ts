/**
 * Client side of the inter-PKMF interface: HTTP/2 over TLS 1.3 with mutual certificate
 * authentication and JSON bodies (node:http2). One cached session per peer, dropped on any error
 * or GOAWAY and re-opened on the next call. A peer that cannot be connected to, does not answer
 * within the timeout, or answers 5xx is *unreachable*; the caller maps that to
 * HOME_NETWORK_UNREACHABLE or OWNER_NETWORK_UNREACHABLE. Its message explains a TLS failure in
 * terms of this PKMF's config (tls-diagnosis.ts): the peer refused our `tls.cert`, the peer's
 * certificate is not signed by `peers[i].ca`, does not hold the host name of `peers[i].url`, ...
 */
import http2 from 'node:http2';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { KEY_REQUEST_PATH, MAX_JSON_BODY_BYTES } from '../../src/pkmf/json.js';
import { plmnFromSubjectAltName } from '../../src/pkmf/identity.js';
import type { TlsClientNames } from './tls-diagnosis.js';
import { explainClientTlsError, refusedAfterHandshake } from './tls-diagnosis.js';

export class PeerUnreachableError extends Error {
  readonly code = 'EPEER_UNREACHABLE';
  constructor(
    readonly plmn: string,
    message: string,
  ) {
    super(`peer PKMF ${plmn} unreachable: ${message}`);
    this.name = 'PeerUnreachableError';
  }
}

export interface PeerReply {
  status: number;
  body: unknown;
}

export interface PeerClientOptions {
  plmn: string;
  url: URL;
  caPem: string[];
  certPem: string;
  keyPem: string;
  timeoutMs: number;
  /** Where the above come from in this PKMF's config, named in TLS errors. */
  configNames?: { peerIndex: number; ownPlmn: string; certFile: string; keyFile: string; caFiles: readonly string[] };
}

/** What is known of a session's TLS connection, to tell a refused certificate from other failures. */
interface SessionState {
  /** Our TLS handshake is over. */
  secure: boolean;
  /** The peer's SETTINGS arrived: it accepted our certificate. */
  accepted: boolean;
}

export class PeerClient {
  private session: http2.ClientHttp2Session | undefined;
  private readonly states = new WeakMap<http2.ClientHttp2Session, SessionState>();
  private readonly names: TlsClientNames;
  /** This peer's entry in the config: `peers[i]`. */
  private readonly peerKey: string;

  constructor(private readonly opts: PeerClientOptions) {
    const n = opts.configNames;
    this.peerKey = n === undefined ? 'peers[]' : `peers[${n.peerIndex}]`;
    this.names = {
      peer: `the peer PKMF ${opts.plmn}`,
      cert: { key: 'tls.cert', file: n?.certFile, pem: opts.certPem },
      privateKey: { key: 'tls.key', file: n?.keyFile },
      ca: { key: `${this.peerKey}.ca`, files: n?.caFiles, pems: opts.caPem },
      name: { key: `${this.peerKey}.url`, value: opts.url.hostname.replace(/^\[|\]$/g, '') },
      serverTrusts: `its peers entry for ${n?.ownPlmn ?? 'our PLMN'} must have our operator's CA as ca`,
    };
  }

  /** Why a call on `session` failed: a TLS failure explained, else `err`'s message or `fallback`. */
  private explain(session: http2.ClientHttp2Session, err: Error | undefined, fallback: string): string {
    const state = this.states.get(session);
    const afterHandshake = state !== undefined && state.secure && !state.accepted;
    const tlsFailure = err === undefined ? undefined : explainClientTlsError(err, this.names, { afterHandshake });
    if (tlsFailure) return tlsFailure.message;
    if (afterHandshake) return refusedAfterHandshake(this.names).message;
    return err?.message ?? fallback;
  }

  private connect(): http2.ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const { plmn } = this.opts;
    const session = http2.connect(this.opts.url.origin, {
      ca: this.opts.caPem,
      cert: this.opts.certPem,
      key: this.opts.keyPem,
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      // Beyond the host name check: the certificate must name the peer's PLMN.
      checkServerIdentity: (host, cert) => {
        const err = tls.checkServerIdentity(host, cert);
        if (err) return err;
        const named = plmnFromSubjectAltName(new X509Certificate(cert.raw).subjectAltName);
        return named === plmn ? undefined : new Error(`the peer PKMF's certificate names PLMN ${named ?? 'none'}, not ${plmn} (${this.peerKey}.plmn)`);
      },
    });
    const state: SessionState = { secure: false, accepted: false };
    this.states.set(session, state);
    session.once('connect', () => (state.secure = true));
    session.once('remoteSettings', () => (state.accepted = true));
    const drop = (): void => {
      if (this.session === session) this.session = undefined;
    };
    session.on('error', drop);
    session.on('close', drop);
    session.on('goaway', () => {
      drop();
      session.close();
    });
    // Idle sessions must not keep a process alive on their own.
    session.unref();
    this.session = session;
    return session;
  }

  /** POSTs a JSON body to the key request resource; resolves with the status and parsed body. */
  postKeyRequest(body: object): Promise<PeerReply> {
    const { plmn, timeoutMs } = this.opts;
    return new Promise<PeerReply>((resolvePromise, reject) => {
      let session: http2.ClientHttp2Session;
      try {
        session = this.connect();
      } catch (e) {
        reject(new PeerUnreachableError(plmn, (e as Error).message));
        return;
      }
      const stream = session.request({
        ':method': 'POST',
        ':path': KEY_REQUEST_PATH,
        'content-type': 'application/json',
        accept: 'application/json, application/problem+json',
      });
      let settled = false;
      const settle = (): boolean => {
        if (settled) return false;
        settled = true;
        clearTimeout(timer);
        session.off('error', onSessionError);
        return true;
      };
      const fail = (msg: string): void => {
        if (!settle()) return;
        if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
        reject(new PeerUnreachableError(plmn, msg));
      };
      const onSessionError = (e: Error): void => fail(this.explain(session, e, e.message));
      session.once('error', onSessionError);
      const timer = setTimeout(() => fail(`no answer within ${timeoutMs} ms`), timeoutMs);
      stream.on('error', (e) => fail(this.explain(session, e, e.message)));
      let status = 0;
      stream.on('response', (headers) => {
        status = Number(headers[':status']);
      });
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_JSON_BODY_BYTES) fail('answer body too large');
        else chunks.push(c);
      });
      stream.on('end', () => {
        if (settled) return;
        if (status === 0) {
          // No response at all: the peer refused our certificate, or went away.
          fail(this.explain(session, undefined, 'no HTTP response'));
          return;
        }
        if (status >= 500) {
          fail(`HTTP status ${status}`);
          return;
        }
        let parsed: unknown;
        try {
          parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          parsed = undefined;
        }
        settle();
        resolvePromise({ status, body: parsed });
      });
      stream.on('close', () => fail(this.explain(session, undefined, 'stream closed before the answer ended')));
      stream.end(JSON.stringify(body));
    });
  }

  close(): void {
    this.session?.close();
    this.session = undefined;
  }
}
