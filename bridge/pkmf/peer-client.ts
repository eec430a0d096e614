/**
 * Client side of the inter-PKMF interface: HTTP/2 over TLS 1.3 with mutual certificate
 * authentication and JSON bodies (node:http2). One cached session per peer, dropped on any error
 * or GOAWAY and re-opened on the next call. A peer that cannot be connected to, does not answer
 * within the timeout, or answers 5xx is *unreachable*; the caller maps that to
 * HOME_NETWORK_UNREACHABLE or OWNER_NETWORK_UNREACHABLE.
 */
import http2 from 'node:http2';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { KEY_REQUEST_PATH, MAX_JSON_BODY_BYTES } from '../../src/pkmf/json.js';
import { plmnFromSubjectAltName } from '../../src/pkmf/identity.js';

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
}

export class PeerClient {
  private session: http2.ClientHttp2Session | undefined;

  constructor(private readonly opts: PeerClientOptions) {}

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
        return named === plmn ? undefined : new Error(`peer certificate names PLMN ${named ?? 'none'}, expected ${plmn}`);
      },
    });
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
      const onSessionError = (e: Error): void => fail(e.message);
      session.once('error', onSessionError);
      const timer = setTimeout(() => fail(`no answer within ${timeoutMs} ms`), timeoutMs);
      stream.on('error', (e) => fail(e.message));
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
        if (status >= 500 || status === 0) {
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
      stream.on('close', () => fail('stream closed before the answer ended'));
      stream.end(JSON.stringify(body));
    });
  }

  close(): void {
    this.session?.close();
    this.session = undefined;
  }
}
