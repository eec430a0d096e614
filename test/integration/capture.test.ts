/**
 * Captures: the pcap writer and reader (round trip, byte layout, other tools' variants, malformed
 * files with the offset named, back-pressure and write errors), the capture record, the keylog
 * format and writer (0600), the decoder through the PDCP receive path, the capturing transport
 * wrapper on real ZeroMQ sockets, and fuzzing of every decoder that reads bytes from outside.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, constants, linkSync, openSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CAPTURE_HEADER_BYTES,
  CaptureDecoder,
  KeylogFormatError,
  LINKTYPE_USER0,
  PcapFormatError,
  PcapParser,
  emitCaptureRecord,
  formatKeylogLine,
  parseCaptureRecord,
  parseKeylog,
  parsePcap,
  type DecodedFrame,
  type KeylogEntry,
  type PcapRecord,
} from '../../src/capture/index.js';
import { DROP_REASONS } from '../../src/pdcp/drop-reasons.js';
import { KeylogFileError, KeylogWriter, PcapWriter, captureStackTransport } from '../../bridge/capture/index.js';
import { createZmqStackTransport } from '../../bridge/transport/zmq-stack.js';
import type { PduEnvelope } from '../../src/wire/envelope.js';
import { rng } from '../fixtures/pdcp-helpers.js';
import {
  GROUP,
  HOUR_MS,
  T0_MS,
  UE_A,
  UE_B,
  conversation,
  hex,
  material,
  pgk,
  protect,
  sender,
  tempDir,
  writeCapture,
  type Sent,
} from '../fixtures/capture-helpers.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
function tmp() {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return t;
}

function entriesOf(...materials: ReturnType<typeof material>[]): KeylogEntry[] {
  return parseKeylog(
    materials
      .flatMap((m) => m.pgks.map((p) => formatKeylogLine({ groupId: m.groupId, pgkId: p.pgkId, pgk: p.pgk, profile: m.profile, nea: m.nea, nia: m.nia, expiresAtMs: p.expiresAtMs })))
      .join('\n'),
  );
}

function decodeAll(records: readonly PcapRecord[], entries: readonly KeylogEntry[]): { frames: DecodedFrame[]; decoder: CaptureDecoder } {
  const decoder = new CaptureDecoder(entries);
  return { frames: records.map((r) => decoder.decode(r)), decoder };
}

describe('pcap writer and reader', () => {
  it('writes a nanosecond little-endian pcap on LINKTYPE_USER0 whose records hold the capture header and the PDU', async () => {
    const t = tmp();
    const sent = conversation(9);
    const w = await writeCapture(t.path('c.pcap'), sent);
    const bytes = readFileSync(t.path('c.pcap'));
    // Global header, byte by byte (pcap-savefile(5)).
    expect(bytes.readUInt32LE(0)).toBe(0xa1b23c4d);
    expect([bytes.readUInt16LE(4), bytes.readUInt16LE(6)]).toEqual([2, 4]);
    expect(bytes.readUInt32LE(16)).toBe(262144);
    expect(bytes.readUInt32LE(20)).toBe(147);
    // First record header and capture header.
    const first = sent[0]!;
    const payloadLen = CAPTURE_HEADER_BYTES + first.envelope.pdu.length;
    expect(bytes.readUInt32LE(24)).toBe(Number(first.timeNs / 1_000_000_000n));
    expect(bytes.readUInt32LE(28)).toBe(Number(first.timeNs % 1_000_000_000n));
    expect([bytes.readUInt32LE(32), bytes.readUInt32LE(36)]).toEqual([payloadLen, payloadLen]);
    const rec = bytes.subarray(40, 40 + payloadLen);
    expect([...rec.subarray(0, 12)]).toEqual([1, 24, 0, 2, 0x00, 0xa0, 0x01, 0x12, 0xab, 0x34, 1, 0]);
    expect(rec.readUInt32BE(12)).toBe(first.envelope.seq);
    expect(rec.readBigUInt64BE(16)).toBe(first.envelope.txTimeNs);
    expect(hex(rec.subarray(24))).toBe(hex(first.envelope.pdu));

    expect(w.counters).toMatchObject({ recorded: 9, written: 9, bytesWritten: bytes.length, lostInFailedWrite: 0 });
    const { header, records } = parsePcap(bytes, 'c.pcap');
    expect(header).toEqual({ nanoseconds: true, littleEndian: true, snaplen: 262144, linkType: LINKTYPE_USER0 });
    expect(records.map((r) => r.frame)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const [i, r] of records.entries()) {
      expect(r.timeNs).toBe(sent[i]!.timeNs);
      const parsed = parseCaptureRecord(r.data);
      expect(parsed.ok).toBe(true);
      if (!parsed.ok) continue;
      expect({ ...parsed.value, pdu: hex(parsed.value.pdu) }).toEqual({ direction: sent[i]!.direction, castType: 'groupcast', l2SourceId: sent[i]!.envelope.l2SourceId, l2DestinationId: GROUP, seq: sent[i]!.envelope.seq, txTimeNs: sent[i]!.envelope.txTimeNs, pdu: hex(sent[i]!.envelope.pdu) });
    }
  });

  it('records an OutgoingPdu (no seq / tx time yet) with the envelope-fields flag clear; rejects invalid input without throwing', async () => {
    const t = tmp();
    const w = await PcapWriter.open(t.path('o.pcap'), { linkType: 150 });
    const pdu = Uint8Array.of(0x27, 0, 1, 0, 2, 9, 9, 9);
    expect(w.record('tx', { l2SourceId: 1, l2DestinationId: 2, castType: 'broadcast', pdu }, 5_000_000_001n)).toBe(true);
    expect(w.record('rx', { l2SourceId: 0x1000000, l2DestinationId: 2, castType: 'groupcast', pdu }, 1n)).toBe(false);
    expect(w.record('rx', { l2SourceId: 1, l2DestinationId: 2, castType: 'multicast' as never, pdu }, 1n)).toBe(false);
    expect(w.record('rx', { l2SourceId: 1, l2DestinationId: 2, castType: 'groupcast', pdu: new Uint8Array(0) }, 1n)).toBe(false);
    expect(w.record('rx', { l2SourceId: 1, l2DestinationId: 2, castType: 'groupcast', pdu }, -1n)).toBe(false);
    await w.close();
    expect(w.record('tx', { l2SourceId: 1, l2DestinationId: 2, castType: 'groupcast', pdu }, 1n)).toBe(false);
    expect(w.counters.dropped).toEqual({ backlog: 0, 'write-failed': 0, closed: 1, invalid: 4 });
    const { header, records } = parsePcap(readFileSync(t.path('o.pcap')));
    expect(header.linkType).toBe(150);
    expect(records).toHaveLength(1);
    expect(records[0]!.timeNs).toBe(5_000_000_001n);
    const r = parseCaptureRecord(records[0]!.data);
    expect(r.ok && { ...r.value, pdu: hex(r.value.pdu) }).toEqual({ direction: 'tx', castType: 'broadcast', l2SourceId: 1, l2DestinationId: 2, seq: undefined, txTimeNs: undefined, pdu: hex(pdu) });
    await expect(PcapWriter.open(t.path('x.pcap'), { linkType: 1 })).rejects.toThrow(/linkType/);
  });

  it('packs records into chunks and flushes partial chunks on a timer, so a live capture is readable while running', async () => {
    const t = tmp();
    const w = await PcapWriter.open(t.path('live.pcap'), { chunkBytes: 4096, flushIntervalMs: 20 });
    cleanups.push(() => w.close());
    const sent = conversation(3);
    for (const s of sent) w.record(s.direction, s.envelope, s.timeNs);
    await new Promise((r) => setTimeout(r, 120));
    expect(parsePcap(readFileSync(t.path('live.pcap'))).records).toHaveLength(3);
    // A PDU bigger than a chunk gets a chunk of its own.
    const big = protect(sender(UE_A), new Uint8Array(9000).fill(7), T0_MS, 0).envelope;
    expect(w.record('tx', big, 1n)).toBe(true);
    await w.flush();
    const all = parsePcap(readFileSync(t.path('live.pcap'))).records;
    expect(all).toHaveLength(4);
    expect(all[3]!.capturedLength).toBe(CAPTURE_HEADER_BYTES + big.pdu.length);
  });

  it('drops and counts records instead of blocking when the disk does not keep up, and loses nothing it accepted', async () => {
    const t = tmp();
    const w = await PcapWriter.open(t.path('busy.pcap'), { chunkBytes: 4096, maxPendingBytes: 16 * 1024, flushIntervalMs: 0 });
    const env = protect(sender(UE_A), new Uint8Array(200).fill(1), T0_MS, 0).envelope;
    // A synchronous burst: no write can complete before it ends, so the backlog bound decides.
    const offered = 2000;
    let accepted = 0;
    for (let i = 0; i < offered; i++) if (w.record('tx', { ...env, seq: i }, BigInt(i))) accepted++;
    expect(w.counters.dropped.backlog).toBe(offered - accepted);
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(offered);
    expect(w.backlogBytes).toBeLessThanOrEqual(16 * 1024);
    // Once the backlog drains, recording works again.
    await w.flush();
    expect(w.record('tx', { ...env, seq: offered }, BigInt(offered))).toBe(true);
    await w.close();
    const records = parsePcap(readFileSync(t.path('busy.pcap'))).records;
    expect(records).toHaveLength(accepted + 1);
    expect(w.counters).toMatchObject({ recorded: accepted + 1, written: accepted + 1 });
    // The accepted ones are the first of the burst, in order.
    const seqs = records.map((r) => {
      const p = parseCaptureRecord(r.data);
      return p.ok ? p.value.seq : -1;
    });
    expect(seqs).toEqual([...Array.from({ length: accepted }, (_, i) => i), offered]);
  });

  it('survives a write error (disk full: /dev/full): keeps the error, counts losses, never throws', async () => {
    const w = await PcapWriter.open('/dev/full', { flushIntervalMs: 0 });
    await w.flush();
    expect(w.error).toMatchObject({ code: 'ENOSPC' });
    const env = protect(sender(UE_A), Uint8Array.of(1, 2, 3), T0_MS, 0).envelope;
    expect(w.record('tx', env, 1n)).toBe(false);
    expect(w.counters.dropped['write-failed']).toBe(1);
    await w.close();
    expect(w.counters.written).toBe(0);
  });

  it('reads microsecond and big-endian files and any LINKTYPE_USERn, as other tools may rewrite them', () => {
    const payload = emitCaptureRecord('rx', { l2SourceId: 0xabcdef, l2DestinationId: 0x123456, castType: 'unicast', pdu: Uint8Array.of(1, 2, 3, 4, 5), txTimeNs: 99n, seq: 7 });
    for (const le of [true, false]) {
      const file = Buffer.alloc(24 + 16 + payload.length);
      const u32 = (v: number, at: number) => (le ? file.writeUInt32LE(v, at) : file.writeUInt32BE(v, at));
      const u16 = (v: number, at: number) => (le ? file.writeUInt16LE(v, at) : file.writeUInt16BE(v, at));
      u32(0xa1b2c3d4, 0);
      u16(2, 4);
      u16(4, 6);
      u32(65535, 16);
      u32(162, 20);
      u32(1_900_000_000, 24);
      u32(999_999, 28);
      u32(payload.length, 32);
      u32(payload.length + 10, 36);
      file.set(payload, 40);
      const { header, records } = parsePcap(file);
      expect(header).toEqual({ nanoseconds: false, littleEndian: le, snaplen: 65535, linkType: 162 });
      expect(records[0]!.timeNs).toBe(1_900_000_000_999_999_000n);
      expect(records[0]!.originalLength).toBe(payload.length + 10);
      // Cut by the snapshot length: shown, not deciphered.
      const f = new CaptureDecoder([]).decode(records[0]!);
      expect(f.outcome).toEqual({ kind: 'skipped', reason: 'truncated-capture' });
      expect(f.l2SourceId).toBe(0xabcdef);
    }
  });

  it('gives the same records whatever the chunking of the input', async () => {
    const t = tmp();
    await writeCapture(t.path('c.pcap'), conversation(12));
    const bytes = new Uint8Array(readFileSync(t.path('c.pcap')));
    const whole = parsePcap(bytes).records.map((r) => [r.offset, r.timeNs, hex(r.data)]);
    const r = rng(5);
    for (const maxChunk of [1, 7, 100]) {
      const p = new PcapParser('chunks');
      const got: PcapRecord[] = [];
      for (let at = 0; at < bytes.length; ) {
        const n = 1 + (r() % maxChunk);
        // A fresh copy each time, reused afterwards: the parser must not keep views into it.
        const chunk = bytes.slice(at, at + n);
        got.push(...p.push(chunk).map((x) => ({ ...x, data: x.data.slice() })));
        chunk.fill(0xee);
        at += n;
      }
      p.end();
      expect(got.map((x) => [x.offset, x.timeNs, hex(x.data)])).toEqual(whole);
    }
  });

  it('names the file and the byte offset of whatever is wrong in a malformed pcap', async () => {
    const t = tmp();
    await writeCapture(t.path('c.pcap'), conversation(3));
    const good = readFileSync(t.path('c.pcap'));
    const rec2 = 24 + 16 + good.readUInt32LE(32);
    const cases: Array<[string, Buffer, number, RegExp]> = [
      ['empty', Buffer.alloc(0), 0, /inside the 24-octet pcap global header/],
      ['short header', good.subarray(0, 20), 20, /inside the 24-octet/],
      ['not pcap', Buffer.from('# sl-bridge keylog 1\nPGK group=1\n'), 0, /not a pcap file: magic number 0x2320736c/],
      ['pcapng', Buffer.from([0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0]), 0, /pcapng.*editcap -F pcap/],
      ['version', patch(good, (b) => b.writeUInt16LE(3, 4)), 4, /version 3\.4/],
      ['link type', patch(good, (b) => b.writeUInt32LE(1, 20)), 20, /link type 1 is not one of LINKTYPE_USER0\.\.15/],
      ['fraction', patch(good, (b) => b.writeUInt32LE(1_000_000_000, rec2 + 4)), rec2 + 4, /record 2: timestamp fraction/],
      ['huge length', patch(good, (b) => b.writeUInt32LE(0x7fffffff, rec2 + 8)), rec2 + 8, /record 2: captured length 2147483647 exceeds/],
      ['incl > orig', patch(good, (b) => b.writeUInt32LE(3, rec2 + 12)), rec2 + 8, /larger than the original length 3/],
      ['cut in a record', good.subarray(0, rec2 + 20), rec2 + 20, /inside the record data of record 2 \(which starts at byte offset \d+\); 1 complete record/],
      ['cut in a record header', good.subarray(0, rec2 + 5), rec2 + 5, /inside the record header of record 2/],
    ];
    for (const [what, bytes, offset, message] of cases) {
      let err: unknown;
      let before = 0;
      try {
        const p = new PcapParser(`/data/${what}.pcap`);
        before = p.push(bytes).length;
        p.end();
      } catch (e) {
        err = e;
      }
      expect(err, what).toBeInstanceOf(PcapFormatError);
      expect((err as PcapFormatError).offset, what).toBe(offset);
      expect((err as Error).message, what).toMatch(new RegExp(`^/data/${what}\\.pcap: byte offset ${offset}: `));
      expect((err as Error).message, what).toMatch(message);
      if (what.startsWith('cut')) expect(before, 'records before the damage are still returned').toBe(1);
    }
  });
});

function patch(b: Buffer, f: (c: Buffer) => void): Buffer {
  const c = Buffer.from(b);
  f(c);
  return c;
}

describe('capture record', () => {
  it('refuses unknown versions, short headers, bad directions and cast types, empty PDUs, naming the octet', () => {
    const good = emitCaptureRecord('tx', { l2SourceId: 1, l2DestinationId: 2, castType: 'groupcast', pdu: Uint8Array.of(1, 2, 3, 4, 5, 6) });
    const bad = (f: (c: Uint8Array) => void, sliceTo?: number) => {
      const c = good.slice(0, sliceTo);
      f(c);
      const r = parseCaptureRecord(c);
      return r.ok ? 'ok' : `${r.error.code}@${r.error.at}`;
    };
    expect(bad(() => {})).toBe('ok');
    expect(bad((c) => (c[0] = 2))).toBe('unknown-version@0');
    expect(bad((c) => (c[1] = 20))).toBe('out-of-range@1');
    expect(bad(() => {}, 10)).toBe('truncated@10');
    expect(bad(() => {}, 1)).toBe('truncated@1');
    expect(bad((c) => (c[2] = 2))).toBe('out-of-range@2');
    expect(bad((c) => (c[3] = 0))).toBe('out-of-range@3');
    expect(bad((c) => (c[3] = 4))).toBe('out-of-range@3');
    expect(bad(() => {}, 24)).toBe('empty-pdu@24');
    // A longer header of a later version-1 writer: the PDU starts where octet 1 says.
    const longer = new Uint8Array(good.length + 4);
    longer.set(good.subarray(0, 24));
    longer[1] = 28;
    longer.set(good.subarray(24), 28);
    const r = parseCaptureRecord(longer);
    expect(r.ok && hex(r.value.pdu)).toBe('010203040506');
  });
});

describe('keylog', () => {
  it('formats and parses every field; identical lines count once, different PGKs under one ID are both kept', () => {
    const line = formatKeylogLine({ groupId: 0xc0de, pgkId: 4294967295, pgk: pgk(1).pgk, profile: 'ts33533', nea: 3, nia: null, expiresAtMs: Date.UTC(2031, 5, 1, 12) });
    expect(line).toBe(`PGK group=00c0de pgk_id=4294967295 pgk=${hex(pgk(1).pgk)} profile=ts33533 nea=3 nia=none expires=2031-06-01T12:00:00.000Z`);
    const never = formatKeylogLine({ groupId: 1, pgkId: 0, pgk: pgk(2).pgk, profile: 'lte-prose', nea: 0, nia: null, expiresAtMs: Infinity });
    const other = formatKeylogLine({ groupId: 0xc0de, pgkId: 4294967295, pgk: pgk(3).pgk, profile: 'pcr', nea: 1, nia: 1, expiresAtMs: 0 });
    const text = `# sl-bridge keylog 1\r\n\n${line}\r\n   \n${never}\n${line}\n# comment\n${other}`;
    const entries = parseKeylog(text, 'k');
    expect(entries.map((e) => e.line)).toEqual([3, 5, 8]);
    expect({ ...entries[0], pgk: hex(entries[0]!.pgk) }).toEqual({ groupId: 0xc0de, pgkId: 4294967295, pgk: hex(pgk(1).pgk), profile: 'ts33533', nea: 3, nia: null, expiresAtMs: Date.UTC(2031, 5, 1, 12), line: 3 });
    expect(entries[1]!.expiresAtMs).toBe(Infinity);
    expect(entries[2]!.pgk).toEqual(pgk(3).pgk);
    // Fields in any order, tabs allowed.
    const shuffled = `PGK\tnia=2 expires=never pgk=${hex(pgk(4).pgk)} nea=2 profile=pcr pgk_id=9 group=a`;
    expect(parseKeylog(shuffled)[0]).toMatchObject({ groupId: 0xa, pgkId: 9, nia: 2 });
  });

  it('names the file, line and column of a malformed line', () => {
    const ok = `PGK group=00c0de pgk_id=1 pgk=${'ab'.repeat(32)} profile=pcr nea=2 nia=2 expires=never`;
    const cases: Array<[string, string]> = [
      ['TLS 1 2', '1:1: unknown record kind "TLS"'],
      [ok.replace('pgk_id=1', 'pgk_id=-1'), '1:25: pgk_id: expected a decimal integer'],
      [ok.replace('pgk_id=1', 'pgk_id=4294967296'), 'pgk_id: expected a decimal integer 0..4294967295'],
      [ok.replace('group=00c0de', 'group=1000000'), '1:11: group: expected a 24-bit Group ID'],
      [ok.replace('ab'.repeat(32), 'ab'.repeat(31)), 'pgk: expected 64 hex digits (256 bits), got 62 characters'],
      [ok.replace('profile=pcr', 'profile=x'), 'profile: expected one of pcr, ts33533, lte-prose'],
      [ok.replace('nea=2', 'nea=4'), 'nea: expected 0..3'],
      [ok.replace('nia=2', 'nia=5'), 'nia: expected 0..3 or none'],
      [ok.replace('profile=pcr', 'profile=lte-prose'), 'the lte-prose profile has no MAC-I'],
      [ok.replace('expires=never', 'expires=2030-01-01'), 'expires: expected an ISO 8601 UTC time'],
      [ok.replace(' nea=2', ''), `1:${ok.length - 5}: missing field nea`],
      [`${ok} nea=2`, 'field nea given twice'],
      [`${ok} colour=blue`, 'unknown field "colour"'],
      [`${ok} stray`, 'expected key=value, got "stray"'],
      ['\u0000\u0001binary', '1:1: binary data: this is not a text keylog'],
    ];
    for (const [line, message] of cases) {
      let err: unknown;
      try {
        parseKeylog(`# sl-bridge keylog 1\n${line}`.replace('# sl-bridge keylog 1\n', ''), '/keys/ue1.keys');
      } catch (e) {
        err = e;
      }
      expect(err, line).toBeInstanceOf(KeylogFormatError);
      expect((err as Error).message, line).toMatch(/^\/keys\/ue1\.keys:1:\d+: /);
      expect((err as Error).message, line).toContain(message);
    }
    // The line number counts comments and blank lines.
    expect(() => parseKeylog(`# c\n\n${ok}\nPGK x`, 'f')).toThrow(/^f:4:5: expected key=value/);
  });

  it('the writer creates the file 0600, appends to our own 0600 file, and logs each PGK once', () => {
    const t = tmp();
    const file = t.path('ue.keys');
    const k = KeylogWriter.open(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(k.logGroup(material(UE_A, { pgks: [pgk(7), pgk(8)] }))).toBe(2);
    expect(k.logGroup(material(UE_A, { pgks: [pgk(8), pgk(9)] }))).toBe(1);
    k.close();
    const k2 = KeylogWriter.open(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    k2.logGroup(material(UE_A, { groupId: 0x777, pgks: [pgk(1)] }));
    k2.close();
    const text = readFileSync(file, 'utf8');
    expect(text.split('\n').filter((l) => l.startsWith('# sl-bridge keylog 1'))).toHaveLength(1);
    expect(parseKeylog(text).map((e) => [e.groupId, e.pgkId])).toEqual([[GROUP, 7], [GROUP, 8], [GROUP, 9], [0x777, 1]]);
    expect(() => k2.logGroup(material(UE_A))).toThrow(/already closed/);
  });

  it('the writer refuses files that others could read keys from, and writes nothing into them', () => {
    const t = tmp();
    const refused = (file: string, message: RegExp): void => {
      let err: unknown;
      try {
        KeylogWriter.open(file).close();
      } catch (e) {
        err = e;
      }
      expect(err, file).toBeInstanceOf(KeylogFileError);
      expect((err as KeylogFileError).file).toBe(file);
      expect((err as Error).message).toMatch(message);
    };
    // Ours, but group/others may have opened it while it was readable: refused, not tightened.
    const loose = t.path('loose.keys');
    writeFileSync(loose, '');
    chmodSync(loose, 0o644);
    refused(loose, /readable or writable by group or others \(mode 0644\)/);
    expect([statSync(loose).mode & 0o777, statSync(loose).size]).toEqual([0o644, 0]);
    // A symbolic link (to a file that another user would read, or any file of ours).
    const target = t.path('target');
    writeFileSync(target, '');
    chmodSync(target, 0o600);
    symlinkSync(target, t.path('link.keys'));
    refused(t.path('link.keys'), /symbolic link/);
    // A second name of one file (the other name may be in a folder others can read).
    linkSync(target, t.path('hard.keys'));
    refused(t.path('hard.keys'), /2 names \(hard links\)/);
    expect(statSync(target).size).toBe(0);
    // A FIFO someone reads from.
    const fifo = t.path('fifo.keys');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    cleanups.push(() => closeSync(reader));
    refused(fifo, /not a regular file/);
    if (process.getuid?.() === 0) {
      // Created first by another user, who would still own it and read every PGK.
      const trap = t.path('trap.keys');
      writeFileSync(trap, '');
      chmodSync(trap, 0o600);
      chownSync(trap, 65534, 65534);
      refused(trap, /owned by uid 65534/);
      expect(statSync(trap).size).toBe(0);
    }
  });
});

describe('decoder (PDCP receive path with keylog PGKs)', () => {
  it('deciphers and verifies every PDU of a conversation across PTK changes, in both directions', () => {
    const sent = conversation(20);
    const records = sent.map((s, i) => record(i + 1, s));
    const { frames, decoder } = decodeAll(records, entriesOf(material(UE_A)));
    for (const [i, f] of frames.entries()) {
      const s = sent[i]!;
      expect(f.outcome.kind === 'accepted' && { ...f.outcome, sdu: hex(f.outcome.sdu) }, `frame ${i + 1}`).toEqual({ kind: 'accepted', sdu: hex(s.sdu), sduType: 1, pgkId: 7, ptkId: s.ptkId, sn: s.sn });
      expect(f.header).toEqual({ sduType: 1, pgkIndex: 7, ptkId: s.ptkId, sn: s.sn });
      expect(f.direction).toBe(s.direction);
    }
    expect(new Set(sent.map((s) => s.ptkId)).size).toBeGreaterThan(2);
    expect(decoder.counters).toMatchObject({ frames: 20, accepted: 20, malformed: 0 });
  });

  it('reports replays per direction (a duplicate within rx) but decodes a tx record and its rx twin', () => {
    const [a, b] = conversation(2);
    const twinOfA: Sent = { ...a!, direction: 'rx' };
    const records = [a!, twinOfA, b!, b!].map((s, i) => record(i + 1, s));
    const { frames } = decodeAll(records, entriesOf(material(UE_A)));
    expect(frames.map((f) => (f.outcome.kind === 'accepted' ? 'ok' : f.outcome.kind === 'dropped' ? f.outcome.reason : f.outcome.kind))).toEqual(['ok', 'ok', 'ok', 'replay']);
  });

  it('gives the daemon drop reasons: MAC failure, unknown group, unknown PGK index, expired PGK, identity mismatch, truncated', () => {
    const tx = sender(UE_A);
    const good = protect(tx, Uint8Array.of(1, 2, 3), T0_MS, 0).envelope;
    const flipped = { ...good, pdu: Uint8Array.from(good.pdu, (x, i) => (i === 8 ? x ^ 1 : x)) };
    const otherGroup = protect(sender(UE_A, { groupId: 0x999999 }), Uint8Array.of(1), T0_MS, 1, { groupId: 0x999999 }).envelope;
    const otherIndex = protect(sender(UE_A, { pgks: [pgk(8)] }), Uint8Array.of(1), T0_MS, 2).envelope;
    const spoofed = { ...protect(tx, Uint8Array.of(4), T0_MS, 3).envelope, l2SourceId: UE_B };
    const short = { ...good, pdu: good.pdu.subarray(0, 8) };
    const late: Sent = { ...wrap(protect(tx, Uint8Array.of(5), T0_MS, 4).envelope), timeNs: BigInt(T0_MS + HOUR_MS + 31_000) * 1_000_000n };
    const records = [flipped, otherGroup, otherIndex, spoofed, short].map((e, i) => record(i + 1, wrap(e)));
    records.push(record(6, late));
    const { frames, decoder } = decodeAll(records, entriesOf(material(UE_A)));
    expect(frames.map((f) => f.outcome)).toEqual([
      { kind: 'dropped', reason: 'mac-failure' },
      { kind: 'dropped', reason: 'unknown-group' },
      { kind: 'dropped', reason: 'unknown-pgk-index' },
      { kind: 'dropped', reason: 'mac-failure' }, // keys derive from the (spoofed) L2 source: the MAC fails first
      { kind: 'dropped', reason: 'truncated' },
      { kind: 'dropped', reason: 'expired-pgk' },
    ]);
    expect(decoder.counters.dropped['mac-failure']).toBe(2);
    const total = decoder.counters.accepted + DROP_REASONS.reduce((n, r) => n + decoder.counters.dropped[r], 0);
    expect(total).toBe(6);
  });

  it('with integrity off, a member posing as another is caught by the identity block', () => {
    const spec = { profile: 'ts33533' as const, nia: null };
    const e = protect(sender(UE_A, spec), Uint8Array.of(9, 9), T0_MS, 0).envelope;
    const { frames } = decodeAll([record(1, wrap({ ...e, l2SourceId: UE_B }))], entriesOf(material(UE_A, spec)));
    // Keys derive from the claimed GMI, so the deciphered identity block is garbage: wrong group
    // (checked first) or identity mismatch; either way, dropped.
    expect(frames[0]!.outcome.kind).toBe('dropped');
  });

  it('tries every PGK that shares a PGK Index (PGK IDs 32 apart, or one PGK ID from two runs)', () => {
    const older = material(UE_A, { pgks: [pgk(1)] });
    const newer = material(UE_A, { pgks: [pgk(33)] });
    const rerun = material(UE_A, { pgks: [pgk(33, T0_MS + HOUR_MS, 999)] });
    const eOld = protect(sender(UE_A, { pgks: [pgk(1)] }), Uint8Array.of(1), T0_MS, 0).envelope;
    const eNew = protect(sender(UE_A, { pgks: [pgk(33)] }), Uint8Array.of(2), T0_MS, 1).envelope;
    const eRerun = protect(sender(UE_B, { pgks: [pgk(33, T0_MS + HOUR_MS, 999)] }), Uint8Array.of(3), T0_MS, 2).envelope;
    const records = [eOld, eNew, eRerun, eRerun].map((e, i) => record(i + 1, wrap(e)));
    const { frames } = decodeAll(records, entriesOf(older, newer, rerun));
    expect(frames.map((f) => (f.outcome.kind === 'accepted' ? `${f.outcome.pgkId}:${hex(f.outcome.sdu)}` : f.outcome.kind === 'dropped' ? f.outcome.reason : '?'))).toEqual([
      '1:01',
      '33:02',
      '33:03',
      'replay',
    ]);
  });

  it('shows broadcast/unicast PDUs without deciphering them and reports malformed records in place', () => {
    const e = protect(sender(UE_A), Uint8Array.of(1), T0_MS, 0).envelope;
    const recs = [record(1, wrap({ ...e, castType: 'broadcast' })), { ...record(2, wrap(e)), data: Uint8Array.of(9, 24, 0) }];
    const { frames, decoder } = decodeAll(recs, entriesOf(material(UE_A)));
    expect(frames[0]!.outcome).toEqual({ kind: 'skipped', reason: 'not-groupcast' });
    expect(frames[0]!.header).toEqual({ sduType: 1, pgkIndex: 7, ptkId: 1, sn: 0 });
    expect(frames[1]!.outcome).toMatchObject({ kind: 'malformed', code: 'unknown-version' });
    expect(decoder.counters).toMatchObject({ frames: 2, malformed: 1, skipped: { 'not-groupcast': 1, 'truncated-capture': 0 } });
  });
});

function wrap(envelope: PduEnvelope): Sent {
  return { direction: 'rx', envelope, timeNs: BigInt(T0_MS) * 1_000_000n, sdu: new Uint8Array(0), sduType: 1, pgkId: 0, ptkId: 0, sn: 0 };
}

function record(frame: number, s: Sent): PcapRecord {
  const data = emitCaptureRecord(s.direction, s.envelope);
  return { frame, offset: 0, timeNs: s.timeNs, capturedLength: data.length, originalLength: data.length, data };
}

describe('capturing stack transport (real ZeroMQ sockets)', () => {
  it('records what the transport accepted (tx) and what it delivered (rx, with seq and tx time)', async () => {
    const t = tmp();
    const writer = await PcapWriter.open(t.path('wire.pcap'));
    const endpoint = `ipc://${t.path('stack.sock')}`;
    const daemonSide = createZmqStackTransport({ role: 'bind', endpoint });
    const peer = createZmqStackTransport({ role: 'connect', endpoint, clock: () => 777n });
    const captured = captureStackTransport(daemonSide, writer, () => 1_000n);
    const gotByDaemon: PduEnvelope[] = [];
    const gotByPeer: PduEnvelope[] = [];
    await captured.open({ frame: (f) => gotByDaemon.push(f) });
    await peer.open({ frame: (f) => gotByPeer.push(f) });
    cleanups.push(() => peer.close(), () => captured.close());
    const deadline = Date.now() + 10_000;
    while (!captured.linkUp || !peer.linkUp) {
      if (Date.now() > deadline) throw new Error('no link');
      await new Promise((r) => setTimeout(r, 10));
    }
    const out = protect(sender(UE_A), Uint8Array.of(1, 2), T0_MS, 0).envelope;
    const back = protect(sender(UE_B), Uint8Array.of(3, 4), T0_MS, 0).envelope;
    expect(captured.send({ l2SourceId: out.l2SourceId, l2DestinationId: out.l2DestinationId, castType: 'groupcast', pdu: out.pdu })).toBe('accepted');
    expect(peer.send({ l2SourceId: back.l2SourceId, l2DestinationId: back.l2DestinationId, castType: 'groupcast', pdu: back.pdu })).toBe('accepted');
    while (gotByDaemon.length < 1 || gotByPeer.length < 1) {
      if (Date.now() > deadline) throw new Error('no frames');
      await new Promise((r) => setTimeout(r, 10));
    }
    await writer.close();
    const records = parsePcap(readFileSync(t.path('wire.pcap'))).records.map((r) => parseCaptureRecord(r.data));
    const values = records.map((r) => (r.ok ? { ...r.value, pdu: hex(r.value.pdu) } : undefined));
    expect(values).toHaveLength(2);
    expect(values[0]).toEqual({ direction: 'tx', castType: 'groupcast', l2SourceId: UE_A, l2DestinationId: GROUP, seq: undefined, txTimeNs: undefined, pdu: hex(out.pdu) });
    expect(values[1]).toEqual({ direction: 'rx', castType: 'groupcast', l2SourceId: UE_B, l2DestinationId: GROUP, seq: 0, txTimeNs: 777n, pdu: hex(back.pdu) });
    expect(captured.counters.sent).toBe(1);
  });
});

describe('fuzz: decoders of bytes from outside never throw anything but their typed errors', () => {
  it('pcap parser + decoder over 3000 mutated captures; capture record over 20000 mutations; keylog over 5000 mutated texts', async () => {
    const t = tmp();
    await writeCapture(t.path('c.pcap'), conversation(6));
    const good = new Uint8Array(readFileSync(t.path('c.pcap')));
    const entries = entriesOf(material(UE_A));
    const r = rng(0x5eed);
    let formatErrors = 0;
    let frames = 0;
    for (let i = 0; i < 3000; i++) {
      const m = mutate(good, r);
      const decoder = new CaptureDecoder(entries);
      const p = new PcapParser('fuzz.pcap');
      try {
        for (const rec of p.push(m)) {
          decoder.decode(rec);
          frames++;
        }
        p.end();
      } catch (e) {
        expect(e).toBeInstanceOf(PcapFormatError);
        const offset = (e as PcapFormatError).offset;
        expect(offset).toBeGreaterThanOrEqual(0);
        expect(offset).toBeLessThanOrEqual(m.length);
        formatErrors++;
      }
      expect(decoder.counters.frames).toBe(decoder.counters.accepted + decoder.counters.malformed + DROP_REASONS.reduce((n, x) => n + decoder.counters.dropped[x], 0) + decoder.counters.skipped['not-groupcast'] + decoder.counters.skipped['truncated-capture']);
    }
    expect(formatErrors).toBeGreaterThan(100);
    expect(frames).toBeGreaterThan(1000);

    const rec = emitCaptureRecord('rx', conversation(1)[0]!.envelope);
    for (let i = 0; i < 20000; i++) parseCaptureRecord(mutate(rec, r));

    const text = entries.map((e) => formatKeylogLine(e)).join('\n');
    const bytes = new TextEncoder().encode(`# sl-bridge keylog 1\n${text}\n${text}`);
    let keylogErrors = 0;
    for (let i = 0; i < 5000; i++) {
      try {
        parseKeylog(new TextDecoder().decode(mutate(bytes, r)));
      } catch (e) {
        expect(e).toBeInstanceOf(KeylogFormatError);
        keylogErrors++;
      }
    }
    expect(keylogErrors).toBeGreaterThan(1000);
  });
});

/** A random mutation: bit flips, byte overwrites, truncation, extension or a spliced copy. */
function mutate(input: Uint8Array, r: () => number): Uint8Array {
  let b = input.slice();
  const ops = 1 + (r() % 4);
  for (let k = 0; k < ops; k++) {
    switch (r() % 5) {
      case 0:
        if (b.length) b[r() % b.length]! ^= 1 << (r() % 8);
        break;
      case 1:
        if (b.length) b[r() % b.length] = r() & 0xff;
        break;
      case 2:
        b = b.slice(0, r() % (b.length + 1));
        break;
      case 3: {
        const extra = Uint8Array.from({ length: r() % 40 }, () => r() & 0xff);
        const c = new Uint8Array(b.length + extra.length);
        c.set(b);
        c.set(extra, b.length);
        b = c;
        break;
      }
      case 4: {
        if (b.length < 8) break;
        const from = r() % b.length;
        const to = r() % b.length;
        const n = Math.min(b.length - from, b.length - to, 1 + (r() % 32));
        b.copyWithin(to, from, from + n);
        break;
      }
    }
  }
  return b;
}
