/** `sl-bridge ca init` / `ca issue`: a testbed PKI made with @peculiar/x509, keys written 0600. */
import { execFile } from 'node:child_process';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, tmpDir } from '../fixtures/pkmf-testbed.js';

const exec = promisify(execFile);
const cli = (...args: string[]): Promise<{ stdout: string; stderr: string }> => exec(process.execPath, [BIN, ...args]);
const cliFail = async (...args: string[]): Promise<{ code: number; stderr: string }> => {
  const e = (await cli(...args).then(
    () => ({ code: 0, stderr: '' }),
    (err: unknown) => err,
  )) as { code: number; stderr: string };
  return e;
};
const mode = (f: string): number => statSync(f).mode & 0o777;

let t: ReturnType<typeof tmpDir>;
let ca: string;
let caCert: X509Certificate;

beforeAll(async () => {
  t = tmpDir();
  ca = join(t.dir, 'op1');
  const out = await cli('ca', 'init', ca, '--cn', 'Operator One CA');
  expect(out.stdout).toContain(join(ca, 'ca.key'));
  caCert = new X509Certificate(readFileSync(join(ca, 'ca.crt')));
});
afterAll(() => t?.cleanup());

describe('sl-bridge ca', () => {
  it('init makes a self-signed CA with its private key readable by the owner only', () => {
    expect(mode(join(ca, 'ca.key'))).toBe(0o600);
    expect(caCert.ca).toBe(true);
    expect(caCert.subject).toBe('CN=Operator One CA');
    expect(caCert.verify(caCert.publicKey)).toBe(true);
    const key = createPrivateKey(readFileSync(join(ca, 'ca.key')));
    expect(createPublicKey(key).export({ format: 'der', type: 'spki' })).toEqual(caCert.publicKey.export({ format: 'der', type: 'spki' }));
  });

  it('init refuses to overwrite an existing CA unless --force', async () => {
    const before = readFileSync(join(ca, 'ca.crt'), 'utf8');
    const e = await cliFail('ca', 'init', ca);
    expect(e.code).toBe(2);
    expect(e.stderr).toMatch(/exists \(use --force/);
    expect(readFileSync(join(ca, 'ca.crt'), 'utf8')).toBe(before);
    const other = join(t.dir, 'scratch');
    await cli('ca', 'init', other);
    const first = readFileSync(join(other, 'ca.crt'), 'utf8');
    await cli('ca', 'init', other, '--force');
    expect(readFileSync(join(other, 'ca.crt'), 'utf8')).not.toBe(first);
    expect(mode(join(other, 'ca.key'))).toBe(0o600);
  });

  it('issue ue makes a client certificate naming the SUPI, signed by the CA', async () => {
    const out = join(t.dir, 'ue1');
    await cli('ca', 'issue', 'ue', '--ca', ca, '--supi', 'imsi-001010000000001', '--out', out, '--days', '30');
    const cert = new X509Certificate(readFileSync(`${out}.crt`));
    expect(mode(`${out}.key`)).toBe(0o600);
    expect(cert.subjectAltName).toBe('URI:urn:3gpp:supi:imsi-001010000000001');
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']); // clientAuth only
    const days = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000;
    expect(Math.round(days)).toBe(30);
    const key = createPrivateKey(readFileSync(`${out}.key`));
    expect(createPublicKey(key).export({ format: 'der', type: 'spki' })).toEqual(cert.publicKey.export({ format: 'der', type: 'spki' }));
  });

  it('issue pkmf makes a server+client certificate naming the PLMN, host names and addresses', async () => {
    await cli('ca', 'issue', 'pkmf', '--ca', ca, '--plmn', '001-01', '--dns', 'pkmf.op1.test,localhost', '--ip', '127.0.0.1');
    const base = join(ca, 'pkmf-001-01');
    const cert = new X509Certificate(readFileSync(`${base}.crt`));
    expect(mode(`${base}.key`)).toBe(0o600);
    expect(cert.subjectAltName).toBe('URI:urn:3gpp:pkmf:plmn:001-01, DNS:pkmf.op1.test, DNS:localhost, IP Address:127.0.0.1');
    expect(cert.keyUsage?.sort()).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    expect(cert.checkHost('pkmf.op1.test')).toBe('pkmf.op1.test');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.verify(caCert.publicKey)).toBe(true);
  });

  it.each([
    [['ca', 'issue', 'ue', '--ca', 'X'], /--supi is required/],
    [['ca', 'issue', 'pkmf', '--ca', 'X'], /--plmn is required/],
    [['ca', 'issue', 'router', '--ca', 'X'], /<kind> must be ue or pkmf/],
    [['ca', 'issue', 'ue', '--ca', 'CA', '--supi', 'imsi-12'], /supi: expected "imsi-" and 6 to 15 digits/],
    [['ca', 'issue', 'pkmf', '--ca', 'CA', '--plmn', '00101'], /plmn: expected "MCC-MNC"/],
    [['ca', 'issue', 'ue', '--ca', 'NOCA', '--supi', 'imsi-001010000000001'], /is not a CA directory/],
  ])('refuses bad arguments clearly: %j', async (args, message) => {
    const e = await cliFail(...args.map((a) => (a === 'CA' ? ca : a === 'NOCA' ? join(t.dir, 'nothing') : a)));
    expect(e.code).toBe(2);
    expect(e.stderr).toMatch(message);
  });
});
