/**
 * The UE side's key configuration: the `keys:` section of a UE YAML file (the daemon's UE config
 * holds other sections beside it; `sl-bridge keys fetch --config UE.yaml` reads only this one).
 * Relative paths are resolved against the config file's directory. Reference: docs/pkmf.md.
 */
import { X509Certificate } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import * as z from 'zod';
import type { AlgId } from '../../src/crypto/types.js';
import type { SourceAuthMode } from '../../src/keys/types.js';
import { hex24, homePlmnOf, isSupi, supiFromSubjectAltName } from '../../src/pkmf/identity.js';
import type { GroupAlgorithmPolicy } from '../../src/pkmf/policy.js';
import type { RefreshPolicy } from '../../src/pkmf/refresh.js';
import { DEFAULT_REFRESH_POLICY } from '../../src/pkmf/refresh.js';
import { isSourceAuthMode } from '../../src/pkmf/source-auth.js';
import { bool, int, listOf, loadConfig, mapping, mappingMessage, num, parseConfig, str, uint24, withChecks, type ConfigSource } from '../config/schema.js';
import { caFiles, checkKeyPair, plmnId, readText } from './config.js';

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
const algorithms = () => listOf(isAlg, 'algorithm IDs 0..3').default((): AlgId[] => [1, 2, 3]);

const group = mapping({
  id: uint24(),
  nea: algorithms(),
  nia: algorithms(),
  allowNoIntegrity: bool().default(false),
  allowNullAlgorithms: bool().default(false),
  /** The source-authentication modes this UE accepts for the group (absent: any, `none` included). */
  sourceAuth: listOf(isSourceAuthMode, 'source-authentication modes: none, pairwise-mac, signature').optional(),
}).transform(
  withChecks((g, fail): UeGroupConfig => {
    if (!g.allowNullAlgorithms && g.nea.includes(0)) fail('expected 1, 2 or 3 (NEA0 needs allowNullAlgorithms: true)', { at: ['nea'], found: 0 });
    if (!g.allowNullAlgorithms && g.nia.includes(0)) fail('expected 1, 2 or 3 (NIA0 needs allowNullAlgorithms: true)', { at: ['nia'], found: 0 });
    if (g.sourceAuth?.length === 0) fail('expected at least one mode (leave the key out to accept any)', { at: ['sourceAuth'], found: undefined });
    const acceptSourceAuth: SourceAuthMode[] | undefined = g.sourceAuth;
    return {
      groupId: g.id,
      supportedNea: g.nea,
      supportedNia: g.nia,
      allowNoIntegrity: g.allowNoIntegrity,
      allowNullAlgorithms: g.allowNullAlgorithms,
      ...(acceptSourceAuth === undefined ? {} : { acceptSourceAuth }),
    };
  }),
);

/** The client certificate and key, and the CAs that may sign the serving PKMF: read and checked at load. */
const tlsSection = (baseDir: string) =>
  mapping({ cert: str(), key: str(), ca: caFiles('expected a file path or a non-empty list of file paths (CAs that may sign the serving PKMF)') }).transform(
    withChecks((t, fail) => {
      const certFile = resolve(baseDir, t.cert);
      const keyFile = resolve(baseDir, t.key);
      const certPem = readText(fail, 'cert', certFile);
      const keyPem = readText(fail, 'key', keyFile);
      const caList = t.ca.map((c) => resolve(baseDir, c));
      const caPem = caList.map((c) => readText(fail, 'ca', c));
      let cert: X509Certificate;
      let supi: string | undefined;
      try {
        cert = new X509Certificate(certPem);
        supi = supiFromSubjectAltName(cert.subjectAltName);
      } catch {
        return fail('expected a PEM certificate', { at: ['cert'], found: certFile });
      }
      checkKeyPair(fail, { cert, certName: 'the certificate in keys.tls.cert', certFile, keyPem, keyFile });
      if (!supi) return fail('expected a UE certificate naming a SUPI (URI SAN urn:3gpp:supi:imsi-...)', { at: ['cert'], found: certFile });
      return { supi, certPem, keyPem, caPem, certFile, keyFile, caFiles: caList };
    }),
  );

const pkmfSection = mapping({
  host: str().default('127.0.0.1'),
  port: int(1, 65535),
  servername: str().optional(),
  requestTimeoutSec: num(0.1, 600).default(10),
  maxFrameBytes: int(1024, 16 * 1024 * 1024).default(1024 * 1024),
});

