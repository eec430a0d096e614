/**
 * One Key Request / Key Response exchange from the UE side: TLS 1.3 with the UE's client
 * certificate, one frame out, one frame in, close. Failures reject with a {@link KeyFetchError}
 * whose `code` says what went wrong (connection refused, TLS refused, timeout, a ConnectionError
 * from the PKMF, an invalid answer).
 */
import tls from 'node:tls';
import type { KeyRequestMsg, KeyResponseMsg } from '../../src/pkmf/codec.js';
import { decodeServerFrame, encodeFrame, encodeKeyRequest, FrameDecoder } from '../../src/pkmf/codec.js';
import type { ErrorCode } from '../../src/pkmf/errors.js';
import { errorName } from '../../src/pkmf/errors.js';

export type KeyFetchErrorCode = 'CONNECT' | 'TLS' | 'TIMEOUT' | 'CLOSED' | 'CONNECTION_ERROR' | 'BAD_RESPONSE';

export class KeyFetchError extends Error {
  constructor(
    readonly code: KeyFetchErrorCode,
    message: string,
    /** For CONNECTION_ERROR: the PKMF's code. */
    readonly protocolCode?: ErrorCode,
    /** The underlying error's code (e.g. ECONNREFUSED, ERR_SSL_TLSV1_ALERT_UNKNOWN_CA). */
    readonly sysCode?: string,
  ) {
    super(message);
    this.name = 'KeyFetchError';
  }
}

export interface PkmfEndpoint {
  host: string;
  port: number;
  /** Name to check the PKMF certificate against (default: host). */
  servername?: string | undefined;
}

export interface UeCredentials {
  certPem: string;
  keyPem: string;
  caPem: string[];
  /** Built from the PEMs once (see {@link ueSecureContext}); parsing them per connection is costly. */
  secureContext?: tls.SecureContext;
}

/** The TLS 1.3 client context of a UE: its certificate and key, and the CAs it trusts for PKMFs. */
export function ueSecureContext(creds: UeCredentials): tls.SecureContext {
  return tls.createSecureContext({
    cert: creds.certPem,
    key: creds.keyPem,
    ca: creds.caPem,
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
  });
}

export interface RequestKeysOptions {
  timeoutMs?: number;
  maxFrameBytes?: number;
}

const TLS_CODE_RE = /^ERR_SSL_|^ERR_TLS_|CERT|UNABLE_TO_|SELF_SIGNED|DEPTH_ZERO/;
const CONNECT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EAI_AGAIN', 'EADDRNOTAVAIL']);

export function requestKeys(
  endpoint: PkmfEndpoint,
  creds: UeCredentials,
  request: KeyRequestMsg,
  opts: RequestKeysOptions = {},
): Promise<KeyResponseMsg> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const decoder = new FrameDecoder(opts.maxFrameBytes ?? 1024 * 1024);
  return new Promise<KeyResponseMsg>((resolvePromise, reject) => {
    let settled = false;
    const servername = endpoint.servername ?? endpoint.host;
    const isIp = /^[0-9.]+$|:/.test(servername);
    const socket = tls.connect({
      host: endpoint.host,
      port: endpoint.port,
      ...(isIp ? {} : { servername }),
      // With an IP address, Node checks the certificate's IP SANs against it.
      checkServerIdentity: (_host, cert) => tls.checkServerIdentity(servername, cert),
      secureContext: creds.secureContext ?? ueSecureContext(creds),
    });
    const finish = (err: KeyFetchError | undefined, res?: KeyResponseMsg): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolvePromise(res!);
    };
    const timer = setTimeout(() => finish(new KeyFetchError('TIMEOUT', `no Key Response within ${timeoutMs} ms`)), timeoutMs);
    socket.once('secureConnect', () => {
      socket.write(encodeFrame(encodeKeyRequest(request), 1024 * 1024));
    });
    socket.on('data', (chunk: Buffer) => {
      const frames = decoder.push(chunk);
      if (decoder.error && frames.length === 0) {
        finish(new KeyFetchError('BAD_RESPONSE', decoder.error.message));
        return;
      }
      for (const f of frames) {
        let msg;
        try {
          msg = decodeServerFrame(f);
        } catch (e) {
          finish(new KeyFetchError('BAD_RESPONSE', (e as Error).message));
          return;
        }
        if (msg.kind === 'connection-error') {
          finish(new KeyFetchError('CONNECTION_ERROR', `PKMF closed the connection: ${errorName(msg.code)}: ${msg.message}`, msg.code));
          return;
        }
        if (msg.response.transactionId !== request.transactionId) {
          finish(new KeyFetchError('BAD_RESPONSE', `transaction ID ${msg.response.transactionId} answers none of ours`));
          return;
        }
        finish(undefined, msg.response);
        return;
      }
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      const code = e.code ?? '';
      const kind: KeyFetchErrorCode = TLS_CODE_RE.test(code) ? 'TLS' : CONNECT_CODES.has(code) ? 'CONNECT' : 'CLOSED';
      finish(new KeyFetchError(kind, e.message, undefined, code || undefined));
    });
    socket.on('close', () => finish(new KeyFetchError('CLOSED', 'the PKMF closed the connection without answering')));
  });
}
