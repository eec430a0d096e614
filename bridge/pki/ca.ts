/**
 * Testbed PKI (stands in for GBA/AKMA bootstrapping, docs/protocol.md 7): one CA per operator, PKMF
 * certificates (server and client auth, URI SAN `urn:3gpp:pkmf:plmn:MCC-MNC`, DNS/IP SANs) and UE
 * client certificates (URI SAN `urn:3gpp:supi:imsi-...`). ECDSA P-256 / SHA-256, built with
 * @peculiar/x509 over Node's WebCrypto (no hand-written ASN.1). Private keys are PKCS#8 PEM files
 * written with mode 0600; nothing is overwritten unless `force` is set.
 */
import { X509Certificate as NodeX509 } from 'node:crypto';
import { webcrypto } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import * as x509 from '@peculiar/x509';
import { isPlmnString, isSupi, PKMF_URI_PREFIX, SUPI_URI_PREFIX } from '../../src/pkmf/identity.js';
import { writeFileDurably } from '../state/durable-file.js';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const crypto = webcrypto;
x509.cryptoProvider.set(crypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const KEY_ALG: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGN_ALG: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const DAY_MS = 86_400_000;

export const CA_CERT_FILE = 'ca.crt';
export const CA_KEY_FILE = 'ca.key';

export class PkiError extends Error {
  readonly code = 'EPKI';
  constructor(message: string) {
    super(message);
    this.name = 'PkiError';
  }
}

export interface IssuedFiles {
  certFile: string;
  keyFile: string;
  /** The certificate's SHA-256 fingerprint (colon-separated hex, as Node prints it). */
  fingerprint256: string;
  subject: string;
  notAfter: Date;
}

interface Validity {
  /** Default: now - 5 minutes (tolerates small clock skew between machines). */
  notBefore?: Date;
  /** Default: notBefore + days. */
  notAfter?: Date;
  days?: number;
}

function validity(v: Validity, defaultDays: number): { notBefore: Date; notAfter: Date } {
  const notBefore = v.notBefore ?? new Date(Date.now() - 5 * 60_000);
  const days = v.days ?? defaultDays;
  if (!(days > 0)) throw new PkiError(`days: expected a positive number, got ${days}`);
  const notAfter = v.notAfter ?? new Date(notBefore.getTime() + days * DAY_MS);
  if (notAfter <= notBefore) throw new PkiError('notAfter: must be later than notBefore');
  return { notBefore, notAfter };
}

function serialNumber(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[0] = b[0]! & 0x7f; // positive INTEGER
  if (b[0] === 0) b[0] = 1;
  return Buffer.from(b).toString('hex');
}

function refuseOverwrite(files: string[], force: boolean | undefined): void {
  if (force) return;
  for (const f of files) if (existsSync(f)) throw new PkiError(`${f} exists (use --force to replace it)`);
}

async function writeKeyPair(keyFile: string, key: CryptoKey): Promise<void> {
  const der = await crypto.subtle.exportKey('pkcs8', key);
  mkdirSync(dirname(keyFile), { recursive: true });
  writeFileDurably(keyFile, Buffer.from(x509.PemConverter.encode(der, 'PRIVATE KEY')), 0o600);
}

function writeCert(certFile: string, keyFile: string, cert: x509.X509Certificate): IssuedFiles {
  const pem = cert.toString('pem');
  mkdirSync(dirname(certFile), { recursive: true });
  writeFileDurably(certFile, Buffer.from(`${pem}\n`), 0o644);
  const node = new NodeX509(pem);
  return { certFile, keyFile, fingerprint256: node.fingerprint256, subject: node.subject, notAfter: cert.notAfter };
}

export interface InitCaOptions extends Validity {
  commonName?: string;
  force?: boolean;
}

/** Makes DIR/ca.crt and DIR/ca.key (0600): a self-signed CA for one operator's testbed. */
export async function initCa(dir: string, opts: InitCaOptions = {}): Promise<IssuedFiles> {
  const certFile = join(resolve(dir), CA_CERT_FILE);
  const keyFile = join(resolve(dir), CA_KEY_FILE);
  refuseOverwrite([certFile, keyFile], opts.force);
  const keys = (await crypto.subtle.generateKey(KEY_ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const { notBefore, notAfter } = validity(opts, 3650);
  const cn = opts.commonName ?? 'sl-bridge testbed CA';
  if (/[,=+<>#;"\\]/.test(cn)) throw new PkiError('commonName: must not contain , = + < > # ; " or \\');
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: `CN=${cn}`,
    notBefore,
    notAfter,
    signingAlgorithm: SIGN_ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  mkdirSync(resolve(dir), { recursive: true, mode: 0o700 });
  await writeKeyPair(keyFile, keys.privateKey);
  return writeCert(certFile, keyFile, cert);
}

interface LoadedCa {
  cert: x509.X509Certificate;
  key: CryptoKey;
}

async function loadCa(dir: string): Promise<LoadedCa> {
  const certFile = join(resolve(dir), CA_CERT_FILE);
  const keyFile = join(resolve(dir), CA_KEY_FILE);
  let certPem: string;
  let keyPem: string;
  try {
    certPem = readFileSync(certFile, 'utf8');
    keyPem = readFileSync(keyFile, 'utf8');
  } catch (e) {
    throw new PkiError(`${dir} is not a CA directory (${(e as NodeJS.ErrnoException).code ?? e}); make one with \`sl-bridge ca init ${dir}\``);
  }
  const cert = new x509.X509Certificate(certPem);
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey('pkcs8', x509.PemConverter.decode(keyPem)[0]!, KEY_ALG, false, ['sign']);
  } catch (e) {
    throw new PkiError(`${keyFile}: not an ECDSA P-256 PKCS#8 private key (${(e as Error).message})`);
  }
  return { cert, key };
}

export type CertKind = 'ue' | 'pkmf';

export interface IssueOptions extends Validity {
  /** CA directory made by {@link initCa}. */
  caDir: string;
  kind: CertKind;
  /** UE: the SUPI, `imsi-<digits>`. */
  supi?: string;
  /** PKMF: its PLMN, "MCC-MNC". */
  plmn?: string;
  /** PKMF: DNS names (default ["localhost"]). */
  dns?: string[];
  /** PKMF: IP addresses (default ["127.0.0.1", "::1"]). */
  ips?: string[];
  /** Output path without extension (writes OUT.crt and OUT.key). Default: in the CA directory. */
  out?: string;
  force?: boolean;
}

/** Issues a UE or PKMF certificate signed by the CA in `caDir`. */
export async function issueCertificate(opts: IssueOptions): Promise<IssuedFiles> {
  const ca = await loadCa(opts.caDir);
  const names: x509.JsonGeneralName[] = [];
  let cn: string;
  let eku: string[];
  if (opts.kind === 'ue') {
    if (!isSupi(opts.supi)) throw new PkiError(`supi: expected "imsi-" and 6 to 15 digits, got ${JSON.stringify(opts.supi)}`);
    cn = opts.supi;
    names.push({ type: 'url', value: SUPI_URI_PREFIX + opts.supi });
    eku = [x509.ExtendedKeyUsage.clientAuth];
  } else if (opts.kind === 'pkmf') {
    if (!isPlmnString(opts.plmn)) throw new PkiError(`plmn: expected "MCC-MNC" (e.g. 001-01), got ${JSON.stringify(opts.plmn)}`);
    cn = `PKMF ${opts.plmn}`;
    names.push({ type: 'url', value: PKMF_URI_PREFIX + opts.plmn });
    for (const d of opts.dns ?? ['localhost']) names.push({ type: 'dns', value: d });
    for (const ip of opts.ips ?? ['127.0.0.1', '::1']) names.push({ type: 'ip', value: ip });
    // Server auth for UEs and peers, client auth for calling peers.
    eku = [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth];
  } else {
    throw new PkiError(`kind: expected ue or pkmf, got ${JSON.stringify(opts.kind)}`);
  }
  const base = resolve(opts.out ?? join(opts.caDir, opts.kind === 'ue' ? `ue-${opts.supi}` : `pkmf-${opts.plmn}`));
  const certFile = `${base}.crt`;
  const keyFile = `${base}.key`;
  refuseOverwrite([certFile, keyFile], opts.force);
  const keys = (await crypto.subtle.generateKey(KEY_ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const { notBefore, notAfter } = validity(opts, opts.kind === 'ue' ? 365 : 825);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: `CN=${cn}`,
    issuer: ca.cert.subject,
    notBefore,
    notAfter,
    signingAlgorithm: SIGN_ALG,
    publicKey: keys.publicKey,
    signingKey: ca.key,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension(eku, false),
      new x509.SubjectAlternativeNameExtension(names, false),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });
  await writeKeyPair(keyFile, keys.privateKey);
  return writeCert(certFile, keyFile, cert);
}
