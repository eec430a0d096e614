/**
 * The one way sl-bridge replaces a file that must survive a crash whole: every piece of state whose
 * loss or tearing would cost security (PTK ID marks, GMI claims, replay floors, held keys) and the
 * CA's and UEs' keys and certificates.
 *   1. write the whole content to `<file>.<pid>.tmp`, created anew (O_EXCL, so its mode is `mode`
 *      under the umask and no file or symlink planted there is reused), looping on short writes,
 *      and fsync it (the PID keeps two processes replacing one file, e.g. `keys fetch` and a
 *      daemon, from writing into each other's temp file),
 *   2. rename it over `<file>` (atomic on POSIX file systems),
 *   3. fsync the directory, so the rename itself survives a power loss.
 * After a crash at any point the file holds the old content or the new one, never a torn mix; a
 * leftover temp file is an interrupted write whose rename never happened (`tempFilesOf` finds them).
 * A write that fails with an error (disk full, I/O error) removes its temp file and throws.
 *
 * `stageFileDurably` is the same three steps for a writer that must not hold up its event loop
 * for the disk (the daemon's replay floors): step 1 and the directory fsync run on libuv's thread
 * pool, and the rename is left to the caller, who does it only if the content it staged is still
 * the latest (the file holds other state that synchronous writes may have changed meanwhile).
 */
import { closeSync, constants, fsyncSync, openSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Leftover temp files of `file` (this module's `<file>.<pid>.tmp` and the older `<file>.tmp`), for its owner to remove. */
export function tempFilesOf(file: string): string[] {
  const dir = dirname(file);
  const name = basename(file);
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  const isTemp = (e: string): boolean =>
    e === `${name}.tmp` || (e.startsWith(`${name}.`) && e.endsWith('.tmp') && /^\d+(\.staged)?$/.test(e.slice(name.length + 1, -'.tmp'.length)));
  return entries.filter(isTemp).map((e) => join(dir, e));
}

export function writeFileDurably(file: string, data: Uint8Array, mode = 0o600): void {
  const tmp = `${file}.${process.pid}.tmp`;
  removeIfPresent(tmp); // a crashed earlier process with this PID
  try {
    const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
    try {
      let off = 0;
      while (off < data.length) off += writeSync(fd, data, off, data.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    removeIfPresent(tmp);
    throw e;
  }
  const dir = openSync(dirname(file) || '.', 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/** A temp file written and fsynced by {@link stageFileDurably}, not yet in place. */
export interface StagedFile {
  /** Step 2, synchronous so that the caller chooses the moment: renames it over the file. */
  rename(): void;
  /** Step 3 on the thread pool: the directory's fsync, after which the rename survives a power loss. */
  syncDirectory(): Promise<void>;
  /** Removes it instead (its content went stale). */
  discard(): void;
}

/**
 * Step 1 of {@link writeFileDurably} without blocking the event loop, into `<file>.<pid>.staged.tmp`
 * (its own name: a synchronous write of the same file may run while it is in flight). One staged
 * write per file at a time. A failed write removes its temp file and rejects.
 */
export async function stageFileDurably(file: string, data: Uint8Array, mode = 0o600): Promise<StagedFile> {
  const tmp = `${file}.${process.pid}.staged.tmp`;
  await unlink(tmp).catch(() => undefined); // a crashed earlier process with this PID
  try {
    const handle = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  return {
    rename: () => {
      try {
        renameSync(tmp, file);
      } catch (e) {
        removeIfPresent(tmp);
        throw e;
      }
    },
    syncDirectory: async () => {
      const dir = await open(dirname(file) || '.', 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    },
    discard: () => removeIfPresent(tmp),
  };
}

function removeIfPresent(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* absent */
  }
}
