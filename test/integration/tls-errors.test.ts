/**
 * TLS and PKI failures explained on both sides, with real certificates (bridge/pki/ca.ts: a second
 * CA, expired and not-yet-valid certificates, a certificate for other names, a key of another
 * certificate) and real node:tls / HTTP/2 connections on loopback:
 *
 * - the UE side (key client, its status as the daemon reports it, `sl-bridge keys fetch`, the
 *   daemon's `keys.lastError`) says the cause and names the config key and file: the PKMF refused
 *   our certificate (issuer not trusted / expired / not yet valid), the PKMF's certificate is not
 *   signed by keys.tls.ca, has expired, is not valid yet, does not hold keys.pkmf.servername; TLS
 *   alerts of an OpenSSL server mapped the same way;
 * - the PKMF side counts refused handshakes by OpenSSL's reason (`handshakesRefused`), logs them at
 *   warn with the certificate's subject and issuer, rate-limited, and gives a refused client
 *   nothing (no answer, no session ticket to resume);
 * - the inter-PKMF port, where the visited PKMF is the client: the same, naming tls.cert and
 *   peers[i].ca / peers[i].url;
 * - a key that does not match its certificate is a config error naming both files.
 */
import { execFile, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initCa, issueCertificate } from '../../bridge/pki/ca.js';
import { pkmfConfigFromObject } from '../../bridge/pkmf/config.js';
import { KeyClient } from '../../bridge/pkmf/key-client.js';
import { PeerClient } from '../../bridge/pkmf/peer-client.js';
import type { RunningPkmf } from '../../bridge/pkmf/server.js';
import { startPkmf } from '../../bridge/pkmf/server.js';
import type { KeyFetchError } from '../../bridge/pkmf/ue-client.js';
import { requestKeys, ueSecureContext } from '../../bridge/pkmf/ue-client.js';
import type { UeKeyConfig } from '../../bridge/pkmf/ue-config.js';
import { ueKeyConfigFromObject } from '../../bridge/pkmf/ue-config.js';
import { encodeFrame, encodeKeyRequest } from '../../src/pkmf/codec.js';
import { ErrorCode } from '../../src/pkmf/errors.js';
import { DaemonProcess, DaemonTestbed } from '../fixtures/daemon-testbed.js';
import type { OperatorPki } from '../fixtures/pkmf-testbed.js';
import { BIN, freePort, issueUe, makeOperatorPki, OP1, OP2, pkmfConfigDoc, supiOf, tmpDir, writeYaml } from '../fixtures/pkmf-testbed.js';

const exec = promisify(execFile);
const GROUP = 0x0e0001;
const UE = supiOf(OP1, 1);
const ROGUE_PLMN = '001-09';
const DAY = 86_400_000;
const silent = pino({ level: 'silent' });
const PKMF_TRUSTS = 'a PKMF trusts its tls.ca and, for roaming UEs, the ca of its peers with roaming: true';
const CLOSED = 'it closed the connection right after the TLS handshake';

interface Cert {
  certFile: string;
  keyFile: string;
}

let t: ReturnType<typeof tmpDir>;
let op1: OperatorPki;
let op2: OperatorPki;
/** A second CA, trusted by nobody here. */
let rogue: OperatorPki;
let ue: Cert;
let rogueUe: Cert;
let expiredUe: Cert;
let futureUe: Cert;
const running: RunningPkmf[] = [];
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  t = tmpDir('sl-bridge-tls-errors-');
  op1 = await makeOperatorPki(join(t.dir, 'op1'), OP1);
  op2 = await makeOperatorPki(join(t.dir, 'op2'), OP2);
  rogue = await makeOperatorPki(join(t.dir, 'rogue'), ROGUE_PLMN);
  ue = await issueUe(op1, UE);
  rogueUe = await issueUe(rogue, UE, { out: join(t.dir, 'rogue', 'ue') });
  expiredUe = await issueUe(op1, UE, { out: join(t.dir, 'op1', 'ue-expired'), notBefore: new Date(Date.now() - 3 * DAY), notAfter: new Date(Date.now() - DAY) });
  futureUe = await issueUe(op1, UE, { out: join(t.dir, 'op1', 'ue-future'), notBefore: new Date(Date.now() + DAY), notAfter: new Date(Date.now() + 3 * DAY) });
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await Promise.all(running.splice(0).map((p) => p.close()));
});

