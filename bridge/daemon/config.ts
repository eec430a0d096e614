/**
 * The daemon's UE config: one YAML file per UE. The `keys:` section belongs to the key client
 * (bridge/pkmf/ue-config.ts, docs/pkmf.md); the daemon owns every other section. Validated at
 * load by the schema below (bridge/config/schema.ts): every error names the file, the key path
 * and what was expected, and unknown keys are errors. Reference: docs/daemon.md.
 */
import { basename, dirname, extname, resolve } from 'node:path';
import * as z from 'zod';
import { hex24 } from '../../src/pkmf/identity.js';
import { LOG_LEVELS } from '../config/log-levels.js';
import { int, listOf, loadConfig, mapping, num, oneOf, parseConfig, str, UINT24, uint24, withChecks, type ConfigSource } from '../config/schema.js';
import { ueKeysSchema } from '../pkmf/ue-config.js';
import { isZmqEndpoint, zmqEndpoint, ZMQ_ENDPOINT_EXPECTED } from '../profiles/schema.js';

export { LOG_LEVELS, type LogLevel } from '../config/log-levels.js';

export const DEFAULT_PDCP_CONFIG = { txGuardMs: 60_000, rxExpiryGraceMs: 30_000, ptkBlockSize: 8, snPerPtk: 0x10000, replayMarkStep: 64 };

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const GROUP_IDS = `expected a non-empty list of Group IDs (${UINT24})`;

const pdcp = mapping({
  txGuardSec: num(0, 30 * 86400).default(DEFAULT_PDCP_CONFIG.txGuardMs / 1000),
  rxExpiryGraceSec: num(0, 86400).default(DEFAULT_PDCP_CONFIG.rxExpiryGraceMs / 1000),
  ptkBlockSize: int(1, 4096).default(DEFAULT_PDCP_CONFIG.ptkBlockSize),
  snPerPtk: int(1, 0x10000).default(DEFAULT_PDCP_CONFIG.snPerPtk),
  replayMarkStep: int(1, 0x10000).default(DEFAULT_PDCP_CONFIG.replayMarkStep),
})
  .prefault({})
  .transform((p) => ({
    /** Sender guard time before a PGK's expiry (docs/protocol.md 5), ms. */
    txGuardMs: Math.round(p.txGuardSec * 1000),
    /** Receiver clock-skew grace after a PGK's expiry (docs/protocol.md 6), ms. */
    rxExpiryGraceMs: Math.round(p.rxExpiryGraceSec * 1000),
    /** PTK IDs reserved per durable save of the high-water mark. */
    ptkBlockSize: p.ptkBlockSize,
    /** SNs per PTK before the next PTK ID (65536 = the whole SN space). */
    snPerPtk: p.snPerPtk,
    /**
     * How far ahead of an accepted COUNT the durable replay floor moves (src/pdcp/replay-marks.ts):
     * a crash of the receiver costs each sender at most this many PDUs minus one.
     */
    replayMarkStep: p.replayMarkStep,
  }));

const app = mapping({
  endpoint: zmqEndpoint(true, 'expected a ZeroMQ endpoint to bind: tcp://HOST:PORT (PORT may be *), ipc:///PATH or inproc://NAME').optional(),
  endpoints: listOf((v): v is string => typeof v === 'string' && isZmqEndpoint(v, true), 'ZeroMQ endpoints to bind')
    .min(1, 'expected at least one endpoint')
    .optional(),
  maxSduBytes: int(1, 9000).default(9000),
}).transform(
  withChecks((a, fail) => {
    if (a.endpoint !== undefined && a.endpoints !== undefined) fail('expected either endpoint or endpoints, not both', { at: ['endpoints'], found: undefined });
    const endpoints = a.endpoints ?? (a.endpoint !== undefined ? [a.endpoint] : fail('expected a string (this key is required)', { at: ['endpoint'] }));
    return { endpoints, maxSduBytes: a.maxSduBytes };
  }),
);

