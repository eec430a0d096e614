/**
 * Durable store of PTK ID high-water marks (src/pdcp/ptk-allocator.ts) in one small JSON file.
 *
 * Every save rewrites the whole file the crash-safe way:
 *   1. write the new content to `<file>.tmp` and fsync it,
 *   2. rename it over `<file>` (atomic on POSIX file systems),
 *   3. fsync the directory, so the rename itself survives a power loss.
 * Only then does `save` return and the allocator hands out the PTK IDs the mark covers. After a
 * crash at any point the file holds either the old marks or the new ones, never a torn mix; with
 * the old ones, the IDs of the interrupted reservation were never used.
 *
 * Saves happen once per block of PTK IDs (each PTK ID covers up to 65536 PDUs), so the cost of
 * the fsyncs (a few ms on a disk) is far off the per-packet path.
 *
 * A file that exists but cannot be read or parsed is an error, never "start from zero": starting
 * from zero would reuse COUNTs. The operator must fix or remove it knowingly.
 *
 * One process at a time: `<file>.lock` holds the owner's PID (created with O_EXCL). A lock whose
 * process is gone (a crash, SIGKILL) is taken over; a live owner makes the constructor throw,
 * because two senders sharing marks would hand out the same PTK IDs.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import {
  checkHighWater,
  parseSpaceKey,
  spaceKey,
  type PtkHighWaterStore,
  type PtkIdSpace,
} from '../../src/pdcp/ptk-allocator.js';

const FORMAT = 'sl-bridge/ptk-high-water/1';

/** Files opened by this process (the lock file cannot tell two stores of one process apart). */
const openInThisProcess = new Set<string>();

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
  /** `groupId:gmi:pgkId` (decimal) -> high-water mark. */
  marks: Record<string, number>;
}

export class PtkStateError extends Error {
  readonly code = 'EPTKSTATE';
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'PtkStateError';
  }
}

export class FilePtkHighWaterStore implements PtkHighWaterStore {
  private readonly marks = new Map<string, number>();
  /** Durable saves done (each one write + fsync + rename + directory fsync). */
  saves = 0;

  /** Opens (or prepares to create) the store at `file`; its directory is created if missing. */
  constructor(readonly file: string) {
    mkdirSync(dirname(file), { recursive: true });
    this.lock();
    // A leftover temp file is an interrupted save whose rename never happened: the main file
    // still has the marks that were in force, so the temp file is simply discarded.
    try {
      unlinkSync(`${file}.tmp`);
    } catch {
      /* none */
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
      if (text !== undefined) this.parse(text);
    } catch (e) {
      this.close();
      throw e;
    }
  }

  private get lockFile(): string {
    return `${this.file}.lock`;
  }

  private lock(): void {
    const path = resolve(this.file);
    if (openInThisProcess.has(path)) throw new PtkStateError(this.file, 'already open in this process');
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(this.lockFile, 'wx', 0o600);
        writeSync(fd, `${process.pid}\n`);
        closeSync(fd);
        openInThisProcess.add(path);
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new PtkStateError(this.file, `cannot create the lock file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
        }
      }
      let owner = NaN;
      try {
        owner = Number.parseInt(readFileSync(this.lockFile, 'utf8'), 10);
      } catch {
        /* vanished or unreadable: treated as stale */
      }
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && processAlive(owner)) {
        throw new PtkStateError(this.file, `in use by process ${owner} (lock ${this.lockFile})`);
      }
      // Stale lock of a crashed process. Our own PID in it is stale too: a restarted daemon in a
      // fresh container often gets the PID its crashed predecessor had.
      try {
        unlinkSync(this.lockFile);
      } catch {
        /* raced with another taker; the next attempt decides */
      }
    }
    throw new PtkStateError(this.file, `cannot take the lock ${this.lockFile}`);
  }

  /** Releases the lock. The store must not be used afterwards. */
  close(): void {
    openInThisProcess.delete(resolve(this.file));
    try {
      unlinkSync(this.lockFile);
    } catch {
      /* already gone */
    }
  }

  private parse(text: string): void {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new PtkStateError(this.file, 'not valid JSON; refusing to guess PTK ID marks (a reset would reuse COUNTs)');
    }
    const content = doc as Partial<FileContent> | null;
    if (content === null || typeof content !== 'object' || content.format !== FORMAT || typeof content.marks !== 'object' || content.marks === null) {
      throw new PtkStateError(this.file, `not a ${FORMAT} file`);
    }
    for (const [key, value] of Object.entries(content.marks)) {
      if (parseSpaceKey(key) === undefined) throw new PtkStateError(this.file, `bad key ${JSON.stringify(key)}`);
      try {
        this.marks.set(key, checkHighWater(value, `mark of ${key}`));
      } catch (e) {
        throw new PtkStateError(this.file, (e as Error).message);
      }
    }
  }

  load(space: PtkIdSpace): number | undefined {
    return this.marks.get(spaceKey(space));
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
    const next = new Map(this.marks).set(key, highWater);
    this.writeDurably(next);
    this.marks.set(key, highWater);
    this.saves++;
  }

  /**
   * Removes the marks of spaces for which `keep` says false (PGKs that expired: they are never
   * used again, so their marks are no longer needed). Durable like `save`.
   */
  prune(keep: (space: PtkIdSpace) => boolean): number {
    const next = new Map([...this.marks].filter(([key]) => keep(parseSpaceKey(key)!)));
    const removed = this.marks.size - next.size;
    if (removed === 0) return 0;
    this.writeDurably(next);
    this.marks.clear();
    for (const [k, v] of next) this.marks.set(k, v);
    return removed;
  }

  private writeDurably(marks: Map<string, number>): void {
    const content: FileContent = { format: FORMAT, marks: Object.fromEntries(marks) };
    const data = Buffer.from(`${JSON.stringify(content, null, 1)}\n`);
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      let off = 0;
      while (off < data.length) off += writeSync(fd, data, off, data.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
    const dir = openSync(dirname(this.file) || '.', 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  }

  toString(): string {
    return `FilePtkHighWaterStore(${basename(this.file)})`;
  }
}
