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
 *   and, for groups with source authentication (docs/pdcp.md), optional fields that lines of
 *   other groups do not have (so they stay as they were):
 *     source_auth  none (the default) | pairwise-mac | signature
 *     gmi          the keylog writer's own GMI in the group, 1..6 hex digits (required with
 *                  pairwise-mac: a receiver checks the tag addressed to it)
 *     pairwise     pairwise-mac: its pairwise keys under this PGK, `GMI:32 hex digits` joined by
 *                  commas (empty for a group of one)
 *     public_keys  signature: every member's Ed25519 public key, `GMI:64 hex digits` joined by
 *                  commas. The signing seed is never written: verifying does not need it.
 *   Unknown fields are an error (a typo must not silently drop a key).
 * - The same PGK may appear several times (a keylog appended to across runs); identical lines
 *   count once. Two different PGKs with the same group and PGK ID (e.g. from two runs against
 *   fresh PKMFs) are both kept: the decoder tries each.
 */
import { HIERARCHY_PROFILES, type AlgId, type HierarchyProfile } from '../crypto/types.js';

export const KEYLOG_HEADER = '# sl-bridge keylog 1';

/** A keylog line's source-authentication fields (absent: none). */
export type KeylogSourceAuth =
  | { mode: 'pairwise-mac'; gmi: number; pairwiseKeys: ReadonlyMap<number, Uint8Array> }
  | { mode: 'signature'; gmi: number | undefined; publicKeys: ReadonlyMap<number, Uint8Array> };

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
  /**
   * Source authentication of the group as the keylog's writer held it; absent: none. (Not named
   * `sourceAuth`: a GroupKeyMaterial spread into a line's fields must not pass for it.)
   */
  sourceAuthKeys?: KeylogSourceAuth;
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

const REQUIRED_FIELDS = ['group', 'pgk_id', 'pgk', 'profile', 'nea', 'nia', 'expires'] as const;
const FIELDS = [...REQUIRED_FIELDS, 'source_auth', 'gmi', 'pairwise', 'public_keys'] as const;
type Field = (typeof FIELDS)[number];
const SOURCE_AUTH_MODES = ['none', 'pairwise-mac', 'signature'] as const;
const PAIRWISE_KEY_HEX = 32;
const PUBLIC_KEY_HEX = 64;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

/** A token for an error message: quoted, control characters escaped, long ones cut. */
const quote = (t: string): string => JSON.stringify(t.length > 40 ? `${t.slice(0, 40)}...` : t);

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const id24 = (v: number): string => v.toString(16).padStart(6, '0');

/** `GMI:key,GMI:key` in ascending GMI order (one text per key set, so identical lines compare equal). */
function formatKeyList(keys: ReadonlyMap<number, Uint8Array>, name: string, bytes: number): string {
  return [...keys]
    .sort(([a], [b]) => a - b)
    .map(([gmi, key]) => {
      if (!Number.isInteger(gmi) || gmi < 0 || gmi > 0xffffff) throw new RangeError(`${name}: expected 24-bit GMIs, got ${gmi}`);
      if (!(key instanceof Uint8Array) || key.length !== bytes) throw new TypeError(`${name}[${id24(gmi)}]: expected ${bytes} bytes`);
      return `${id24(gmi)}:${hex(key)}`;
    })
    .join(',');
}

/** The source-authentication fields of a line, with their leading space; empty for none. */
function formatSourceAuth(sa: KeylogSourceAuth | undefined): string {
  if (sa === undefined) return '';
  const gmi = (v: number | undefined): string => {
    if (v === undefined) return '';
    if (!Number.isInteger(v) || v < 0 || v > 0xffffff) throw new RangeError(`sourceAuth.gmi: expected a 24-bit GMI, got ${v}`);
    return ` gmi=${id24(v)}`;
  };
  if (sa.mode === 'pairwise-mac') return ` source_auth=pairwise-mac${gmi(sa.gmi)} pairwise=${formatKeyList(sa.pairwiseKeys, 'pairwiseKeys', PAIRWISE_KEY_HEX / 2)}`;
  if (sa.mode === 'signature') return ` source_auth=signature${gmi(sa.gmi)} public_keys=${formatKeyList(sa.publicKeys, 'publicKeys', PUBLIC_KEY_HEX / 2)}`;
  throw new RangeError(`sourceAuth.mode: expected pairwise-mac or signature, got ${String((sa as { mode?: unknown }).mode)}`);
}

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
    ` nea=${alg(e.nea, 'nea')} nia=${e.nia === null ? 'none' : alg(e.nia, 'nia')} expires=${expires}` +
    formatSourceAuth(e.sourceAuthKeys)
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
  const values = new Map<Field, FieldValue>();
  for (const t of tokens.slice(1)) {
    const eq = t.text.indexOf('=');
    if (eq <= 0) throw err(t.column, `expected key=value, got ${quote(t.text)}`);
    const key = t.text.slice(0, eq);
    if (!(FIELDS as readonly string[]).includes(key)) throw err(t.column, `unknown field ${quote(key)} (fields: ${FIELDS.join(', ')})`);
    if (values.has(key as Field)) throw err(t.column, `field ${key} given twice`);
    values.set(key as Field, { text: t.text.slice(eq + 1), column: t.column + eq + 1 });
  }
  const get = (f: Field): FieldValue => {
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
  const entry: KeylogEntry = { groupId: Number.parseInt(g.text, 16), pgkId, pgk, profile, nea: Number(ne.text) as AlgId, nia, expiresAtMs, line };
  const sourceAuth = parseSourceAuth(values, raw.length + 1, err, profile, nia);
  if (sourceAuth !== undefined) entry.sourceAuthKeys = sourceAuth;
  return entry;
}

