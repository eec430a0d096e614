/** PKMF and UE key configs: validated at start, errors name the file, the key and the expectation. */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPkmfConfig } from '../../bridge/pkmf/config.js';
import { loadUeKeyConfig } from '../../bridge/pkmf/ue-config.js';
import type { OperatorPki } from '../fixtures/pkmf-testbed.js';
import { BIN, issueUe, makeOperatorPki, OP1, OP2, pkmfConfigDoc, supiOf, tmpDir, writeYaml } from '../fixtures/pkmf-testbed.js';

const run = promisify(execFile);
let t: ReturnType<typeof tmpDir>;
let op1: OperatorPki;
let ueCert: string;
let ueKey: string;

beforeAll(async () => {
  t = tmpDir();
  op1 = await makeOperatorPki(join(t.dir, 'op1'), OP1);
  const f = await issueUe(op1, supiOf(OP1, 1));
  ueCert = f.certFile;
  ueKey = f.keyFile;
});
afterAll(() => t?.cleanup());

function pkmfFile(name: string, patch: (doc: Record<string, unknown>) => void): string {
  const doc = pkmfConfigDoc(op1, join(t.dir, `${name}.db`), {
    groups: [{ id: 0x000101, members: [supiOf(OP1, 1)] }],
  });
  patch(doc);
  return writeYaml(join(t.dir, `${name}.yaml`), doc);
}

function ueFile(name: string, patch: (keys: Record<string, unknown>) => void): string {
  const keys: Record<string, unknown> = {
    homePlmn: OP1,
    tls: { cert: ueCert, key: ueKey, ca: op1.caCert },
    pkmf: { host: '127.0.0.1', port: 7443 },
    groups: [{ id: 0x000101 }],
    stateDir: join(t.dir, `${name}-state`),
  };
  patch(keys);
  return writeYaml(join(t.dir, `${name}.yaml`), { keys, transport: { kind: 'owned by the daemon' } });
}

const groupsOf = (d: Record<string, unknown>): Record<string, unknown>[] => d.groups as Record<string, unknown>[];

