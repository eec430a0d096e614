/**
 * The plaintext search and the `pdu decode --json` reading behind the OAI interop run's capture
 * check (bridge/interop/capture-check.ts), on hand-made inputs: it must find a leak where there
 * is one (whole or partial), and not be fooled by zero padding.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { findPlaintext, summarizeCapture } from '../../bridge/interop/capture-check.js';

describe('capture check', () => {
  it('finds SDUs that appear in clear, whole or by an 8-octet piece, and only those', () => {
    const leaked = randomBytes(40);
    const partly = randomBytes(30);
    const absent = randomBytes(30);
    const raw = Buffer.concat([randomBytes(100), leaked, randomBytes(50), partly.subarray(10, 18), randomBytes(20)]);
    expect(findPlaintext(raw, [leaked])).toBe(1);
    expect(findPlaintext(raw, [partly])).toBe(1);
    expect(findPlaintext(raw, [absent])).toBe(0);
    expect(findPlaintext(raw, [leaked, partly, absent])).toBe(2);
  });

  it('does not count zero padding as a leak, and looks for short SDUs whole', () => {
    const padded = Buffer.concat([Buffer.alloc(16), randomBytes(6)]);
    const raw = Buffer.concat([randomBytes(10), Buffer.alloc(64), randomBytes(10)]);
    expect(findPlaintext(raw, [padded])).toBe(0);
    const short = Buffer.from([1, 2, 3]);
    expect(findPlaintext(Buffer.from([9, 1, 2, 3, 9]), [short])).toBe(1);
    expect(findPlaintext(Buffer.from([9, 1, 2, 9, 3]), [short])).toBe(0);
  });

  it('counts decoded, dropped, malformed and other frames of pdu decode --json', () => {
    const lines = [
      { frame: 1, pduLength: 40, sdu: 'aabbcc' },
      { frame: 2, pduLength: 40, dropped: 'mac-failure' },
      { frame: 3, skipped: 'not-udp' },
      { frame: 4, malformed: 'truncated', message: 'x' },
      { frame: 5, pduLength: 41, sdu: 'ddeeff' },
    ].map((o) => JSON.stringify(o));
    const c = summarizeCapture(`${lines.join('\n')}\n`);
    expect(c).toMatchObject({ datagrams: 3, accepted: 2, dropped: { 'mac-failure': 1 }, malformed: 1, skipped: 1, sdusChecked: 2 });
    expect(c.sdus.map((s) => Buffer.from(s).toString('hex'))).toEqual(['aabbcc', 'ddeeff']);
  });
});
