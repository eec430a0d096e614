/**
 * Crash-safe PTK ID allocation (docs/protocol.md 5). A (PGK, GMI, PTK ID, SN) tuple must never be used
 * twice, across crashes and restarts too, because a repeated COUNT under one PEK leaks plaintext.
 *
 * For every PTK ID space (one per group, GMI and PGK ID) a high-water mark is kept durably: every
 * PTK ID below it may have been used, none at or above it has been. IDs are reserved in blocks:
 * before the first ID of a block is handed out, the mark is moved past the block and the store
 * must have made that durable (write, fsync, rename; or an SQLite commit). After any crash the
 * sender resumes at the persisted mark, above every ID it may have used; at most one block (and
 * the SNs left in the PTK ID in use) is lost per crash.
 *
 * A space whose mark reached 0x10000 is exhausted: its PGK is never used again by this sender.
 *
 * The allocator does no I/O itself; it calls a {@link PtkHighWaterStore}. The durable store lives
 * in `bridge/state/`; {@link MemoryPtkHighWaterStore} is for tests and one-shot tools.
 */

/**
 * One PTK ID space: PTK IDs are per (PGK, sender GMI), and PGK IDs are per group. The PGK is named
 * by its ID and by its value's tag (src/keys/pgk-tag.ts): the keys depend on the value, and a
 * PKMF that lost its database may hand out an old PGK ID again with a new value.
 */
export interface PtkIdSpace {
  readonly groupId: number;
  readonly gmi: number;
  readonly pgkId: number;
  /** 16 hex digits, src/keys/pgk-tag.ts. */
  readonly pgkTag: string;
}

/** One past the largest PTK ID: a high-water mark equal to this means the space is exhausted. */
export const PTK_ID_SPACE = 0x10000;

/**
 * The first PTK ID handed out in a space. PTK ID 0 is never used: with PGK Index 0 it is what
 * TS 36.323 6.3.12 puts in a PDU whose ciphering is not configured, so a receiver must not be
 * able to take a protected PDU for one (docs/protocol.md section 5).
 */
export const FIRST_PTK_ID = 1;

/**
 * Durable storage of high-water marks. Both methods are synchronous on purpose: `save` must not
 * return before the mark would survive a crash or power loss, and the caller uses the reserved
 * IDs right after it returns. Implementations throw when they cannot guarantee that (the sender
 * then stops rather than risk a reused COUNT).
 */
export interface PtkHighWaterStore {
  /** The persisted mark of `space`, or undefined if none was ever saved. */
  load(space: PtkIdSpace): number | undefined;
  /** Durably records `highWater` (never lower than the persisted one) for `space`. */
  save(space: PtkIdSpace, highWater: number): void;
}

/**
 * Which GMI of each group this PTK state belongs to: a UE sends only under a GMI its durable PTK
 * state holds (docs/protocol.md section 5, "lost state is not a fresh start"). It tells the PKMF
 * in every Key Request (`held_gmi`); a GMI the PKMF hands out for a request without one (or with
 * another) is new in the group, so its PTK ID spaces are empty, and it is claimed here durably
 * before anything is sent under it. State that is lost takes its claims with it: the UE then asks
 * without `held_gmi` and gets a fresh GMI, never its old one.
 */
export interface GmiLedger {
  /** The GMI claimed for `groupId`, or undefined. */
  heldGmi(groupId: number): number | undefined;
  /** Durably records `gmi` as this state's GMI in `groupId` (replacing an earlier claim). */
  claimGmi(groupId: number, gmi: number): void;
}

export function spaceKey(space: PtkIdSpace): string {
  return `${space.groupId}:${space.gmi}:${space.pgkId}:${space.pgkTag}`;
}

/** Parses {@link spaceKey} back (for stores that keep the text key). */
export function parseSpaceKey(key: string): PtkIdSpace | undefined {
  const m = /^(\d{1,8}):(\d{1,8}):(\d{1,10}):([0-9a-f]{16})$/.exec(key);
  if (!m) return undefined;
  const [groupId, gmi, pgkId] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (groupId > 0xffffff || gmi > 0xffffff || pgkId > 0xffffffff) return undefined;
  return { groupId, gmi, pgkId, pgkTag: m[4]! };
}

/** Checks a mark read from a store. */
export function checkHighWater(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > PTK_ID_SPACE) {
    throw new RangeError(`${what}: expected a PTK ID high-water mark 0..${PTK_ID_SPACE}, got ${String(value)}`);
  }
  return value;
}

/** A store in memory only: correct within one process, forgets everything on exit. */
export class MemoryPtkHighWaterStore implements PtkHighWaterStore, GmiLedger {
  readonly marks = new Map<string, number>();
  readonly gmis = new Map<number, number>();
  saves = 0;
  heldGmi(groupId: number): number | undefined {
    return this.gmis.get(groupId);
  }
  claimGmi(groupId: number, gmi: number): void {
    this.gmis.set(groupId, gmi);
  }
  load(space: PtkIdSpace): number | undefined {
    return this.marks.get(spaceKey(space));
  }
  save(space: PtkIdSpace, highWater: number): void {
    const key = spaceKey(space);
    const old = this.marks.get(key) ?? 0;
    if (highWater < old) throw new RangeError(`highWater: ${highWater} is below the stored mark ${old} of ${key}`);
    this.marks.set(key, highWater);
    this.saves++;
  }
}

export interface PtkIdAllocatorOptions {
  /** PTK IDs reserved per durable save (default 8). */
  blockSize?: number;
}

interface SpaceState {
  /** Next PTK ID to hand out. */
  next: number;
  /** Exclusive end of the durably reserved range. */
  reservedEnd: number;
}

export class PtkIdAllocator {
  readonly blockSize: number;
  private readonly spaces = new Map<string, SpaceState>();

  constructor(
    private readonly store: PtkHighWaterStore,
    options: PtkIdAllocatorOptions = {},
  ) {
    this.blockSize = options.blockSize ?? 8;
    if (!Number.isInteger(this.blockSize) || this.blockSize < 1 || this.blockSize > PTK_ID_SPACE) {
      throw new RangeError(`options.blockSize: expected an integer 1..${PTK_ID_SPACE}, got ${this.blockSize}`);
    }
  }

  private state(space: PtkIdSpace): SpaceState {
    const key = spaceKey(space);
    let st = this.spaces.get(key);
    if (st === undefined) {
      const persisted = this.store.load(space);
      const mark = persisted === undefined ? 0 : checkHighWater(persisted, `stored mark of ${key}`);
      // Resume at the mark: every ID below it may have been used before a crash.
      const next = Math.max(mark, FIRST_PTK_ID);
      st = { next, reservedEnd: next };
      this.spaces.set(key, st);
    }
    return st;
  }

  /** True when every PTK ID of the space has been handed out (the PGK is done for this sender). */
  isExhausted(space: PtkIdSpace): boolean {
    return this.state(space).next >= PTK_ID_SPACE;
  }

  /**
   * A PTK ID never handed out before in this space (by this process or any earlier one sharing
   * the store), or undefined when the space is exhausted. May call `store.save` (durable) first.
   */
  allocate(space: PtkIdSpace): number | undefined {
    const st = this.state(space);
    if (st.next >= PTK_ID_SPACE) return undefined;
    if (st.next >= st.reservedEnd) {
      const end = Math.min(st.next + this.blockSize, PTK_ID_SPACE);
      // Durable BEFORE any ID of the block is used; if save throws, nothing is handed out.
      this.store.save(space, end);
      st.reservedEnd = end;
    }
    return st.next++;
  }
}