describe('PKMF config validation', () => {
  it('accepts a good config and resolves paths', () => {
    const c = loadPkmfConfig(pkmfFile('good', () => undefined));
    expect(c.plmn).toBe(OP1);
    expect(c.groups[0]).toMatchObject({ groupId: 0x101, nea: 2, nia: 2, profile: 'pcr', pgkLifetimeMs: 86_400_000, pgkOverlapMs: 21_600_000 });
  });

  it.each<[string, (d: Record<string, unknown>) => void, RegExp]>([
    ['plmn', (d) => (d.plmn = 101), /plmn: expected a non-empty string/],
    ['plmn format', (d) => (d.plmn = '00101'), /plmn: expected a PLMN ID "MCC-MNC"/],
    ['unreadable cert', (d) => ((d.tls as Record<string, unknown>).cert = join(t.dir, 'nope.crt')), /tls\.cert: expected a readable file \(ENOENT\)/],
    ['typo', (d) => (d.grups = []), /grups: unknown key/],
    ['group id', (d) => (groupsOf(d)[0]!.id = 0x1000000), /groups\[0\]\.id: expected a 24-bit ID/],
    ['nea', (d) => (groupsOf(d)[0]!.nea = 'aes'), /groups\[0\]\.nea: expected an integer from 0 to 3/],
    ['null algorithm', (d) => (groupsOf(d)[0]!.nea = 0), /groups\[0\]\.nea: expected 1, 2 or 3 \(NEA0 needs allowNullAlgorithms: true\)/],
    ['lte-prose integrity', (d) => Object.assign(groupsOf(d)[0]!, { profile: 'lte-prose', nia: 2 }), /groups\[0\]\.nia: expected "off"/],
    ['overlap', (d) => Object.assign(groupsOf(d)[0]!, { pgkLifetimeSec: 10, pgkOverlapSec: 10 }), /groups\[0\]\.pgkOverlapSec: expected less than pgkLifetimeSec/],
    ['member', (d) => (groupsOf(d)[0]!.members = ['imsi-12']), /groups\[0\]\.members\[0\]: expected SUPIs/],
    ['foreign member', (d) => (groupsOf(d)[0]!.members = [supiOf(OP2, 1)]), /groups\[0\]\.members\[0\]: expected a SUPI of this PLMN or of a configured peer/],
    ['operators', (d) => (groupsOf(d)[0]!.operators = [OP2]), /groups\[0\]\.operators\[0\]: expected the PLMN of a configured peer/],
    ['duplicate group', (d) => groupsOf(d).push({ id: '000101', members: [] }), /groups\[1\]\.id: expected a Group ID not used by another group/],
    ['peer url', (d) => (d.peers = [{ plmn: OP2, ca: op1.caCert, url: 'http://x:1' }]), /peers\[0\]\.url: expected an https:\/\/host:port URL/],
    ['roaming needs url', (d) => (d.peers = [{ plmn: OP2, ca: op1.caCert, roaming: true }]), /peers\[0\]\.url: expected a URL/],
    ['peer is self', (d) => (d.peers = [{ plmn: OP1, ca: op1.caCert }]), /peers\[0\]\.plmn: expected a PLMN other than this PKMF's own/],
    ['frame limit', (d) => (d.limits = { maxFrameBytes: 1 }), /limits\.maxFrameBytes: expected an integer from 64/],
  ])('names the file and key: %s', (name, patch, message) => {
    const file = pkmfFile(`bad-${name.replace(/\W/g, '-')}`, patch);
    expect(() => loadPkmfConfig(file)).toThrow(message);
    expect(() => loadPkmfConfig(file)).toThrow(file);
  });

  it('a group without integrity needs allowNoIntegrity: true (nia off, profile lte-prose)', () => {
    const noNia = pkmfFile('no-nia', (d) => (groupsOf(d)[0]!.nia = 'off'));
    expect(() => loadPkmfConfig(noNia)).toThrow(`${noNia}: groups[0].nia: expected 1, 2 or 3 ("off" means no integrity protection: set allowNoIntegrity: true to allow it), got "off"`);
    const lte = pkmfFile('no-nia-lte', (d) => (groupsOf(d)[0]!.profile = 'lte-prose'));
    expect(() => loadPkmfConfig(lte)).toThrow(`${lte}: groups[0].profile: expected pcr or ts33533 (lte-prose has no integrity protection: set allowNoIntegrity: true to allow it), got "lte-prose"`);
    const allowed = loadPkmfConfig(pkmfFile('no-nia-ok', (d) => Object.assign(groupsOf(d)[0]!, { nia: 'off', allowNoIntegrity: true })));
    expect(allowed.groups[0]).toMatchObject({ nia: null, profile: 'pcr', allowNoIntegrity: true });
    const lteAllowed = loadPkmfConfig(pkmfFile('no-nia-lte-ok', (d) => Object.assign(groupsOf(d)[0]!, { profile: 'lte-prose', allowNoIntegrity: true })));
    expect(lteAllowed.groups[0]).toMatchObject({ nia: null, profile: 'lte-prose' });
  });

  it('the CLI exits with status 2 and the same message', async () => {
    const file = pkmfFile('cli-bad', (d) => (groupsOf(d)[0]!.nia = 7));
    const err = (await run(process.execPath, [BIN, 'pkmf', '--config', file]).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.code).toBe(2);
    expect(err.stderr).toContain(`${file}: groups[0].nia: expected an integer from 0 to 3, got 7`);
  });
});

/** `sl-bridge pkmf --config FILE`, killed after `ms` if it is still running (it must not be). */
async function runPkmf(file: string, ms = 10_000): Promise<{ code: number | null; stderr: string; killed: boolean }> {
  const r = (await run(process.execPath, [BIN, 'pkmf', '--config', file], { timeout: ms }).catch((e: unknown) => e)) as {
    code?: number | null;
    stderr?: string;
    killed?: boolean;
  };
  return { code: r.code ?? null, stderr: r.stderr ?? '', killed: r.killed ?? false };
}

describe('PKMF config: database and certificate edge cases (through the CLI)', () => {
  it('database pointing at a directory: a config error naming the key, status 2, no stack', async () => {
    const dir = join(t.dir, 'a-directory.db');
    mkdirSync(dir);
    const file = pkmfFile('db-dir', (d) => (d.database = dir));
    const r = await runPkmf(file);
    expect(r.killed).toBe(false);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}: database: expected a file path, not a directory, got ${JSON.stringify(dir)}`);
    expect(r.stderr).not.toMatch(/EISDIR|\n\s+at /);
  });

  it('database in a directory that does not exist: refused (not created), naming the key', async () => {
    const missing = join(t.dir, 'no-such-dir', 'pkmf.db');
    const file = pkmfFile('db-missing-dir', (d) => (d.database = missing));
    const r = await runPkmf(file);
    expect(r.killed).toBe(false);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}: database: expected a file in an existing directory (${join(t.dir, 'no-such-dir')} does not exist)`);
    expect(existsSync(join(t.dir, 'no-such-dir'))).toBe(false);
  });

  it('a PKMF certificate whose private key does not match: a config error at load time', async () => {
    // The key of another certificate (a UE's): well-formed, but not tls.cert's.
    const file = pkmfFile('key-mismatch', (d) => ((d.tls as Record<string, unknown>).key = ueKey));
    expect(() => loadPkmfConfig(file)).toThrow(`${file}: tls.key: expected the private key of tls.cert (${op1.pkmfCert})`);
    const r = await runPkmf(file);
    expect(r.killed).toBe(false);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}: tls.key: expected the private key of tls.cert`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a tls.cert or tls.key that is not PEM: a config error', () => {
    const notCert = pkmfFile('cert-garbage', (d) => ((d.tls as Record<string, unknown>).cert = op1.caCert.replace(/ca\.crt$/, 'ca.key')));
    expect(() => loadPkmfConfig(notCert)).toThrow(/tls\.cert: expected a PEM X\.509 certificate/);
    const notKey = pkmfFile('key-garbage', (d) => ((d.tls as Record<string, unknown>).key = op1.caCert));
    expect(() => loadPkmfConfig(notKey)).toThrow(/tls\.key: expected a PEM private key/);
  });

  it('nia off without allowNoIntegrity: the CLI exits with status 2 naming the key', async () => {
    const file = pkmfFile('cli-no-nia', (d) => Object.assign(groupsOf(d)[0]!, { profile: 'lte-prose' }));
    const r = await runPkmf(file);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}: groups[0].profile: expected pcr or ts33533 (lte-prose has no integrity protection: set allowNoIntegrity: true to allow it)`);
  });

  it('limits and issuanceLog keys are validated', () => {
    const ok = loadPkmfConfig(pkmfFile('limits-ok', (d) => {
      d.limits = { maxUnauthenticatedPerSource: 8, ueRequestBurst: 3, ueRequestsPerMin: 6, handshakeLogIntervalSec: 1 };
      d.issuanceLog = { maxAgeDays: 7, maxRows: 500 };
    }));
    expect(ok.limits).toMatchObject({ maxUnauthenticatedPerSource: 8, ueRequestBurst: 3, ueRequestsPerMin: 6, handshakeLogIntervalMs: 1000 });
    expect(ok.issuanceLog).toEqual({ maxAgeMs: 7 * 86_400_000, maxRows: 500 });
    const defaults = loadPkmfConfig(pkmfFile('limits-default', () => undefined));
    expect(defaults.limits).toMatchObject({ maxUnauthenticatedPerSource: 64, ueRequestBurst: 20, ueRequestsPerMin: 30, handshakeLogIntervalMs: 10_000 });
    expect(defaults.issuanceLog).toEqual({ maxAgeMs: 30 * 86_400_000, maxRows: 100_000 });
    const bad = pkmfFile('limits-bad', (d) => (d.issuanceLog = { maxRows: 0 }));
    expect(() => loadPkmfConfig(bad)).toThrow(/issuanceLog\.maxRows: expected an integer from 100/);
    const bad2 = pkmfFile('limits-bad2', (d) => (d.limits = { maxUnauthenticatedPerSource: 0 }));
    expect(() => loadPkmfConfig(bad2)).toThrow(/limits\.maxUnauthenticatedPerSource: expected an integer from 1/);
  });
});

