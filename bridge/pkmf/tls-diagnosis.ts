/**
 * TLS failures explained in terms of the configuration that causes them: which certificate, which
 * file, which config key, what to change. OpenSSL's own words ("self-signed certificate in
 * certificate chain", "socket hang up") name none of that, and in a set-up with two operators'
 * CAs they are where people get stuck. Used on both sides:
 *
 * - TLS clients (the UE key client towards its PKMF, a PKMF towards a peer PKMF):
 *   {@link explainClientTlsError} for an error of the connection, {@link refusedAfterHandshake}
 *   for a connection the server closed right after the handshake without a word. With TLS 1.3 the
 *   client's handshake is over before the server has checked the client certificate: a server
 *   that refuses it either sends an alert (`unknown ca`, `bad certificate`, `certificate required`,
 *   ...; OpenSSL-based servers) or just closes (a Node server, ours included, never sends one).
 * - TLS servers (handshake-guard.ts): {@link explainRefusedClient}, the log detail of a client
 *   certificate refused by OpenSSL's verification, by its verify code.
 *
 * Times are compared with the wall clock, as OpenSSL does when it checks validity.
 */
import { X509Certificate } from 'node:crypto';
import { supiFromSubjectAltName } from '../../src/pkmf/identity.js';

/** What a TLS client knows of its own configuration, for messages naming keys and files. */
export interface TlsClientNames {
  /** Who the server is, in messages: `the PKMF`, `the peer PKMF 001-01`. */
  peer: string;
  /** Our certificate (sent as the client certificate): its config key, file and PEM. */
  cert: { key: string; file?: string | undefined; pem: string };
  /** Our private key: its config key and file. */
  privateKey: { key: string; file?: string | undefined };
  /** The CAs we trust to have signed the server's certificate: config key, files, PEMs. */
  ca: { key: string; files?: readonly string[] | undefined; pems: readonly string[] };
  /** The name the server's certificate must hold, and the config key it comes from. */
  name: { key: string; value: string };
  /** What the server's operator must configure to trust our certificate's issuer. */
  serverTrusts: string;
}

export interface TlsDiagnosis {
  /** A stable reason code: an OpenSSL verify code, an ERR_SSL_/ERR_TLS_ code, or PEER_CLOSED_AFTER_HANDSHAKE. */
  reason: string;
  message: string;
}

/** The reason of {@link refusedAfterHandshake}. */
export const PEER_CLOSED_AFTER_HANDSHAKE = 'PEER_CLOSED_AFTER_HANDSHAKE';

/** The reason of a client that sent no certificate: OpenSSL's code when it refuses one itself. */
export const NO_CLIENT_CERTIFICATE = 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE';

/** Verify codes saying a certificate does not chain to a trusted CA. */
const UNTRUSTED_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'CERT_CHAIN_TOO_LONG',
  'PATH_LENGTH_EXCEEDED',
]);

/** TLS alerts by which a server refuses the client's certificate (OpenSSL error codes, then alert texts). */
const REFUSAL_ALERT_CODE = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_[A-Z_]+|UNSUPPORTED_CERTIFICATE|ACCESS_DENIED|DECRYPT_ERROR)$/;
const REFUSAL_ALERT_TEXT = /alert (unknown ca|bad certificate|certificate (?:required|expired|unknown|revoked)|unsupported certificate|access denied|decrypt error)/i;