afterAll(() => t?.cleanup());

/** Collected JSON log lines of a PKMF. */
function logSink(): { logger: pino.Logger; lines: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter((l) => l.length > 0));
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

let n = 0;
/** op1's PKMF (UE port; op2 a roaming partner), with `tls` overriding its certificate. */
async function pkmf(opts: { tls?: Record<string, string>; logger?: pino.Logger; extra?: Record<string, unknown> } = {}): Promise<RunningPkmf> {
  const doc = pkmfConfigDoc(op1, join(t.dir, `pkmf${++n}.db`), {
    groups: [{ id: GROUP, nea: 2, nia: 2, members: [UE] }],
    peers: [{ plmn: OP2, url: 'https://127.0.0.1:9', ca: op2.caCert, roaming: true }],
    ...opts.extra,
  });
  if (opts.tls) doc.tls = { ...(doc.tls as object), ...opts.tls };
  const p = await startPkmf(pkmfConfigFromObject(doc), { logger: opts.logger ?? silent });
  running.push(p);
  return p;
}

function ueConfig(port: number, opts: { cert?: Cert; ca?: string | string[]; pkmf?: Record<string, unknown> } = {}): UeKeyConfig {
  const cert = opts.cert ?? ue;
  return ueKeyConfigFromObject(
    {
      homePlmn: OP1,
      tls: { cert: cert.certFile, key: cert.keyFile, ca: opts.ca ?? op1.caCert },
      pkmf: { host: '127.0.0.1', port, servername: 'localhost', requestTimeoutSec: 5, ...opts.pkmf },
      groups: [{ id: GROUP, nea: [2], nia: [2] }],
      stateDir: join(t.dir, 'state', `ue${++n}`),
    },
    { file: 'ue.yaml' },
  );
}

/** One key request of a KeyClient (as the daemon runs it): its error and its status's lastError. */
async function fetchFails(config: UeKeyConfig): Promise<{ error: KeyFetchError; lastError: { code: string; message: string } | undefined }> {
  const client = new KeyClient(config, { logger: silent });
  const report = await client.fetchOnce();
  await client.stop();
  expect(report.ok).toBe(false);
  return { error: report.error!, lastError: client.status().lastError };
}

const iso = (d: string): string => new Date(Date.parse(d)).toISOString();
const certOf = (file: string): X509Certificate => new X509Certificate(readFileSync(file));
const validity = (file: string): string => `valid from ${iso(certOf(file).validFrom)} to ${iso(certOf(file).validTo)}`;
const warnLinesOf = (lines: Record<string, unknown>[], msg: RegExp): Record<string, unknown>[] => lines.filter((l) => l.level === 40 && msg.test(String(l.msg)));

