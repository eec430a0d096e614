/**
 * Group key state of one UE: per group its Group ID, this UE's GMI, algorithms, hierarchy profile
 * and the PGKs it currently holds, with the PGK selection rules of docs/protocol.md section 5 (sender)
 * and section 6 (receiver).
 *
 * I/O-free: time is always an argument (`nowMs`, milliseconds since the Unix epoch).
 *
 * An installed group is an immutable {@link InstalledGroup} snapshot; installing new material for
 * a group replaces the snapshot object, so users that cache per-group work (the PDCP entities)
 * detect a change by object identity without version counters.
 */
import { DEFAULT_KDF_BACKEND, KDF_BACKENDS, hmacSha256Key, type HmacSha256Key, type KdfBackend } from '../crypto/hmac-sha256.js';
import { HIERARCHY_PROFILES, type AlgId, type HierarchyProfile } from '../crypto/types.js';
import { pgkTag } from './pgk-tag.js';
import type { GroupKeyMaterial } from './types.js';

/** Number of distinct PGK Index values: the 5 least significant bits of the PGK ID (TS 36.323 6.3.12). */
export const PGK_INDEX_COUNT = 32;
export const MAX_24_BIT = 0xffffff;
export const MAX_32_BIT = 0xffffffff;
export const PGK_BYTES = 32;

/** One PGK as the PDCP layer uses it. */
export interface InstalledPgk {
  readonly pgkId: number;
  /** `pgkId & 0x1f`, carried in the PDU header. */
  readonly index: number;
  /** 256-bit PGK (a private copy). Never logged. */
  readonly pgk: Uint8Array;
  /**
   * The same PGK keyed for the KDF (its HMAC-SHA-256 states), computed once here so that each new
   * PTK under it costs no keying (src/pdcp/ptk-engines.ts). Key material: never logged (it
   * serialises and inspects as a placeholder), and it lives exactly as long as this object.
   */
  readonly kdfKey: HmacSha256Key;
  readonly expiresAtMs: number;
  /** Senders start PTKs under it only from this instant on (-Infinity: active at once). */
  readonly activeFromMs: number;
  /** {@link pgkTag} of the key value: part of the sender's PTK ID space. */
  readonly tag: string;
}

/** Snapshot of one group as installed. */
export interface InstalledGroup {
  readonly groupId: number;
  readonly gmi: number;
  readonly nea: AlgId;
  readonly nia: AlgId | null;
  readonly profile: HierarchyProfile;
  readonly allowNullAlgorithms: boolean;
  /** Every installed PGK, highest PGK ID (newest) first. */
  readonly pgksNewestFirst: readonly InstalledPgk[];
  /** PGKs by PGK Index (length 32, holes undefined). */
  readonly byIndex: readonly (InstalledPgk | undefined)[];
}

export interface GroupKeyStateOptions {
  /**
   * Sender guard time (ms): a PGK whose expiry is closer than this is not used for new PTKs
   * while another usable PGK outside its guard time exists (docs/protocol.md 5). Default 60 s.
   */
  txGuardMs?: number;
  /**
   * Receiver clock-skew grace (ms): a PGK still verifies PDUs for this long after its expiry
   * (docs/protocol.md 6). Default 30 s.
   */
  rxExpiryGraceMs?: number;
  /**
   * Backend of the installed PGKs' {@link InstalledPgk.kdfKey} (default `ts`); `node` derives
   * with node:crypto's createHmac per KDF call, for `bench crypto` to measure against.
   */
  kdfBackend?: KdfBackend;
}

export type RxPgkLookup = InstalledPgk | 'unknown-pgk-index' | 'expired-pgk';

function checkInt(value: unknown, max: number, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`${name}: expected an integer, got ${String(value)}`);
  }
  if (value < 0 || value > max) {
    throw new RangeError(`${name}: expected 0..0x${max.toString(16)}, got ${value}`);
  }
  return value;
}

function checkAlg(value: unknown, name: string): AlgId {
  checkInt(value, 3, name);
  return value as AlgId;
}

/**
 * Validates group key material and turns it into an immutable snapshot (PGK bytes copied, and
 * keyed for the KDF with `kdfBackend`).
 */
