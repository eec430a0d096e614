/**
 * The key client's persisted state (`<stateDir>/keys.json`, mode 0600): serialization and a
 * checking parser. A file that fails the checks is treated as absent (and reported), never
 * trusted in part: the client then simply fetches again.
 */
import type { AlgId, HierarchyProfile } from '../crypto/types.js';
import { HIERARCHY_PROFILES } from '../crypto/types.js';
import type { GroupKeyMaterial } from '../keys/types.js';
import type { IssuedGroupKeys, IssuedPgk } from './codec.js';
import { PGK_BYTES } from './codec.js';
import { isSupi, isUint24, isUint32 } from './identity.js';

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
        renewAfterMs,
        pgks: m.pgks.map((p) => ({
          pgkId: p.pgkId,
          pgk: Buffer.from(p.pgk).toString('hex'),
          activeFromMs: p.activeFromMs,
          expiresAtMs: p.expiresAtMs,
        })),
      })),
    },
    null,
    2,
  );
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
    if (!Array.isArray(g.pgks)) throw new TypeError(`${at}.pgks: expected a list`);
    const pgks = g.pgks.map((p: unknown, j: number): IssuedPgk => {
      const pat = `${at}.pgks[${j}]`;
      if (!isObj(p) || !isUint32(p.pgkId)) throw new TypeError(`${pat}.pgkId: expected a 32-bit integer`);
      if (typeof p.pgk !== 'string' || !/^[0-9a-f]*$/.test(p.pgk) || p.pgk.length !== PGK_BYTES * 2) {
        throw new TypeError(`${pat}.pgk: expected ${PGK_BYTES * 2} hex digits`);
      }
      if (!isTime(p.expiresAtMs)) throw new TypeError(`${pat}.expiresAtMs: expected a time`);
      if (!isTime(p.activeFromMs)) throw new TypeError(`${pat}.activeFromMs: expected a time`);
      return { pgkId: p.pgkId, pgk: Uint8Array.from(Buffer.from(p.pgk, 'hex')), activeFromMs: p.activeFromMs, expiresAtMs: p.expiresAtMs };
    });
    return {
      material: {
        groupId: g.groupId,
        gmi: g.gmi,
        nea: g.nea,
        nia: g.nia as AlgId | null,
        profile: g.profile as HierarchyProfile,
        allowNullAlgorithms: g.allowNullAlgorithms,
        pgks,
      },
      renewAfterMs: g.renewAfterMs,
    };
  });
  return { supi: doc.supi, savedAtMs: doc.savedAtMs, groups };
}

/**
 * What senders and receivers use at `now` (the shared GroupKeyMaterial contract): per group the
 * PGKs that are active and not expired; groups without any are left out.
 */
export function usableAt(groups: readonly HeldGroup[], now: number): GroupKeyMaterial[] {
  const out: GroupKeyMaterial[] = [];
  for (const { material: m } of groups) {
    const pgks = m.pgks
      .filter((p) => p.activeFromMs <= now && p.expiresAtMs > now)
      .map((p) => ({ pgkId: p.pgkId, pgk: Uint8Array.from(p.pgk), expiresAtMs: p.expiresAtMs }));
    if (pgks.length > 0) {
      out.push({ groupId: m.groupId, gmi: m.gmi, nea: m.nea, nia: m.nia, profile: m.profile, allowNullAlgorithms: m.allowNullAlgorithms ?? false, pgks });
    }
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
