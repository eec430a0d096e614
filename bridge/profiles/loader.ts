/**
 * Finds, loads and validates hw-profiles (hw-profiles/*.yaml) into typed {@link HwProfile}s
 * (schema.ts). Every error is a ConfigError naming the file, the key and what was expected;
 * unknown keys are errors too.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, readYamlDocument } from '../config/reader.js';
import { parseConfig } from '../config/schema.js';
import { hwProfileSchema } from './schema.js';
import type { HwProfile } from './types.js';

export { isZmqEndpoint, MAX_PDU_BYTES_LIMIT } from './schema.js';

/** The profile used when none is named. */
export const DEFAULT_PROFILE = 'emulator';

/**
 * The hw-profiles/ folder shipped with sl-bridge, found from this module whether it runs from
 * the sources (bridge/profiles/) or compiled (dist/bridge/profiles/).
 */
export function builtinProfilesDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ['../..', '../../..']) {
    const dir = resolve(here, up, 'hw-profiles');
    if (existsSync(join(dir, 'emulator.yaml'))) return dir;
  }
  return resolve(here, '../../hw-profiles');
}

/** Names of the shipped profiles (file names without .yaml). */
export function builtinProfileNames(): string[] {
  return readdirSync(builtinProfilesDir())
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .sort();
}

/** A profile name (`emulator`, `oai-nr-sl-zmq`, ...) or a path to a YAML file -> the file. */
export function resolveProfilePath(nameOrPath: string): string {
  if (/^[a-z0-9][a-z0-9-]*$/i.test(nameOrPath)) return join(builtinProfilesDir(), `${nameOrPath}.yaml`);
  return resolve(nameOrPath);
}

/** Reads, validates and returns a hw-profile (by shipped name or path). Throws ConfigError. */
export function loadHwProfile(nameOrPath: string = DEFAULT_PROFILE): HwProfile {
  const file = resolveProfilePath(nameOrPath);
  if (!existsSync(file) && !nameOrPath.includes('/') && !nameOrPath.endsWith('.yaml')) {
    throw new ConfigError(file, '', `no shipped hw-profile named "${nameOrPath}" (there are: ${builtinProfileNames().join(', ')})`);
  }
  return parseHwProfile(readYamlDocument(file), file);
}

/** Validates an already read profile document of `file`. */
export function parseHwProfile(doc: unknown, file: string): HwProfile {
  return parseConfig(hwProfileSchema(file), doc, file);
}