export function installGroup(material: GroupKeyMaterial, kdfBackend: KdfBackend = DEFAULT_KDF_BACKEND): InstalledGroup {
  if (typeof material !== 'object' || material === null) {
    throw new TypeError('material: expected a GroupKeyMaterial object');
  }
  const groupId = checkInt(material.groupId, MAX_24_BIT, 'material.groupId');
  const gmi = checkInt(material.gmi, MAX_24_BIT, 'material.gmi');
  const nea = checkAlg(material.nea, 'material.nea');
  const nia = material.nia === null ? null : checkAlg(material.nia, 'material.nia');
  if (!HIERARCHY_PROFILES.includes(material.profile)) {
    throw new RangeError(`material.profile: expected one of ${HIERARCHY_PROFILES.join(', ')}, got ${String(material.profile)}`);
  }
  const profile = material.profile;
  if (profile === 'lte-prose' && nia !== null) {
    throw new RangeError('material.nia: the lte-prose profile has no MAC-I, so nia must be null');
  }
  const allowNullAlgorithms = material.allowNullAlgorithms === true;
  // docs/protocol.md 4.2: NEA0/NIA0 are for tests only and refused unless the group allows them.
  if (!allowNullAlgorithms && (nea === 0 || nia === 0)) {
    throw new RangeError(
      `material.${nea === 0 ? 'nea' : 'nia'}: NEA0/NIA0 (null algorithms) are refused unless allowNullAlgorithms is set`,
    );
  }
  if (!Array.isArray(material.pgks)) throw new TypeError('material.pgks: expected an array');
  const byIndex: (InstalledPgk | undefined)[] = new Array<InstalledPgk | undefined>(PGK_INDEX_COUNT).fill(undefined);
  const pgks: InstalledPgk[] = [];
  material.pgks.forEach((rec, i) => {
    const pgkId = checkInt(rec.pgkId, MAX_32_BIT, `material.pgks[${i}].pgkId`);
    if (!(rec.pgk instanceof Uint8Array)) throw new TypeError(`material.pgks[${i}].pgk: expected a Uint8Array`);
    if (rec.pgk.length !== PGK_BYTES) {
      throw new RangeError(`material.pgks[${i}].pgk: expected ${PGK_BYTES} bytes, got ${rec.pgk.length}`);
    }
    if (typeof rec.expiresAtMs !== 'number' || Number.isNaN(rec.expiresAtMs)) {
      throw new TypeError(`material.pgks[${i}].expiresAtMs: expected a number of ms since the epoch`);
    }
    const activeFromMs = rec.activeFromMs ?? -Infinity;
    if (typeof activeFromMs !== 'number' || Number.isNaN(activeFromMs)) {
      throw new TypeError(`material.pgks[${i}].activeFromMs: expected a number of ms since the epoch, or nothing`);
    }
    const index = pgkId % PGK_INDEX_COUNT;
    const clash = byIndex[index];
    if (clash) {
      // docs/protocol.md 2: PGKs valid at the same time must have distinct PGK Indexes.
      throw new RangeError(
        `material.pgks[${i}].pgkId: PGK ID ${pgkId} has PGK Index ${index}, already used by PGK ID ${clash.pgkId}`,
      );
    }
    const pgk = Uint8Array.from(rec.pgk);
    const installed: InstalledPgk = Object.freeze({
      pgkId,
      index,
      pgk,
      kdfKey: hmacSha256Key(pgk, kdfBackend),
      expiresAtMs: rec.expiresAtMs,
      activeFromMs,
      tag: pgkTag(rec.pgk),
    });
    byIndex[index] = installed;
    pgks.push(installed);
  });
  pgks.sort((a, b) => b.pgkId - a.pgkId);
  return Object.freeze({
    groupId,
    gmi,
    nea,
    nia,
    profile,
    allowNullAlgorithms,
    pgksNewestFirst: Object.freeze(pgks),
    byIndex: Object.freeze(byIndex),
  });
}

/**
 * docs/protocol.md 5, sender: the PGK under which to start a new PTK. Candidates are PGKs already
 * active (`activeFromMs`: every member switches to a new PGK at the same instant), not yet
 * expired and not exhausted (`isUsable`). The newest candidate outside its guard time wins; when
 * every candidate is inside its guard time (no newer PGK to move to), the newest candidate is
 * used until it expires. Returns undefined when no PGK is usable: the UE needs new keys.
 */
export function selectTxPgk(
  group: InstalledGroup,
  nowMs: number,
  guardMs: number,
  isUsable: (pgk: InstalledPgk) => boolean = () => true,
): InstalledPgk | undefined {
  let fallback: InstalledPgk | undefined;
  for (const pgk of group.pgksNewestFirst) {
    if (nowMs < pgk.activeFromMs || nowMs >= pgk.expiresAtMs || !isUsable(pgk)) continue;
    if (nowMs < pgk.expiresAtMs - guardMs) return pgk;
    fallback ??= pgk;
  }
  return fallback;
}

/**
 * The earliest instant after `nowMs` at which {@link selectTxPgk} may give another answer (a PGK
 * activating, entering its guard time or expiring), so a sender can skip re-selection until then.
 */