describe('UE side: our certificate refused by the PKMF', () => {
  it('a certificate of a CA the PKMF does not trust: names keys.tls.cert, its file and its issuer; the PKMF logs subject and issuer at warn', async () => {
    const log = logSink();
    const p = await pkmf({ logger: log.logger });
    const { error, lastError } = await fetchFails(ueConfig(p.ueAddress.port, { cert: rogueUe }));
    const expected =
      `the PKMF refused our certificate keys.tls.cert (${rogueUe.certFile}): issuer "CN=sl-bridge testbed CA ${ROGUE_PLMN}" not trusted by it (${PKMF_TRUSTS}), ` +
      `or the certificate (${validity(rogueUe.certFile)}) is outside its validity by the PKMF's clock; the PKMF's log names the reason (${CLOSED})`;
    expect(error.message).toBe(expected);
    expect([error.code, error.sysCode]).toEqual(['TLS', 'PEER_CLOSED_AFTER_HANDSHAKE']);
    // What the daemon's status shows as keys.lastError (`${code}: ${message}`).
    expect(lastError).toEqual({ code: 'TLS', message: expected });

    // The PKMF: counted by OpenSSL's reason, nothing reached the service, one warn line naming the certificate.
    await expect.poll(() => p.stats.ue.handshakesRefused).toEqual({ UNABLE_TO_VERIFY_LEAF_SIGNATURE: 1 });
    expect(p.stats.ue.connections).toBe(0);
    expect(p.service.stats.ueRequests).toBe(0);
    const [line] = warnLinesOf(log.lines(), /^UE connections failed before authentication/);
    expect(line).toMatchObject({
      failed: 1,
      reasons: { UNABLE_TO_VERIFY_LEAF_SIGNATURE: 1 },
      details: {
        UNABLE_TO_VERIFY_LEAF_SIGNATURE: `127.0.0.1: certificate "CN=${UE}" (${UE}) issued by "CN=sl-bridge testbed CA ${ROGUE_PLMN}": not signed by a CA this PKMF trusts (tls.ca, or peers[].ca of a peer with roaming: true)`,
      },
    });
  });

  it('an expired certificate and one not valid yet: say so with the date, and the PKMF logs it', async () => {
    const log = logSink();
    const p = await pkmf({ logger: log.logger });
    const expired = await fetchFails(ueConfig(p.ueAddress.port, { cert: expiredUe }));
    expect(expired.error.message).toBe(
      `the PKMF refused our certificate keys.tls.cert (${expiredUe.certFile}): it expired on ${iso(certOf(expiredUe.certFile).validTo)}; issue a new one (sl-bridge ca issue) (${CLOSED})`,
    );
    expect(expired.error.sysCode).toBe('CERT_HAS_EXPIRED');
    const future = await fetchFails(ueConfig(p.ueAddress.port, { cert: futureUe }));
    expect(future.error.message).toBe(
      `the PKMF refused our certificate keys.tls.cert (${futureUe.certFile}): it is not valid before ${iso(certOf(futureUe.certFile).validFrom)}; check this host's clock and the PKMF's (${CLOSED})`,
    );
    expect(future.error.sysCode).toBe('CERT_NOT_YET_VALID');

    await expect.poll(() => p.stats.ue.handshakesRefused).toEqual({ CERT_HAS_EXPIRED: 1, CERT_NOT_YET_VALID: 1 });
    await p.close(); // flushes the summary of the second refusal
    const details = Object.assign({}, ...warnLinesOf(log.lines(), /^UE connections failed/).map((l) => l.details)) as Record<string, string>;
    expect(details).toEqual({
      CERT_HAS_EXPIRED: `127.0.0.1: certificate "CN=${UE}" (${UE}) issued by "CN=sl-bridge testbed CA ${OP1}": expired on ${iso(certOf(expiredUe.certFile).validTo)}`,
      CERT_NOT_YET_VALID: `127.0.0.1: certificate "CN=${UE}" (${UE}) issued by "CN=sl-bridge testbed CA ${OP1}": not valid yet (from ${iso(certOf(futureUe.certFile).validFrom)}; check the clocks)`,
    });
  });

  it('`sl-bridge keys fetch` prints the same, and exits 1', async () => {
    const p = await pkmf();
    const config = writeYaml(join(t.dir, 'cli', 'ue.yaml'), {
      keys: {
        homePlmn: OP1,
        tls: { cert: rogueUe.certFile, key: rogueUe.keyFile, ca: op1.caCert },
        pkmf: { host: '127.0.0.1', port: p.ueAddress.port, servername: 'localhost' },
        groups: [{ id: GROUP, nea: [2], nia: [2] }],
        stateDir: join(t.dir, 'cli', 'state'),
      },
    });
    const r = await exec(process.execPath, [BIN, 'keys', 'fetch', '--config', config]).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `keys fetch: 127.0.0.1:${p.ueAddress.port}: TLS: the PKMF refused our certificate keys.tls.cert (${rogueUe.certFile}): issuer "CN=sl-bridge testbed CA ${ROGUE_PLMN}" not trusted by it (${PKMF_TRUSTS})`,
    );
  });

  it('the daemon reports it as keys.lastError in its status', async () => {
    const bed = await DaemonTestbed.create(join(t.dir, 'daemon'), 1);
    cleanups.push(() => bed.close());
    const cert = await issueUe(rogue, supiOf(OP1, 1), { out: join(t.dir, 'daemon', 'rogue-ue1') });
    // Nothing listens at the stack endpoint: ZeroMQ just keeps trying, the key client is what matters.
    const files = await bed.ue(1, `tcp://127.0.0.1:${await freePort()}`, { keys: { tls: { cert: cert.certFile, key: cert.keyFile, ca: bed.op.caCert } } });
    await bed.startPkmf();
    const daemon = new DaemonProcess(files);
    cleanups.push(() => daemon.stop());
    const status = await daemon.waitFor((s) => typeof s.keys.lastError === 'string' && s.keys.lastError.startsWith('TLS'), 'a TLS error in keys.lastError');
    expect(status.keys.lastError).toBe(
      `TLS: the PKMF refused our certificate keys.tls.cert (${cert.certFile}): issuer "CN=sl-bridge testbed CA ${ROGUE_PLMN}" not trusted by it (${PKMF_TRUSTS}), ` +
        `or the certificate (${validity(cert.certFile)}) is outside its validity by the PKMF's clock; the PKMF's log names the reason (${CLOSED})`,
    );
  });

  const openssl = ['/usr/bin/openssl', '/bin/openssl'].find((f) => existsSync(f));
  it.skipIf(openssl === undefined)('TLS alerts of an OpenSSL server (unknown ca, certificate expired) are mapped to the same messages', async () => {
    const port = await freePort();
    const server = spawn(
      openssl!,
      ['s_server', '-accept', `127.0.0.1:${port}`, '-cert', op1.pkmfCert, '-key', op1.pkmfKey, '-CAfile', op1.caCert, '-Verify', '1', '-verify_return_error', '-tls1_3'],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    cleanups.push(() => server.kill());
    await new Promise<void>((resolvePromise, reject) => {
      let out = '';
      server.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('ACCEPT')) resolvePromise();
      });
      server.once('exit', (code) => reject(new Error(`openssl s_server exited (${code}): ${out}`)));
    });
    const unknownCa = await fetchFails(ueConfig(port, { cert: rogueUe }));
    expect(unknownCa.error.message).toBe(
      `the PKMF refused our certificate keys.tls.cert (${rogueUe.certFile}): issuer "CN=sl-bridge testbed CA ${ROGUE_PLMN}" not trusted by it (${PKMF_TRUSTS}) (TLS alert "unknown ca")`,
    );
    expect(unknownCa.error.sysCode).toBe('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA');
    const expired = await fetchFails(ueConfig(port, { cert: expiredUe }));
    expect(expired.error.message).toBe(
      `the PKMF refused our certificate keys.tls.cert (${expiredUe.certFile}): it expired on ${iso(certOf(expiredUe.certFile).validTo)}; issue a new one (sl-bridge ca issue) (TLS alert "certificate expired")`,
    );
  });
});

