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
 */
import { closeSync, constants, fsyncSync, openSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
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
    e === `${name}.tmp` || (e.startsWith(`${name}.`) && e.endsWith('.tmp') && /^\d+$/.test(e.slice(name.length + 1, -'.tmp'.length)));
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

function removeIfPresent(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* absent */
  }
}
