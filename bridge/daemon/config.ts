/**
 * The daemon's UE config: one YAML file per UE. The `keys:` section belongs to the key client
 * (bridge/pkmf/ue-config.ts, docs/pkmf.md); the daemon owns every other section. Validated at
 * load: every error names the file, the key path and what was expected, and unknown keys are
 * errors. Reference: docs/daemon.md.
 */
import { basename, dirname, extname, resolve } from 'node:path';
import { hex24 } from '../../src/pkmf/identity.js';
import { ConfigError, ConfigReader, readYamlConfig } from '../config/reader.js';
import { parseUeKeyConfig, type UeKeyConfig } from '../pkmf/ue-config.js';
import { isZmqEndpoint } from '../profiles/loader.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface DaemonPdcpConfig {
  /** Sender guard time before a PGK's expiry (docs/protocol.md 5), ms. */
  txGuardMs: number;
  /** Receiver clock-skew grace after a PGK's expiry (docs/protocol.md 6), ms. */
  rxExpiryGraceMs: number;
  /** PTK IDs reserved per durable save of the high-water mark. */
  ptkBlockSize: number;
  /** SNs per PTK before the next PTK ID (65536 = the whole SN space). */
  snPerPtk: number;
  /**
   * How far ahead of an accepted COUNT the durable replay floor moves (src/pdcp/replay-marks.ts):
   * a crash of the receiver costs each sender at most this many PDUs minus one.
   */
  replayMarkStep: number;
}

export interface DaemonConfig {
  /** The config file (absolute). */
  file: string;
  /** Label in logs and status lines. */
  name: string;
  /** The daemon's own state (PTK ID high-water marks), absolute. */
  stateDir: string;
  /** The config key `stateDir` came from, for messages: `ue.stateDir` or `keys.stateDir`. */
  stateDirKey: 'ue.stateDir' | 'keys.stateDir';
  /** Endpoints the application socket binds. */
  appEndpoints: string[];
  /** Largest SDU accepted from an application. */
  maxSduBytes: number;
  /** Overrides the hw-profile's `transport.endpoint` (ZeroMQ profiles only). */
  stackEndpoint: string | undefined;
  /** Groups this daemon carries (default: every group of `keys.groups`). */
  groups: number[];
  /** L2 source ID for `--security off` when no keys are held (absent: the GMI from the keys). */
  l2SourceId: number | undefined;
  pdcp: DaemonPdcpConfig;
  logLevel: LogLevel;
  /** The key client's section; absent only for a daemon run with security off. */
  keys: UeKeyConfig | undefined;
}

export const DEFAULT_PDCP_CONFIG: DaemonPdcpConfig = { txGuardMs: 60_000, rxExpiryGraceMs: 30_000, ptkBlockSize: 8, snPerPtk: 0x10000, replayMarkStep: 64 };

/** Reads and validates a UE config file. Throws ConfigError. */
export function loadDaemonConfig(file: string): DaemonConfig {
  const abs = resolve(file);
  const root = readYamlConfig(abs);
  const cfg = parseDaemonConfig(root, dirname(abs));
  root.done();
  return cfg;
}

/** The same from a parsed document (`file` names it in errors). */
export function daemonConfigFromObject(doc: unknown, opts: { file?: string; baseDir?: string } = {}): DaemonConfig {
  const root = ConfigReader.root(opts.file ?? '<ue config>', doc);
  const cfg = parseDaemonConfig(root, opts.baseDir ?? process.cwd());
  root.done();
  return cfg;
}

function uint24(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffff) return v;
  if (typeof v === 'string' && /^(0x)?[0-9a-fA-F]{1,6}$/.test(v)) return parseInt(v.replace(/^0x/i, ''), 16);
  return undefined;
}
const UINT24 = 'a 24-bit ID (an integer up to 0xFFFFFF, or up to 6 hex digits)';