/** The schema of the UE config in `source.file`. */
export function daemonConfigSchema(source: ConfigSource) {
  return mapping({
    // The key client's own schema (first, as its errors come first).
    keys: ueKeysSchema(source).optional(),
    ue: mapping({
      name: str().refine((v) => NAME.test(v), 'expected a name of letters, digits, ".", "_" or "-" (at most 64)').optional(),
      stateDir: str().optional(),
      l2SourceId: uint24().optional(),
    }).prefault({}),
    app,
    stack: mapping({ endpoint: zmqEndpoint(true, ZMQ_ENDPOINT_EXPECTED).optional() }).prefault({}),
    groups: z
      .array(uint24(), { error: GROUP_IDS })
      .min(1, GROUP_IDS)
      .superRefine(
        withChecks((groups, fail) => {
          if (new Set(groups).size !== groups.length) fail('expected each group once');
        }),
      )
      .optional(),
    pdcp,
    logLevel: oneOf(LOG_LEVELS).default('info'),
  }).transform(
    withChecks((c, fail) => {
      const { keys } = c;
      const stateDir = c.ue.stateDir !== undefined ? resolve(source.baseDir, c.ue.stateDir) : keys?.stateDir;
      if (stateDir === undefined) return fail('expected ue.stateDir (or a keys: section whose stateDir the daemon shares)', { at: ['ue'], found: undefined });
      let groups = c.groups;
      if (groups === undefined) {
        if (!keys) return fail('expected a list of Group IDs (required without a keys: section)', { at: ['groups'] });
        groups = keys.groups.map((g) => g.groupId);
      } else if (keys) {
        const offered = new Set(keys.groups.map((g) => g.groupId));
        const i = groups.findIndex((g) => !offered.has(g));
        if (i >= 0) fail(`expected a group listed in keys.groups (${[...offered].map(hex24).join(', ')})`, { at: ['groups', i], found: hex24(groups[i]!) });
      }
      const fileName = basename(source.file, extname(source.file));
      return {
        /** The config file (absolute). */
        file: source.file,
        /** Label in logs and status lines. */
        name: c.ue.name ?? (NAME.test(fileName) ? fileName : 'ue'),
        /** The daemon's own state (PTK ID high-water marks), absolute. */
        stateDir,
        /** The config key `stateDir` came from, for messages: `ue.stateDir` or `keys.stateDir`. */
        stateDirKey: c.ue.stateDir !== undefined ? ('ue.stateDir' as const) : ('keys.stateDir' as const),
        /** Endpoints the application socket binds. */
        appEndpoints: c.app.endpoints,
        /** Largest SDU accepted from an application. */
        maxSduBytes: c.app.maxSduBytes,
        /** Overrides the hw-profile's `transport.endpoint` (ZeroMQ profiles only). */
        stackEndpoint: c.stack.endpoint,
        /** Groups this daemon carries (default: every group of `keys.groups`). */
        groups,
        /** L2 source ID for `--security off` when no keys are held (absent: the GMI from the keys). */
        l2SourceId: c.ue.l2SourceId,
        pdcp: c.pdcp,
        logLevel: c.logLevel,
        /** The key client's section; absent only for a daemon run with security off. */
        keys,
      };
    }),
  );
}

export type DaemonConfig = z.output<ReturnType<typeof daemonConfigSchema>>;
export type DaemonPdcpConfig = DaemonConfig['pdcp'];

/** Reads and validates a UE config file. Throws ConfigError. */
export function loadDaemonConfig(file: string): DaemonConfig {
  const abs = resolve(file);
  return loadConfig(abs, dirname(abs), daemonConfigSchema);
}

/** The same from a parsed document (`file` names it in errors). */
export function daemonConfigFromObject(doc: unknown, opts: { file?: string; baseDir?: string } = {}): DaemonConfig {
  const source = { file: opts.file ?? '<ue config>', baseDir: opts.baseDir ?? process.cwd() };
  return parseConfig(daemonConfigSchema(source), doc, source.file);
}
