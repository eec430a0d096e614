/**
 * The UE side's key configuration: the `keys:` section of a UE YAML file (the daemon's UE config
 * holds other sections beside it; `sl-bridge keys fetch --config UE.yaml` reads only this one).
 * Relative paths are resolved against the config file's directory. Reference: docs/pkmf.md.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { AlgId } from '../../src/crypto/types.js';
import { hex24, homePlmnOf, isPlmnString, isSupi, supiFromSubjectAltName } from '../../src/pkmf/identity.js';
import type { GroupAlgorithmPolicy } from '../../src/pkmf/policy.js';
import type { RefreshPolicy } from '../../src/pkmf/refresh.js';
import { DEFAULT_REFRESH_POLICY } from '../../src/pkmf/refresh.js';
import { ConfigError, ConfigReader, readYamlConfig } from '../config/reader.js';
import { uint24At } from './config.js';

/** One group: its ID and this UE's algorithm policy for it (src/pkmf/policy.ts). */
export interface UeGroupConfig extends GroupAlgorithmPolicy {
  groupId: number;
  supportedNea: AlgId[];
  supportedNia: AlgId[];
}

export interface UeKeyConfig {
  file: string;
  /** From the client certificate (the config's `supi`, if given, must agree). */
  supi: string;
  homePlmn: string;
  /** The PEMs, and their files (named in TLS errors: tls-diagnosis.ts). */
  tls: { certPem: string; keyPem: string; caPem: string[]; certFile: string; keyFile: string; caFiles: string[] };
  pkmf: { host: string; port: number; servername: string | undefined };
  groups: UeGroupConfig[];
  stateDir: string;
  refresh: RefreshPolicy;
  requestTimeoutMs: number;
  maxFrameBytes: number;
  /**
   * Ask for a fresh GMI at every start instead of continuing under the GMI the PDCP state holds
   * (docs/pkmf.md "GMI freshness"): for hosts whose state directory may be rolled back to an older
   * copy (VM snapshots), which the held GMI cannot detect. Costs a GMI per start, and sending waits
   * for the PKMF after a restart.
   */
  freshGmiOnStart: boolean;
}

const isAlg = (v: unknown): v is AlgId => v === 0 || v === 1 || v === 2 || v === 3;

