/**
 * The layering rule of eslint.config.js, through ESLint's own API on the real config: src/ (the
 * I/O-free core) may not import bridge/, test/, or modules that do I/O, start processes or read the
 * host; bridge/ may. The linted files need not exist: only their paths select the config.
 */
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RULE = '@typescript-eslint/no-restricted-imports';

let eslint: ESLint;
beforeAll(() => {
  eslint = new ESLint({ cwd: ROOT, overrideConfigFile: `${ROOT}eslint.config.js` });
});

/** The rule ids of every error ESLint reports for `code` as the file `path` (relative to the root). */
async function errorsOf(path: string, code: string): Promise<string[]> {
  // An ignored path would be "linted" without errors: that must not pass for accepted.
  expect(await eslint.isPathIgnored(`${ROOT}${path}`)).toBe(false);
  const [result] = await eslint.lintText(code, { filePath: `${ROOT}${path}` });
  return result!.messages.filter((m) => m.severity === 2).map((m) => m.ruleId ?? m.message);
}

const READ_FILE = "import { readFileSync } from 'node:fs';\nexport const read = readFileSync;\n";

describe('src/ may not import I/O or bridge/', () => {
  it('refuses node:fs in src/ and accepts it in bridge/', async () => {
    expect(await errorsOf('src/pkmf/probe.ts', READ_FILE)).toEqual([RULE]);
    expect(await errorsOf('bridge/state/probe.ts', READ_FILE)).toEqual([]);
  });

  it.each([
    ["import { readFileSync } from 'fs';", 'src/pdcp/probe.ts'],
    ["import { readFile } from 'node:fs/promises';", 'src/pdcp/probe.ts'],
    ["import { createSocket } from 'node:dgram';", 'src/wire/probe.ts'],
    ["import { connect } from 'node:tls';", 'src/pkmf/probe.ts'],
    ["import { spawn } from 'node:child_process';", 'src/crypto/probe.ts'],
    ["import { Worker } from 'node:worker_threads';", 'src/crypto/probe.ts'],
    ["import { hostname } from 'node:os';", 'src/capture/probe.ts'],
    ["import { performance } from 'node:perf_hooks';", 'src/pdcp/probe.ts'],
    ["import { Dealer } from 'zeromq';", 'src/wire/probe.ts'],
    ["import { SerialPort } from 'serialport';", 'src/framing/probe.ts'],
    ["import { SerialPort } from '@serialport/stream';", 'src/framing/probe.ts'],
    ["import Database from 'better-sqlite3';", 'src/pkmf/probe.ts'],
    ["import { writeFileDurably } from '../../bridge/state/durable-file.js';", 'src/pkmf/probe.ts'],
    ["import { writeFileDurably } from '../bridge/state/durable-file.js';", 'src/probe.ts'],
    ["import type { DaemonStatus } from '../../bridge/daemon/daemon.js';", 'src/pkmf/probe.ts'],
    ["import { sampleReport } from '../../test/fixtures/e2e-sample.js';", 'src/pkmf/probe.ts'],
    ["export { writeFileDurably } from '../../bridge/state/durable-file.js';", 'src/pkmf/probe.ts'],
  ])('refuses %s in %s', async (line, path) => {
    expect(await errorsOf(path, `${line}\n`)).toContain(RULE);
  });

  it('refuses a dynamic import() in src/', async () => {
    expect(await errorsOf('src/pkmf/probe.ts', "export const load = (): Promise<unknown> => import('node:fs');\n")).toEqual(['no-restricted-syntax']);
  });

  it('accepts pure built-ins, packages without I/O and src/ itself in src/', async () => {
    const code = [
      "import { createHmac } from 'node:crypto';",
      "import { crc32 } from 'node:zlib';",
      "import { createHistogram } from 'node:perf_hooks';",
      "import protobuf from 'protobufjs';",
      "import { encodePduEnvelope } from '../wire/envelope.js';",
      "import { percentile } from '../stats/percentile.js';",
      'export const used = [createHmac, crc32, createHistogram, protobuf, encodePduEnvelope, percentile];',
    ].join('\n');
    expect(await errorsOf('src/pkmf/probe.ts', code)).toEqual([]);
  });
});