describe("UE side: the PKMF's certificate refused by us", () => {
  it('not signed by keys.tls.ca: names the key and every file in it', async () => {
    const p = await pkmf();
    const { error } = await fetchFails(ueConfig(p.ueAddress.port, { ca: [rogue.caCert, op2.caCert] }));
    expect(error.message).toBe(
      `the PKMF's certificate is not signed by keys.tls.ca (${rogue.caCert}, ${op2.caCert}): keys.tls.ca must hold the CA of the PKMF's operator ` +
        '(OpenSSL: SELF_SIGNED_CERT_IN_CHAIN: self-signed certificate in certificate chain)',
    );
    expect([error.code, error.sysCode]).toEqual(['TLS', 'SELF_SIGNED_CERT_IN_CHAIN']);
  });

  it('expired, or not valid yet', async () => {
    const expiredCert = await issueCertificate({ caDir: op1.dir, kind: 'pkmf', plmn: OP1, out: join(t.dir, 'op1', 'pkmf-expired'), notBefore: new Date(Date.now() - 3 * DAY), notAfter: new Date(Date.now() - DAY) });
    const expired = await pkmf({ tls: { cert: expiredCert.certFile, key: expiredCert.keyFile } });
    expect((await fetchFails(ueConfig(expired.ueAddress.port))).error.message).toBe(
      "the PKMF's certificate has expired: its operator must issue a new one (OpenSSL: CERT_HAS_EXPIRED: certificate has expired)",
    );
    const futureCert = await issueCertificate({ caDir: op1.dir, kind: 'pkmf', plmn: OP1, out: join(t.dir, 'op1', 'pkmf-future'), notBefore: new Date(Date.now() + DAY), notAfter: new Date(Date.now() + 3 * DAY) });
    const future = await pkmf({ tls: { cert: futureCert.certFile, key: futureCert.keyFile } });
    expect((await fetchFails(ueConfig(future.ueAddress.port))).error.message).toBe(
      "the PKMF's certificate is not valid yet by this host's clock: check this host's clock, and the PKMF's (OpenSSL: CERT_NOT_YET_VALID: certificate is not yet valid)",
    );
  });

  it('our CA in keys.tls.ca has expired: names that file', async () => {
    const oldDir = join(t.dir, 'old-ca');
    const oldCa = await initCa(oldDir, { commonName: 'expired CA', notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() - DAY) });
    const cert = await issueCertificate({ caDir: oldDir, kind: 'pkmf', plmn: OP1, out: join(oldDir, 'pkmf') });
    const p = await pkmf({ tls: { cert: cert.certFile, key: cert.keyFile } });
    const { error } = await fetchFails(ueConfig(p.ueAddress.port, { ca: [op1.caCert, oldCa.certFile] }));
    expect(error.message).toBe(
      `the CA certificate ${oldCa.certFile} (keys.tls.ca) expired on ${iso(certOf(oldCa.certFile).validTo)}: the PKMF cannot be verified with it (OpenSSL: CERT_HAS_EXPIRED: certificate has expired)`,
    );
  });

  it('a certificate for other names: says which name was expected, from which key, and what the certificate holds', async () => {
    const other = await issueCertificate({ caDir: op1.dir, kind: 'pkmf', plmn: OP1, out: join(t.dir, 'op1', 'pkmf-other-names'), dns: ['pkmf.op1.example'], ips: ['10.9.9.9'] });
    const p = await pkmf({ tls: { cert: other.certFile, key: other.keyFile } });
    const holds = 'it holds DNS:pkmf.op1.example, IP Address:10.9.9.9';
    expect((await fetchFails(ueConfig(p.ueAddress.port))).error.message).toBe(
      `the PKMF's certificate does not hold the name localhost (keys.pkmf.servername): ${holds}; use one of them in keys.pkmf.servername, or issue the PKMF a certificate for localhost`,
    );
    // Without a servername, the address is checked (IP SANs).
    const byHost = ueConfig(p.ueAddress.port, { pkmf: { servername: undefined } });
    expect((await fetchFails(byHost)).error.message).toBe(
      `the PKMF's certificate does not hold the name 127.0.0.1 (keys.pkmf.host): ${holds}; use one of them in keys.pkmf.host, or issue the PKMF a certificate for 127.0.0.1`,
    );
  });
});