function readFileAt(r: ConfigReader, key: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    return r.fail(key, `expected a readable file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, file);
  }
}

/** Reads `keys:` of a UE config file. */
export function loadUeKeyConfig(file: string): UeKeyConfig {
  const root = readYamlConfig(file);
  const keys = root.section('keys');
  const cfg = parseUeKeyConfig(keys, dirname(resolve(file)));
  keys.done();
  return cfg;
}

/** The same from an object (the `keys:` mapping); `file` names it in errors. */
export function ueKeyConfigFromObject(doc: unknown, opts: { file?: string; baseDir?: string } = {}): UeKeyConfig {
  const r = ConfigReader.root(opts.file ?? '<ue config>', doc, 'keys');
  const cfg = parseUeKeyConfig(r, opts.baseDir ?? process.cwd());
  r.done();
  return cfg;
}

/** Parses a `keys:` section (the caller calls `done()` on it). */
export function parseUeKeyConfig(r: ConfigReader, baseDir: string): UeKeyConfig {
  const t = r.section('tls');
  const certFile = resolve(baseDir, t.string('cert'));
  const keyFile = resolve(baseDir, t.string('key'));
  const caRaw = t.raw('ca');
  const caList = typeof caRaw === 'string' ? [caRaw] : caRaw;
  if (!Array.isArray(caList) || caList.length === 0 || !caList.every((c) => typeof c === 'string' && c.length > 0)) {
    t.fail('ca', 'expected a file path or a non-empty list of file paths (CAs that may sign the serving PKMF)', caRaw);
  }
  const certPem = readFileAt(t, 'cert', certFile);
  const keyPem = readFileAt(t, 'key', keyFile);
  const caFiles = (caList as string[]).map((c) => resolve(baseDir, c));
  const caPem = caFiles.map((c) => readFileAt(t, 'ca', c));
  t.done();
  let certSupi: string | undefined;
  let cert: X509Certificate | undefined;
  try {
    cert = new X509Certificate(certPem);
    certSupi = supiFromSubjectAltName(cert.subjectAltName);
  } catch {
    t.fail('cert', 'expected a PEM certificate', certFile);
  }
  // A key that does not match the certificate fails every TLS handshake: say so now, not in retries.
  let keyMatches = false;
  try {
    keyMatches = cert!.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    t.fail('key', 'expected a PEM private key', keyFile);
  }
  // Both files in full (a `got` value is shortened in the message).
  if (!keyMatches) t.fail('key', `expected the private key of the certificate in ${t.keyPath('cert')} (${certFile}), but ${keyFile} holds another key`);
  if (!certSupi) throw new ConfigError(r.file, `${r.keyPath('tls')}.cert`, 'expected a UE certificate naming a SUPI (URI SAN urn:3gpp:supi:imsi-...)', certFile);

  const supi = r.optionalString('supi');
  if (supi !== undefined && (!isSupi(supi) || supi !== certSupi)) {
    r.fail('supi', `expected the SUPI of the certificate (${certSupi})`, supi);
  }
  const homePlmn = r.string('homePlmn');
  if (!isPlmnString(homePlmn)) r.fail('homePlmn', 'expected a PLMN ID "MCC-MNC" (quoted, e.g. "001-01")', homePlmn);
  if (homePlmnOf(certSupi, [homePlmn]) !== homePlmn) {
    r.fail('homePlmn', `expected the PLMN whose MCC+MNC start the SUPI ${certSupi}`, homePlmn);
  }

  const p = r.section('pkmf');
  const pkmf = { host: p.string('host', '127.0.0.1'), port: p.int('port', { min: 1, max: 65535 }), servername: p.optionalString('servername') };
  const requestTimeoutMs = Math.round(p.number('requestTimeoutSec', { min: 0.1, max: 600, def: 10 }) * 1000);
  const maxFrameBytes = p.int('maxFrameBytes', { min: 1024, max: 16 * 1024 * 1024, def: 1024 * 1024 });
  p.done();

  const groups = r.list('groups', (g): UeGroupConfig => {
    const group: UeGroupConfig = {
      groupId: uint24At(g, 'id'),
      supportedNea: g.scalarList('nea', isAlg, 'algorithm IDs 0..3', [1, 2, 3]),
      supportedNia: g.scalarList('nia', isAlg, 'algorithm IDs 0..3', [1, 2, 3]),
      allowNoIntegrity: g.bool('allowNoIntegrity', false),
      allowNullAlgorithms: g.bool('allowNullAlgorithms', false),
    };
    if (!group.allowNullAlgorithms && group.supportedNea.includes(0)) g.fail('nea', 'expected 1, 2 or 3 (NEA0 needs allowNullAlgorithms: true)', 0);
    if (!group.allowNullAlgorithms && group.supportedNia.includes(0)) g.fail('nia', 'expected 1, 2 or 3 (NIA0 needs allowNullAlgorithms: true)', 0);
    return group;
  });
  if (groups.length === 0) r.fail('groups', 'expected at least one group');
  const seen = new Set<number>();
  groups.forEach((g, i) => {
    if (seen.has(g.groupId)) throw new ConfigError(r.file, `${r.keyPath('groups')}[${i}].id`, 'expected each group once', hex24(g.groupId));
    seen.add(g.groupId);
    if (g.supportedNea.length === 0) throw new ConfigError(r.file, `${r.keyPath('groups')}[${i}].nea`, 'expected at least one algorithm');
  });
  const stateDir = resolve(baseDir, r.string('stateDir'));
  const freshGmiOnStart = r.bool('freshGmiOnStart', false);

  const rr = r.section('refresh', true);
  const d = DEFAULT_REFRESH_POLICY;
  const refresh: RefreshPolicy = rr
    ? {
        jitter: rr.number('jitter', { min: 0.001, max: 1, def: d.jitter }),
        minDelayMs: Math.round(rr.number('minDelaySec', { min: 0, max: 86400, def: d.minDelayMs / 1000 }) * 1000),
        maxDelayMs: Math.round(rr.number('maxDelaySec', { min: 0.001, max: 30 * 86400, def: d.maxDelayMs / 1000 }) * 1000),
        backoffBaseMs: Math.round(rr.number('backoffBaseSec', { min: 0.001, max: 3600, def: d.backoffBaseMs / 1000 }) * 1000),
        backoffMaxMs: Math.round(rr.number('backoffMaxSec', { min: 0.001, max: 86400, def: d.backoffMaxMs / 1000 }) * 1000),
      }
    : { ...d };
  rr?.done();
  if (refresh.maxDelayMs < refresh.minDelayMs) rr!.fail('maxDelaySec', 'expected at least minDelaySec', refresh.maxDelayMs / 1000);
  if (refresh.backoffMaxMs < refresh.backoffBaseMs) rr!.fail('backoffMaxSec', 'expected at least backoffBaseSec', refresh.backoffMaxMs / 1000);

  return {
    file: r.file,
    supi: certSupi,
    homePlmn,
    tls: { certPem, keyPem, caPem, certFile, keyFile, caFiles },
    pkmf,
    groups,
    stateDir,
    refresh,
    requestTimeoutMs,
    maxFrameBytes,
    freshGmiOnStart,
  };
}