export function nextTxSelectionChangeMs(group: InstalledGroup, nowMs: number, guardMs: number): number {
  let next = Infinity;
  for (const pgk of group.pgksNewestFirst) {
    if (pgk.activeFromMs > nowMs && pgk.activeFromMs < next) next = pgk.activeFromMs;
    const guardStart = pgk.expiresAtMs - guardMs;
    if (guardStart > nowMs && guardStart < next) next = guardStart;
    if (pgk.expiresAtMs > nowMs && pgk.expiresAtMs < next) next = pgk.expiresAtMs;
  }
  return next;
}

/**
 * docs/protocol.md 6, receiver: the PGK named by a PDU's PGK Index, if known and not expired beyond
 * the grace. Not-yet-active PGKs are found too: a sender whose clock is ahead may use one already.
 */
export function lookupRxPgk(group: InstalledGroup, pgkIndex: number, nowMs: number, graceMs: number): RxPgkLookup {
  const pgk = group.byIndex[pgkIndex];
  if (pgk === undefined) return 'unknown-pgk-index';
  if (nowMs >= pgk.expiresAtMs + graceMs) return 'expired-pgk';
  return pgk;
}

/** The groups this UE belongs to, with their keys. Shared by the transmit and receive entities. */
export class GroupKeyState {
  readonly txGuardMs: number;
  readonly rxExpiryGraceMs: number;
  private readonly kdfBackend: KdfBackend;
  private readonly groups = new Map<number, InstalledGroup>();

  constructor(options: GroupKeyStateOptions = {}) {
    this.txGuardMs = options.txGuardMs ?? 60_000;
    this.rxExpiryGraceMs = options.rxExpiryGraceMs ?? 30_000;
    this.kdfBackend = options.kdfBackend ?? DEFAULT_KDF_BACKEND;
    if (!(this.txGuardMs >= 0)) throw new RangeError('options.txGuardMs: expected a non-negative number');
    if (!(this.rxExpiryGraceMs >= 0)) throw new RangeError('options.rxExpiryGraceMs: expected a non-negative number');
    if (!KDF_BACKENDS.includes(this.kdfBackend)) {
      throw new RangeError(`options.kdfBackend: expected one of ${KDF_BACKENDS.join(', ')}, got ${String(this.kdfBackend)}`);
    }
  }

  /**
   * Installs (or replaces) the key material of one group, as a Key Response delivers it. The
   * new PGK list replaces the old one; the PDCP entities keep their per-PGK state (replay
   * windows, cached engines) for PGK IDs present in both.
   */
  install(material: GroupKeyMaterial): InstalledGroup {
    const group = installGroup(material, this.kdfBackend);
    this.groups.set(group.groupId, group);
    return group;
  }

  remove(groupId: number): boolean {
    return this.groups.delete(groupId);
  }

  get(groupId: number): InstalledGroup | undefined {
    return this.groups.get(groupId);
  }

  groupIds(): number[] {
    return [...this.groups.keys()];
  }

  /**
   * Drops PGKs that expired more than the receive grace ago (no PDU can use them any more).
   * Returns the PGK IDs removed per group. Call it from time to time; correctness does not
   * depend on it, only memory does.
   */
  pruneExpired(nowMs: number): Map<number, number[]> {
    const removed = new Map<number, number[]>();
    for (const group of [...this.groups.values()]) {
      const gone = group.pgksNewestFirst.filter((p) => nowMs >= p.expiresAtMs + this.rxExpiryGraceMs);
      if (gone.length === 0) continue;
      removed.set(group.groupId, gone.map((p) => p.pgkId));
      this.groups.set(
        group.groupId,
        installGroup(
          {
            groupId: group.groupId,
            gmi: group.gmi,
            nea: group.nea,
            nia: group.nia,
            profile: group.profile,
            allowNullAlgorithms: group.allowNullAlgorithms,
            pgks: group.pgksNewestFirst.filter((p) => !gone.includes(p)),
          },
          this.kdfBackend,
        ),
      );
    }
    return removed;
  }

  selectTxPgk(groupId: number, nowMs: number, isUsable?: (pgk: InstalledPgk) => boolean): InstalledPgk | undefined {
    const group = this.groups.get(groupId);
    return group && selectTxPgk(group, nowMs, this.txGuardMs, isUsable);
  }

  lookupRxPgk(groupId: number, pgkIndex: number, nowMs: number): RxPgkLookup | 'unknown-group' {
    const group = this.groups.get(groupId);
    if (group === undefined) return 'unknown-group';
    return lookupRxPgk(group, pgkIndex, nowMs, this.rxExpiryGraceMs);
  }
}

