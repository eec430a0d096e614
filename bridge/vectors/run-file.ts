/**
 * `sl-bridge vectors FILE`: reads a test-vector file (test/vectors/README.md format),
 * runs it through the crypto core and prints one line per failing vector, skipped groups and the
 * final `N passed, M failed`. The checking itself is I/O-free in src/crypto/vector-runner.ts.
 */
import { readFileSync } from 'node:fs';
import {
  VectorFileError,
  formatVectorReport,
  implementationsWithAes,
  runVectors,
} from '../../src/crypto/vector-runner.js';
import { DEFAULT_AES_BACKEND, type AesBackend } from '../../src/crypto/aes.js';
import { CliError } from '../cli-error.js';

/** The flags as bridge/commands/vectors.ts parses them. */
export interface VectorsCommandOptions {
  aesBackend?: AesBackend;
  verbose?: boolean;
}

/** Runs the file; returns the process exit status (0 all passed, 1 any failed). */
export function runVectorsFile(file: string, opts: VectorsCommandOptions, write: (line: string) => void): number {
  const backend = opts.aesBackend ?? DEFAULT_AES_BACKEND;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 1);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new CliError(`${file}: not valid JSON: ${(err as Error).message}`, 1);
  }
  let report;
  try {
    report = runVectors(doc, implementationsWithAes(backend));
  } catch (err) {
    if (err instanceof VectorFileError) throw new CliError(`${file}: malformed field ${err.message}`, 1);
    throw err;
  }
  if (opts.verbose) {
    for (const o of report.outcomes) if (o.ok) write(`ok   ${o.group} ${o.id}`);
  }
  for (const line of formatVectorReport(report)) write(line);
  return report.failed > 0 ? 1 : 0;
}