describe('a private key that does not match its certificate: a config error naming both files', () => {
  it('in a UE config (keys.tls.key) and in a PKMF config (tls.key)', async () => {
    const other = await issueUe(op1, supiOf(OP1, 2));
    const doc = { homePlmn: OP1, tls: { cert: ue.certFile, key: other.keyFile, ca: op1.caCert }, pkmf: { port: 1 }, groups: [{ id: GROUP }], stateDir: join(t.dir, 'state', 'mismatch') };
    // The same PEMs handed to the TLS layer directly (the config check bypassed).
    const creds = { certPem: readFileSync(ue.certFile, 'utf8'), keyPem: readFileSync(other.keyFile, 'utf8'), caPem: [readFileSync(op1.caCert, 'utf8')], certFile: ue.certFile, keyFile: other.keyFile };
    expect(() => ueSecureContext(creds)).toThrow(`keys.tls.key (${other.keyFile}) is not the private key of the certificate keys.tls.cert (${ue.certFile})`);
    expect(() => ueKeyConfigFromObject(doc, { file: 'ue.yaml' })).toThrow(
      `ue.yaml: keys.tls.key: expected the private key of the certificate in keys.tls.cert (${ue.certFile}), but ${other.keyFile} holds another key`,
    );
    const pkmfDoc = pkmfConfigDoc(op1, join(t.dir, 'mismatch.db'));
    pkmfDoc.tls = { cert: op1.pkmfCert, key: op2.pkmfKey, ca: op1.caCert };
    expect(() => pkmfConfigFromObject(pkmfDoc, { file: 'pkmf.yaml' })).toThrow(
      `pkmf.yaml: tls.key: expected the private key of tls.cert (${op1.pkmfCert}), but ${op2.pkmfKey} holds another key`,
    );
  });
});

