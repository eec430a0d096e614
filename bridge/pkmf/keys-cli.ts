/**
 * `sl-bridge keys fetch` / `keys show`: one request through the key client (persisting what it
 * gets), or the persisted keys, printed as text or JSON. PGK and pairwise key bytes appear only
 * with --show-keys (members' public keys always: they are not secret; the signing seed never).
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pino } from 'pino';
import { parse as parseYaml } from 'yaml';
import type { GmiLedger } from '../../src/pdcp/ptk-allocator.js';
import type { IssuedGroupKeys } from '../../src/pkmf/codec.js';
import { errorDescription, errorName } from '../../src/pkmf/errors.js';
import { hex24 } from '../../src/pkmf/identity.js';
import { sourceAuthModeOf } from '../../src/pkmf/source-auth.js';
import { CliError } from '../cli-error.js';
import { ConfigError } from '../config/reader.js';
import { FilePtkHighWaterStore, PTK_STATE_FILE, PtkStateError, readGmiClaims } from '../state/ptk-high-water-file.js';
import { KeyClient, readPersistedKeys } from './key-client.js';
import type { UeKeyConfig } from './ue-config.js';
import { loadUeKeyConfig } from './ue-config.js';

interface Flags {
  config?: string;
  showKeys?: boolean;
  json?: boolean;
}

function loadConfig(cmd: string, flags: Flags): UeKeyConfig {
  if (!flags.config) throw new CliError(`keys ${cmd}: --config <file> is required`, 2);
  try {
    return loadUeKeyConfig(flags.config);
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(e.message, 2);
    throw e;
  }
}

const ALG = ['0 (null)', '1 (SNOW 3G)', '2 (AES)', '3 (ZUC)'];

function until(ms: number, now: number): string {
  const s = Math.round((ms - now) / 1000);
  if (s < 0) return 'expired';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `in ${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `in ${m}m${String(s % 60).padStart(2, '0')}s` : `in ${s}s`;
}

type Shown = IssuedGroupKeys;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** A signature group's members and their public keys (6 hex digits -> 64 hex digits). */
function memberKeysJson(m: Shown): object {
  return m.sourceAuth?.mode === 'signature' ? { memberKeys: Object.fromEntries([...m.sourceAuth.publicKeys].map(([gmi, key]) => [hex24(gmi), hex(key)])) } : {};
}

function groupJson(m: Shown, showKeys: boolean): object {
  return {
    groupId: hex24(m.groupId),
    gmi: hex24(m.gmi),
    nea: m.nea,
    nia: m.nia,
    profile: m.profile,
    allowNullAlgorithms: m.allowNullAlgorithms ?? false,
    sourceAuth: sourceAuthModeOf(m.sourceAuth),
    ...memberKeysJson(m),
    pgks: [...m.pgks]
      .sort((a, b) => a.pgkId - b.pgkId)
      .map((p) => ({
        pgkId: p.pgkId,
        pgkIndex: p.pgkId & 0x1f,
        ...(p.activeFromMs === undefined ? {} : { activeFrom: new Date(p.activeFromMs).toISOString() }),
        expiresAt: new Date(p.expiresAtMs).toISOString(),
        ...(showKeys ? { pgk: hex(p.pgk) } : {}),
        ...(p.pairwiseKeys === undefined
          ? {}
          : { pairwiseWith: showKeys ? Object.fromEntries([...p.pairwiseKeys].map(([gmi, key]) => [hex24(gmi), hex(key)])) : [...p.pairwiseKeys.keys()].map(hex24) }),
      })),
  };
}

function groupText(m: Shown, showKeys: boolean, now: number): string {
  const lines = [
    `group ${hex24(m.groupId)}  GMI ${hex24(m.gmi)}  NEA ${ALG[m.nea]}  NIA ${m.nia === null ? 'off' : ALG[m.nia]}  profile ${m.profile}  source auth ${sourceAuthModeOf(m.sourceAuth)}`,
  ];
  if (m.sourceAuth?.mode === 'signature') {
    for (const [gmi, key] of m.sourceAuth.publicKeys) lines.push(`  member ${hex24(gmi)} public key ${hex(key)}${gmi === m.gmi ? ' (this UE)' : ''}`);
  }
  for (const p of [...m.pgks].sort((a, b) => a.pgkId - b.pgkId)) {
    lines.push(
      `  PGK ID ${p.pgkId} (0x${p.pgkId.toString(16).padStart(8, '0')}, index ${p.pgkId & 0x1f})  expires ${new Date(p.expiresAtMs).toISOString()} (${until(p.expiresAtMs, now)})` +
        (p.activeFromMs > now ? `  active from ${new Date(p.activeFromMs).toISOString()} (${until(p.activeFromMs, now)})` : ''),
    );
    if (showKeys) lines.push(`    PGK ${hex(p.pgk)}`);
    if (p.pairwiseKeys !== undefined) {
      lines.push(`    pairwise keys with ${p.pairwiseKeys.size} member(s)${p.pairwiseKeys.size > 0 ? `: ${[...p.pairwiseKeys.keys()].map(hex24).join(', ')}` : ''}`);
      if (showKeys) for (const [gmi, key] of p.pairwiseKeys) lines.push(`      ${hex24(gmi)} ${hex(key)}`);
    }
  }
  return lines.join('\n');
}

