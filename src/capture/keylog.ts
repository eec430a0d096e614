/**
 * The sl-bridge key log: the PGKs a daemon used, so that `sl-bridge pdu decode` can decipher and
 * verify a capture afterwards (the role SSLKEYLOGFILE plays for TLS). Text, UTF-8, one PGK per
 * line; parse/emit pair, no I/O.
 *
 *   # sl-bridge keylog 1
 *   PGK group=00c0de pgk_id=42 pgk=<64 hex digits> profile=pcr nea=2 nia=2 expires=2030-01-01T00:00:00.000Z
 *
 * - Lines starting with `#` and blank lines are ignored.
 * - A record line starts with its kind (`PGK`, the only kind of version 1), then `key=value`
 *   fields separated by single spaces or tabs, in any order, each exactly once:
 *     group    Group ID (= L2 destination ID), 1..6 hex digits
 *     pgk_id   PGK ID, decimal 0..4294967295 (its 5 LSBs are the PGK Index of the PDU header)
 *     pgk      the 256-bit PGK, 64 hex digits
 *     profile  pcr | ts33533 | lte-prose (key hierarchy and PDU layout)
 *     nea      0..3 (0 = NEA0, test only)
 *     nia      0..3 or none (integrity off; always none for lte-prose)
 *     expires  ISO 8601 UTC time (`...Z`) or `never`
 *   Unknown fields are an error (a typo must not silently drop a key).
 * - The same PGK may appear several times (a keylog appended to across runs); identical lines
 *   count once. Two different PGKs with the same group and PGK ID (e.g. from two runs against
 *   fresh PKMFs) are both kept: the decoder tries each.
 */
import { HIERARCHY_PROFILES, type AlgId, type HierarchyProfile } from '../crypto/types.js';

export const KEYLOG_HEADER = '# sl-bridge keylog 1';

export interface KeylogEntry {
  groupId: number;
  pgkId: number;
  /** 32 bytes. */
  pgk: Uint8Array;
  profile: HierarchyProfile;
  nea: AlgId;
  nia: AlgId | null;
  /** Milliseconds since the Unix epoch; Infinity for `never`. */
  expiresAtMs: number;
  /** 1-based line number in the keylog it came from (0 when built in memory). */
  line: number;
}

/** A malformed keylog: `line` is 1-based, `column` 1-based within it. */
export class KeylogFormatError extends Error {
  constructor(
    readonly source: string,
    readonly line: number,
    readonly column: number,
    detail: string,
  ) {
    super(`${source}:${line}:${column}: ${detail}`);
    this.name = 'KeylogFormatError';
  }
}

const FIELDS = ['group', 'pgk_id', 'pgk', 'profile', 'nea', 'nia', 'expires'] as const;
type Field = (typeof FIELDS)[number];
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

/** A token for an error message: quoted, control characters escaped, long ones cut. */
const quote = (t: string): string => JSON.stringify(t.length > 40 ? `${t.slice(0, 40)}...` : t);

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** One keylog line (no newline) for a PGK. Throws RangeError/TypeError naming a bad field. */
export function formatKeylogLine(e: Omit<KeylogEntry, 'line'>): string {
  if (!Number.isInteger(e.groupId) || e.groupId < 0 || e.groupId > 0xffffff) throw new RangeError(`groupId: expected a 24-bit ID, got ${e.groupId}`);
  if (!Number.isInteger(e.pgkId) || e.pgkId < 0 || e.pgkId > 0xffffffff) throw new RangeError(`pgkId: expected a uint32, got ${e.pgkId}`);
  if (!(e.pgk instanceof Uint8Array) || e.pgk.length !== 32) throw new TypeError('pgk: expected 32 bytes');
  if (!HIERARCHY_PROFILES.includes(e.profile)) throw new RangeError(`profile: expected one of ${HIERARCHY_PROFILES.join(', ')}`);
  const alg = (a: number, name: string): string => {
    if (!Number.isInteger(a) || a < 0 || a > 3) throw new RangeError(`${name}: expected 0..3, got ${a}`);
    return String(a);
  };
  let expires: string;
  if (e.expiresAtMs === Infinity) expires = 'never';
  else if (Number.isFinite(e.expiresAtMs)) expires = new Date(e.expiresAtMs).toISOString();
  else throw new RangeError(`expiresAtMs: expected ms since the epoch or Infinity, got ${e.expiresAtMs}`);
  return (
    `PGK group=${e.groupId.toString(16).padStart(6, '0')} pgk_id=${e.pgkId} pgk=${hex(e.pgk)} profile=${e.profile}` +
    ` nea=${alg(e.nea, 'nea')} nia=${e.nia === null ? 'none' : alg(e.nia, 'nia')} expires=${expires}`
  );
}

