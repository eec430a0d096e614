/**
 * The key client's persisted state (`<stateDir>/keys.json`, mode 0600): serialization and a
 * checking parser. A file that fails the checks is treated as absent (and reported), never
 * trusted in part: the client then simply fetches again. It holds the group's source
 * authentication as issued (pairwise keys, members' public keys), never the UE's signing seed
 * (a file of its own, bridge/pkmf/signing-key.ts).
 */
import { createHash } from 'node:crypto';
import type { AlgId, HierarchyProfile } from '../crypto/types.js';
import { HIERARCHY_PROFILES } from '../crypto/types.js';
import type { GroupKeyMaterial, PgkRecord } from '../keys/types.js';
import type { IssuedGroupKeys, IssuedPgk } from './codec.js';
import { PGK_BYTES } from './codec.js';
import { isSupi, isUint24, isUint32 } from './identity.js';
import type { IssuedSourceAuth } from './source-auth.js';
import { gmiKeyMap, isSourceAuthMode, PAIRWISE_KEY_BYTES, SIGNING_PUBLIC_KEY_BYTES, sourceAuthModeOf, sourceAuthViolation } from './source-auth.js';

export const KEY_STATE_VERSION = 1;

export interface HeldGroup {
  material: IssuedGroupKeys;
  renewAfterMs: number;
}

export interface KeyState {
  supi: string;
  savedAtMs: number;
  groups: HeldGroup[];
}

