/** The I/O-free vector runner and the `sl-bridge vectors FILE` command. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AES_BACKENDS } from '../../src/crypto/aes.js';
import {
  DEFAULT_IMPLEMENTATIONS,
  KNOWN_GROUPS,
  VectorFileError,
  formatVectorReport,
  implementationsWithAes,
  runVectors,
  type VectorImplementations,
} from '../../src/crypto/vector-runner.js';

/** The repository's copy of the 3GPP test data (test/vectors/README.md). */
const VECTOR_FILE = new URL('../vectors/3gpp.json', import.meta.url).pathname;
const BIN = new URL('../../bin/sl-bridge.js', import.meta.url).pathname;
type Doc = { vectors: Record<string, Record<string, unknown>[]> } & Record<string, unknown>;
const load = (): Doc => JSON.parse(readFileSync(VECTOR_FILE, 'utf8')) as Doc;
const TOTAL = Object.entries(load().vectors)
  .filter(([g]) => (KNOWN_GROUPS as readonly string[]).includes(g))
  .reduce((n, [, list]) => n + list.length, 0);

const dir = mkdtempSync(join(tmpdir(), 'sl-vectors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
function writeDoc(doc: unknown): string {
  const file = join(dir, `v${fileNo++}.json`);
  writeFileSync(file, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return file;
}
function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'vectors', ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('runVectors', () => {
  it.each<[string, VectorImplementations]>([
    ['default', DEFAULT_IMPLEMENTATIONS],
    ...AES_BACKENDS.map((b): [string, VectorImplementations] => [`AES backend ${b}`, implementationsWithAes(b)]),
  ])('passes every vector of test/vectors/3gpp.json (%s)', (_name, impl) => {
    const report = runVectors(load(), impl);
    expect(report.failed).toBe(0);
    expect(report.passed).toBe(TOTAL);
    expect(TOTAL).toBeGreaterThan(100);
    expect(report.skipped).toEqual([]);
    expect(formatVectorReport(report)).toEqual([`${TOTAL} passed, 0 failed`]);
  });

  it('runs any subset of groups and reports unknown groups as skipped', () => {
    const doc = load();
    const report = runVectors({ vectors: { kdf: doc.vectors.kdf, nea9: [{ id: 'x' }, { id: 'y' }] } });
    expect(report.passed).toBe(doc.vectors.kdf!.length);
    expect(report.failed).toBe(0);
    expect(report.skipped).toEqual([{ group: 'nea9', count: 2 }]);
    expect(formatVectorReport(report)).toContain('skipped group nea9 (2 vectors): not known to sl-bridge');
  });

  it('fails a vector whose expected value is corrupted, with group, id, expected and got', () => {
    const doc = load();
    const v = doc.vectors.nia3![1]!;
    const good = v.mac as string;
    v.mac = good.slice(0, 7) + (good[7] === '0' ? '1' : '0');
    const report = runVectors(doc);
    expect(report.failed).toBe(1);
    expect(report.passed).toBe(TOTAL - 1);
    const line = formatVectorReport(report)[0]!;
    expect(line).toBe(`FAIL nia3 ${v.id as string}: expected ${v.mac as string} got ${good}`);
  });

  it('compares only the first length_bits bits of a ciphertext', () => {
    const doc = load();
    const v = doc.vectors.nea2![0]!; // 253 bits: 3 unused bits in the last byte
    const ct = v.ciphertext as string;
    v.ciphertext = ct.slice(0, -2) + (parseInt(ct.slice(-2), 16) | 0x07).toString(16).padStart(2, '0');
    expect(runVectors({ vectors: { nea2: [v] } }).failed).toBe(0);
  });

  it('takes the implementation as a parameter: a broken one fails its vectors', () => {
    const broken: VectorImplementations = {
      ...DEFAULT_IMPLEMENTATIONS,
      integrity: (alg, key) => {
        const eng = DEFAULT_IMPLEMENTATIONS.integrity(alg, key);
        return { alg, mac: (c, b, d, m, l) => (alg === 1 ? eng.mac(c, b, d, m, l) ^ 1 : eng.mac(c, b, d, m, l)) };
      },
      zucKeystream: () => {
        throw new Error('boom');
      },
    };
    const doc = load();
    const report = runVectors(doc, broken);
    const failedGroups = new Set(report.outcomes.filter((o) => !o.ok).map((o) => o.group));
    expect([...failedGroups].sort()).toEqual(['nia1', 'zuc_keystream']);
    expect(report.failed).toBe(doc.vectors.nia1!.length + doc.vectors.zuc_keystream!.length);
    expect(report.outcomes.find((o) => o.group === 'zuc_keystream')!.got).toBe('error: boom');
  });

  it.each<[string, (d: Doc) => void, string]>([
    ['vectors', (d: Doc): void => {
      delete (d as Record<string, unknown>).vectors;
    }, 'vectors: missing'],
    ['a group that is not an array', (d: Doc): void => {
      ((d.vectors as Record<string, unknown>).nea1 = {});
    }, 'vectors.nea1: expected an array'],
    ['a missing key', (d: Doc): void => {
      delete d.vectors.nea1![2]!.key;
    }, 'vectors.nea1[2].key: missing'],
    ['a short key', (d: Doc): void => {
      d.vectors.nia2![0]!.key = 'abcd';
    }, 'vectors.nia2[0].key: expected 16 bytes'],
    ['bad hex', (d: Doc): void => {
      d.vectors.nea3![1]!.plaintext = 'zz';
    }, 'vectors.nea3[1].plaintext: not an even-length hex string'],
    ['a fractional count', (d: Doc): void => {
      d.vectors.nea2![0]!.count = 1.5;
    }, 'vectors.nea2[0].count: expected an integer'],
    ['a BEARER > 31', (d: Doc): void => {
      d.vectors.nia1![0]!.bearer = 32;
    }, 'vectors.nia1[0].bearer: 32 is outside 0..31'],
    ['LENGTH longer than the data', (d: Doc): void => {
      d.vectors.nia3![0]!.length_bits = 9;
    }, 'vectors.nia3[0].length_bits: 9 bits is longer than message'],
    ['a 3-byte MAC', (d: Doc): void => {
      d.vectors.uia2![0]!.mac = 'abcdef';
    }, 'vectors.uia2[0].mac: expected 4 bytes'],
    ['bad keystream words', (d: Doc): void => {
      ((d.vectors.zuc_keystream![0]!.keystream_words as string[])[1] = 'xyz');
    }, 'vectors.zuc_keystream[0].keystream_words[1]'],
    ['kdf params', (d: Doc): void => {
      d.vectors.kdf![3]!.params = 'ab';
    }, 'vectors.kdf[3].params: expected an array'],
    ['a vector that is not an object', (d: Doc): void => {
      d.vectors.hmac_sha256![0] = 5 as unknown as Record<string, unknown>;
    }, 'vectors.hmac_sha256[0]: expected a vector object'],
  ])('rejects a malformed document (%s), naming the field', (_what, mutate, message) => {
    const doc = load();
    mutate(doc);
    expect(() => runVectors(doc)).toThrow(VectorFileError);
    expect(() => runVectors(doc)).toThrow(message);
  });

  it('rejects a document that is not an object', () => {
    expect(() => runVectors([1, 2])).toThrow(VectorFileError);
    expect(() => runVectors(null)).toThrow(/top level/);
  });
});

describe('sl-bridge vectors FILE', () => {
  it('passes test/vectors/3gpp.json and ends with "N passed, 0 failed"', () => {
    const r = cli(VECTOR_FILE);
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n').at(-1)).toBe(`${TOTAL} passed, 0 failed`);
  });

  it("the help's example names the repository copy, and runs as written from the repository root", () => {
    const help = spawnSync(process.execPath, [BIN, 'vectors', '--help'], { encoding: 'utf8' });
    expect(help.stdout).toContain('sl-bridge vectors test/vectors/3gpp.json');
    expect(help.stdout).not.toContain('shared');
    const root = new URL('../..', import.meta.url).pathname;
    const r = spawnSync(process.execPath, [BIN, 'vectors', 'test/vectors/3gpp.json'], { encoding: 'utf8', cwd: root });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(`${TOTAL} passed, 0 failed`);
  });

  it.each(['node', 'ts'])('passes it with --aes-backend %s too', (backend) => {
    const r = cli(VECTOR_FILE, '--aes-backend', backend);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(`${TOTAL} passed, 0 failed`);
  });

  it('rejects an unknown --aes-backend, offering every backend', () => {
    const r = cli(VECTOR_FILE, '--aes-backend', 'gpu');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`option '--aes-backend <name>' argument 'gpu' is invalid. Allowed choices are ${AES_BACKENDS.join(', ')}.`);
  });

  it('exits 1 on a corrupted vector, printing group, id, expected and got', () => {
    const doc = load();
    const v = doc.vectors.nea1![0]!;
    const good = v.ciphertext as string;
    v.ciphertext = (good[0] === 'f' ? '0' : 'f') + good.slice(1);
    const r = cli(writeDoc({ vectors: { nea1: doc.vectors.nea1 } }));
    expect(r.status).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe(`FAIL nea1 ${v.id as string}: expected ciphertext ${v.ciphertext as string} got ciphertext ${good}`);
    expect(lines.at(-1)).toBe(`${doc.vectors.nea1!.length - 1} passed, 1 failed`);
  });

  it('reports an unknown group as skipped and still passes the rest', () => {
    const doc = load();
    const r = cli(writeDoc({ vectors: { future_alg: [{ id: 'a' }], nia2: doc.vectors.nia2 } }));
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('skipped group future_alg (1 vectors)');
    expect(r.stdout.trim().split('\n').at(-1)).toBe(`${doc.vectors.nia2!.length} passed, 0 failed`);
  });

  it('exits 1 on a malformed file, naming the file and the field', () => {
    const doc = load();
    delete doc.vectors.kdf![0]!.fc;
    const file = writeDoc(doc);
    const r = cli(file);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toContain('vectors.kdf[0].fc: missing');
  });

  it('exits 1 on a file that is not JSON or cannot be read', () => {
    const file = writeDoc('{"vectors": {');
    const bad = cli(file);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain(`${file}: not valid JSON`);
    const missing = cli(join(dir, 'nope.json'));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('nope.json');
  });
});