describe('UE key config validation', () => {
  it('reads only the keys: section of a UE config', () => {
    const c = loadUeKeyConfig(ueFile('good', () => undefined));
    expect(c).toMatchObject({ supi: supiOf(OP1, 1), homePlmn: OP1, groups: [{ groupId: 0x101, supportedNea: [1, 2, 3], supportedNia: [1, 2, 3] }] });
  });

  it.each<[string, (k: Record<string, unknown>) => void, RegExp]>([
    ['home plmn', (k) => (k.homePlmn = OP2), /keys\.homePlmn: expected the PLMN whose MCC\+MNC start the SUPI/],
    ['supi', (k) => (k.supi = supiOf(OP1, 2)), /keys\.supi: expected the SUPI of the certificate/],
    ['port', (k) => (k.pkmf = { port: 70000 }), /keys\.pkmf\.port: expected an integer from 1 to 65535/],
    ['algorithms', (k) => (k.groups = [{ id: 1, nea: [5] }]), /keys\.groups\[0\]\.nea\[0\]: expected algorithm IDs 0\.\.3/],
    ['no groups', (k) => (k.groups = []), /keys\.groups: expected at least one group/],
    ['cert is not a UE cert', (k) => Object.assign(k.tls as Record<string, unknown>, { cert: op1.pkmfCert, key: op1.pkmfKey }), /keys\.tls\.cert: expected a UE certificate naming a SUPI/],
    ['typo', (k) => (k.stateDri = 'x'), /keys\.stateDri: unknown key/],
    ['no CA', (k) => delete (k.tls as Record<string, unknown>).ca, /keys\.tls\.ca: expected a file path or a non-empty list of file paths \(CAs that may sign the serving PKMF\)$/],
    ['unreadable CA', (k) => ((k.tls as Record<string, unknown>).ca = [op1.caCert, join(t.dir, 'nope.pem')]), /keys\.tls\.ca: expected a readable file \(ENOENT\), got ".*nope\.pem"$/],
    ['cert not PEM', (k) => ((k.tls as Record<string, unknown>).cert = ueKey), /keys\.tls\.cert: expected a PEM certificate, got "/],
    ['typo in tls', (k) => ((k.tls as Record<string, unknown>).kye = 'x'), /keys\.tls\.kye: unknown key \(check its spelling\)$/],
    ['no stateDir', (k) => delete k.stateDir, /keys\.stateDir: expected a string \(this key is required\)$/],
    ['request timeout', (k) => (k.pkmf = { port: 7443, requestTimeoutSec: 0 }), /keys\.pkmf\.requestTimeoutSec: expected a number from 0\.1 to 600, got 0$/],
    ['groups not a list', (k) => (k.groups = 'abc'), /keys\.groups: expected a list, got "abc"$/],
    ['group ID over 24 bits', (k) => (k.groups = [{ id: '0x1000000' }]), /keys\.groups\[0\]\.id: expected a 24-bit ID \(an integer up to 0xFFFFFF, or up to 6 hex digits\), got "0x1000000"$/],
    ['NEA0', (k) => (k.groups = [{ id: 1, nea: [0, 2] }]), /keys\.groups\[0\]\.nea: expected 1, 2 or 3 \(NEA0 needs allowNullAlgorithms: true\), got 0$/],
    ['no NEA', (k) => (k.groups = [{ id: 1, nea: [] }]), /keys\.groups\[0\]\.nea: expected at least one algorithm$/],
    ['a group twice', (k) => (k.groups = [{ id: 1 }, { id: '000001' }]), /keys\.groups\[1\]\.id: expected each group once, got "000001"$/],
    ['refresh delays', (k) => (k.refresh = { minDelaySec: 60, maxDelaySec: 30 }), /keys\.refresh\.maxDelaySec: expected at least minDelaySec, got 30$/],
  ])('names the file and key: %s', (name, patch, message) => {
    const file = ueFile(`ue-bad-${name.replace(/\W/g, '-')}`, patch);
    expect(() => loadUeKeyConfig(file)).toThrow(message);
    expect(() => loadUeKeyConfig(file)).toThrow(file);
  });

  it('`keys fetch` exits with status 2 naming the file and key', async () => {
    const file = ueFile('ue-cli-bad', (k) => (k.homePlmn = 'home'));
    const err = (await run(process.execPath, [BIN, 'keys', 'fetch', '--config', file]).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.code).toBe(2);
    expect(err.stderr).toContain(`${file}: keys.homePlmn: expected a PLMN ID`);
  });
});
