/**
 * PKMF configuration (`sl-bridge pkmf --config FILE.yaml`), validated at start through
 * bridge/config/reader.ts: every error names the file, the key path and what was expected.
 * Relative paths are resolved against the config file's directory. Reference: docs/pkmf.md.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { AlgId, HierarchyProfile } from '../../src/crypto/types.js';
import { HIERARCHY_PROFILES } from '../../src/crypto/types.js';
import { DEFAULT_MAX_FRAME_BYTES, MAX_FRAME_BYTES_LIMIT } from '../../src/pkmf/codec.js';
import { hex24, homePlmnOf, isPlmnString, isSupi } from '../../src/pkmf/identity.js';
import { ConfigError, ConfigReader, readYamlConfig } from '../config/reader.js';

export interface Endpoint {
  host: string;
  port: number;
}

export interface GroupConfig {
  groupId: number;
  nea: AlgId;
  nia: AlgId | null;
  profile: HierarchyProfile;
  allowNullAlgorithms: boolean;
  /** Explicit consent to a group without integrity protection (`nia: off`, profile lte-prose). */
  allowNoIntegrity: boolean;
  pgkLifetimeMs: number;
  pgkOverlapMs: number;
  members: string[];
  operators: string[];
}

export interface PeerConfig {
  plmn: string;
  /** https://host:port of the peer's inter-PKMF HTTP/2 endpoint; absent = it only calls us. */
  url: URL | undefined;
  /** PEM text of the peer operator's CA (signs its PKMF and its UEs). */
  caPem: string[];
  caFiles: string[];
  roaming: boolean;
  groups: number[];
}

