/**
 * Reading YAML configuration files, and the error every config check throws: it names the file,
 * the key path and what was expected, e.g.
 * `pkmf.yaml: groups[0].nea: expected an integer from 0 to 3, got "aes"`. The configs themselves
 * are checked by schemas (schema.ts); {@link ConfigReader} remains for the key client's `keys:`
 * section (bridge/pkmf/ue-config.ts) until that has a schema too.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

export class ConfigError extends Error {
  readonly code = 'ECONFIG';
  constructor(
    readonly file: string,
    readonly key: string,
    readonly expected: string,
    got?: unknown,
  ) {
    super(`${file}: ${key ? `${key}: ` : ''}${expected}${got === undefined ? '' : `, got ${describe(got)}`}`);
    this.name = 'ConfigError';
  }
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Reads a YAML file into plain data (an empty file is an empty mapping). */
export function readYamlDocument(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(file, '', `cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ConfigError(file, '', `not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  return doc ?? {};
}

/** Reads a YAML file into a {@link ConfigReader} over its top-level mapping. */
export function readYamlConfig(file: string): ConfigReader {
  return ConfigReader.root(file, readYamlDocument(file));
}

/**
 * A cursor on one mapping of a config document. Accessors check type and range and throw a
 * {@link ConfigError}; `done()` rejects keys nobody read, so a typo does not pass silently.
 */
export class ConfigReader {
  private readonly seen = new Set<string>();

  private constructor(
    readonly file: string,
    readonly path: string,
    private readonly obj: Record<string, unknown>,
  ) {}

  static root(file: string, doc: unknown, path = ''): ConfigReader {
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
      throw new ConfigError(file, path, 'expected a mapping (key: value lines)', doc);
    }
    return new ConfigReader(file, path, doc as Record<string, unknown>);
  }

  keyPath(key: string): string {
    return this.path ? `${this.path}.${key}` : key;
  }

  has(key: string): boolean {
    return this.obj[key] !== undefined && this.obj[key] !== null;
  }

  raw(key: string): unknown {
    this.seen.add(key);
    return this.obj[key];
  }

  fail(key: string, expected: string, got?: unknown): never {
    throw new ConfigError(this.file, this.keyPath(key), expected, got);
  }

  string(key: string, def?: string): string {
    const v = this.raw(key);
    if (v === undefined || v === null) {
      if (def !== undefined) return def;
      this.fail(key, 'expected a string (this key is required)');
    }
    if (typeof v !== 'string' || v.length === 0) this.fail(key, 'expected a non-empty string', v);
    return v;
  }

  optionalString(key: string): string | undefined {
    return this.has(key) ? this.string(key) : (this.raw(key), undefined);
  }

  int(key: string, opts: { min?: number; max?: number; def?: number } = {}): number {
    const v = this.raw(key);
    const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER, def } = opts;
    const range = `an integer from ${min} to ${max}`;
    if (v === undefined || v === null) {
      if (def !== undefined) return def;
      this.fail(key, `expected ${range} (this key is required)`);
    }
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(key, `expected ${range}`, v);
    return v;
  }

  number(key: string, opts: { min?: number; max?: number; def?: number } = {}): number {
    const v = this.raw(key);
    const { min = -Infinity, max = Infinity, def } = opts;
    const range = `a number from ${min} to ${max}`;
    if (v === undefined || v === null) {
      if (def !== undefined) return def;
      this.fail(key, `expected ${range} (this key is required)`);
    }
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) this.fail(key, `expected ${range}`, v);
    return v;
  }

  bool(key: string, def?: boolean): boolean {
    const v = this.raw(key);
    if (v === undefined || v === null) {
      if (def !== undefined) return def;
      this.fail(key, 'expected true or false (this key is required)');
    }
    if (typeof v !== 'boolean') this.fail(key, 'expected true or false', v);
    return v;
  }

  /** A nested mapping; `optional` returns undefined when absent. */
  section(key: string, optional: true): ConfigReader | undefined;
  section(key: string, optional?: false): ConfigReader;
  section(key: string, optional = false): ConfigReader | undefined {
    const v = this.raw(key);
    if ((v === undefined || v === null) && optional) return undefined;
    if (v === undefined || v === null) this.fail(key, 'expected a mapping (this key is required)');
    return ConfigReader.root(this.file, v, this.keyPath(key));
  }

  /** A list of mappings, each given to `each` as a reader. */
  list<T>(key: string, each: (r: ConfigReader, index: number) => T, opts: { optional?: boolean } = {}): T[] {
    const v = this.raw(key);
    if ((v === undefined || v === null) && opts.optional) return [];
    if (!Array.isArray(v)) this.fail(key, 'expected a list', v);
    return v.map((item, i) => {
      const r = ConfigReader.root(this.file, item, `${this.keyPath(key)}[${i}]`);
      const out = each(r, i);
      r.done();
      return out;
    });
  }

  /** A list of scalars, each checked by `check` (which returns an error description or null). */
  scalarList<T>(key: string, check: (v: unknown) => v is T, expected: string, def?: T[]): T[] {
    const v = this.raw(key);
    if ((v === undefined || v === null) && def !== undefined) return def;
    if (!Array.isArray(v)) this.fail(key, `expected a list of ${expected}`, v);
    v.forEach((item, i) => {
      if (!check(item)) throw new ConfigError(this.file, `${this.keyPath(key)}[${i}]`, `expected ${expected}`, item);
    });
    return v as T[];
  }

  /** Throws on any key of this mapping that no accessor read. */
  done(): void {
    for (const k of Object.keys(this.obj)) {
      if (!this.seen.has(k)) throw new ConfigError(this.file, this.keyPath(k), 'unknown key (check its spelling)');
    }
  }
}
