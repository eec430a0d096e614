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
import { AesCmac } from '../crypto/aes-cmac.js';
import { ED25519_PUBLIC_KEY_BYTES, ED25519_SEED_BYTES, Ed25519Signer, Ed25519Verifier } from '../crypto/ed25519.js';
import { AutoHmacSha256 } from '../crypto/hmac-auto.js';
import { DEFAULT_KDF_BACKEND, KDF_BACKENDS, hmacSha256Key, type HmacSha256Key, type KdfBackend } from '../crypto/hmac-sha256.js';
import { HIERARCHY_PROFILES, type AlgId, type HierarchyProfile } from '../crypto/types.js';
import { pgkTag } from './pgk-tag.js';
import type { GroupKeyMaterial, PgkRecord, SourceAuthMode } from './types.js';

/** Number of distinct PGK Index values: the 5 least significant bits of the PGK ID (TS 36.323 6.3.12). */
export const PGK_INDEX_COUNT = 32;
export const MAX_24_BIT = 0xffffff;
export const MAX_32_BIT = 0xffffffff;
export const PGK_BYTES = 32;
/** Length of a pairwise key of source authentication `pairwise-mac`. */
export const PAIRWISE_KEY_BYTES = 16;
/**
 * Most pairwise keys per PGK (other members a sender addresses): the tag count of a PDU's
 * source-auth block is one octet (src/pdcp/source-auth.ts).
 */
export const MAX_PAIRWISE_PEERS = 255;
/**
 * Label of K_SA = HMAC-SHA-256(PGK, label), the key of the per-PDU digest that source tags and
 * signatures cover (docs/pdcp.md, "Source authentication"); an sl-bridge label, like pgk-tag.ts'.
 */
const SOURCE_DIGEST_LABEL = new TextEncoder().encode('sl-bridge source-auth v1');

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
  /** Source authentication under this PGK; undefined when the group has none. */
  readonly sourceAuth: PgkSourceAuth | undefined;
}

/**
 * The per-PGK keys of source authentication, built once at install (docs/pdcp.md, "Source
 * authentication"). Key material: never logged (each key object shows as a placeholder).
 */
export interface PgkSourceAuth {
  /** HMAC-SHA-256 under K_SA = HMAC-SHA-256(PGK, "sl-bridge source-auth v1"): D of every PDU. */
  readonly digest: AutoHmacSha256;
  /** `pairwise-mac`: the other members' GMIs, ascending (empty in a `signature` group). */
  readonly peers: readonly number[];
  /** `pairwise-mac`: AES-CMAC under K(self, peers[i]), same order as `peers`. */
  readonly peerMacs: readonly AesCmac[];
  /** `pairwise-mac`: the same AES-CMAC keys by peer GMI. */
  readonly pairwise: ReadonlyMap<number, AesCmac>;
}

/** A group's source authentication as installed: keys made once, here, never per packet. */
export type InstalledSourceAuth =
  /** The keys are per PGK: {@link PgkSourceAuth.pairwise}. */
  | { readonly mode: 'pairwise-mac' }
  | {
      readonly mode: 'signature';
      /** This UE's signing key; undefined when the material has no seed (receive only: capture decoding). */
      readonly signer: Ed25519Signer | undefined;
      /** Every member's verification key by GMI (own included when the UE signs). */
      readonly verifiers: ReadonlyMap<number, Ed25519Verifier>;
    };

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
  /** Source authentication inside the group; undefined: none (any member can pose as any other). */
  readonly sourceAuth: InstalledSourceAuth | undefined;
}

