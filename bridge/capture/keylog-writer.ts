/**
 * `--keylog FILE`: appends one line per PGK the daemon holds (src/capture/keylog.ts) so that a
 * capture can be deciphered afterwards with `sl-bridge pdu decode`. Off unless asked for: the
 * file holds group keys in clear. It is created with mode 0600 and forced back to 0600 if it
 * already existed with wider permissions; lines are appended (like SSLKEYLOGFILE), so one keylog
 * can serve several runs.
 *
 * Writes are synchronous: they happen when key material is installed (rarely), and a PGK must be
 * in the file before the first PDU protected under it reaches a capture.
 */
import { closeSync, constants, fchmodSync, fstatSync, openSync, writeSync } from 'node:fs';
import type { GroupKeyMaterial } from '../../src/keys/types.js';
import { KEYLOG_HEADER, formatKeylogLine } from '../../src/capture/keylog.js';

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

  /** Opens `file` for appending (created 0600), writing the format line into a new file. */
  static open(file: string): KeylogWriter {
    const fd = openSync(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
    try {
      fchmodSync(fd, 0o600);
      if (fstatSync(fd).size === 0) writeSync(fd, `${KEYLOG_HEADER}\n`);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    return new KeylogWriter(file, fd);
  }

  /**
   * Logs every PGK of a group's key material not logged yet. Returns the number of lines
   * written. Throws if the file cannot be written (the caller decides whether that is fatal).
   */
  logGroup(material: GroupKeyMaterial): number {
    if (this.fd === undefined) throw new Error(`keylog ${this.file}: already closed`);
    let lines = '';
    let count = 0;
    for (const p of material.pgks) {
      const line = formatKeylogLine({
        groupId: material.groupId,
        pgkId: p.pgkId,
        pgk: p.pgk,
        profile: material.profile,
        nea: material.nea,
        nia: material.nia,
        expiresAtMs: p.expiresAtMs,
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
