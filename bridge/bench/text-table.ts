/**
 * The plain-text tables the bench commands print: each column as wide as its widest cell, two
 * spaces between columns, a cell left- or right-aligned as `rightAligned(column)` says, no
 * trailing spaces.
 */
export function textTable(header: readonly string[], rows: readonly (readonly string[])[], rightAligned: (column: number) => boolean): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (rightAligned(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}