describe('PKMF side: refused handshakes', () => {
  it('are counted by reason, and logged rate-limited: the first at once, the rest summed up with their count', async () => {
    const log = logSink();
    const p = await pkmf({ logger: log.logger });
    const N = 20;
    const config = ueConfig(p.ueAddress.port, { cert: rogueUe });
    for (let i = 0; i < N; i++) await fetchFails(config);
    await expect.poll(() => p.stats.ue.handshakesRefused.UNABLE_TO_VERIFY_LEAF_SIGNATURE).toBe(N);
    expect(p.stats.ue.handshakeFailures).toBe(N);
    // Within the interval (10 s): only the first line so far.
    expect(warnLinesOf(log.lines(), /^UE connections failed/)).toHaveLength(1);
    await p.close();
    const lines = warnLinesOf(log.lines(), /^UE connections failed/);
    expect(lines.map((l) => l.failed)).toEqual([1, N - 1]);
    expect(lines[1]).toMatchObject({ reasons: { UNABLE_TO_VERIFY_LEAF_SIGNATURE: N - 1 }, details: { UNABLE_TO_VERIFY_LEAF_SIGNATURE: expect.stringContaining(`issued by "CN=sl-bridge testbed CA ${ROGUE_PLMN}"`) } });
  });

  it('give a refused client nothing: no answer to its request, no session ticket to come back with', async () => {
    const p = await pkmf();
    const request = encodeFrame(encodeKeyRequest({ transactionId: 1, homePlmn: OP1, groups: [{ groupId: GROUP, supportedNea: [2], supportedNia: [2] }] }));
    const attempt = (opts: tls.ConnectionOptions): Promise<{ data: number; tickets: Buffer[] }> =>
      new Promise((resolvePromise) => {
        const got = { data: 0, tickets: [] as Buffer[] };
        const s = tls.connect({ host: '127.0.0.1', port: p.ueAddress.port, servername: 'localhost', ca: readFileSync(op1.caCert), minVersion: 'TLSv1.3', ...opts });
        s.on('secureConnect', () => s.write(request));
        s.on('session', (ticket: Buffer) => got.tickets.push(ticket));
        s.on('data', (d: Buffer) => {
          got.data += d.length;
          s.end();
        });
        s.on('error', () => undefined);
        s.on('close', () => resolvePromise(got));
      });
    const refused = await attempt({ cert: readFileSync(rogueUe.certFile), key: readFileSync(rogueUe.keyFile) });
    const noCert = await attempt({});
    expect(refused).toEqual({ data: 0, tickets: [] });
    expect(noCert).toEqual({ data: 0, tickets: [] });
    expect(p.stats.ue.handshakesRefused).toEqual({ UNABLE_TO_VERIFY_LEAF_SIGNATURE: 1, ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE: 1 });
    expect(p.stats.ue.connections).toBe(0);
    // A UE that is let in gets its answer: the check above can tell the difference.
    const admitted = await attempt({ cert: readFileSync(ue.certFile), key: readFileSync(ue.keyFile) }).catch(() => undefined);
    expect(admitted?.data).toBeGreaterThan(4);
  });
});