function parseDaemonConfig(root: ConfigReader, baseDir: string): DaemonConfig {
  const keysSection = root.section('keys', true);
  const keys = keysSection ? parseUeKeyConfig(keysSection, baseDir) : undefined;
  keysSection?.done();

  const ue = root.section('ue', true);
  const fileName = basename(root.file, extname(root.file));
  const defaultName = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(fileName) ? fileName : 'ue';
  const name = ue?.string('name', defaultName) ?? defaultName;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) {
    (ue ?? root).fail(ue ? 'name' : 'ue', 'expected a name of letters, digits, ".", "_" or "-" (at most 64)', name);
  }
  const stateDirRaw = ue?.optionalString('stateDir');
  const stateDir = stateDirRaw !== undefined ? resolve(baseDir, stateDirRaw) : keys?.stateDir;
  if (stateDir === undefined) root.fail('ue', 'expected ue.stateDir (or a keys: section whose stateDir the daemon shares)');
  const l2Raw = ue?.raw('l2SourceId');
  let l2SourceId: number | undefined;
  if (l2Raw !== undefined && l2Raw !== null) {
    l2SourceId = uint24(l2Raw);
    if (l2SourceId === undefined) ue!.fail('l2SourceId', `expected ${UINT24}`, l2Raw);
  }
  ue?.done();

  const app = root.section('app');
  const endpointRaw = app.raw('endpoint');
  const endpointsRaw = app.raw('endpoints');
  let appEndpoints: string[];
  if (endpointRaw !== undefined && endpointsRaw !== undefined) app.fail('endpoints', 'expected either endpoint or endpoints, not both');
  if (endpointsRaw !== undefined) {
    appEndpoints = app.scalarList('endpoints', (v): v is string => typeof v === 'string' && isZmqEndpoint(v, true), 'ZeroMQ endpoints to bind');
    if (appEndpoints.length === 0) app.fail('endpoints', 'expected at least one endpoint');
  } else {
    const ep = app.string('endpoint');
    if (!isZmqEndpoint(ep, true)) app.fail('endpoint', 'expected a ZeroMQ endpoint to bind: tcp://HOST:PORT (PORT may be *), ipc:///PATH or inproc://NAME', ep);
    appEndpoints = [ep];
  }
  const maxSduBytes = app.int('maxSduBytes', { min: 1, max: 9000, def: 9000 });
  app.done();

  const stack = root.section('stack', true);
  const stackEndpoint = stack?.optionalString('endpoint');
  if (stackEndpoint !== undefined && !isZmqEndpoint(stackEndpoint, true)) {
    stack!.fail('endpoint', 'expected a ZeroMQ endpoint: tcp://HOST:PORT, ipc:///PATH or inproc://NAME', stackEndpoint);
  }
  stack?.done();

  let groups: number[];
  if (root.has('groups')) {
    const list = root.raw('groups');
    if (!Array.isArray(list) || list.length === 0) root.fail('groups', `expected a non-empty list of Group IDs (${UINT24})`, list);
    groups = list.map((v, i) => {
      const id = uint24(v);
      if (id === undefined) throw new ConfigError(root.file, `groups[${i}]`, `expected ${UINT24}`, v);
      return id;
    });
    if (new Set(groups).size !== groups.length) root.fail('groups', 'expected each group once', list);
    if (keys) {
      const offered = new Set(keys.groups.map((g) => g.groupId));
      groups.forEach((g, i) => {
        if (!offered.has(g)) throw new ConfigError(root.file, `groups[${i}]`, `expected a group listed in keys.groups (${[...offered].map(hex24).join(', ')})`, hex24(g));
      });
    }
  } else {
    root.raw('groups');
    if (!keys) root.fail('groups', 'expected a list of Group IDs (required without a keys: section)');
    groups = keys.groups.map((g) => g.groupId);
  }

  const p = root.section('pdcp', true);
  const d = DEFAULT_PDCP_CONFIG;
  const pdcp: DaemonPdcpConfig = p
    ? {
        txGuardMs: Math.round(p.number('txGuardSec', { min: 0, max: 30 * 86400, def: d.txGuardMs / 1000 }) * 1000),
        rxExpiryGraceMs: Math.round(p.number('rxExpiryGraceSec', { min: 0, max: 86400, def: d.rxExpiryGraceMs / 1000 }) * 1000),
        ptkBlockSize: p.int('ptkBlockSize', { min: 1, max: 4096, def: d.ptkBlockSize }),
        snPerPtk: p.int('snPerPtk', { min: 1, max: 0x10000, def: d.snPerPtk }),
        replayMarkStep: p.int('replayMarkStep', { min: 1, max: 0x10000, def: d.replayMarkStep }),
      }
    : { ...d };
  p?.done();

  const logLevel = root.oneOf('logLevel', LOG_LEVELS, 'info');

  return {
    file: root.file,
    name,
    stateDir: stateDir!,
    stateDirKey: stateDirRaw !== undefined ? 'ue.stateDir' : 'keys.stateDir',
    appEndpoints,
    maxSduBytes,
    stackEndpoint,
    groups,
    l2SourceId,
    pdcp,
    logLevel,
    keys,
  };
}