/** Where the daemon of this UE config keeps its PDCP state: `ue.stateDir`, else `keys.stateDir`. */
function pdcpStateFile(file: string, config: UeKeyConfig): string {
  let ueStateDir: unknown;
  try {
    ueStateDir = (parseYaml(readFileSync(file, 'utf8')) as { ue?: { stateDir?: unknown } } | null)?.ue?.stateDir;
  } catch {
    /* the keys: section parsed already; anything else is the daemon's business */
  }
  const dir = typeof ueStateDir === 'string' ? resolve(dirname(resolve(file)), ueStateDir) : config.stateDir;
  return join(dir, PTK_STATE_FILE);
}

/**
 * The GMI ledger for one request: the PDCP state itself when no daemon holds it (a new GMI is then
 * claimed there, as the daemon would), else a read-only view of its claims (the request carries
 * the daemon's GMI, so looking at the keys never costs the daemon its GMI; a new GMI could not be
 * claimed and is not used).
 */
function openLedger(stateFile: string): { ledger: GmiLedger; close(): void; readOnly: boolean } {
  try {
    const store = new FilePtkHighWaterStore(stateFile);
    return { ledger: store, close: () => store.close(), readOnly: false };
  } catch (e) {
    if (!(e instanceof PtkStateError) || !e.inUse) throw new CliError(`keys fetch: ${(e as Error).message}`, 1);
    const claims = readGmiClaims(stateFile);
    const ledger: GmiLedger = {
      heldGmi: (groupId) => claims.get(groupId),
      claimGmi: () => {
        throw new Error('a running daemon holds the PDCP state; only it can take a new GMI');
      },
    };
    return { ledger, close: () => undefined, readOnly: true };
  }
}

export async function fetchKeysCommand(flags: Flags): Promise<void> {
  const config = loadConfig('fetch', flags);
  const state = openLedger(pdcpStateFile(flags.config!, config));
  const client = new KeyClient(config, { logger: pino({ level: 'silent' }), ledger: state.ledger });
  let report: Awaited<ReturnType<KeyClient['fetchOnce']>>;
  try {
    report = await client.fetchOnce();
    await client.stop();
  } finally {
    state.close();
  }
  const refused = new Map(client.status().groups.filter((g) => g.error?.startsWith('REFUSED_BY_UE')).map((g) => [g.groupId, g.error!]));
  if (!report.ok || !report.response) {
    const e = report.error!;
    throw new CliError(`keys fetch: ${config.pkmf.host}:${config.pkmf.port}: ${e.code}: ${e.message}`, 1);
  }
  const res = report.response;
  const now = Date.now();
  if (flags.json) {
    const out = {
      supi: config.supi,
      pkmf: `${config.pkmf.host}:${config.pkmf.port}`,
      servingPlmn: res.servingPlmn,
      transactionId: res.transactionId,
      groups: res.groups.map((g) => {
        if (!g.ok) return { groupId: hex24(g.groupId), error: errorName(g.error) };
        const refusal = refused.get(g.groupId);
        return refusal === undefined ? groupJson(g.material, !!flags.showKeys) : { ...groupJson(g.material, false), error: refusal };
      }),
    };
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  } else {
    const lines = [
      `${config.supi} via PKMF ${config.pkmf.host}:${config.pkmf.port} (serving PLMN ${res.servingPlmn}), transaction ${res.transactionId}`,
    ];
    for (const g of res.groups) {
      const refusal = refused.get(g.groupId);
      if (g.ok && refusal !== undefined) lines.push(`group ${hex24(g.groupId)}  ${refusal} (not persisted)`);
      else if (g.ok) lines.push(groupText(g.material, !!flags.showKeys, now));
      else lines.push(`group ${hex24(g.groupId)}  error ${errorName(g.error)}: ${errorDescription(g.error)}`);
    }
    lines.push(`persisted to ${client.stateFile}`);
    process.stdout.write(lines.join('\n') + '\n');
  }
  if (res.groups.every((g) => !g.ok || refused.has(g.groupId))) process.exitCode = 1;
}

export async function showKeysCommand(flags: Flags): Promise<void> {
  const config = loadConfig('show', flags);
  let groups: Shown[];
  try {
    groups = readPersistedKeys(config);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(code === 'ENOENT' ? `keys show: no persisted keys in ${config.stateDir} (run \`sl-bridge keys fetch\`)` : `keys show: ${(e as Error).message}`, 1);
  }
  const now = Date.now();
  if (flags.json) {
    process.stdout.write(JSON.stringify({ supi: config.supi, groups: groups.map((g) => groupJson(g, !!flags.showKeys)) }, null, 2) + '\n');
    return;
  }
  if (groups.length === 0) process.stdout.write(`${config.supi}: no valid persisted keys\n`);
  else process.stdout.write(`${config.supi} (persisted)\n${groups.map((g) => groupText(g, !!flags.showKeys, now)).join('\n')}\n`);
}
