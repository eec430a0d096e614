/**
 * One process at a time on a piece of durable state: an exclusive kernel lock on a lock file,
 * which the kernel drops when its holder exits or dies (crash, SIGKILL, OOM kill). Nothing is
 * inferred from PIDs: a lock is free exactly when no live process holds it, so recycled PIDs,
 * two containers that both run as PID 1 on one volume, and half-written lock files do not matter.
 *
 * Node has no flock(); better-sqlite3's SQLite takes POSIX fcntl() locks on its database file.
 * The lock file is opened as a SQLite database with `locking_mode = EXCLUSIVE` and one
 * `BEGIN EXCLUSIVE` … `COMMIT`: in that mode SQLite keeps the EXCLUSIVE lock until the connection
 * closes. A contender (opened with `timeout: 0`) gets SQLITE_BUSY at once. SQLite's own locking
 * goes SHARED -> RESERVED -> EXCLUSIVE, so contenders that start together can all collide; each
 * then closes (dropping what it got) and retries a few times after a short random pause, so one
 * of them wins and the others are told it is held. `journal_mode = MEMORY`: no journal file next
 * to the lock. The lock file stays in place after release (deleting it would let a process that
 * opened the old file and one that creates a new one both "hold" it).
 *
 * fcntl() locks belong to a process, not to a file descriptor: they do not exclude a second
 * open in the same process (checked here by device and inode instead), and any close() of the
 * lock file by the holding process drops them (SQLite guards its own descriptors; nothing else
 * in this process may open the lock file). The lock lasts until release() or the process's end:
 * the connection stays referenced here, so a holder that drops its StateLock does not lose the
 * lock to a garbage collection (better-sqlite3 closes a collected connection).
 *
 * `<lock>.owner` records the holder's PID, host and start time, only for the error message a
 * contender prints; it is never used to decide anything.
 */
import Database from 'better-sqlite3';
import { closeSync, constants, openSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { writeFileDurably } from './durable-file.js';

export type StateLockFailure = 'held' | 'this-process' | 'not-a-lock' | 'io';

/**
 * The lock could not be taken. `reason`: `held` (another live process holds it), `this-process`
 * (this process holds it already), `not-a-lock` (the file is something else, e.g. the PID file of
 * an older sl-bridge), `io` (the lock file cannot be created or opened).
 */
export class StateLockError extends Error {
  readonly code = 'ESTATELOCK';
  constructor(
    readonly path: string,
    readonly reason: StateLockFailure,
    /** The message without the path. */
    readonly detail: string,
  ) {
    super(`${path}: ${detail}`);
    this.name = 'StateLockError';
  }
}

export interface StateLock {
  /** The lock file. */
  readonly path: string;
  /** Drops the lock (idempotent). The lock file itself stays. */
  release(): void;
}

export interface StateLockOptions {
  /** Tries before reporting `held` (default 8; contenders that collide retry). */
  attempts?: number;
}

/** Locks held by this process, by `dev:ino` of the lock file: their connections, kept alive. */
const heldHere = new Map<string, Database.Database>();

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
function sleepMs(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

function errnoOf(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
}

/** The holder's note, for messages only: `pid N on host H since T`, or undefined. */
function ownerNote(path: string): string | undefined {
  try {
    const o = JSON.parse(readFileSync(`${path}.owner`, 'utf8')) as { pid?: unknown; host?: unknown; since?: unknown };
    if (typeof o.pid !== 'number' || typeof o.host !== 'string' || typeof o.since !== 'string') return undefined;
    return `pid ${o.pid} on host ${o.host} since ${o.since}`;
  } catch {
    return undefined;
  }
}

function writeOwnerNote(path: string): void {
  try {
    writeFileDurably(`${path}.owner`, Buffer.from(`${JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() })}\n`));
  } catch {
    // Only for messages: a lock without a note is as good.
  }
}

/**
 * Takes the exclusive lock on `path` (created 0600 if missing; its folder must exist). Throws
 * {@link StateLockError} if another process or this one holds it, or the file is unusable.
 */
export function acquireStateLock(path: string, options: StateLockOptions = {}): StateLock {
  const attempts = Math.max(1, options.attempts ?? 8);
  // Create it ourselves, owner-only (SQLite would create it 0644). O_EXCL: an existing lock file
  // is never opened here, since closing it would drop a lock this process may hold on it.
  try {
    closeSync(openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600));
  } catch (e) {
    if (errnoOf(e) !== 'EEXIST') throw new StateLockError(path, 'io', `cannot create the lock file (${errnoOf(e)})`);
  }
  let key: string;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new StateLockError(path, 'not-a-lock', 'is not a regular file, so it cannot be a lock file');
    key = `${st.dev}:${st.ino}`;
  } catch (e) {
    if (e instanceof StateLockError) throw e;
    throw new StateLockError(path, 'io', `cannot read the lock file (${errnoOf(e)})`);
  }
  if (heldHere.has(key)) throw new StateLockError(path, 'this-process', 'already open in this process');

  for (let attempt = 1; ; attempt++) {
    let db: Database.Database | undefined;
    try {
      db = new Database(path, { timeout: 0, fileMustExist: true });
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('journal_mode = MEMORY');
      db.exec('BEGIN EXCLUSIVE');
      db.exec('COMMIT');
    } catch (e) {
      try {
        db?.close();
      } catch {
        /* closing drops whatever part of the lock it got */
      }
      const code = errnoOf(e);
      if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
        if (attempt < attempts) {
          sleepMs(2 + Math.random() * 4 * attempt);
          continue;
        }
        const note = ownerNote(path);
        throw new StateLockError(path, 'held', `in use by another process${note ? ` (${note}, says ${path}.owner)` : ''}; only one process at a time may use it`);
      }
      if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
        throw new StateLockError(path, 'not-a-lock', 'is not a lock file of this sl-bridge version (a PID lock file of an older one?): remove it once no sl-bridge process uses this state');
      }
      throw new StateLockError(path, 'io', `cannot lock (${code})`);
    }
    heldHere.set(key, db);
    writeOwnerNote(path);
    const lockDb = db;
    let released = false;
    return {
      path,
      release(): void {
        if (released) return;
        released = true;
        // The note goes first: once the lock is dropped, the next holder writes its own.
        try {
          unlinkSync(`${path}.owner`);
        } catch {
          /* none */
        }
        lockDb.close();
        heldHere.delete(key);
      },
    };
  }
}
