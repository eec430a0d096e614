/**
 * The UE's durable PDCP state in one small JSON file: the sender's PTK ID high-water marks
 * (src/pdcp/ptk-allocator.ts), the GMI this state belongs to in each group (GmiLedger, the same
 * file: marks and claims must be lost together or not at all) and the receiver's replay floors
 * (src/pdcp/replay-marks.ts).
 *
 * Every save rewrites the whole file the crash-safe way (durable-file.ts: temp file, fsync,
 * rename, directory fsync). Only then does `save` return and the allocator hands out the PTK IDs
 * the mark covers (or the receiver delivers the PDU the floor covers). After a crash at any point
 * the file holds either the old content or the new one, never a torn mix; with the old one, the
 * IDs of the interrupted reservation were never used.
 *
 * PTK marks are saved once per block of PTK IDs (each PTK ID covers up to 65536 PDUs), replay
 * floors once per `replayMarkStep` PDUs of a sender at most: a save costs a few ms on a disk.
 * The daemon's timer raises floors with `raiseFloorsInBackground`, which keeps that wait off the
 * event loop; every other save is synchronous.
 *
 * Format 2 (`sl-bridge/pdcp-state/2`) keys marks by (group, GMI, PGK ID, PGK tag); a format-1 file
 * (`sl-bridge/ptk-high-water/1`, marks without the tag and no GMI claims) is read as it is: its
 * marks keep bounding the PTK IDs of their PGK IDs, whatever the value, and with no claims the key
 * client asks the PKMF for a fresh GMI.
 *
 * A file that exists but cannot be read or parsed is an error, never "start from zero": starting
 * from zero would reuse COUNTs. The operator must fix or remove it knowingly.
 *
 * One process at a time: an exclusive kernel lock on `<file>.lock` (state-lock.ts), which the
 * kernel drops when the holder exits or dies (a crash, SIGKILL); a live holder makes the
 * constructor throw, because two senders sharing marks would hand out the same PTK IDs.
 */
import { mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import {
  checkHighWater,
  parseSpaceKey,
  spaceKey,
  type GmiLedger,
  type PtkHighWaterStore,
  type PtkIdSpace,
} from '../../src/pdcp/ptk-allocator.js';
import { acquireStateLock, StateLockError, type StateLock } from './state-lock.js';
import {
  checkReplayFloor,
  parseReplayMarkKey,
  replayMarkKey,
  type ReplayMarkKey,
  type ReplayMarkStore,
} from '../../src/pdcp/replay-marks.js';
import { isGmi } from '../../src/pkmf/identity.js';
import { stageFileDurably, tempFilesOf, writeFileDurably } from './durable-file.js';

const FORMAT = 'sl-bridge/pdcp-state/2';
const FORMAT_1 = 'sl-bridge/ptk-high-water/1';
const LEGACY_KEY = /^(\d{1,8}):(\d{1,8}):(\d{1,10})$/;

/** Whether process `pid` exists (EPERM: it does, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface FileContent {
  format: string;
  /** `groupId:gmi:pgkId:pgkTag` (decimal, tag hex) -> high-water mark; format 1: `groupId:gmi:pgkId`. */
  marks: Record<string, number>;
  /** Group ID (decimal) -> the GMI this state belongs to. */
  gmis?: Record<string, number>;
  /** `groupId:senderGmi:pgkId:pgkTag` -> replay floor. */
  replay?: Record<string, number>;
  /** Marks carried over from a format-1 file (`groupId:gmi:pgkId`): they bound every PGK value of that ID. */
  legacyMarks?: Record<string, number>;
}

/** The PDCP state file in a state directory (the daemon's; `keys fetch` looks at it too). */
export const PTK_STATE_FILE = 'ptk-high-water.json';

export class PtkStateError extends Error {
  readonly code = 'EPTKSTATE';
  constructor(
    readonly file: string,
    message: string,
    /** Another live process holds the state (its lock). */
    readonly inUse = false,
  ) {
    super(`${file}: ${message}`);
    this.name = 'PtkStateError';
  }
}

/** The maps a save replaces (the others are written as they are). */
interface StateChange {
  marks?: Map<string, number>;
  gmis?: Map<number, number>;
  replay?: Map<string, number>;
}

interface ParsedState {
  marks: Map<string, number>;
  legacyMarks: Map<string, number>;
  gmis: Map<number, number>;
  replay: Map<string, number>;
}