const REFRESH = DEFAULT_REFRESH_POLICY;
const refreshSection = mapping({
  jitter: num(0.001, 1).default(REFRESH.jitter),
  minDelaySec: num(0, 86400).default(REFRESH.minDelayMs / 1000),
  maxDelaySec: num(0.001, 30 * 86400).default(REFRESH.maxDelayMs / 1000),
  backoffBaseSec: num(0.001, 3600).default(REFRESH.backoffBaseMs / 1000),
  backoffMaxSec: num(0.001, 86400).default(REFRESH.backoffMaxMs / 1000),
}).transform(
  withChecks((r, fail): RefreshPolicy => {
    const refresh = {
      jitter: r.jitter,
      minDelayMs: Math.round(r.minDelaySec * 1000),
      maxDelayMs: Math.round(r.maxDelaySec * 1000),
      backoffBaseMs: Math.round(r.backoffBaseSec * 1000),
      backoffMaxMs: Math.round(r.backoffMaxSec * 1000),
    };
    if (refresh.maxDelayMs < refresh.minDelayMs) fail('expected at least minDelaySec', { at: ['maxDelaySec'], found: refresh.maxDelayMs / 1000 });
    if (refresh.backoffMaxMs < refresh.backoffBaseMs) fail('expected at least backoffBaseSec', { at: ['backoffMaxSec'], found: refresh.backoffMaxMs / 1000 });
    return refresh;
  }),
);

/**
 * The schema of the `keys:` mapping of the UE config in `source.file` (the daemon's schema embeds
 * it under `keys`; messages name the key paths below `keys.`).
 */
export function ueKeysSchema(source: ConfigSource) {
  return mapping({
    tls: tlsSection(source.baseDir),
    supi: str().optional(),
    homePlmn: plmnId('001-01'),
    pkmf: pkmfSection,
    groups: z.array(group, { error: 'expected a list' }),
    stateDir: str(),
    freshGmiOnStart: bool().default(false),
    refresh: refreshSection.optional(),
  }).transform(
    withChecks((k, fail): UeKeyConfig => {
      const { supi, ...tls } = k.tls;
      if (k.supi !== undefined && (!isSupi(k.supi) || k.supi !== supi)) fail(`expected the SUPI of the certificate (${supi})`, { at: ['supi'] });
      if (homePlmnOf(supi, [k.homePlmn]) !== k.homePlmn) fail(`expected the PLMN whose MCC+MNC start the SUPI ${supi}`, { at: ['homePlmn'] });
      if (k.groups.length === 0) fail('expected at least one group', { at: ['groups'], found: undefined });
      const seen = new Set<number>();
      k.groups.forEach((g, i) => {
        if (seen.has(g.groupId)) fail('expected each group once', { at: ['groups', i, 'id'], found: hex24(g.groupId) });
        seen.add(g.groupId);
        if (g.supportedNea.length === 0) fail('expected at least one algorithm', { at: ['groups', i, 'nea'], found: undefined });
      });
      const { host, port, servername, requestTimeoutSec, maxFrameBytes } = k.pkmf;
      return {
        file: source.file,
        supi,
        homePlmn: k.homePlmn,
        tls,
        pkmf: { host, port, servername },
        groups: k.groups,
        stateDir: resolve(source.baseDir, k.stateDir),
        refresh: k.refresh ?? { ...REFRESH },
        requestTimeoutMs: Math.round(requestTimeoutSec * 1000),
        maxFrameBytes,
        freshGmiOnStart: k.freshGmiOnStart,
      };
    }),
  );
}

/** Reads `keys:` of a UE config file (the other sections are the daemon's: not checked here). */
export function loadUeKeyConfig(file: string): UeKeyConfig {
  return loadConfig(file, dirname(resolve(file)), (source) => z.looseObject({ keys: ueKeysSchema(source) }, { error: mappingMessage })).keys;
}

/** The same from an object (the `keys:` mapping); `file` names it in errors. */
export function ueKeyConfigFromObject(doc: unknown, opts: { file?: string; baseDir?: string } = {}): UeKeyConfig {
  const source = { file: opts.file ?? '<ue config>', baseDir: opts.baseDir ?? process.cwd() };
  return parseConfig(z.object({ keys: ueKeysSchema(source) }), { keys: doc }, source.file).keys;
}