/**
 * Parses a whole keylog. Throws {@link KeylogFormatError} at the first bad line, naming the
 * source, line and column. Returns the distinct entries in file order.
 */
export function parseKeylog(text: string, source = 'keylog'): KeylogEntry[] {
  const entries: KeylogEntry[] = [];
  const seen = new Set<string>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.endsWith('\r') ? lines[i]!.slice(0, -1) : lines[i]!;
    const lineNo = i + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const entry = parseLine(raw, lineNo, source);
    const key = formatKeylogLine(entry);
    if (seen.has(key)) continue;
    seen.add(key);
    entries.push(entry);
  }
  return entries;
}

function parseLine(raw: string, line: number, source: string): KeylogEntry {
  const err = (column: number, detail: string): KeylogFormatError => new KeylogFormatError(source, line, column, detail);
  // Tokens with their 1-based columns.
  const tokens: { text: string; column: number }[] = [];
  const re = /[^ \t]+/g;
  for (let m = re.exec(raw); m !== null; m = re.exec(raw)) tokens.push({ text: m[0], column: m.index + 1 });
  const kind = tokens[0]!;
  if (hasControlCharacters(raw)) throw err(1, 'binary data: this is not a text keylog');
  if (kind.text !== 'PGK') throw err(kind.column, `unknown record kind ${quote(kind.text)} (expected PGK)`);
  const values = new Map<Field, { text: string; column: number }>();
  for (const t of tokens.slice(1)) {
    const eq = t.text.indexOf('=');
    if (eq <= 0) throw err(t.column, `expected key=value, got ${quote(t.text)}`);
    const key = t.text.slice(0, eq);
    if (!(FIELDS as readonly string[]).includes(key)) throw err(t.column, `unknown field ${quote(key)} (fields: ${FIELDS.join(', ')})`);
    if (values.has(key as Field)) throw err(t.column, `field ${key} given twice`);
    values.set(key as Field, { text: t.text.slice(eq + 1), column: t.column + eq + 1 });
  }
  const get = (f: Field): { text: string; column: number } => {
    const v = values.get(f);
    if (v === undefined) throw err(raw.length + 1, `missing field ${f}`);
    return v;
  };

  const g = get('group');
  if (!/^[0-9a-fA-F]{1,6}$/.test(g.text)) throw err(g.column, `group: expected a 24-bit Group ID as 1..6 hex digits, got ${quote(g.text)}`);
  const id = get('pgk_id');
  const pgkId = /^\d{1,10}$/.test(id.text) ? Number(id.text) : NaN;
  if (!(pgkId >= 0 && pgkId <= 0xffffffff)) throw err(id.column, `pgk_id: expected a decimal integer 0..4294967295, got ${quote(id.text)}`);
  const k = get('pgk');
  if (!/^[0-9a-fA-F]{64}$/.test(k.text)) throw err(k.column, `pgk: expected 64 hex digits (256 bits), got ${k.text.length} characters`);
  const p = get('profile');
  if (!(HIERARCHY_PROFILES as readonly string[]).includes(p.text)) {
    throw err(p.column, `profile: expected one of ${HIERARCHY_PROFILES.join(', ')}, got ${quote(p.text)}`);
  }
  const profile = p.text as HierarchyProfile;
  const ne = get('nea');
  if (!/^[0-3]$/.test(ne.text)) throw err(ne.column, `nea: expected 0..3, got ${quote(ne.text)}`);
  const ni = get('nia');
  if (!/^([0-3]|none)$/.test(ni.text)) throw err(ni.column, `nia: expected 0..3 or none, got ${quote(ni.text)}`);
  const nia = ni.text === 'none' ? null : (Number(ni.text) as AlgId);
  if (profile === 'lte-prose' && nia !== null) throw err(ni.column, 'nia: the lte-prose profile has no MAC-I, so nia must be none');
  const ex = get('expires');
  let expiresAtMs: number;
  if (ex.text === 'never') expiresAtMs = Infinity;
  else if (ISO_UTC.test(ex.text) && Number.isFinite(Date.parse(ex.text))) expiresAtMs = Date.parse(ex.text);
  else throw err(ex.column, `expires: expected an ISO 8601 UTC time like 2030-01-01T00:00:00.000Z, or never; got ${quote(ex.text)}`);

  const pgk = new Uint8Array(32);
  for (let i = 0; i < 32; i++) pgk[i] = Number.parseInt(k.text.slice(2 * i, 2 * i + 2), 16);
  return { groupId: Number.parseInt(g.text, 16), pgkId, pgk, profile, nea: Number(ne.text) as AlgId, nia, expiresAtMs, line };
}

/** Control characters other than tab: a binary file given as keylog. */
function hasControlCharacters(line: string): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c < 0x20 && c !== 0x09) return true;
  }
  return false;
}
