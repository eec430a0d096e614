/**
 * One Key Request / Key Response exchange from the UE side: TLS 1.3 with the UE's client
 * certificate, one frame out, one frame in, close. Failures reject with a {@link KeyFetchError}
 * whose `code` says what went wrong (connection refused, TLS refused, timeout, a ConnectionError
 * from the PKMF, an invalid answer). TLS failures are explained in terms of the `keys:` config
 * (tls-diagnosis.ts): which certificate or CA file, which key, what to change.
 */
import tls from 'node:tls';
import type { KeyRequestMsg, KeyResponseMsg } from '../../src/pkmf/codec.js';
import { decodeServerFrame, encodeFrame, encodeKeyRequest, FrameDecoder } from '../../src/pkmf/codec.js';
import { ErrorCode, errorName } from '../../src/pkmf/errors.js';
import type { TlsClientNames } from './tls-diagnosis.js';
import { explainClientTlsError, refusedAfterHandshake } from './tls-diagnosis.js';

export type KeyFetchErrorCode = 'CONNECT' | 'TLS' | 'TIMEOUT' | 'CLOSED' | 'CONNECTION_ERROR' | 'BAD_RESPONSE';

export class KeyFetchError extends Error {
  constructor(
    readonly code: KeyFetchErrorCode,
    message: string,
    /** For CONNECTION_ERROR: the PKMF's code. */
    readonly protocolCode?: ErrorCode,
    /**
     * The underlying error's code (e.g. ECONNREFUSED, ERR_SSL_TLSV1_ALERT_UNKNOWN_CA), or for TLS
     * the reason tls-diagnosis.ts found (e.g. CERT_HAS_EXPIRED, PEER_CLOSED_AFTER_HANDSHAKE).
     */
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
  /** The files of keys.tls.cert, .key and .ca, named in errors when known. */
  certFile?: string | undefined;
  keyFile?: string | undefined;
  caFiles?: readonly string[] | undefined;
}

/** The `keys:` config keys and files behind a UE's TLS set-up, for error messages. */
function ueTlsNames(creds: UeCredentials, endpoint?: PkmfEndpoint): TlsClientNames {
  return {
    peer: 'the PKMF',
    cert: { key: 'keys.tls.cert', file: creds.certFile, pem: creds.certPem },
    privateKey: { key: 'keys.tls.key', file: creds.keyFile },
    ca: { key: 'keys.tls.ca', files: creds.caFiles, pems: creds.caPem },
    name:
      endpoint?.servername !== undefined
        ? { key: 'keys.pkmf.servername', value: endpoint.servername }
        : { key: 'keys.pkmf.host', value: endpoint?.host ?? '' },
    serverTrusts: 'a PKMF trusts its tls.ca and, for roaming UEs, the ca of its peers with roaming: true',
  };
}

/** The TLS 1.3 client context of a UE: its certificate and key, and the CAs it trusts for PKMFs. */
export function ueSecureContext(creds: UeCredentials): tls.SecureContext {
  try {
    return tls.createSecureContext({
      cert: creds.certPem,
      key: creds.keyPem,
      ca: creds.caPem,
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
    });
  } catch (e) {
    const why = explainClientTlsError(e as Error, ueTlsNames(creds), { afterHandshake: false });
    throw new KeyFetchError('TLS', why?.message ?? `cannot use keys.tls.cert, keys.tls.key and keys.tls.ca: ${(e as Error).message}`, undefined, why?.reason);
  }
}

export interface RequestKeysOptions {
  timeoutMs?: number;
  maxFrameBytes?: number;
}

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
    /** Our TLS handshake is over, and nothing came back yet: a close now is the PKMF refusing our certificate. */
    let handshakeDone = false;
    let answered = false;
    const names = ueTlsNames(creds, endpoint);
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
      handshakeDone = true;
      socket.write(encodeFrame(encodeKeyRequest(request), 1024 * 1024));
    });
    socket.on('data', (chunk: Buffer) => {
      answered = true;
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
          const whose = msg.code === ErrorCode.IDENTITY_REJECTED ? ` (our certificate: keys.tls.cert${creds.certFile === undefined ? '' : ` (${creds.certFile})`})` : '';
          finish(new KeyFetchError('CONNECTION_ERROR', `PKMF closed the connection: ${errorName(msg.code)}: ${msg.message}${whose}`, msg.code));
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
      const tlsFailure = explainClientTlsError(e, names, { afterHandshake: handshakeDone && !answered });
      if (tlsFailure) finish(new KeyFetchError('TLS', tlsFailure.message, undefined, tlsFailure.reason));
      else finish(new KeyFetchError(CONNECT_CODES.has(code) ? 'CONNECT' : 'CLOSED', e.message, undefined, code || undefined));
    });
    socket.on('close', () => {
      if (handshakeDone && !answered) {
        const refused = refusedAfterHandshake(names);
        finish(new KeyFetchError('TLS', refused.message, undefined, refused.reason));
      } else {
        finish(new KeyFetchError('CLOSED', 'the PKMF closed the connection without answering'));
      }
    });
  });
}
