/**
 * A UE's state directory (PTK ID marks and their lock, the key client's persisted PGKs): created
 * owner-only (0700, missing parents too), and checked when it exists. An existing directory that
 * group or others can enter, or that another user owns, is reported as a warning and left as it
 * is: it is the operator's (it may be shared, or `/var/lib`), and changing its mode could break
 * whatever else lives there. The files in it are created 0600 anyway.
 */
import { mkdirSync, statSync } from 'node:fs';

export class StateDirError extends Error {
  readonly code = 'ESTATEDIR';
  constructor(
    readonly dir: string,
    /** `not-a-directory`: the path, or a folder on it, is a file; `io`: anything else (EACCES, EROFS, …). */
    readonly reason: 'not-a-directory' | 'io',
    /** What is wrong, without the path. */
    readonly detail: string,
  ) {
    super(`${dir}: ${detail}`);
    this.name = 'StateDirError';
  }
}

export interface StateDirCheck {
  /** Whether it was created now. */
  created: boolean;
  /** Set when an existing directory is not the owner's alone. */
  warning?: { mode: string; uid: number; message: string };
}

const errnoOf = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/** Creates `dir` 0700 if missing; throws {@link StateDirError} if it cannot be a directory. */
export function prepareStateDir(dir: string): StateDirCheck {
  let st;
  try {
    st = statSync(dir);
  } catch (e) {
    const code = errnoOf(e);
    if (code === 'ENOTDIR') throw new StateDirError(dir, 'not-a-directory', 'a folder on the path is a file');
    if (code !== 'ENOENT') throw new StateDirError(dir, 'io', `cannot read it (${code})`);
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (e2) {
      const code2 = errnoOf(e2);
      if (code2 === 'ENOTDIR' || code2 === 'EEXIST') throw new StateDirError(dir, 'not-a-directory', 'a folder on the path is a file');
      throw new StateDirError(dir, 'io', `cannot create it (${code2})`);
    }
    return { created: true };
  }
  if (!st.isDirectory()) throw new StateDirError(dir, 'not-a-directory', 'it is a file, not a directory');
  const uid = process.geteuid?.();
  const loose = (st.mode & 0o077) !== 0;
  const foreign = uid !== undefined && st.uid !== uid && st.uid !== 0;
  if (!loose && !foreign) return { created: false };
  const mode = `0${(st.mode & 0o777).toString(8)}`;
  const why = [
    ...(loose ? [`group or others ${st.mode & 0o022 ? 'can write to it' : 'have access to it'} (mode ${mode})`] : []),
    ...(foreign ? [`it belongs to uid ${st.uid}`] : []),
  ].join(' and ');
  return {
    created: false,
    warning: { mode, uid: st.uid, message: `state directory is not private: ${why}; it holds PTK ID marks and group keys (chmod 700 it, or use another one)` },
  };
}
