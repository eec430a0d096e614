/**
 * The durable PTK ID high-water-mark file (bridge/state): reload, refusal of damaged files,
 * one-process lock with stale-lock takeover, monotonic marks, and the allocator on top of it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FilePtkHighWaterStore, PtkStateError } from '../bridge/state/ptk-high-water-file.js';
import { PTK_ID_SPACE, PtkIdAllocator } from '../src/pdcp/index.js';

const dir = mkdtempSync(join(tmpdir(), 'pdcp-state-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => join(dir, `s${n++}`, 'ptk.json');
const A = { groupId: 0xabcdef, gmi: 0x000102, pgkId: 0xfffffffe };
const B = { groupId: 1, gmi: 2, pgkId: 3 };

describe('FilePtkHighWaterStore', () => {
  it('persists marks across reopen, in a small JSON file', () => {
    const file = fresh();
    const s1 = new FilePtkHighWaterStore(file);
    expect(s1.load(A)).toBeUndefined();
    s1.save(A, 8);
    s1.save(B, PTK_ID_SPACE);
    s1.save(A, 16);
    expect(s1.saves).toBe(3);
    s1.close();
    const s2 = new FilePtkHighWaterStore(file);
    expect(s2.load(A)).toBe(16);
    expect(s2.load(B)).toBe(PTK_ID_SPACE);
    expect(s2.entries()).toHaveLength(2);
    expect(JSON.parse(readFileSync(file, 'utf8')).marks[`${0xabcdef}:${0x102}:${0xfffffffe}`]).toBe(16);
    expect(existsSync(`${file}.tmp`)).toBe(false);
    s2.close();
  });

  it('never lets a mark go down, nor past the PTK ID space', () => {
    const s = new FilePtkHighWaterStore(fresh());
    s.save(A, 10);
    expect(() => s.save(A, 9)).toThrow(/never go down/);
    expect(() => s.save(A, PTK_ID_SPACE + 1)).toThrow(RangeError);
    expect(s.load(A)).toBe(10);
    s.close();
  });

  it('refuses a damaged file instead of starting from zero', () => {
    for (const content of ['{"format":"sl-bridge/ptk-high-water/1","marks":{"1:2:3":', '{"format":"other","marks":{}}',
      '{"format":"sl-bridge/ptk-high-water/1","marks":{"1:2:3":70000}}', '{"format":"sl-bridge/ptk-high-water/1","marks":{"x":1}}']) {
      const file = fresh();
      new FilePtkHighWaterStore(file).close();
      writeFileSync(file, content);
      expect(() => new FilePtkHighWaterStore(file)).toThrow(PtkStateError);
      // The failed open released its lock.
      expect(existsSync(`${file}.lock`)).toBe(false);
    }
  });

  it('discards a leftover temp file of an interrupted save', () => {
    const file = fresh();
    const s1 = new FilePtkHighWaterStore(file);
    s1.save(A, 4);
    s1.close();
    writeFileSync(`${file}.tmp`, '{"half":');
    const s2 = new FilePtkHighWaterStore(file);
    expect(s2.load(A)).toBe(4);
    expect(existsSync(`${file}.tmp`)).toBe(false);
    s2.close();
  });

  it('one process at a time: a live owner blocks, a dead owner\'s lock is taken over', () => {
    const file = fresh();
    const s1 = new FilePtkHighWaterStore(file);
    expect(() => new FilePtkHighWaterStore(file)).toThrow(/already open in this process/);
    s1.close();
    // The lock names another live process (our parent).
    writeFileSync(`${file}.lock`, `${process.ppid}\n`);
    expect(() => new FilePtkHighWaterStore(file)).toThrow(/in use by process/);
    // Our own PID from an earlier life (containers recycle PIDs) is stale.
    writeFileSync(`${file}.lock`, `${process.pid}\n`);
    new FilePtkHighWaterStore(file).close();
    // A PID that no longer exists: a crashed owner.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(`${file}.lock`, `${dead.stdout}\n`);
    const s2 = new FilePtkHighWaterStore(file);
    expect(readFileSync(`${file}.lock`, 'utf8').trim()).toBe(String(process.pid));
    s2.close();
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  it('prune removes marks of PGKs no longer needed, durably', () => {
    const file = fresh();
    const s = new FilePtkHighWaterStore(file);
    s.save(A, 8);
    s.save(B, 8);
    expect(s.prune((space) => space.pgkId !== B.pgkId)).toBe(1);
    s.close();
    const s2 = new FilePtkHighWaterStore(file);
    expect([s2.load(A), s2.load(B)]).toEqual([8, undefined]);
    s2.close();
  });

  it('the allocator resumes above the file mark after a restart', () => {
    const file = fresh();
    const s1 = new FilePtkHighWaterStore(file);
    const a1 = new PtkIdAllocator(s1, { blockSize: 5 });
    expect([a1.allocate(A), a1.allocate(A)]).toEqual([0, 1]);
    s1.close(); // "crash": IDs 2..4 of the block are never used
    const s2 = new FilePtkHighWaterStore(file);
    const a2 = new PtkIdAllocator(s2, { blockSize: 5 });
    expect(a2.allocate(A)).toBe(5);
    expect(s2.load(A)).toBe(10);
    s2.close();
  });
});