type FieldValue = { text: string; column: number };
type ErrorAt = (column: number, detail: string) => KeylogFormatError;

/** `GMI:HEX,...` with keys of `hexDigits` digits, GMIs distinct. */
function parseKeyList(v: FieldValue, field: string, hexDigits: number, err: ErrorAt): Map<number, Uint8Array> {
  const keys = new Map<number, Uint8Array>();
  if (v.text === '') return keys;
  let column = v.column;
  for (const item of v.text.split(',')) {
    const m = new RegExp(`^([0-9a-fA-F]{1,6}):([0-9a-fA-F]{${hexDigits}})$`).exec(item);
    if (m === null) throw err(column, `${field}: expected GMI:KEY items (1..6 hex digits, a colon, ${hexDigits} hex digits) joined by commas, got ${quote(item)}`);
    const gmi = Number.parseInt(m[1]!, 16);
    if (keys.has(gmi)) throw err(column, `${field}: GMI ${id24(gmi)} given twice`);
    keys.set(gmi, Uint8Array.from(Buffer.from(m[2]!, 'hex')));
    column += item.length + 1;
  }
  return keys;
}

/** The source-authentication fields of a line: all or none of those its mode needs, no others. */
function parseSourceAuth(
  values: Map<Field, FieldValue>,
  endColumn: number,
  err: ErrorAt,
  profile: HierarchyProfile,
  nia: AlgId | null,
): KeylogSourceAuth | undefined {
  const mode = values.get('source_auth');
  if (mode !== undefined && !(SOURCE_AUTH_MODES as readonly string[]).includes(mode.text)) {
    throw err(mode.column, `source_auth: expected one of ${SOURCE_AUTH_MODES.join(', ')}, got ${quote(mode.text)}`);
  }
  const name = (mode?.text ?? 'none') as (typeof SOURCE_AUTH_MODES)[number];
  const needs: readonly Field[] = name === 'pairwise-mac' ? ['gmi', 'pairwise'] : name === 'signature' ? ['public_keys'] : [];
  const allowed: readonly Field[] = name === 'none' ? [] : [...needs, 'gmi'];
  for (const f of ['gmi', 'pairwise', 'public_keys'] as const) {
    const v = values.get(f);
    if (v !== undefined && !allowed.includes(f)) throw err(v.column, `${f}: not a field of source_auth=${name}`);
  }
  for (const f of needs) if (!values.has(f)) throw err(endColumn, `missing field ${f} (needed by source_auth=${name})`);
  if (name === 'none') return undefined;
  if (profile === 'lte-prose' || nia === null) throw err(mode!.column, `source_auth: ${name} needs a MAC-I and the inner identity block (profile pcr or ts33533 with nia 0..3)`);
  const g = values.get('gmi');
  if (g !== undefined && !/^[0-9a-fA-F]{1,6}$/.test(g.text)) throw err(g.column, `gmi: expected a 24-bit GMI as 1..6 hex digits, got ${quote(g.text)}`);
  const gmi = g === undefined ? undefined : Number.parseInt(g.text, 16);
  if (name === 'pairwise-mac') {
    const pairwiseKeys = parseKeyList(values.get('pairwise')!, 'pairwise', PAIRWISE_KEY_HEX, err);
    if (pairwiseKeys.has(gmi!)) throw err(values.get('pairwise')!.column, `pairwise: a key with the keylog's own GMI ${id24(gmi!)}`);
    return { mode: name, gmi: gmi!, pairwiseKeys };
  }
  return { mode: name, gmi, publicKeys: parseKeyList(values.get('public_keys')!, 'public_keys', PUBLIC_KEY_HEX, err) };
}

/** Control characters other than tab: a binary file given as keylog. */
function hasControlCharacters(line: string): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c < 0x20 && c !== 0x09) return true;
  }
  return false;
}
