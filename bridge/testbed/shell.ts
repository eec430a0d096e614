/** `w` as one word for a POSIX shell: as is when it is safe, else single-quoted. */
export function shellWord(w: string): string {
  return /^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}
