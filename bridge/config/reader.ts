/**
 * Reading YAML configuration files, and the error every config check throws: it names the file,
 * the key path and what was expected, e.g.
 * `pkmf.yaml: groups[0].nea: expected an integer from 0 to 3, got "aes"`. The configs themselves
 * are checked by schemas (schema.ts).
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
