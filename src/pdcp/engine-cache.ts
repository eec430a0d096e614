/**
 * Bounded LRU of receive-side engines per (PGK, sender GMI, PTK ID) (docs/protocol.md 6: derived keys
 * are cached and the cache is bounded).
 *
 * Entries live in small per-PGK maps keyed by `gmi * 65536 + ptkId` (a number, no string building
 * per packet) and on one intrusive doubly linked list for recency, so a hit costs one Map lookup
 * and a few pointer moves and an eviction removes the entry from its owner map in O(1).
 */
import type { PtkEngines } from './ptk-engines.js';

export interface CachedEngines {
  readonly engines: PtkEngines;
  readonly key: number;
  owner: Map<number, CachedEngines>;
  prev: CachedEngines | null;
  next: CachedEngines | null;
}

export function engineKey(gmi: number, ptkId: number): number {
  return gmi * 0x10000 + ptkId;
}

export class EngineLru {
  private head: CachedEngines | null = null;
  private tail: CachedEngines | null = null;
  private count = 0;
  evictions = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity: expected an integer >= 1, got ${capacity}`);
  }

  get size(): number {
    return this.count;
  }

  /** The cached engines of `key` in `owner`, marked most recently used. */
  get(owner: Map<number, CachedEngines>, key: number): CachedEngines | undefined {
    const entry = owner.get(key);
    if (entry !== undefined && entry !== this.head) {
      this.unlink(entry);
      this.pushFront(entry);
    }
    return entry;
  }

  /** Calls `visit` on up to `limit` entries, most recently used first, without reordering them. */
  forMostRecent(limit: number, visit: (entry: CachedEngines) => void): void {
    let entry = this.head;
    for (let i = 0; i < limit && entry !== null; i++, entry = entry.next) visit(entry);
  }

  /** Adds engines (evicting the least recently used entry when full). */
  add(owner: Map<number, CachedEngines>, key: number, engines: PtkEngines): CachedEngines {
    const existing = owner.get(key);
    if (existing !== undefined) this.remove(existing);
    if (this.count >= this.capacity && this.tail !== null) {
      this.remove(this.tail);
      this.evictions++;
    }
    const entry: CachedEngines = { engines, key, owner, prev: null, next: null };
    owner.set(key, entry);
    this.pushFront(entry);
    return entry;
  }

  /** Drops every entry of one owner map (its PGK went away or changed). */
  dropOwner(owner: Map<number, CachedEngines>): void {
    for (const entry of owner.values()) this.unlink(entry);
    owner.clear();
  }

  remove(entry: CachedEngines): void {
    if (entry.owner.get(entry.key) === entry) entry.owner.delete(entry.key);
    this.unlink(entry);
  }

  private pushFront(entry: CachedEngines): void {
    entry.prev = null;
    entry.next = this.head;
    if (this.head !== null) this.head.prev = entry;
    this.head = entry;
    if (this.tail === null) this.tail = entry;
    this.count++;
  }

  private unlink(entry: CachedEngines): void {
    if (entry.prev !== null) entry.prev.next = entry.next;
    else if (this.head === entry) this.head = entry.next;
    else return; // not linked
    if (entry.next !== null) entry.next.prev = entry.prev;
    else this.tail = entry.prev;
    entry.prev = null;
    entry.next = null;
    this.count--;
  }
}