/** Errors of a connection the server dropped (a refusal, when it happens right after the handshake). */
const DROPPED_CODES = new Set(['ECONNRESET', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE']);

/** A distinguished name on one line (Node separates RDNs with newlines). */
export function oneLineName(dn: string): string {
  return dn.split('\n').filter((s) => s.length > 0).join(', ');
}

function parseCert(pem: string): X509Certificate | undefined {
  try {
    return new X509Certificate(pem);
  } catch {
    return undefined;
  }
}

const iso = (d: string): string => {
  const t = Date.parse(d);
  return Number.isNaN(t) ? d : new Date(t).toISOString();
};

/** `validTo` has passed / `validFrom` is ahead at `nowMs` (undefined: within its validity). */
function validityProblem(cert: X509Certificate, nowMs: number): 'expired' | 'not-yet-valid' | undefined {
  if (Date.parse(cert.validTo) < nowMs) return 'expired';
  if (Date.parse(cert.validFrom) > nowMs) return 'not-yet-valid';
  return undefined;
}

function fileOf(key: string, file: string | undefined): string {
  return file === undefined ? key : `${key} (${file})`;
}

function filesOf(key: string, files: readonly string[] | undefined): string {
  return files === undefined || files.length === 0 ? key : `${key} (${files.join(', ')})`;
}

/** The DNS names and IP addresses of a `subjectaltname` string, as `DNS:x, IP Address:y`. */
function hostNames(subjectAltName: string | undefined): string {
  const names = (subjectAltName ?? '')
    .split(', ')
    .filter((n) => n.startsWith('DNS:') || n.startsWith('IP Address:'));
  return names.length === 0 ? 'no DNS name or IP address' : names.join(', ');
}

/**
 * Our own certificate refused by the server: why, as far as we can tell from our side. `alert`:
 * the TLS alert it sent (UNKNOWN_CA, CERTIFICATE_EXPIRED, ...), if any; `how`: what it did.
 */
function refusedMessage(names: TlsClientNames, nowMs: number, how: string, alert: string | undefined, reason: string): TlsDiagnosis {
  const ours = parseCert(names.cert.pem);
  const refused = `${names.peer} refused our certificate ${fileOf(names.cert.key, names.cert.file)}`;
  if (!ours) return { reason, message: `${refused} (${how})` };
  const problem = validityProblem(ours, nowMs);
  if (problem === 'expired') {
    return { reason: 'CERT_HAS_EXPIRED', message: `${refused}: it expired on ${iso(ours.validTo)}; issue a new one (sl-bridge ca issue) (${how})` };
  }
  if (problem === 'not-yet-valid') {
    return { reason: 'CERT_NOT_YET_VALID', message: `${refused}: it is not valid before ${iso(ours.validFrom)}; check this host's clock and ${names.peer}'s (${how})` };
  }
  const validity = `valid from ${iso(ours.validFrom)} to ${iso(ours.validTo)}`;
  const untrusted = `issuer "${oneLineName(ours.issuer)}" not trusted by it (${names.serverTrusts})`;
  let why: string;
  if (alert === 'UNKNOWN_CA') why = untrusted;
  else if (alert === 'CERTIFICATE_EXPIRED') why = `it finds the certificate expired (${validity} by our clock): check ${names.peer}'s clock`;
  else if (alert === 'CERTIFICATE_REQUIRED') why = 'it received no client certificate from us';
  else why = `${untrusted}, or the certificate (${validity}) is outside its validity by ${names.peer}'s clock; ${names.peer}'s log names the reason`;
  return { reason, message: `${refused}: ${why} (${how})` };
}

/**
 * The server closed the connection right after our TLS handshake, before answering anything: how
 * a Node TLS server (ours) refuses a client certificate, so the likeliest cause by far.
 */
export function refusedAfterHandshake(names: TlsClientNames, nowMs = Date.now()): TlsDiagnosis {
  return refusedMessage(names, nowMs, 'it closed the connection right after the TLS handshake', undefined, PEER_CLOSED_AFTER_HANDSHAKE);
}

/** Our CA certificate of `names.ca` that has expired or is not yet valid, if one is. */
function ourCaProblem(names: TlsClientNames, nowMs: number, problem: 'expired' | 'not-yet-valid'): string | undefined {
  for (const [i, pem] of names.ca.pems.entries()) {
    const ca = parseCert(pem);
    if (!ca || validityProblem(ca, nowMs) !== problem) continue;
    const file = names.ca.files?.[i];
    const where = file === undefined ? names.ca.key : `${file} (${names.ca.key})`;
    return problem === 'expired'
      ? `the CA certificate ${where} expired on ${iso(ca.validTo)}`
      : `the CA certificate ${where} is not valid before ${iso(ca.validFrom)} (check this host's clock)`;
  }
  return undefined;
}

/**
 * An error of a TLS client connection, explained; undefined when it is no TLS matter (connection
 * refused, DNS, ...). `afterHandshake`: our handshake had finished and nothing came back yet (a
 * dropped connection then means the server refused our certificate).
 */
export function explainClientTlsError(
  err: Error & { code?: string; cause?: unknown; cert?: { subjectaltname?: string } },
  names: TlsClientNames,
  opts: { afterHandshake: boolean; nowMs?: number },
): TlsDiagnosis | undefined {
  const nowMs = opts.nowMs ?? Date.now();
  // HTTP/2 cancels the pending stream "caused by" the TLS error.
  if (err.code === 'ERR_HTTP2_STREAM_CANCEL' && err.cause instanceof Error) return explainClientTlsError(err.cause, names, opts);
  const code = err.code ?? '';
  const openssl = `OpenSSL: ${code ? `${code}: ` : ''}${err.message.split('\n')[0]}`;
  const theirs = `${names.peer}'s certificate`;
  const caFiles = filesOf(names.ca.key, names.ca.files);

  const alert = REFUSAL_ALERT_CODE.exec(code)?.[1] ?? REFUSAL_ALERT_TEXT.exec(err.message)?.[1]?.toUpperCase().replace(/ /g, '_');
  if (alert !== undefined) return refusedMessage(names, nowMs, `TLS alert "${alert.toLowerCase().replace(/_/g, ' ')}"`, alert, code || `ALERT_${alert}`);

  if (UNTRUSTED_CODES.has(code)) {
    return { reason: code, message: `${theirs} is not signed by ${caFiles}: ${names.ca.key} must hold the CA of ${names.peer}'s operator (${openssl})` };
  }
  if (code === 'CERT_HAS_EXPIRED') {
    const ca = ourCaProblem(names, nowMs, 'expired');
    return { reason: code, message: ca ? `${ca}: ${names.peer} cannot be verified with it (${openssl})` : `${theirs} has expired: its operator must issue a new one (${openssl})` };
  }
  if (code === 'CERT_NOT_YET_VALID') {
    const ca = ourCaProblem(names, nowMs, 'not-yet-valid');
    return {
      reason: code,
      message: ca ? `${ca}: ${names.peer} cannot be verified with it (${openssl})` : `${theirs} is not valid yet by this host's clock: check this host's clock, and ${names.peer}'s (${openssl})`,
    };
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return {
      reason: code,
      message:
        `${theirs} does not hold the name ${names.name.value} (${names.name.key}): it holds ${hostNames(err.cert?.subjectaltname)}; ` +
        `use one of them in ${names.name.key}, or issue ${names.peer} a certificate for ${names.name.value}`,
    };
  }
  if (code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH' || /key values mismatch/.test(err.message)) {
    return { reason: 'KEY_VALUES_MISMATCH', message: `${fileOf(names.privateKey.key, names.privateKey.file)} is not the private key of the certificate ${fileOf(names.cert.key, names.cert.file)}` };
  }
  // A reset instead of a close: the server dropped the connection with our request unread.
  if (opts.afterHandshake && DROPPED_CODES.has(code)) return refusedAfterHandshake(names, nowMs);
  if (/^ERR_SSL_|^ERR_TLS_|CERT|UNABLE_TO_/.test(code)) return { reason: code, message: `TLS with ${names.peer} failed (${openssl})` };
  return undefined;
}

/**
 * The log detail of a client certificate the server's verification refused, by OpenSSL's verify
 * code: its subject, issuer and validity when the certificate is at hand. `trusted` names the
 * config keys holding the CAs this server trusts for such clients.
 */
export function explainRefusedClient(code: string, cert: X509Certificate | undefined, trusted: string): string {
  if (code === NO_CLIENT_CERTIFICATE) return 'no client certificate';
  const head = cert ? `certificate "${oneLineName(cert.subject)}"${describeSupi(cert)} issued by "${oneLineName(cert.issuer)}": ` : 'certificate ';
  if (UNTRUSTED_CODES.has(code)) return `${head}not signed by a CA this PKMF trusts (${trusted})`;
  if (code === 'CERT_HAS_EXPIRED') return `${head}expired${cert ? ` on ${iso(cert.validTo)}` : ''}`;
  if (code === 'CERT_NOT_YET_VALID') return `${head}not valid yet${cert ? ` (from ${iso(cert.validFrom)}; check the clocks)` : ' (check the clocks)'}`;
  return `${head}refused: ${code}`;
}

function describeSupi(cert: X509Certificate): string {
  const supi = supiFromSubjectAltName(cert.subjectAltName);
  return supi === undefined ? '' : ` (${supi})`;
}
