/**
 * `--keylog FILE`: appends one line per PGK the daemon holds (src/capture/keylog.ts) so that a
 * capture can be deciphered afterwards with `sl-bridge pdu decode`. Off unless asked for: the
 * file holds group keys in clear. A new file is created 0600; lines are appended (like
 * SSLKEYLOGFILE), so one keylog can serve several runs.
 *
 * An existing file is used only if nobody else could read the keys from it, checked with fstat
 * on the opened descriptor (so the file checked is the file written): a regular file (not a
 * FIFO or device someone reads from), with one name (no hard link elsewhere), owned by this
 * process's user, and with no permission bits for group or others. Anything else is refused
 * with a {@link KeylogFileError}, before anything is written. A file of ours that is readable by
 * others is refused rather than tightened: someone may already have it open, and a chmod does not
 * take an open descriptor away. A symbolic link is refused too (O_NOFOLLOW).
 *
 * Writes are synchronous: they happen when key material is installed (rarely), and a PGK must be
 * in the file before the first PDU protected under it reaches a capture.
 */
import { closeSync, constants, fstatSync, openSync, writeSync } from 'node:fs';
import type { GroupKeyMaterial } from '../../src/keys/types.js';
import { KEYLOG_HEADER, formatKeylogLine, type KeylogSourceAuth } from '../../src/capture/keylog.js';

/** The keylog file cannot be used safely (or at all); the message names the file and why. */
export class KeylogFileError extends Error {
  readonly code = 'EKEYLOGFILE';
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`keylog ${file}: ${message}`);
    this.name = 'KeylogFileError';
  }
}

export class KeylogWriter {
  /** PGK lines written by this writer (identical ones are written once). */
  private readonly written = new Set<string>();
  private fd: number | undefined;

  private constructor(
    readonly file: string,
    fd: number,
  ) {
    this.fd = fd;
  }

  /**
   * Opens `file` for appending (a new file is created 0600 and gets the format line). Throws
   * {@link KeylogFileError} for a file others could read keys from (see above) or that cannot be
   * opened.
   */
  static open(file: string): KeylogWriter {
    let fd: number;
    try {
      // O_NONBLOCK: a FIFO without a reader fails (ENXIO) instead of blocking; regular files ignore it.
      fd = openSync(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o600);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new KeylogFileError(file, code === 'ELOOP' ? 'is a symbolic link; refusing to write group keys through it (give the real path)' : `cannot open it (${code ?? (e as Error).message})`);
    }
    try {
      const st = fstatSync(fd);
      const uid = process.geteuid?.();
      const mode = `0${(st.mode & 0o777).toString(8)}`;
      if (!st.isFile()) throw new KeylogFileError(file, 'is not a regular file (a FIFO, socket or device someone else may read)');
      if (st.nlink !== 1) throw new KeylogFileError(file, `has ${st.nlink} names (hard links); another name may be readable by others`);
      if (uid !== undefined && st.uid !== uid) {
        throw new KeylogFileError(file, `is owned by uid ${st.uid}, not by us (uid ${uid}): its owner could read every group key written into it; remove it or choose another path`);
      }
      if ((st.mode & 0o077) !== 0) {
        throw new KeylogFileError(file, `is readable or writable by group or others (mode ${mode}); someone may already have it open: remove it, or chmod 600 it if you are sure nobody has`);
      }
      if (st.size === 0) writeSync(fd, `${KEYLOG_HEADER}\n`);
    } catch (e) {
      closeSync(fd);
      if (e instanceof KeylogFileError) throw e;
      throw new KeylogFileError(file, `cannot write it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    return new KeylogWriter(file, fd);
  }

  /**
   * Logs every PGK of a group's key material not logged yet, with what verifying its source-auth
   * blocks takes (this UE's GMI and pairwise keys, or the members' public keys; never the signing
   * seed). Returns the number of lines written. A PGK whose keys changed (members joined or left)
   * is written again. Throws if the file cannot be written (the caller decides whether that is fatal).
   */
  logGroup(material: GroupKeyMaterial): number {
    if (this.fd === undefined) throw new Error(`keylog ${this.file}: already closed`);
    let lines = '';
    let count = 0;
    const sa = material.sourceAuth;
    for (const p of material.pgks) {
      const sourceAuthKeys: KeylogSourceAuth | undefined =
        sa === undefined
          ? undefined
          : sa.mode === 'pairwise-mac'
            ? { mode: sa.mode, gmi: material.gmi, pairwiseKeys: p.pairwiseKeys ?? new Map() }
            : { mode: sa.mode, gmi: material.gmi, publicKeys: sa.publicKeys };
      const line = formatKeylogLine({
        groupId: material.groupId,
        pgkId: p.pgkId,
        pgk: p.pgk,
        profile: material.profile,
        nea: material.nea,
        nia: material.nia,
        expiresAtMs: p.expiresAtMs,
        sourceAuthKeys,
      });
      if (this.written.has(line)) continue;
      this.written.add(line);
      lines += `${line}\n`;
      count++;
    }
    if (count > 0) writeSync(this.fd, lines);
    return count;
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}