/** Checks a state file's text (every field, or PtkStateError naming the file). */
function parseStateFile(file: string, text: string): ParsedState {
  const state: ParsedState = { marks: new Map(), legacyMarks: new Map(), gmis: new Map(), replay: new Map() };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new PtkStateError(file, 'not valid JSON; refusing to guess PTK ID marks (a reset would reuse COUNTs)');
  }
  const content = doc as Partial<FileContent> | null;
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(content) || (content.format !== FORMAT && content.format !== FORMAT_1) || !isObject(content.marks)) {
    throw new PtkStateError(file, `not a ${FORMAT} (or ${FORMAT_1}) file`);
  }
  const legacy = content.format === FORMAT_1;
  const checked = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      throw new PtkStateError(file, (e as Error).message);
    }
  };
  const legacyMarks = legacy ? content.marks : (content.legacyMarks ?? {});
  if (!isObject(legacyMarks)) throw new PtkStateError(file, 'legacyMarks: expected an object');
  for (const [key, value] of Object.entries(legacyMarks)) {
    if (!LEGACY_KEY.test(key)) throw new PtkStateError(file, `bad key ${JSON.stringify(key)}`);
    state.legacyMarks.set(key, checked(() => checkHighWater(value, `mark of ${key}`)));
  }
  if (legacy) return state;
  for (const [key, value] of Object.entries(content.marks)) {
    if (parseSpaceKey(key) === undefined) throw new PtkStateError(file, `bad key ${JSON.stringify(key)}`);
    state.marks.set(key, checked(() => checkHighWater(value, `mark of ${key}`)));
  }
  for (const [group, gmi] of Object.entries(content.gmis ?? {})) {
    const groupId = Number(group);
    if (!/^\d{1,8}$/.test(group) || groupId > 0xffffff || !isGmi(gmi)) throw new PtkStateError(file, `bad GMI claim ${JSON.stringify(group)}: ${JSON.stringify(gmi)}`);
    state.gmis.set(groupId, gmi);
  }
  for (const [key, value] of Object.entries(content.replay ?? {})) {
    if (parseReplayMarkKey(key) === undefined) throw new PtkStateError(file, `bad replay key ${JSON.stringify(key)}`);
    state.replay.set(key, checked(() => checkReplayFloor(value, `replay floor of ${key}`)));
  }
  return state;
}

/**
 * The GMI claims of a PDCP state file, read without taking its lock (a daemon may hold it) and
 * without writing anything: `sl-bridge keys fetch` asks with the daemon's held GMI, so that a look
 * at the keys never costs the daemon its GMI. A missing file holds no claim.
 */
export function readGmiClaims(file: string): ReadonlyMap<number, number> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw new PtkStateError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  return parseStateFile(file, text).gmis;
}

export class FilePtkHighWaterStore implements PtkHighWaterStore, GmiLedger, ReplayMarkStore {
  private readonly marks = new Map<string, number>();
  /** Format-1 marks (`groupId:gmi:pgkId`, any PGK value): read, kept, never written anew. */
  private readonly legacyMarks = new Map<string, number>();
  private readonly gmis = new Map<number, number>();
  private readonly replay = new Map<string, number>();
  /** Durable saves done (each one write + fsync + rename + directory fsync). */
  saves = 0;
  /** Bumped by every rename over the file: a staged write taken before it is stale. */
  private generation = 0;
  private closed = false;