export function serializeKeyState(state: KeyState): string {
  return JSON.stringify(
    {
      version: KEY_STATE_VERSION,
      supi: state.supi,
      savedAtMs: state.savedAtMs,
      groups: state.groups.map(({ material: m, renewAfterMs }) => ({
        groupId: m.groupId,
        gmi: m.gmi,
        nea: m.nea,
        nia: m.nia,
        profile: m.profile,
        allowNullAlgorithms: m.allowNullAlgorithms ?? false,
        sourceAuth: sourceAuthModeOf(m.sourceAuth),
        renewAfterMs,
        pgks: m.pgks.map((p) => ({
          pgkId: p.pgkId,
          pgk: Buffer.from(p.pgk).toString('hex'),
          activeFromMs: p.activeFromMs,
          expiresAtMs: p.expiresAtMs,
          ...(p.pairwiseKeys === undefined ? {} : { pairwiseKeys: [...p.pairwiseKeys].map(([peerGmi, key]) => ({ peerGmi, key: hex(key) })) }),
        })),
        ...(m.sourceAuth?.mode === 'signature' ? { publicKeys: [...m.sourceAuth.publicKeys].map(([gmi, key]) => ({ gmi, publicKey: hex(key) })) } : {}),
      })),
    },
    null,
    2,
  );
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** A list of {<gmiField>: number, <keyField>: hex} as a checked GMI -> key map; throws TypeError naming `at`. */
function gmiKeysFromState(v: unknown, gmiField: string, keyField: string, keyBytes: number, at: string): Map<number, Uint8Array> {
  if (!Array.isArray(v)) throw new TypeError(`${at}: expected a list`);
  const entries = v.map((e: unknown): [unknown, Uint8Array | undefined] => {
    if (!isObj(e)) return [undefined, undefined];
    const key = e[keyField];
    return [e[gmiField], typeof key === 'string' && /^([0-9a-f]{2})*$/.test(key) ? Uint8Array.from(Buffer.from(key, 'hex')) : undefined];
  });
  const r = gmiKeyMap(entries, keyBytes, at);
  if (!r.ok) throw new TypeError(r.reason);
  return r.value;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isAlg(v: unknown): v is AlgId {
  return v === 0 || v === 1 || v === 2 || v === 3;
}

function isTime(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Parses a state file's text; throws TypeError naming the first bad field. */
export function parseKeyState(text: string): KeyState {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new TypeError(`not JSON: ${(e as Error).message}`);
  }
  if (!isObj(doc) || doc.version !== KEY_STATE_VERSION) throw new TypeError(`version: expected ${KEY_STATE_VERSION}`);
  if (!isSupi(doc.supi)) throw new TypeError('supi: expected an IMSI SUPI');
  if (!isTime(doc.savedAtMs)) throw new TypeError('savedAtMs: expected a time');
  if (!Array.isArray(doc.groups)) throw new TypeError('groups: expected a list');
  const groups = doc.groups.map((g: unknown, i: number): HeldGroup => {
    const at = `groups[${i}]`;
    if (!isObj(g)) throw new TypeError(`${at}: expected an object`);
    if (!isUint24(g.groupId)) throw new TypeError(`${at}.groupId: expected a 24-bit integer`);
    if (!isUint24(g.gmi)) throw new TypeError(`${at}.gmi: expected a 24-bit integer`);
    if (!isAlg(g.nea)) throw new TypeError(`${at}.nea: expected 0..3`);
    if (g.nia !== null && !isAlg(g.nia)) throw new TypeError(`${at}.nia: expected 0..3 or null`);
    if (typeof g.profile !== 'string' || !(HIERARCHY_PROFILES as readonly string[]).includes(g.profile)) {
      throw new TypeError(`${at}.profile: expected one of ${HIERARCHY_PROFILES.join(', ')}`);
    }
    if (typeof g.allowNullAlgorithms !== 'boolean') throw new TypeError(`${at}.allowNullAlgorithms: expected a boolean`);
    if (!isTime(g.renewAfterMs)) throw new TypeError(`${at}.renewAfterMs: expected a time`);
    // Absent: a file from before source authentication, whose groups have none.
    const mode = g.sourceAuth ?? 'none';
    if (!isSourceAuthMode(mode)) throw new TypeError(`${at}.sourceAuth: expected none, pairwise-mac or signature`);
    if (!Array.isArray(g.pgks)) throw new TypeError(`${at}.pgks: expected a list`);
    const pgks = g.pgks.map((p: unknown, j: number): IssuedPgk => {
      const pat = `${at}.pgks[${j}]`;
      if (!isObj(p) || !isUint32(p.pgkId)) throw new TypeError(`${pat}.pgkId: expected a 32-bit integer`);
      if (typeof p.pgk !== 'string' || !/^[0-9a-f]*$/.test(p.pgk) || p.pgk.length !== PGK_BYTES * 2) {
        throw new TypeError(`${pat}.pgk: expected ${PGK_BYTES * 2} hex digits`);
      }
      if (!isTime(p.expiresAtMs)) throw new TypeError(`${pat}.expiresAtMs: expected a time`);
      if (!isTime(p.activeFromMs)) throw new TypeError(`${pat}.activeFromMs: expected a time`);
      const pgk: IssuedPgk = { pgkId: p.pgkId, pgk: Uint8Array.from(Buffer.from(p.pgk, 'hex')), activeFromMs: p.activeFromMs, expiresAtMs: p.expiresAtMs };
      if (p.pairwiseKeys !== undefined) pgk.pairwiseKeys = gmiKeysFromState(p.pairwiseKeys, 'peerGmi', 'key', PAIRWISE_KEY_BYTES, `${pat}.pairwiseKeys`);
      return pgk;
    });
    if (mode !== 'signature' && g.publicKeys !== undefined) throw new TypeError(`${at}.publicKeys: given, but sourceAuth is ${mode}`);
    const sourceAuth: IssuedSourceAuth | undefined =
      mode === 'none' ? undefined
      : mode === 'pairwise-mac' ? { mode }
      : { mode, publicKeys: gmiKeysFromState(g.publicKeys, 'gmi', 'publicKey', SIGNING_PUBLIC_KEY_BYTES, `${at}.publicKeys`) };
    const violation = sourceAuthViolation(sourceAuth, g.gmi, pgks);
    if (violation !== undefined) throw new TypeError(`${at}: ${violation}`);
    return {
      material: {
        groupId: g.groupId,
        gmi: g.gmi,
        nea: g.nea,
        nia: g.nia as AlgId | null,
        profile: g.profile as HierarchyProfile,
        allowNullAlgorithms: g.allowNullAlgorithms,
        pgks,
        ...(sourceAuth === undefined ? {} : { sourceAuth }),
      },
      renewAfterMs: g.renewAfterMs,
    };
  });
  return { supi: doc.supi, savedAtMs: doc.savedAtMs, groups };
}

/**
 * `m` as senders and receivers take it (the shared GroupKeyMaterial contract) with the PGKs
 * `pgks` (copies: the caller's material is never shared) and, in a `signature` group, this UE's
 * signing seed, which issued material never holds. Throws for a signature group without one.
 */
export function groupKeyMaterial(m: IssuedGroupKeys, pgks: readonly PgkRecord[], signingSeed: Uint8Array | undefined): GroupKeyMaterial {
  const copies = pgks.map((p): PgkRecord => ({
    pgkId: p.pgkId,
    pgk: Uint8Array.from(p.pgk),
    expiresAtMs: p.expiresAtMs,
    ...(p.activeFromMs === undefined ? {} : { activeFromMs: p.activeFromMs }),
    ...(p.pairwiseKeys === undefined ? {} : { pairwiseKeys: copyKeys(p.pairwiseKeys) }),
  }));
  const out: GroupKeyMaterial = { groupId: m.groupId, gmi: m.gmi, nea: m.nea, nia: m.nia, profile: m.profile, allowNullAlgorithms: m.allowNullAlgorithms ?? false, pgks: copies };
  const sa = m.sourceAuth;
  if (sa?.mode === 'pairwise-mac') out.sourceAuth = { mode: sa.mode };
  else if (sa?.mode === 'signature') {
    if (signingSeed === undefined) throw new Error(`group ${m.groupId}: source authentication by signature, but no signing key`);
    out.sourceAuth = { mode: sa.mode, signingSeed: Uint8Array.from(signingSeed), publicKeys: copyKeys(sa.publicKeys) };
  }
  return out;
}

function copyKeys(keys: ReadonlyMap<number, Uint8Array>): Map<number, Uint8Array> {
  return new Map([...keys].map(([gmi, key]) => [gmi, Uint8Array.from(key)]));
}

/**
 * What senders and receivers use at `now`: per group the PGKs that are active and not expired
 * (without their activation times); groups without any are left out. `signingSeed`: as in
 * {@link groupKeyMaterial}.
 */
export function usableAt(groups: readonly HeldGroup[], now: number, signingSeed?: Uint8Array): GroupKeyMaterial[] {
  const out: GroupKeyMaterial[] = [];
  for (const { material: m } of groups) {
    const pgks = m.pgks.filter((p) => p.activeFromMs <= now && p.expiresAtMs > now).map(({ activeFromMs: _active, ...p }) => p);
    if (pgks.length > 0) out.push(groupKeyMaterial(m, pgks, signingSeed));
  }
  return out;
}

/**
 * The same for the key client's `current()`: every PGK not yet expired, with its activation time
 * (a successor not yet active is held to receive with; senders wait for its `activeFromMs`).
 */
export function heldAt(groups: readonly HeldGroup[], now: number, signingSeed?: Uint8Array): GroupKeyMaterial[] {
  const out: GroupKeyMaterial[] = [];
  for (const { material: m } of groups) {
    const pgks = m.pgks.filter((p) => p.expiresAtMs > now);
    if (pgks.length > 0) out.push(groupKeyMaterial(m, pgks, signingSeed));
  }
  return out;
}

/** The groups with only their PGKs still valid at `now`; groups left without any are dropped. */
export function unexpired(groups: readonly HeldGroup[], now: number): HeldGroup[] {
  const out: HeldGroup[] = [];
  for (const g of groups) {
    const pgks = g.material.pgks.filter((p) => p.expiresAtMs > now);
    if (pgks.length > 0) out.push({ material: { ...g.material, pgks }, renewAfterMs: g.renewAfterMs });
  }
  return out;
}

/**
 * A digest of `m`'s source authentication (mode, members' public keys, pairwise keys per PGK):
 * equal for equal material, so a changed membership is noticed without keeping key bytes in a
 * comparison string.
 */
export function sourceAuthDigest(m: IssuedGroupKeys): string {
  const h = createHash('sha256').update(sourceAuthModeOf(m.sourceAuth));
  const add = (keys: ReadonlyMap<number, Uint8Array>): void => {
    for (const gmi of [...keys.keys()].sort((a, b) => a - b)) h.update(`|${gmi}:`).update(keys.get(gmi)!);
  };
  if (m.sourceAuth?.mode === 'signature') add(m.sourceAuth.publicKeys);
  for (const p of m.pgks) {
    h.update(`|pgk ${p.pgkId}`);
    if (p.pairwiseKeys !== undefined) add(p.pairwiseKeys);
  }
  return h.digest('hex');
}
