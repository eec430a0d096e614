/**
 * Replaces a small file the crash-safe way, for every piece of state whose loss or tearing would
 * cost security (PTK ID marks, GMI claims, replay floors, held keys):
 *   1. write the whole content to `<file>.tmp` (mode `mode`, short writes looped) and fsync it,
 *   2. rename it over `<file>` (atomic on POSIX file systems),
 *   3. fsync the directory, so the rename itself survives a power loss.
 * After a crash at any point the file holds the old content or the new one, never a torn mix; a
 * leftover `<file>.tmp` is an interrupted write whose rename never happened.
 */
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export function writeFileDurably(file: string, data: Uint8Array, mode = 0o600): void {
  const tmp = `${file}.tmp`;
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
