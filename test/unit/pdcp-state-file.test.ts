/**
 * The PDCP state file (bridge/state/ptk-high-water-file.ts), format 2: PTK ID marks keyed by the
 * PGK's value tag, the GMI claims (GmiLedger) and the receiver's replay floors, all in one file
 * that is lost or kept as a whole; format-1 files (marks without tags, no claims) still read.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FilePtkHighWaterStore, PtkStateError } from '../../bridge/state/ptk-high-water-file.js';
import { PtkIdAllocator } from '../../src/pdcp/ptk-allocator.js';

const dir = mkdtempSync(join(tmpdir(), 'slb-pdcp-state-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => {
  const d = join(dir, `s${n++}`);
  mkdirSync(d, { recursive: true });
  return join(d, 'ptk-high-water.json');
};
const TAG_A = '0123456789abcdef';
const TAG_B = 'fedcba9876543210';
const floorKey = { groupId: 0x0e0001, senderGmi: 0x0000aa, pgkId: 9, pgkTag: TAG_A };

describe('PDCP state file, format 2', () => {
  it('keeps marks per PGK value, GMI claims and replay floors across reopen, in one 0600 file', () => {
    const file = fresh();
    const s1 = new FilePtkHighWaterStore(file);
    s1.save({ groupId: 1, gmi: 2, pgkId: 3, pgkTag: TAG_A }, 8);
    s1.save({ groupId: 1, gmi: 2, pgkId: 3, pgkTag: TAG_B }, 16);
    s1.claimGmi(1, 2);
    s1.raiseFloors([{ key: floorKey, floor: 1024 }]);
    s1.raiseFloors([{ key: floorKey, floor: 1000 }]); // below the stored one: it already covers more
    expect(s1.loadFloor(floorKey)).toBe(1024);
    expect(() => s1.claimGmi(1, 0)).toThrow(RangeError);
    s1.close();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    expect(doc.format).toBe('sl-bridge/pdcp-state/2');
    expect(doc.gmis).toEqual({ '1': 2 });

    const s2 = new FilePtkHighWaterStore(file);
    expect(s2.load({ groupId: 1, gmi: 2, pgkId: 3, pgkTag: TAG_A })).toBe(8);
    expect(s2.load({ groupId: 1, gmi: 2, pgkId: 3, pgkTag: TAG_B })).toBe(16);
    expect(s2.heldGmi(1)).toBe(2);
    expect(s2.heldGmi(5)).toBeUndefined();
    expect(s2.loadFloor(floorKey)).toBe(1024);
    // A clean stop may lower a floor to the exact one.
    s2.settleFloors([{ key: floorKey, floor: 700 }]);
    expect(s2.loadFloor(floorKey)).toBe(700);
    expect(s2.pruneReplayFloors(() => false)).toBe(1);
    s2.close();
    const s3 = new FilePtkHighWaterStore(file);
    expect(s3.loadFloor(floorKey)).toBeUndefined();
    s3.close();
  });

  it('reads a format-1 file: its marks bound every PGK value of their PGK ID, and it holds no GMI', () => {
    const file = fresh();
    writeFileSync(file, JSON.stringify({ format: 'sl-bridge/ptk-high-water/1', marks: { '1:2:3': 40 } }));
    const s = new FilePtkHighWaterStore(file);
    expect(s.heldGmi(1)).toBeUndefined();
    expect(s.load({ groupId: 1, gmi: 2, pgkId: 3, pgkTag: TAG_A })).toBe(40);
    const alloc = new PtkIdAllocator(s, { blockSize: 4 });
    expect(alloc.allocate({ groupId: 1, gmi: 2, pgkId: 3, pgkTag: TAG_B })).toBe(40);
    s.close();
    // Rewritten as format 2, the old marks carried along.
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    expect(doc.format).toBe('sl-bridge/pdcp-state/2');
    expect(doc.legacyMarks).toEqual({ '1:2:3': 40 });
    const again = new FilePtkHighWaterStore(file);
    expect(again.load({ groupId: 1, gmi: 2, pgkId: 3, pgkTag: TAG_B })).toBe(44);
    expect(again.load({ groupId: 1, gmi: 2, pgkId: 3, pgkTag: TAG_A })).toBe(40);
    again.close();
  });

  it('refuses damaged content with a typed error naming the file, never starting from zero', () => {
    for (const content of [
      { format: 'sl-bridge/pdcp-state/2', marks: {}, gmis: { '1': 0 } },
      { format: 'sl-bridge/pdcp-state/2', marks: {}, gmis: { x: 5 } },
      { format: 'sl-bridge/pdcp-state/2', marks: {}, replay: { '1:2:3': 5 } },
      { format: 'sl-bridge/pdcp-state/2', marks: {}, replay: { [`1:2:3:${TAG_A}`]: -1 } },
      { format: 'sl-bridge/pdcp-state/2', marks: { '1:2:3': 5 } },
      { format: 'sl-bridge/pdcp-state/3', marks: {} },
    ]) {
      const file = fresh();
      writeFileSync(file, JSON.stringify(content));
      expect(() => new FilePtkHighWaterStore(file), JSON.stringify(content)).toThrow(PtkStateError);
    }
  });
});

describe('PDCP state file: replay floors raised in the background (raiseFloorsInBackground)', () => {
  const space = { groupId: 1, gmi: 2, pgkId: 3, pgkTag: TAG_A };
  const leftovers = (file: string): string[] => readdirSync(dirname(file)).filter((e) => e.endsWith('.tmp'));

  it('never undoes a synchronous save made while it was in flight (a PTK ID mark going back reuses COUNTs after a crash)', async () => {
    const file = fresh();
    const s = new FilePtkHighWaterStore(file);
    s.save(space, 8);
    // The attack: the background write takes its content now (mark 8), then the sender reserves
    // PTK IDs up to 4096, durably, and hands them out. Renaming the older content over the file
    // would put the mark back to 8: after a crash the sender would reuse PTK IDs 8..4095.
    const inFlight = s.raiseFloorsInBackground([{ key: floorKey, floor: 640 }]);
    s.save(space, 4096);
    await expect(inFlight).resolves.toBe(false); // wrote nothing: the floors are not in force
    expect(s.loadFloor(floorKey)).toBeUndefined();
    expect(leftovers(file)).toEqual([]);
    s.close();
    const reopened = new FilePtkHighWaterStore(file); // what a restart after a crash reads
    expect(reopened.load(space)).toBe(4096);
    expect(reopened.loadFloor(floorKey)).toBeUndefined();
    reopened.close();
  });

  it('resolves true once the floors are durable; from then on every save keeps them', async () => {
    const file = fresh();
    const s = new FilePtkHighWaterStore(file);
    s.raiseFloors([{ key: floorKey, floor: 64 }]);
    const other = { ...floorKey, senderGmi: 0x0000bb };
    await expect(s.raiseFloorsInBackground([{ key: floorKey, floor: 640 }, { key: other, floor: 32 }])).resolves.toBe(true);
    expect(JSON.parse(readFileSync(file, 'utf8')).replay).toEqual({ [`${floorKey.groupId}:${floorKey.senderGmi}:9:${TAG_A}`]: 640, [`${other.groupId}:${other.senderGmi}:9:${TAG_A}`]: 32 });
    s.save(space, 8);
    s.raiseFloors([{ key: floorKey, floor: 100 }]); // a synchronous raise below it keeps it
    expect(leftovers(file)).toEqual([]);
    s.close();
    const reopened = new FilePtkHighWaterStore(file);
    expect(reopened.loadFloor(floorKey)).toBe(640);
    expect(reopened.loadFloor(other)).toBe(32);
    expect(reopened.load(space)).toBe(8);
    reopened.close();
  });

  it('writes nothing once the store is closed (its lock released), and leaves no temp file', async () => {
    const file = fresh();
    const s = new FilePtkHighWaterStore(file);
    s.raiseFloors([{ key: floorKey, floor: 64 }]);
    const inFlight = s.raiseFloorsInBackground([{ key: floorKey, floor: 640 }]);
    s.close();
    await expect(inFlight).resolves.toBe(false);
    expect(leftovers(file)).toEqual([]);
    const reopened = new FilePtkHighWaterStore(file);
    expect(reopened.loadFloor(floorKey)).toBe(64);
    reopened.close();
  });

  it('a staged temp file left by a crash is removed when the store opens; the file keeps its content', () => {
    const file = fresh();
    const s = new FilePtkHighWaterStore(file);
    s.raiseFloors([{ key: floorKey, floor: 64 }]);
    s.close();
    writeFileSync(`${file}.4242.staged.tmp`, '{"torn":');
    const reopened = new FilePtkHighWaterStore(file);
    expect(leftovers(file)).toEqual([]);
    expect(reopened.loadFloor(floorKey)).toBe(64);
    reopened.close();
  });

  it('rejects when it cannot write its temp file, and the floors in force stay', async () => {
    const file = fresh();
    const s = new FilePtkHighWaterStore(file);
    s.raiseFloors([{ key: floorKey, floor: 64 }]);
    mkdirSync(`${file}.${process.pid}.staged.tmp`); // in the way, and not a file it may remove
    await expect(s.raiseFloorsInBackground([{ key: floorKey, floor: 640 }])).rejects.toMatchObject({ code: 'EEXIST' });
    expect(s.loadFloor(floorKey)).toBe(64);
    s.close();
    const reopened = new FilePtkHighWaterStore(file);
    expect(reopened.loadFloor(floorKey)).toBe(64);
    reopened.close();
  });
});