  /** Opens (or prepares to create) the store at `file`; its directory is created if missing. */
  constructor(readonly file: string) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    this.lock();
    // A leftover temp file is an interrupted save whose rename never happened: the main file
    // still has the marks that were in force, so the temp file is simply discarded.
    // (Safe to remove every one: the lock says no other process writes this file.)
    for (const tmp of tempFilesOf(file)) {
      try {
        unlinkSync(tmp);
      } catch {
        /* gone already */
      }
    }
    try {
      let text: string | undefined;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
          throw new PtkStateError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
        }
      }
      if (text !== undefined) {
        const parsed = parseStateFile(file, text);
        for (const [k, v] of parsed.marks) this.marks.set(k, v);
        for (const [k, v] of parsed.legacyMarks) this.legacyMarks.set(k, v);
        for (const [k, v] of parsed.gmis) this.gmis.set(k, v);
        for (const [k, v] of parsed.replay) this.replay.set(k, v);
      }
    } catch (e) {
      this.close();
      throw e;
    }
  }

  private get lockFile(): string {
    return `${this.file}.lock`;
  }

  /** The kernel lock on `<file>.lock` (bridge/state/state-lock.ts) while the store is open. */
  private held: StateLock | undefined;

  private lock(): void {
    try {
      this.held = acquireStateLock(this.lockFile);
    } catch (e) {
      if (e instanceof StateLockError) throw new PtkStateError(this.file, `lock ${e.path}: ${e.detail}`, e.reason === 'held');
      throw e;
    }
  }

  /** Releases the lock. The store must not be used afterwards. */
  close(): void {
    this.closed = true;
    this.held?.release();
    this.held = undefined;
  }

  load(space: PtkIdSpace): number | undefined {
    const mark = this.marks.get(spaceKey(space));
    const legacy = this.legacyMarks.get(`${space.groupId}:${space.gmi}:${space.pgkId}`);
    if (legacy === undefined) return mark;
    return Math.max(mark ?? 0, legacy);
  }

  heldGmi(groupId: number): number | undefined {
    return this.gmis.get(groupId);
  }

  claimGmi(groupId: number, gmi: number): void {
    if (!isGmi(gmi)) throw new RangeError(`gmi: expected a GMI 1..0xfffffe, got ${gmi}`);
    if (this.gmis.get(groupId) === gmi) return;
    const gmis = new Map(this.gmis).set(groupId, gmi);
    this.writeDurably({ gmis });
    this.gmis.set(groupId, gmi);
    this.saves++;
  }

  loadFloor(key: ReplayMarkKey): number | undefined {
    return this.replay.get(replayMarkKey(key));
  }

  /** A floor below the stored one leaves the stored one (it already covers more). */
  raiseFloors(floors: readonly { key: ReplayMarkKey; floor: number }[]): void {
    const replay = this.raisedReplay(floors);
    this.writeDurably({ replay });
    for (const [k, v] of replay) this.replay.set(k, v);
    this.saves++;
  }

  /**
   * `raiseFloors` without holding up the event loop for the disk: the new state is written and
   * fsynced on the thread pool, then renamed in only if no synchronous save replaced the file
   * meanwhile (its content would lack that save's marks: a PTK ID mark going back is a COUNT
   * reused after a crash). Resolves true once the floors are durable, false when it wrote nothing
   * (a synchronous save came first, or the store closed): nothing was raised, ask again. Rejects
   * on an I/O error. From the rename on, the floors are part of every later save.
   */
  async raiseFloorsInBackground(floors: readonly { key: ReplayMarkKey; floor: number }[]): Promise<boolean> {
    const generation = this.generation;
    const replay = this.raisedReplay(floors);
    const staged = await stageFileDurably(this.file, this.serialize({ replay }));
    if (this.closed || this.generation !== generation) {
      staged.discard();
      return false;
    }
    staged.rename();
    this.generation++;
    for (const [k, v] of replay) this.replay.set(k, v);
    await staged.syncDirectory();
    this.saves++;
    return true;
  }

  private raisedReplay(floors: readonly { key: ReplayMarkKey; floor: number }[]): Map<string, number> {
    const replay = new Map(this.replay);
    for (const { key, floor } of floors) {
      checkReplayFloor(floor, 'floor');
      const k = replayMarkKey(key);
      replay.set(k, Math.max(floor, replay.get(k) ?? 0));
    }
    return replay;
  }

  settleFloors(floors: readonly { key: ReplayMarkKey; floor: number }[]): void {
    const replay = new Map(this.replay);
    for (const { key, floor } of floors) replay.set(replayMarkKey(key), checkReplayFloor(floor, 'floor'));
    this.writeDurably({ replay });
    this.replay.clear();
    for (const [k, v] of replay) this.replay.set(k, v);
    this.saves++;
  }

  /** Every stored mark (for `keys`-style inspection and tests). */
  entries(): { space: PtkIdSpace; highWater: number }[] {
    return [...this.marks].map(([key, highWater]) => ({ space: parseSpaceKey(key)!, highWater }));
  }

  save(space: PtkIdSpace, highWater: number): void {
    checkHighWater(highWater, 'highWater');
    const key = spaceKey(space);
    const old = this.marks.get(key);
    if (old !== undefined && highWater < old) {
      throw new RangeError(`highWater: ${highWater} is below the stored mark ${old} of ${key}; marks never go down`);
    }
    this.writeDurably({ marks: new Map(this.marks).set(key, highWater) });
    this.marks.set(key, highWater);
    this.saves++;
  }

  /**
   * Removes the marks of spaces for which `keep` says false (PGKs that expired: they are never
   * used again, so their marks are no longer needed). Durable like `save`.
   */
  prune(keep: (space: PtkIdSpace) => boolean): number {
    return this.pruneEntries('marks', (key) => keep(parseSpaceKey(key)!));
  }

  /** Removes the replay floors for which `keep` says false (their PGK expired). Durable. */
  pruneReplayFloors(keep: (key: ReplayMarkKey) => boolean): number {
    return this.pruneEntries('replay', (key) => keep(parseReplayMarkKey(key)!));
  }

  private pruneEntries(field: 'marks' | 'replay', keep: (key: string) => boolean): number {
    const map = this[field];
    const next = new Map([...map].filter(([key]) => keep(key)));
    const removed = map.size - next.size;
    if (removed === 0) return 0;
    this.writeDurably({ [field]: next });
    map.clear();
    for (const [k, v] of next) map.set(k, v);
    return removed;
  }

  /** Writes the whole state with `change` applied (the in-memory maps are updated by the caller after). */
  private writeDurably(change: StateChange): void {
    try {
      writeFileDurably(this.file, this.serialize(change));
    } finally {
      this.generation++; // a failed save may have renamed already
    }
  }

  private serialize(change: StateChange): Buffer {
    const content: FileContent = {
      format: FORMAT,
      marks: Object.fromEntries(change.marks ?? this.marks),
      gmis: Object.fromEntries([...(change.gmis ?? this.gmis)].map(([g, gmi]) => [String(g), gmi])),
      replay: Object.fromEntries(change.replay ?? this.replay),
    };
    if (this.legacyMarks.size > 0) content.legacyMarks = Object.fromEntries(this.legacyMarks);
    return Buffer.from(`${JSON.stringify(content, null, 1)}\n`);
  }

  toString(): string {
    return `FilePtkHighWaterStore(${basename(this.file)})`;
  }
}
