/**
 * The building blocks of the config schemas (UE config: bridge/daemon/config.ts, PKMF config:
 * bridge/pkmf/config.ts, hw-profiles: bridge/profiles/schema.ts) and the one place where a schema
 * issue becomes a {@link ConfigError}: file, key path, what was expected, what was found.
 *
 * Each block carries its own wording ("expected an integer from 0 to 3"), and an absent required
 * key says so ("... (this key is required)"). A YAML `key:` with no value counts as absent.
 */
import * as z from 'zod';
import { ConfigError, readYamlDocument } from './reader.js';

/** Where a document came from: errors name `file`; relative paths resolve against `baseDir`. */
export interface ConfigSource {
  file: string;
  baseDir: string;
}

type RawIssue = { code?: string; input?: unknown };

/** The message of a value that is wrong, or of a required key that is absent. */
const requiredOr =
  (expected: string) =>
  (iss: RawIssue): string =>
    iss.input === undefined ? `${expected} (this key is required)` : expected;

/** A non-empty string. */
export function str() {
  return z
    .string({ error: (iss) => (iss.input === undefined ? 'expected a string (this key is required)' : 'expected a non-empty string') })
    .min(1, 'expected a non-empty string');
}

/** An integer from `min` to `max`. */
export function int(min: number, max: number) {
  const expected = `expected an integer from ${min} to ${max}`;
  return z.number({ error: requiredOr(expected) }).refine((v) => Number.isInteger(v) && v >= min && v <= max, expected);
}

/** A finite number from `min` to `max`. */
export function num(min: number, max = Infinity) {
  const expected = `expected a number from ${min} to ${max}`;
  return z.number({ error: requiredOr(expected) }).refine((v) => v >= min && v <= max, expected);
}

export function bool() {
  return z.boolean({ error: requiredOr('expected true or false') });
}

/** One of a fixed set of words. */
export function oneOf<const T extends readonly string[]>(choices: T) {
  return z.enum(choices, { error: `expected one of ${choices.join(', ')}` });
}

/** A mapping with exactly these keys: any other key is an error, so a typo does not pass silently. */
export function mapping<T extends z.core.$ZodLooseShape>(shape: T) {
  return z.strictObject(shape, { error: mappingMessage });
}

/** Messages for a value that should be a mapping (other issues keep their own). */
export function mappingMessage(iss: RawIssue): string | undefined {
  if (iss.code !== 'invalid_type') return undefined;
  return iss.input === undefined ? 'expected a mapping (this key is required)' : 'expected a mapping (key: value lines)';
}

/** A list of scalars that each pass `check`, described by `what` ("SUPIs like imsi-...") in errors. */
export function listOf<T>(check: (v: unknown) => v is T, what: string) {
  return z.array(z.custom<T>(check, `expected ${what}`), { error: `expected a list of ${what}` });
}

/** A 24-bit ID written as an integer (`0x000101` is an integer in YAML) or a hex string. */
export function parseUint24(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffff) return v;
  if (typeof v === 'string' && /^(0x)?[0-9a-fA-F]{1,6}$/.test(v)) return parseInt(v.replace(/^0x/i, ''), 16);
  return undefined;
}

export const UINT24 = 'a 24-bit ID (an integer up to 0xFFFFFF, or up to 6 hex digits)';

export function uint24() {
  return z.unknown().transform(withChecks((v, fail) => parseUint24(v) ?? fail(`expected ${UINT24}`)));
}

/**
 * Where a failed check points: `at`, the key path below the checked value; `found`, what the
 * message shows as found (default: the document's value at that key; `found: undefined` for none).
 */
export interface Where {
  at?: (string | number)[];
  found?: unknown;
}

/** Records the failure of a check and ends the transform or refinement it is in. */
export type Fail = (expected: string, where?: Where) => never;

const STOP = Symbol('config check failed');

/**
 * A transform or refinement body whose checks call `fail`: the first failure is recorded as an
 * issue and ends the body, so later checks never see a value that failed an earlier one.
 */
export function withChecks<I, O>(body: (value: I, fail: Fail) => O): (value: I, ctx: z.core.$RefinementCtx<I>) => O {
  return (value, ctx) => {
    try {
      return body(value, (expected, where = {}) => {
        ctx.addIssue({ code: 'custom', message: expected, path: where.at ?? [], ...('found' in where ? { params: { found: where.found } } : {}) });
        throw STOP;
      });
    } catch (e) {
      if (e === STOP) return z.NEVER;
      throw e;
    }
  };
}

/** Validates `doc` (YAML data of `file`) against `schema`; the first problem is thrown as a ConfigError. */
export function parseConfig<S extends z.ZodType>(schema: S, doc: unknown, file: string): z.output<S> {
  const result = schema.safeParse(withoutNulls(doc));
  if (result.success) return result.data;
  throw configError(result.error.issues[0]!, file, doc);
}

/** Reads a YAML file and validates it against the schema made for it (`make` gets its {@link ConfigSource}). */
export function loadConfig<S extends z.ZodType>(file: string, baseDir: string, make: (source: ConfigSource) => S): z.output<S> {
  return parseConfig(make({ file, baseDir }), readYamlDocument(file), file);
}

function configError(issue: z.core.$ZodIssue, file: string, doc: unknown): ConfigError {
  const key = keyPath(issue.path);
  if (issue.code === 'unrecognized_keys') return new ConfigError(file, keyPath([...issue.path, issue.keys[0]!]), 'unknown key (check its spelling)');
  const params = issue.code === 'custom' ? (issue.params ?? {}) : {};
  return new ConfigError(file, key, issue.message, 'found' in params ? params.found : valueAt(doc, issue.path));
}

/** `groups[0].nea` from ['groups', 0, 'nea']. */
function keyPath(path: readonly PropertyKey[]): string {
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i > 0 ? '.' : ''}${String(k)}`)).join('');
}

function valueAt(doc: unknown, path: readonly PropertyKey[]): unknown {
  let v = doc;
  for (const k of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v ?? undefined;
}

/** The document with `key: null` entries of mappings dropped: YAML's `key:` means "not set". */
function withoutNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutNulls);
  if (typeof v !== 'object' || v === null || Object.getPrototypeOf(v) !== Object.prototype) return v;
  return Object.fromEntries(
    Object.entries(v)
      .filter(([, x]) => x !== null)
      .map(([k, x]) => [k, withoutNulls(x)]),
  );
}