/** The source-authentication mode of an installed group. */
export function sourceAuthMode(group: InstalledGroup): SourceAuthMode {
  return group.sourceAuth?.mode ?? 'none';
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
  const sourceAuth = installSourceAuth(material, gmi);
  if (!Array.isArray(material.pgks)) throw new TypeError('material.pgks: expected an array');
  // Each PGK Index's PGK so far, for the clash check (snapshot() builds the group's own table).
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
    const kdfKey = hmacSha256Key(pgk, kdfBackend);
    const installed: InstalledPgk = Object.freeze({
      pgkId,
      index,
      pgk,
      kdfKey,
      expiresAtMs: rec.expiresAtMs,
      activeFromMs,
      tag: pgkTag(rec.pgk),
      sourceAuth: installPgkSourceAuth(sourceAuth, rec, `material.pgks[${i}]`, gmi, kdfKey),
    });
    byIndex[index] = installed;
    pgks.push(installed);
  });
  return snapshot({ groupId, gmi, nea, nia, profile, allowNullAlgorithms, sourceAuth }, pgks);
}

/** The immutable group of `fields` with `pgks` (already installed) sorted and indexed. */
function snapshot(fields: Omit<InstalledGroup, 'pgksNewestFirst' | 'byIndex'>, pgks: readonly InstalledPgk[]): InstalledGroup {
  const sorted = [...pgks].sort((a, b) => b.pgkId - a.pgkId);
  const byIndex = new Array<InstalledPgk | undefined>(PGK_INDEX_COUNT).fill(undefined);
  for (const p of sorted) byIndex[p.index] = p;
  return Object.freeze({ ...fields, pgksNewestFirst: Object.freeze(sorted), byIndex: Object.freeze(byIndex) });
}

const hex24 = (v: number): string => `0x${v.toString(16).padStart(6, '0')}`;

/** A Map of 24-bit GMIs to byte strings of `bytes` octets, checked entry by entry under `name`. */
function checkKeyMap(value: unknown, name: string, bytes: number, maxEntries: number): ReadonlyMap<number, Uint8Array> {
  if (!(value instanceof Map)) throw new TypeError(`${name}: expected a Map of GMI -> key bytes`);
  if (value.size > maxEntries) throw new RangeError(`${name}: expected at most ${maxEntries} entries, got ${value.size}`);
  for (const [gmi, key] of value as Map<unknown, unknown>) {
    checkInt(gmi, MAX_24_BIT, `${name} key`);
    const label = `${name}[${hex24(gmi as number)}]`;
    if (!(key instanceof Uint8Array)) throw new TypeError(`${label}: expected a Uint8Array`);
    if (key.length !== bytes) throw new RangeError(`${label}: expected ${bytes} bytes, got ${key.length}`);
  }
  return value as ReadonlyMap<number, Uint8Array>;
}

/**
 * Validates `material.sourceAuth` and makes its group-wide keys (docs/pdcp.md, "Source
 * authentication"): Ed25519 KeyObjects once per key, here.
 */
function installSourceAuth(material: GroupKeyMaterial, gmi: number): InstalledSourceAuth | undefined {
  const sa = material.sourceAuth;
  if (sa === undefined) return undefined;
  if (typeof sa !== 'object' || sa === null) throw new TypeError('material.sourceAuth: expected an object with a mode, or nothing (none)');
  if (sa.mode !== 'pairwise-mac' && sa.mode !== 'signature') {
    throw new RangeError(`material.sourceAuth.mode: expected pairwise-mac or signature (absent: none), got ${String((sa as { mode?: unknown }).mode)}`);
  }
  // The block sits inside the ciphertext before the MAC-I and the tags cover the inner identity block.
  if (material.profile === 'lte-prose' || material.nia === null) {
    throw new RangeError(
      `material.sourceAuth: ${sa.mode} needs the inner identity block and a MAC-I (profile pcr or ts33533 with integrity on), got profile ${material.profile} with nia ${String(material.nia)}`,
    );
  }
  if (sa.mode === 'pairwise-mac') return Object.freeze({ mode: 'pairwise-mac' as const });
  const publicKeys = checkKeyMap(sa.publicKeys, 'material.sourceAuth.publicKeys', ED25519_PUBLIC_KEY_BYTES, MAX_24_BIT + 1);
  let signer: Ed25519Signer | undefined;
  if (sa.signingSeed !== undefined) {
    if (!(sa.signingSeed instanceof Uint8Array)) throw new TypeError('material.sourceAuth.signingSeed: expected a Uint8Array');
    if (sa.signingSeed.length !== ED25519_SEED_BYTES) {
      throw new RangeError(`material.sourceAuth.signingSeed: expected ${ED25519_SEED_BYTES} bytes, got ${sa.signingSeed.length}`);
    }
    const own = publicKeys.get(gmi);
    if (own === undefined) {
      throw new RangeError(`material.sourceAuth.publicKeys: no public key for this UE's own GMI ${hex24(gmi)}; its receivers could not verify it`);
    }
    signer = new Ed25519Signer(sa.signingSeed);
    let diff = 0;
    for (let i = 0; i < own.length; i++) diff |= own[i]! ^ signer.publicKey[i]!;
    if (diff !== 0) {
      throw new RangeError(`material.sourceAuth.publicKeys[${hex24(gmi)}]: is not the public key of signingSeed (a key bound to another member, or another seed)`);
    }
  }
  const verifiers = new Map<number, Ed25519Verifier>();
  for (const [member, key] of publicKeys) {
    try {
      verifiers.set(member, new Ed25519Verifier(key));
    } catch (e) {
      throw new RangeError(`material.sourceAuth.publicKeys[${hex24(member)}]: not an Ed25519 public key (${(e as Error).message})`);
    }
  }
  return Object.freeze({ mode: 'signature' as const, signer, verifiers });
}