describe('inter-PKMF port: the visited PKMF is the client', () => {
  it("our certificate refused by the home PKMF: the visited PKMF's log names tls.cert and the home's peers entry; the home logs the reason", async () => {
    const homeLog = logSink();
    // op1's PKMF takes op2 for a peer, but with the wrong CA for it.
    const home = await startPkmf(
      pkmfConfigFromObject(
        pkmfConfigDoc(op1, join(t.dir, `home${++n}.db`), {
          peerListen: { host: '127.0.0.1', port: 0 },
          groups: [{ id: GROUP, nea: 2, nia: 2, members: [UE] }],
          peers: [{ plmn: OP2, ca: rogue.caCert, url: 'https://127.0.0.1:9', roaming: true }],
        }),
      ),
      { logger: homeLog.logger },
    );
    running.push(home);
    const visitedLog = logSink();
    const visited = await startPkmf(
      pkmfConfigFromObject(
        pkmfConfigDoc(op2, join(t.dir, `visited${++n}.db`), {
          peers: [{ plmn: OP1, ca: op1.caCert, url: `https://127.0.0.1:${home.peerAddress!.port}`, roaming: true }],
        }),
      ),
      { logger: visitedLog.logger },
    );
    running.push(visited);
    // The roaming UE asks the visited PKMF, which relays to the home PKMF.
    const creds = { certPem: readFileSync(ue.certFile, 'utf8'), keyPem: readFileSync(ue.keyFile, 'utf8'), caPem: [readFileSync(op2.caCert, 'utf8')] };
    const res = await requestKeys({ host: '127.0.0.1', port: visited.ueAddress.port, servername: 'localhost' }, creds, {
      transactionId: 5,
      homePlmn: OP1,
      groups: [{ groupId: GROUP, supportedNea: [2], supportedNia: [2] }],
    });
    expect(res.groups).toEqual([{ groupId: GROUP, ok: false, error: ErrorCode.HOME_NETWORK_UNREACHABLE }]);
    const unreachable = visitedLog.lines().find((l) => l.msg === 'peer PKMF unreachable');
    expect(unreachable?.err).toBe(
      `peer PKMF ${OP1} unreachable: the peer PKMF ${OP1} refused our certificate tls.cert (${op2.pkmfCert}): issuer "CN=sl-bridge testbed CA ${OP2}" not trusted by it ` +
        `(its peers entry for ${OP2} must have our operator's CA as ca), or the certificate (${validity(op2.pkmfCert)}) is outside its validity by the peer PKMF ${OP1}'s clock; ` +
        `the peer PKMF ${OP1}'s log names the reason (${CLOSED})`,
    );
    await expect.poll(() => home.stats.peer!.handshakesRefused.UNABLE_TO_VERIFY_LEAF_SIGNATURE).toBe(1);
    const [line] = warnLinesOf(homeLog.lines(), /^peer PKMF connections failed before authentication/);
    expect(line).toMatchObject({ reasons: { UNABLE_TO_VERIFY_LEAF_SIGNATURE: 1 }, details: { UNABLE_TO_VERIFY_LEAF_SIGNATURE: '127.0.0.1: certificate not signed by a CA this PKMF trusts (peers[].ca)' } });
  });

  it("the peer's certificate not signed by peers[i].ca, or not holding the host of peers[i].url", async () => {
    const other = await issueCertificate({ caDir: op1.dir, kind: 'pkmf', plmn: OP1, out: join(t.dir, 'op1', 'pkmf-peer-names'), dns: ['pkmf.op1.example'], ips: ['10.9.9.9'] });
    const home = await pkmf({ tls: { cert: other.certFile, key: other.keyFile }, extra: { peerListen: { host: '127.0.0.1', port: 0 } } });
    const call = async (caFile: string): Promise<string> => {
      const client = new PeerClient({
        plmn: OP1,
        url: new URL(`https://127.0.0.1:${home.peerAddress!.port}`),
        caPem: [readFileSync(caFile, 'utf8')],
        certPem: readFileSync(op2.pkmfCert, 'utf8'),
        keyPem: readFileSync(op2.pkmfKey, 'utf8'),
        timeoutMs: 5_000,
        configNames: { peerIndex: 3, ownPlmn: OP2, certFile: op2.pkmfCert, keyFile: op2.pkmfKey, caFiles: [caFile] },
      });
      try {
        await client.postKeyRequest({});
        return 'answered';
      } catch (e) {
        return (e as Error).message;
      } finally {
        client.close();
      }
    };
    expect(await call(rogue.caCert)).toBe(
      `peer PKMF ${OP1} unreachable: the peer PKMF ${OP1}'s certificate is not signed by peers[3].ca (${rogue.caCert}): peers[3].ca must hold the CA of the peer PKMF ${OP1}'s operator ` +
        '(OpenSSL: UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate)',
    );
    expect(await call(op1.caCert)).toBe(
      `peer PKMF ${OP1} unreachable: the peer PKMF ${OP1}'s certificate does not hold the name 127.0.0.1 (peers[3].url): it holds DNS:pkmf.op1.example, IP Address:10.9.9.9; ` +
        `use one of them in peers[3].url, or issue the peer PKMF ${OP1} a certificate for 127.0.0.1`,
    );
  });
});
