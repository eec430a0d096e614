/**
 * The PDCP state file (bridge/state/ptk-high-water-file.ts), format 2: PTK ID marks keyed by the
 * PGK's value tag, the GMI claims (GmiLedger) and the receiver's replay floors, all in one file
 * that is lost or kept as a whole; format-1 files (marks without tags, no claims) still read.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
    expect(() => s1.raiseFloors([{ key: floorKey, floor: 1000 }])).toThrow(/below the stored floor/);
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