export interface PkmfConfig {
  file: string;
  plmn: string;
  database: string;
  listen: Endpoint;
  peerListen: Endpoint | undefined;
  tls: { certFile: string; keyFile: string; caFiles: string[]; certPem: string; keyPem: string; caPem: string[] };
  limits: {
    maxFrameBytes: number;
    handshakeTimeoutMs: number;
    idleTimeoutMs: number;
    peerTimeoutMs: number;
    maxConnections: number;
    /** Connections from one source address not yet authenticated (TLS handshake unfinished). */
    maxUnauthenticatedPerSource: number;
    /** At most one warn line per this interval summarising failed handshakes (and refused requests). */
    handshakeLogIntervalMs: number;
    /** Per-UE (SUPI) Key Request budget: a token bucket of this burst ... */
    ueRequestBurst: number;
    /** ... refilled at this many requests per minute. */
    ueRequestsPerMin: number;
  };
  /** Bounds of the issuance_log table: rows older than maxAgeMs, and beyond the newest maxRows, are deleted. */
  issuanceLog: { maxAgeMs: number; maxRows: number };
  logLevel: string;
  groups: GroupConfig[];
  peers: PeerConfig[];
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** Reads and validates a PKMF config file. */
export function loadPkmfConfig(file: string): PkmfConfig {
  return parsePkmfConfig(readYamlConfig(file), dirname(resolve(file)));
}

/** Validates a config given as an object (e.g. built by a test or the demo); `file` names it in errors. */
export function pkmfConfigFromObject(doc: unknown, opts: { file?: string; baseDir?: string } = {}): PkmfConfig {
  return parsePkmfConfig(ConfigReader.root(opts.file ?? '<pkmf config>', doc), opts.baseDir ?? process.cwd());
}

function readPem(r: ConfigReader, key: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    return r.fail(key, `expected a readable file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, file);
  }
}

function parseCertificate(r: ConfigReader, key: string, file: string, pem: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    return r.fail(key, 'expected a PEM X.509 certificate', file);
  }
}

/**
 * The SQLite file: a regular file or none yet, in a directory that exists. (The store would
 * create missing directories, and fail with a raw EISDIR on a directory.)
 */
function databasePath(r: ConfigReader, baseDir: string): string {
  const file = resolve(baseDir, r.string('database'));
  const kind = (p: string): 'missing' | 'file' | 'directory' | 'other' => {
    try {
      const st = statSync(p);
      return st.isFile() ? 'file' : st.isDirectory() ? 'directory' : 'other';
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return 'missing';
      return r.fail('database', `expected a usable file path (${code ?? (e as Error).message})`, file);
    }
  };
  const self = kind(file);
  if (self === 'directory') r.fail('database', 'expected a file path, not a directory', file);
  if (self === 'other') r.fail('database', 'expected a regular file', file);
  const dir = dirname(file);
  const parent = kind(dir);
  if (parent === 'missing') r.fail('database', `expected a file in an existing directory (${dir} does not exist)`, file);
  if (parent !== 'directory') r.fail('database', `expected a file in an existing directory (${dir} is not a directory)`, file);
  return file;
}

function pemList(r: ConfigReader, key: string, baseDir: string, optional = false): { files: string[]; pems: string[] } {
  const v = r.raw(key);
  if ((v === undefined || v === null) && optional) return { files: [], pems: [] };
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0 || !list.every((x) => typeof x === 'string' && x.length > 0)) {
    r.fail(key, 'expected a file path or a non-empty list of file paths', v);
  }
  const files = (list as string[]).map((f) => resolve(baseDir, f));
  const pems = files.map((f) => readPem(r, key, f));
  pems.forEach((pem, i) => parseCertificate(r, key, files[i]!, pem));
  return { files, pems };
}

export function endpoint(r: ConfigReader, defPort?: number): Endpoint {
  return { host: r.string('host', '127.0.0.1'), port: r.int('port', { min: 0, max: 65535, def: defPort }) };
}

/** A 24-bit ID written as an integer (`0x000101` is an integer in YAML) or a hex string. */
function parseUint24(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffff) return v;
  if (typeof v === 'string' && /^(0x)?[0-9a-fA-F]{1,6}$/.test(v)) return parseInt(v.replace(/^0x/i, ''), 16);
  return undefined;
}

const UINT24_EXPECTED = 'expected a 24-bit ID (an integer up to 0xFFFFFF, or up to 6 hex digits)';

export function uint24At(r: ConfigReader, key: string): number {
  const v = r.raw(key);
  return parseUint24(v) ?? r.fail(key, UINT24_EXPECTED, v);
}

function uint24List(r: ConfigReader, key: string): number[] {
  const v = r.raw(key);
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) r.fail(key, 'expected a list of 24-bit group IDs', v);
  return v.map((item, i) => {
    const id = parseUint24(item);
    if (id === undefined) throw new ConfigError(r.file, `${r.keyPath(key)}[${i}]`, UINT24_EXPECTED, item);
    return id;
  });
}

function algAt(r: ConfigReader, key: string, def: AlgId): AlgId {
  return r.int(key, { min: 0, max: 3, def }) as AlgId;
}

function parseGroup(r: ConfigReader): GroupConfig {
  const groupId = uint24At(r, 'id');
  const profile = r.oneOf('profile', HIERARCHY_PROFILES, 'pcr');
  const allowNullAlgorithms = r.bool('allowNullAlgorithms', false);
  const allowNoIntegrity = r.bool('allowNoIntegrity', false);
  const nea = algAt(r, 'nea', 2);
  let nia: AlgId | null;
  const rawNia = r.raw('nia');
  if (rawNia === 'off' || (rawNia === undefined && profile === 'lte-prose')) nia = null;
  else if (rawNia === undefined) nia = 2;
  else nia = algAt(r, 'nia', 2);
  if (profile === 'lte-prose' && nia !== null) r.fail('nia', 'expected "off" (profile lte-prose has no integrity)', rawNia);
  // A group without integrity must be asked for: forged PDUs of insiders and bit flips go undetected.
  if (profile === 'lte-prose' && !allowNoIntegrity) {
    r.fail('profile', 'expected pcr or ts33533 (lte-prose has no integrity protection: set allowNoIntegrity: true to allow it)', profile);
  }
  if (nia === null && !allowNoIntegrity) {
    r.fail('nia', 'expected 1, 2 or 3 ("off" means no integrity protection: set allowNoIntegrity: true to allow it)', rawNia);
  }
  if (nea === 0 && !allowNullAlgorithms) r.fail('nea', 'expected 1, 2 or 3 (NEA0 needs allowNullAlgorithms: true)', nea);
  if (nia === 0 && !allowNullAlgorithms) r.fail('nia', 'expected 1, 2, 3 or "off" (NIA0 needs allowNullAlgorithms: true)', nia);
  const lifetimeSec = r.number('pgkLifetimeSec', { min: 1, max: 10 * 365 * 86400, def: 86400 });
  const overlapSec = r.number('pgkOverlapSec', { min: 0.001, def: lifetimeSec / 4 });
  if (overlapSec >= lifetimeSec) r.fail('pgkOverlapSec', `expected less than pgkLifetimeSec (${lifetimeSec})`, overlapSec);
  const members = r.scalarList('members', isSupi, 'SUPIs like imsi-001010000000001');
  if (new Set(members).size !== members.length) r.fail('members', 'expected distinct SUPIs');
  const operators = r.scalarList('operators', isPlmnString, 'PLMN IDs like "001-02"', []);
  return {
    groupId,
    nea,
    nia,
    profile,
    allowNullAlgorithms,
    allowNoIntegrity,
    pgkLifetimeMs: Math.round(lifetimeSec * 1000),
    pgkOverlapMs: Math.max(1, Math.round(overlapSec * 1000)),
    members,
    operators,
  };
}

function parsePeer(r: ConfigReader, baseDir: string): PeerConfig {
  const plmn = r.string('plmn');
  if (!isPlmnString(plmn)) r.fail('plmn', 'expected a PLMN ID "MCC-MNC" (quoted, e.g. "001-02")', plmn);
  let url: URL | undefined;
  const rawUrl = r.optionalString('url');
  if (rawUrl !== undefined) {
    try {
      url = new URL(rawUrl);
    } catch {
      r.fail('url', 'expected an https://host:port URL', rawUrl);
    }
    if (url.protocol !== 'https:' || url.pathname !== '/' || url.search) r.fail('url', 'expected an https://host:port URL', rawUrl);
  }
  const { files, pems } = pemList(r, 'ca', baseDir);
  const roaming = r.bool('roaming', false);
  const groups = uint24List(r, 'groups');
  if (groups.length > 0 && !url) r.fail('groups', 'needs the peer\'s url (we must call it for these groups)');
  if (roaming && !url) r.fail('url', 'expected a URL: a roaming agreement means we relay our visitors\' requests to this peer');
  return { plmn, url, caPem: pems, caFiles: files, roaming, groups };
}

export function parsePkmfConfig(r: ConfigReader, baseDir: string): PkmfConfig {
  const plmn = r.string('plmn');
  if (!isPlmnString(plmn)) r.fail('plmn', 'expected a PLMN ID "MCC-MNC" (quoted, e.g. "001-01")', plmn);
  const database = databasePath(r, baseDir);
  const listen = endpoint(r.section('listen'), 7443);
  const peerSection = r.section('peerListen', true);
  const peerListen = peerSection ? endpoint(peerSection, 7444) : undefined;
  peerSection?.done();

  const t = r.section('tls');
  const certFile = resolve(baseDir, t.string('cert'));
  const keyFile = resolve(baseDir, t.string('key'));
  const ca = pemList(t, 'ca', baseDir);
  const tls = { certFile, keyFile, caFiles: ca.files, certPem: readPem(t, 'cert', certFile), keyPem: readPem(t, 'key', keyFile), caPem: ca.pems };
  // A key that does not match the certificate would fail every handshake (or the start, with a
  // stack trace): say so now, naming the keys.
  const cert = parseCertificate(t, 'cert', certFile, tls.certPem);
  let key: KeyObject;
  try {
    key = createPrivateKey(tls.keyPem);
  } catch {
    key = t.fail('key', 'expected a PEM private key', keyFile);
  }
  let matches = false;
  try {
    matches = cert.checkPrivateKey(key);
  } catch {
    matches = false;
  }
  if (!matches) t.fail('key', `expected the private key of tls.cert (${certFile})`, keyFile);
  t.done();

  const l = r.section('limits', true);
  const limits = {
    maxFrameBytes: l?.int('maxFrameBytes', { min: 64, max: MAX_FRAME_BYTES_LIMIT, def: DEFAULT_MAX_FRAME_BYTES }) ?? DEFAULT_MAX_FRAME_BYTES,
    handshakeTimeoutMs: Math.round((l?.number('handshakeTimeoutSec', { min: 0.1, max: 600, def: 10 }) ?? 10) * 1000),
    idleTimeoutMs: Math.round((l?.number('idleTimeoutSec', { min: 0.1, max: 86400, def: 60 }) ?? 60) * 1000),
    peerTimeoutMs: Math.round((l?.number('peerTimeoutSec', { min: 0.1, max: 600, def: 5 }) ?? 5) * 1000),
    maxConnections: l?.int('maxConnections', { min: 1, max: 1_000_000, def: 10_000 }) ?? 10_000,
    maxUnauthenticatedPerSource: l?.int('maxUnauthenticatedPerSource', { min: 1, max: 1_000_000, def: 64 }) ?? 64,
    handshakeLogIntervalMs: Math.round((l?.number('handshakeLogIntervalSec', { min: 0, max: 86400, def: 10 }) ?? 10) * 1000),
    ueRequestBurst: l?.int('ueRequestBurst', { min: 1, max: 1_000_000, def: 20 }) ?? 20,
    ueRequestsPerMin: l?.number('ueRequestsPerMin', { min: 0.001, max: 60_000_000, def: 30 }) ?? 30,
  };
  l?.done();
  const il = r.section('issuanceLog', true);
  const issuanceLog = {
    maxAgeMs: Math.round((il?.number('maxAgeDays', { min: 0.001, max: 36500, def: 30 }) ?? 30) * 86_400_000),
    maxRows: il?.int('maxRows', { min: 100, max: 1_000_000_000, def: 100_000 }) ?? 100_000,
  };
  il?.done();
  const logLevel = r.oneOf('logLevel', LOG_LEVELS, 'info');

  const groups = r.list('groups', parseGroup, { optional: true });
  const peers = r.list('peers', (pr) => parsePeer(pr, baseDir), { optional: true });
  r.done();

  // Cross-checks.
  const seenGroups = new Set<number>();
  groups.forEach((g, i) => {
    if (seenGroups.has(g.groupId)) throw new ConfigError(r.file, `groups[${i}].id`, `expected a Group ID not used by another group`, hex24(g.groupId));
    seenGroups.add(g.groupId);
  });
  const peerPlmns = new Set<string>();
  peers.forEach((p, i) => {
    if (p.plmn === plmn) throw new ConfigError(r.file, `peers[${i}].plmn`, 'expected a PLMN other than this PKMF\'s own', p.plmn);
    if (peerPlmns.has(p.plmn)) throw new ConfigError(r.file, `peers[${i}].plmn`, 'expected one entry per peer PLMN', p.plmn);
    peerPlmns.add(p.plmn);
    p.groups.forEach((gid, j) => {
      if (seenGroups.has(gid)) {
        throw new ConfigError(r.file, `peers[${i}].groups[${j}]`, 'expected a group owned by that peer, not one of ours or another peer\'s', hex24(gid));
      }
      seenGroups.add(gid);
    });
  });
  const known = [plmn, ...peerPlmns];
  groups.forEach((g, i) => {
    g.operators.forEach((op, j) => {
      if (!peerPlmns.has(op)) throw new ConfigError(r.file, `groups[${i}].operators[${j}]`, 'expected the PLMN of a configured peer', op);
    });
    g.members.forEach((supi, j) => {
      const home = homePlmnOf(supi, known);
      if (home === undefined) {
        throw new ConfigError(r.file, `groups[${i}].members[${j}]`, 'expected a SUPI of this PLMN or of a configured peer', supi);
      }
      if (home !== plmn && !g.operators.includes(home)) {
        throw new ConfigError(r.file, `groups[${i}].members[${j}]`, `expected ${home} in this group's operators (its member is a subscriber of ${home})`, supi);
      }
    });
  });
  return { file: r.file, plmn, database, listen, peerListen, tls, limits, issuanceLog, logLevel, groups, peers };
}
