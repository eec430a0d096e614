/**
 * PKMF configuration (`sl-bridge pkmf --config FILE.yaml`), validated at start by the schema
 * below (bridge/config/schema.ts): every error names the file, the key path and what was
 * expected. Relative paths are resolved against the config file's directory; certificate and key
 * files are read and checked at load. Reference: docs/pkmf.md.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import * as z from 'zod';
import type { AlgId } from '../../src/crypto/types.js';
import { HIERARCHY_PROFILES } from '../../src/crypto/types.js';
import { DEFAULT_MAX_FRAME_BYTES, MAX_FRAME_BYTES_LIMIT } from '../../src/pkmf/codec.js';
import { MAX_PAIRWISE_PEERS } from '../../src/keys/group-key-state.js';
import { hex24, homePlmnOf, isPlmnString, isSupi } from '../../src/pkmf/identity.js';
import { SOURCE_AUTH_MODES } from '../../src/pkmf/source-auth.js';
import { LOG_LEVELS } from '../config/log-levels.js';
import { bool, int, listOf, loadConfig, mapping, num, oneOf, parseConfig, str, uint24, withChecks, type ConfigSource, type Fail } from '../config/schema.js';

// The blocks exported here are shared with the UE's `keys:` schema (bridge/pkmf/ue-config.ts).

export const plmnId = (example: string) => str().refine(isPlmnString, `expected a PLMN ID "MCC-MNC" (quoted, e.g. "${example}")`);

const endpoint = (defaultPort: number) => mapping({ host: str().default('127.0.0.1'), port: int(0, 65535).default(defaultPort) });

const alg = () => int(0, 3).transform((v) => v as AlgId);

/** `file`'s text; a failure names the file under the key `at`. */
export function readText(fail: Fail, at: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    return fail(`expected a readable file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { at: [at], found: file });
  }
}

function parseCertificate(fail: Fail, at: string, file: string, pem: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    return fail('expected a PEM X.509 certificate', { at: [at], found: file });
  }
}

/**
 * Checks that `keyPem`, the text of `keyFile` under the key `key`, is the private key of `cert`
 * (`certName` in messages): a key that does not match would fail every handshake (or the start,
 * with a stack trace), so this says so at load. The message names both files in full (a found
 * value would be shortened).
 */
export function checkKeyPair(fail: Fail, pair: { cert: X509Certificate; certName: string; certFile: string; keyPem: string; keyFile: string }): void {
  const { cert, certName, certFile, keyPem, keyFile } = pair;
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    return fail('expected a PEM private key', { at: ['key'], found: keyFile });
  }
  let matches = false;
  try {
    matches = cert.checkPrivateKey(key);
  } catch {
    matches = false;
  }
  if (!matches) fail(`expected the private key of ${certName} (${certFile}), but ${keyFile} holds another key`, { at: ['key'], found: undefined });
}

/** A CA file or a non-empty list of them (read and parsed by {@link readCas}). */
export const caFiles = (expected = 'expected a file path or a non-empty list of file paths') =>
  z
    .custom<string | string[]>(
      (v) => (typeof v === 'string' ? v.length > 0 : Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string' && x.length > 0)),
      expected,
    )
    .transform((v) => (typeof v === 'string' ? [v] : v));

/** The CA certificates of the key `at`: each file read and parsed. */
function readCas(fail: Fail, at: string, baseDir: string, list: string[]): { files: string[]; pems: string[] } {
  const files = list.map((f) => resolve(baseDir, f));
  const pems = files.map((f) => readText(fail, at, f));
  files.forEach((f, i) => parseCertificate(fail, at, f, pems[i]!));
  return { files, pems };
}

/**
 * The SQLite file: a regular file or none yet, in a directory that exists. (The store would
 * create missing directories, and fail with a raw EISDIR on a directory.)
 */
function databasePath(fail: Fail, file: string): string {
  const refuse = (expected: string): never => fail(expected, { found: file });
  const kind = (p: string): 'missing' | 'file' | 'directory' | 'other' => {
    try {
      const st = statSync(p);
      return st.isFile() ? 'file' : st.isDirectory() ? 'directory' : 'other';
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return code === 'ENOENT' ? 'missing' : refuse(`expected a usable file path (${code ?? (e as Error).message})`);
    }
  };
  const self = kind(file);
  if (self === 'directory') refuse('expected a file path, not a directory');
  if (self === 'other') refuse('expected a regular file');
  const dir = dirname(file);
  const parent = kind(dir);
  if (parent === 'missing') refuse(`expected a file in an existing directory (${dir} does not exist)`);
  if (parent !== 'directory') refuse(`expected a file in an existing directory (${dir} is not a directory)`);
  return file;
}

const group = mapping({
  id: uint24(),
  profile: oneOf(HIERARCHY_PROFILES).default('pcr'),
  allowNullAlgorithms: bool().default(false),
  /** Explicit consent to a group without integrity protection (`nia: off`, profile lte-prose). */
  allowNoIntegrity: bool().default(false),
  nea: alg().default(2),
  nia: z.union([z.literal('off'), alg()], { error: 'expected an integer from 0 to 3' }).optional(),
  pgkLifetimeSec: num(1, 10 * 365 * 86400).default(86400),
  pgkOverlapSec: num(0.001).optional(),
  members: listOf(isSupi, 'SUPIs like imsi-001010000000001'),
  operators: listOf(isPlmnString, 'PLMN IDs like "001-02"').default([]),
  /** Who may send in whose name inside the group (src/pkmf/source-auth.ts); none: any member as any other. */
  sourceAuth: oneOf(SOURCE_AUTH_MODES).default('none'),
}).transform(
  withChecks((g, fail) => {
    const { profile, allowNoIntegrity, allowNullAlgorithms, nea, sourceAuth } = g;
    const nia: AlgId | null = g.nia === 'off' || (g.nia === undefined && profile === 'lte-prose') ? null : (g.nia ?? 2);
    if (profile === 'lte-prose' && nia !== null) return fail('expected "off" (profile lte-prose has no integrity)', { at: ['nia'] });
    // A group without integrity must be asked for: forged PDUs of insiders and bit flips go undetected.
    if (profile === 'lte-prose' && !allowNoIntegrity) {
      return fail('expected pcr or ts33533 (lte-prose has no integrity protection: set allowNoIntegrity: true to allow it)', { at: ['profile'] });
    }
    if (nia === null && !allowNoIntegrity) {
      return fail('expected 1, 2 or 3 ("off" means no integrity protection: set allowNoIntegrity: true to allow it)', { at: ['nia'] });
    }
    if (nea === 0 && !allowNullAlgorithms) return fail('expected 1, 2 or 3 (NEA0 needs allowNullAlgorithms: true)', { at: ['nea'], found: nea });
    if (nia === 0 && !allowNullAlgorithms) return fail('expected 1, 2, 3 or "off" (NIA0 needs allowNullAlgorithms: true)', { at: ['nia'], found: nia });
    const lifetimeSec = g.pgkLifetimeSec;
    const overlapSec = g.pgkOverlapSec ?? lifetimeSec / 4;
    if (overlapSec >= lifetimeSec) return fail(`expected less than pgkLifetimeSec (${lifetimeSec})`, { at: ['pgkOverlapSec'], found: overlapSec });
    if (new Set(g.members).size !== g.members.length) return fail('expected distinct SUPIs', { at: ['members'], found: undefined });
    // The source-authentication block rides under the MAC-I (docs/pdcp.md): no MAC-I, no block.
    if (sourceAuth !== 'none' && nia === null) return fail(`expected none (${sourceAuth} needs integrity protection: nia 1, 2 or 3)`, { at: ['sourceAuth'] });
    // A PDU carries at most MAX_PAIRWISE_PEERS tags, one per other member.
    if (sourceAuth === 'pairwise-mac' && g.members.length > MAX_PAIRWISE_PEERS + 1) {
      return fail(`expected at most ${MAX_PAIRWISE_PEERS + 1} members with pairwise-mac (one tag per other member per PDU; use signature)`, { at: ['members'], found: g.members.length });
    }
    return {
      groupId: g.id,
      nea,
      nia,
      profile,
      allowNullAlgorithms,
      allowNoIntegrity,
      pgkLifetimeMs: Math.round(lifetimeSec * 1000),
      pgkOverlapMs: Math.max(1, Math.round(overlapSec * 1000)),
      members: g.members,
      operators: g.operators,
      sourceAuth,
    };
  }),
);

const HTTPS_ORIGIN = 'expected an https://host:port URL';

function httpsOrigin(v: string): URL | undefined {
  try {
    const url = new URL(v);
    return url.protocol === 'https:' && url.pathname === '/' && !url.search ? url : undefined;
  } catch {
    return undefined;
  }
}

const peer = (baseDir: string) =>
  mapping({
    plmn: plmnId('001-02'),
    /** https://host:port of the peer's inter-PKMF HTTP/2 endpoint; absent = it only calls us. */
    url: str()
      .transform(withChecks((v, fail) => httpsOrigin(v) ?? fail(HTTPS_ORIGIN)))
      .optional(),
    ca: caFiles(),
    roaming: bool().default(false),
    groups: z.array(uint24(), { error: 'expected a list of 24-bit group IDs' }).default([]),
  }).transform(
    withChecks((p, fail) => {
      const { files, pems } = readCas(fail, 'ca', baseDir, p.ca);
      if (p.groups.length > 0 && !p.url) return fail("needs the peer's url (we must call it for these groups)", { at: ['groups'], found: undefined });
      if (p.roaming && !p.url) return fail("expected a URL: a roaming agreement means we relay our visitors' requests to this peer", { at: ['url'] });
      return {
        plmn: p.plmn,
        url: p.url,
        /** PEM text of the peer operator's CA (signs its PKMF and its UEs). */
        caPem: pems,
        caFiles: files,
        roaming: p.roaming,
        groups: p.groups,
      };
    }),
  );

const tlsSection = (baseDir: string) =>
  mapping({ cert: str(), key: str(), ca: caFiles() }).transform(
    withChecks((t, fail) => {
      const certFile = resolve(baseDir, t.cert);
      const keyFile = resolve(baseDir, t.key);
      const ca = readCas(fail, 'ca', baseDir, t.ca);
      const certPem = readText(fail, 'cert', certFile);
      const keyPem = readText(fail, 'key', keyFile);
      const cert = parseCertificate(fail, 'cert', certFile, certPem);
      checkKeyPair(fail, { cert, certName: 'tls.cert', certFile, keyPem, keyFile });
      return { certFile, keyFile, caFiles: ca.files, certPem, keyPem, caPem: ca.pems };
    }),
  );

const limitsSection = mapping({
  maxFrameBytes: int(64, MAX_FRAME_BYTES_LIMIT).default(DEFAULT_MAX_FRAME_BYTES),
  handshakeTimeoutSec: num(0.1, 600).default(10),
  idleTimeoutSec: num(0.1, 86400).default(60),
  peerTimeoutSec: num(0.1, 600).default(5),
  maxConnections: int(1, 1_000_000).default(10_000),
  maxUnauthenticatedPerSource: int(1, 1_000_000).default(64),
  handshakeLogIntervalSec: num(0, 86400).default(10),
  ueRequestBurst: int(1, 1_000_000).default(20),
  ueRequestsPerMin: num(0.001, 60_000_000).default(30),
})
  .prefault({})
  .transform((l) => ({
    maxFrameBytes: l.maxFrameBytes,
    handshakeTimeoutMs: Math.round(l.handshakeTimeoutSec * 1000),
    idleTimeoutMs: Math.round(l.idleTimeoutSec * 1000),
    peerTimeoutMs: Math.round(l.peerTimeoutSec * 1000),
    maxConnections: l.maxConnections,
    /** Connections from one source address not yet authenticated (TLS handshake unfinished). */
    maxUnauthenticatedPerSource: l.maxUnauthenticatedPerSource,
    /** At most one warn line per this interval summarising failed handshakes (and refused requests). */
    handshakeLogIntervalMs: Math.round(l.handshakeLogIntervalSec * 1000),
    /** Per-UE (SUPI) Key Request budget: a token bucket of this burst ... */
    ueRequestBurst: l.ueRequestBurst,
    /** ... refilled at this many requests per minute. */
    ueRequestsPerMin: l.ueRequestsPerMin,
  }));

/** Bounds of the issuance_log table: rows older than maxAgeMs, and beyond the newest maxRows, are deleted. */
const issuanceLogSection = mapping({
  maxAgeDays: num(0.001, 36500).default(30),
  maxRows: int(100, 1_000_000_000).default(100_000),
})
  .prefault({})
  .transform((il) => ({ maxAgeMs: Math.round(il.maxAgeDays * 86_400_000), maxRows: il.maxRows }));

/** The schema of the PKMF config in `source.file`. */
export function pkmfConfigSchema(source: ConfigSource) {
  return mapping({
    plmn: plmnId('001-01'),
    database: str().transform(withChecks((f, fail) => databasePath(fail, resolve(source.baseDir, f)))),
    listen: endpoint(7443),
    peerListen: endpoint(7444).optional(),
    tls: tlsSection(source.baseDir),
    limits: limitsSection,
    issuanceLog: issuanceLogSection,
    logLevel: oneOf(LOG_LEVELS).default('info'),
    groups: z.array(group, { error: 'expected a list' }).default([]),
    peers: z.array(peer(source.baseDir), { error: 'expected a list' }).default([]),
  }).transform(
    withChecks((c, fail) => {
      const { plmn, groups, peers } = c;
      const seenGroups = new Set<number>();
      for (const [i, g] of groups.entries()) {
        if (seenGroups.has(g.groupId)) return fail('expected a Group ID not used by another group', { at: ['groups', i, 'id'], found: hex24(g.groupId) });
        seenGroups.add(g.groupId);
      }
      const peerPlmns = new Set<string>();
      for (const [i, p] of peers.entries()) {
        if (p.plmn === plmn) return fail("expected a PLMN other than this PKMF's own", { at: ['peers', i, 'plmn'] });
        if (peerPlmns.has(p.plmn)) return fail('expected one entry per peer PLMN', { at: ['peers', i, 'plmn'] });
        peerPlmns.add(p.plmn);
        for (const [j, gid] of p.groups.entries()) {
          if (seenGroups.has(gid)) {
            return fail("expected a group owned by that peer, not one of ours or another peer's", { at: ['peers', i, 'groups', j], found: hex24(gid) });
          }
          seenGroups.add(gid);
        }
      }
      const known = [plmn, ...peerPlmns];
      for (const [i, g] of groups.entries()) {
        for (const [j, op] of g.operators.entries()) {
          if (!peerPlmns.has(op)) return fail('expected the PLMN of a configured peer', { at: ['groups', i, 'operators', j] });
        }
        for (const [j, supi] of g.members.entries()) {
          const home = homePlmnOf(supi, known);
          if (home === undefined) return fail('expected a SUPI of this PLMN or of a configured peer', { at: ['groups', i, 'members', j] });
          if (home !== plmn && !g.operators.includes(home)) {
            return fail(`expected ${home} in this group's operators (its member is a subscriber of ${home})`, { at: ['groups', i, 'members', j] });
          }
        }
      }
      const { database, listen, peerListen, tls, limits, issuanceLog } = c;
      // A string: `pkmf --log-level` overrides it (bridge/pkmf/server.ts).
      const logLevel: string = c.logLevel;
      return { file: source.file, plmn, database, listen, peerListen, tls, limits, issuanceLog, logLevel, groups, peers };
    }),
  );
}

export type PkmfConfig = z.output<ReturnType<typeof pkmfConfigSchema>>;
export type GroupConfig = PkmfConfig['groups'][number];
export type PeerConfig = PkmfConfig['peers'][number];
export type Endpoint = PkmfConfig['listen'];

/** Reads and validates a PKMF config file. */
export function loadPkmfConfig(file: string): PkmfConfig {
  return loadConfig(file, dirname(resolve(file)), pkmfConfigSchema);
}

/** Validates a config given as an object (e.g. built by a test or the demo); `file` names it in errors. */
export function pkmfConfigFromObject(doc: unknown, opts: { file?: string; baseDir?: string } = {}): PkmfConfig {
  return parsePkmfConfig(doc, { file: opts.file ?? '<pkmf config>', baseDir: opts.baseDir ?? process.cwd() });
}

/** Validates a parsed PKMF config document. */
export function parsePkmfConfig(doc: unknown, source: ConfigSource): PkmfConfig {
  return parseConfig(pkmfConfigSchema(source), doc, source.file);
}
