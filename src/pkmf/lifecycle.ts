/**
 * PGK lifecycle of one group, as a pure function of the group's stored PGKs, `now` and an injected
 * random source (the PKMF store applies the plan in one transaction).
 *
 * Rules (docs/protocol.md 2 and issue 4):
 * - PGK IDs are 32-bit and strictly increasing per group, never reused, even after expiry.
 * - Rollover: once the newest valid PGK is within `overlapMs` of its expiry, the next PGK is
 *   created (lifetime `lifetimeMs` from now), so members hold both for the overlap.
 * - Activation (a Decision of ours): a new PGK becomes the one senders use only halfway through
 *   the overlap (`activeFromMs`). Members fetch it, with jitter, between its creation and its
 *   activation; receivers accept it as soon as they hold it. So all members switch at the same
 *   instant instead of whenever each one happened to refresh. A group's first PGK is active at
 *   once.
 * - PGKs valid at the same time have distinct PGK Indexes (5 LSBs of the PGK ID): consecutive IDs
 *   guarantee this for up to 32; an ID whose index a live PGK still holds is skipped.
 * - A group's first PGK ID is random (from the injected source) in [1, 2^31), so that a PKMF whose
 *   database was wiped does not hand out IDs that members may still associate with old PGKs.
 */
import { isGmi } from './identity.js';

export const PGK_INDEX_MASK = 0x1f;
const MAX_PGK_ID = 0xffffffff;

export type RandomBytes = (n: number) => Uint8Array;

export interface PgkPolicy {
  /** Lifetime of a new PGK. */
  lifetimeMs: number;
  /** How long before the newest PGK expires its successor exists (0 < overlapMs < lifetimeMs). */
  overlapMs: number;
}

export interface PgkMeta {
  pgkId: number;
  expiresAtMs: number;
  /** From when senders use it (receivers accept it from the moment they hold it). */
  activeFromMs: number;
}

export interface PgkPlan {
  /** PGKs to create now (at most one), before anything is handed out. */
  create: PgkMeta[];
  /** IDs of the PGKs valid at `now` once `create` is applied, ascending. */
  validIds: number[];
  /** When the next rollover is due: the newest PGK's expiry minus the overlap. */
  renewAfterMs: number;
}

export function checkPgkPolicy(policy: PgkPolicy): void {
  const { lifetimeMs, overlapMs } = policy;
  if (!Number.isSafeInteger(lifetimeMs) || lifetimeMs < 1) {
    throw new RangeError(`lifetimeMs: expected a positive integer, got ${lifetimeMs}`);
  }
  if (!Number.isSafeInteger(overlapMs) || overlapMs < 1 || overlapMs >= lifetimeMs) {
    throw new RangeError(`overlapMs: expected an integer from 1 to lifetimeMs - 1 (${lifetimeMs - 1}), got ${overlapMs}`);
  }
}

/** A random first PGK ID in [1, 2^31). */
export function firstPgkId(random: RandomBytes): number {
  const b = random(4);
  if (b.length < 4) throw new RangeError('random: returned fewer than 4 bytes');
  const v = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 1;
  return v === 0 ? 1 : v;
}

/**
 * What to do with a group's PGKs at `now`. `existing` holds every PGK the group ever had (or at
 * least the valid ones and the highest ID).
 */
export function planPgks(existing: readonly PgkMeta[], now: number, policy: PgkPolicy, random: RandomBytes): PgkPlan {
  checkPgkPolicy(policy);
  if (!Number.isSafeInteger(now)) throw new RangeError(`now: expected an integer millisecond time, got ${now}`);
  let maxId = -1;
  const valid: PgkMeta[] = [];
  for (const p of existing) {
    if (p.pgkId > maxId) maxId = p.pgkId;
    if (p.expiresAtMs > now) valid.push(p);
  }
  valid.sort((a, b) => a.pgkId - b.pgkId);
  const newest = valid[valid.length - 1];
  const create: PgkMeta[] = [];
  if (!newest || newest.expiresAtMs - policy.overlapMs <= now) {
    const liveIndexes = new Set(valid.map((p) => p.pgkId & PGK_INDEX_MASK));
    if (liveIndexes.size > PGK_INDEX_MASK) throw new RangeError('32 PGKs are valid at once: no free PGK Index');
    let id = maxId < 0 ? firstPgkId(random) : maxId + 1;
    while (liveIndexes.has(id & PGK_INDEX_MASK)) id++;
    if (id > MAX_PGK_ID) throw new RangeError('PGK ID space of the group is exhausted');
    const activeFromMs = newest ? Math.max(now, newest.expiresAtMs - Math.floor(policy.overlapMs / 2)) : now;
    const made = { pgkId: id, expiresAtMs: now + policy.lifetimeMs, activeFromMs };
    create.push(made);
    valid.push(made);
  }
  const last = valid[valid.length - 1]!;
  return { create, validIds: valid.map((p) => p.pgkId), renewAfterMs: last.expiresAtMs - policy.overlapMs };
}

/**
 * A fresh 24-bit Group Member ID not in use in the group. 0x000000 and 0xFFFFFF are never
 * assigned (all-zero / all-one Layer-2 IDs).
 */
export function pickGmi(isTaken: (gmi: number) => boolean, random: RandomBytes): number {
  for (let attempt = 0; attempt < 64; attempt++) {
    const b = random(3);
    if (b.length < 3) throw new RangeError('random: returned fewer than 3 bytes');
    const gmi = (b[0]! << 16) | (b[1]! << 8) | b[2]!;
    if (isGmi(gmi) && !isTaken(gmi)) return gmi;
  }
  // Only reached when the group is nearly full (or the random source is broken): scan.
  for (let gmi = 1; gmi < 0xffffff; gmi++) if (!isTaken(gmi)) return gmi;
  throw new RangeError('no free Group Member ID left in the group');
}
