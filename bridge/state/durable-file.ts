/**
 * Replaces a small file the crash-safe way, for every piece of state whose loss or tearing would
 * cost security (PTK ID marks, GMI claims, replay floors, held keys):
 *   1. write the whole content to `<file>.<pid>.tmp` (mode `mode`, short writes looped) and fsync
 *      it (the PID keeps two processes replacing one file, e.g. `keys fetch` and a daemon, from
 *      writing into each other's temp file),
 *   2. rename it over `<file>` (atomic on POSIX file systems),
 *   3. fsync the directory, so the rename itself survives a power loss.
 * After a crash at any point the file holds the old content or the new one, never a torn mix; a
 * leftover temp file is an interrupted write whose rename never happened (`tempFilesOf` finds them).
 */
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, writeSync } from 'node:fs';
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
  const fd = openSync(tmp, 'w', mode);
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  const dir = openSync(dirname(file) || '.', 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