/** Validates a PGK record's pairwise keys against the group's mode and makes its source-auth keys. */
function installPgkSourceAuth(
  sourceAuth: InstalledSourceAuth | undefined,
  rec: PgkRecord,
  name: string,
  gmi: number,
  kdfKey: HmacSha256Key,
): PgkSourceAuth | undefined {
  if (sourceAuth?.mode !== 'pairwise-mac') {
    if (rec.pairwiseKeys !== undefined) {
      throw new RangeError(`${name}.pairwiseKeys: given, but the group's source authentication is ${sourceAuth?.mode ?? 'none'}, not pairwise-mac`);
    }
    return sourceAuth === undefined ? undefined : Object.freeze({ digest: sourceDigest(kdfKey), peers: [], peerMacs: [], pairwise: new Map() });
  }
  if (rec.pairwiseKeys === undefined) throw new TypeError(`${name}.pairwiseKeys: required when sourceAuth is pairwise-mac (an empty Map for a group of one)`);
  const keys = checkKeyMap(rec.pairwiseKeys, `${name}.pairwiseKeys`, PAIRWISE_KEY_BYTES, MAX_PAIRWISE_PEERS);
  if (keys.has(gmi)) throw new RangeError(`${name}.pairwiseKeys[${hex24(gmi)}]: a key with this UE itself (its own GMI)`);
  const peers = [...keys.keys()].sort((a, b) => a - b);
  const peerMacs = peers.map((peer) => new AesCmac(keys.get(peer)!));
  const pairwise = new Map(peers.map((peer, i) => [peer, peerMacs[i]!]));
  return Object.freeze({ digest: sourceDigest(kdfKey), peers: Object.freeze(peers), peerMacs: Object.freeze(peerMacs), pairwise });
}

/** The digest key of a PGK: K_SA = HMAC-SHA-256(PGK, "sl-bridge source-auth v1"), on both backends. */
function sourceDigest(kdfKey: HmacSha256Key): AutoHmacSha256 {
  const kSa = kdfKey.mac(SOURCE_DIGEST_LABEL);
  const digest = new AutoHmacSha256(kSa);
  kSa.fill(0);
  return digest;
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

  /** The installed groups (a live view: not to be held across an install). */
  installed(): IterableIterator<InstalledGroup> {
    return this.groups.values();
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
      // The kept PGKs and keys were validated and built at install: reused as they are.
      const { pgksNewestFirst, byIndex: _byIndex, ...fields } = group;
      this.groups.set(group.groupId, snapshot(fields, pgksNewestFirst.filter((p) => !gone.includes(p))));
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

