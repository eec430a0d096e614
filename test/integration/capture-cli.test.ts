/**
 * `sl-bridge pdu decode` through the compiled CLI (bin/sl-bridge.js; the test command builds
 * first), on captures and keylogs written by the real writers from real protected PDUs: every PDU
 * deciphered and verified, drop reasons, JSON output, and malformed inputs named with their file
 * and byte offset / line (frames before the damage still printed). `--write-pcap`: the deciphered
 * capture read back record by record (sl-bridge captures and interface captures), refused as
 * input to `pdu decode`, and the output files it will not write.
 */
import { spawnSync } from 'node:child_process';
import { linkSync, readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { PcapWriter } from '../../bridge/capture/index.js';
import {
  LINKTYPE_RAW,
  LINKTYPE_USER0,
  PCAP_RECORD_HEADER_BYTES,
  emitIpUdpFrame,
  emitPcapHeader,
  parseDecipheredRecord,
  parsePcap,
  writeRecordHeader,
} from '../../src/capture/index.js';
import { encodePduEnvelope } from '../../src/wire/envelope.js';
import { encodeRangingMessage, type RangingMessage } from '../../src/wire/ranging.js';
import { GROUP, T0_MS, UE_A, UE_B, conversation, hex, material, pgk, protect, sender, tempDir, writeCapture, writeKeylog } from '../fixtures/capture-helpers.js';

const BIN = new URL('../../bin/sl-bridge.js', import.meta.url).pathname;

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'pdu', 'decode', ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.trim() };
}

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});
function tmp() {
  const t = tempDir('slb-decode-');
  cleanups.push(t.cleanup);
  return t;
}

describe('sl-bridge pdu decode', () => {
  it('prints every PDU deciphered and verified, one line per frame, with a summary on stderr', async () => {
    const t = tmp();
    const sent = conversation(10);
    // Two extra frames: a tampered copy of frame 1 and a PDU of a group the keylog lacks.
    const tampered = { ...sent[0]!, direction: 'rx' as const, envelope: { ...sent[0]!.envelope, pdu: Uint8Array.from(sent[0]!.envelope.pdu, (x, i) => (i === 6 ? x ^ 0x80 : x)) } };
    const foreign = { ...sent[1]!, envelope: protect(sender(UE_B, { groupId: 0x424242 }), Uint8Array.of(1), T0_MS, 9, { groupId: 0x424242 }).envelope };
    await writeCapture(t.path('ue1.pcap'), [...sent, tampered, foreign]);
    writeKeylog(t.path('ue1.keys'), [material(UE_A)]);

    const r = cli('--pcap', t.path('ue1.pcap'), '--keylog', t.path('ue1.keys'));
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(12);
    for (const [i, s] of sent.entries()) {
      const src = s.envelope.l2SourceId.toString(16).padStart(6, '0');
      expect(lines[i]).toBe(
        `frame ${i + 1} ${s.direction} src=${src} dst=12ab34 sdu_type=non-ip pgk_index=7 ptk_id=${s.ptkId} sn=${s.sn} pgk_id=7 sdu=${hex(s.sdu)}`,
      );
    }
    expect(lines[10]).toBe(`frame 11 rx src=00a001 dst=12ab34 sdu_type=non-ip pgk_index=7 ptk_id=1 sn=0 dropped=mac-failure (MAC-I does not verify)`);
    expect(lines[11]).toMatch(/^frame 12 rx src=00b002 dst=424242 sdu_type=non-ip pgk_index=7 ptk_id=1 sn=0 dropped=unknown-group /);
    expect(r.stderr).toBe('12 frames: 10 deciphered and verified, 2 dropped (unknown-group 1, mac-failure 1)');
  });

  it('--json: one object per frame; without --keylog the headers are still shown', async () => {
    const t = tmp();
    const sent = conversation(3);
    await writeCapture(t.path('c.pcap'), sent);
    writeKeylog(t.path('k'), [material(UE_A)]);
    const r = cli('--pcap', t.path('c.pcap'), '--keylog', t.path('k'), '--json');
    expect(r.status).toBe(0);
    const objs = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(objs[1]).toEqual({
      frame: 2,
      offset: 24 + (16 + 24 + sent[0]!.envelope.pdu.length),
      timeNs: sent[1]!.timeNs.toString(),
      direction: 'rx',
      castType: 'groupcast',
      l2SourceId: '00b002',
      l2DestinationId: '12ab34',
      seq: 0,
      txTimeNs: sent[1]!.envelope.txTimeNs.toString(),
      sduType: 1,
      pgkIndex: 7,
      ptkId: 1,
      sn: 0,
      pduLength: sent[1]!.envelope.pdu.length,
      pgkId: 7,
      sdu: hex(sent[1]!.sdu),
    });
    const bare = cli('--pcap', t.path('c.pcap'));
    expect(bare.status).toBe(0);
    expect(bare.stdout.split('\n')[0]).toMatch(/^frame 1 tx src=00a001 dst=12ab34 sdu_type=non-ip pgk_index=7 ptk_id=1 sn=0 dropped=unknown-group/);
  });

  it('decodes a keylog appended to across runs whose PGKs share an index with different keys', async () => {
    const t = tmp();
    const run1 = { pgks: [pgk(33, T0_MS + 3_600_000, 1)] };
    const run2 = { pgks: [pgk(33, T0_MS + 3_600_000, 2)] };
    const a = protect(sender(UE_A, run1), Uint8Array.of(0xaa), T0_MS, 0).envelope;
    const b = protect(sender(UE_A, run2), Uint8Array.of(0xbb), T0_MS, 0).envelope;
    const w = await PcapWriter.open(t.path('c.pcap'));
    w.record('tx', a, 1n);
    w.record('tx', b, 2n);
    await w.close();
    writeKeylog(t.path('k'), [material(UE_A, run1)]);
    writeKeylog(t.path('k'), [material(UE_A, run2)]);
    const lines = cli('--pcap', t.path('c.pcap'), '--keylog', t.path('k')).stdout.trimEnd().split('\n');
    expect(lines.map((l) => l.replace(/.* pgk_id=/, ''))).toEqual(['33 sdu=aa', '33 sdu=bb']);
  });

  it('a damaged pcap: frames before the damage are printed, then an error naming the file and byte offset, exit 1', async () => {
    const t = tmp();
    await writeCapture(t.path('c.pcap'), conversation(3));
    const good = readFileSync(t.path('c.pcap'));
    writeFileSync(t.path('cut.pcap'), good.subarray(0, good.length - 3));
    writeKeylog(t.path('k'), [material(UE_A)]);
    const r = cli('--pcap', t.path('cut.pcap'), '--keylog', t.path('k'));
    expect(r.status).toBe(1);
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(2);
    expect(r.stderr).toBe(
      `sl-bridge: malformed pcap: ${t.path('cut.pcap')}: byte offset ${good.length - 3}: file ends inside the record data of record 3 (which starts at byte offset ${good.length - 16 - 24 - conversation(3)[2]!.envelope.pdu.length}); 2 complete record(s) before it`,
    );
    const notPcap = cli('--pcap', t.path('k'));
    expect(notPcap.status).toBe(1);
    expect(notPcap.stderr).toContain(`malformed pcap: ${t.path('k')}: byte offset 0: not a pcap file`);
    const missing = cli('--pcap', t.path('nope.pcap'));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/cannot read pcap .*nope\.pcap: ENOENT/);
  });

  it('a malformed record inside a good pcap is reported on its line, the rest decodes', async () => {
    const t = tmp();
    const sent = conversation(2);
    await writeCapture(t.path('c.pcap'), sent);
    const bytes = Buffer.from(readFileSync(t.path('c.pcap')));
    bytes[24 + 16 + 2] = 7; // first record: direction 7
    writeFileSync(t.path('c.pcap'), bytes);
    writeKeylog(t.path('k'), [material(UE_A)]);
    const r = cli('--pcap', t.path('c.pcap'), '--keylog', t.path('k'));
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('frame 1 malformed=out-of-range at=24 (direction 7 is neither 0 (tx) nor 1 (rx))');
    expect(lines[1]).toMatch(/^frame 2 rx .* sdu=/);
    expect(r.stderr).toContain('1 malformed records');
  });

  it('a malformed keylog: error naming the file, line and column, exit 1; bad flags exit 2', async () => {
    const t = tmp();
    await writeCapture(t.path('c.pcap'), conversation(1));
    writeKeylog(t.path('k'), [material(UE_A)]);
    writeFileSync(t.path('k'), `${readFileSync(t.path('k'), 'utf8')}PGK group=${GROUP.toString(16)} pgk_id=x\n`);
    const r = cli('--pcap', t.path('c.pcap'), '--keylog', t.path('k'));
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`sl-bridge: malformed keylog: ${t.path('k')}:3:25: pgk_id: expected a decimal integer 0..4294967295, got "x"`);
    expect(cli('--keylog', t.path('k')).status).toBe(2);
    expect(cli('--pcap', t.path('c.pcap'), '--bogus').status).toBe(2);
  });

  it('--write-pcap: one record per frame, the SDU in clear (RangingMessages marked), drops with their reason and PDU', async () => {
    const t = tmp();
    const a = sender(UE_A);
    const b = sender(UE_B);
    const ranging = (seq: number): RangingMessage => ({ kind: 'request', requesterId: 99, requestSeq: seq, requestTimeNs: 10n + BigInt(seq), responderId: 0, responseTimeNs: 0n, padding: new Uint8Array(0) });
    const sdus = [encodeRangingMessage(ranging(0)), new TextEncoder().encode('plain'), encodeRangingMessage(ranging(1))];
    const envelopes = sdus.map((sdu, i) => protect(i % 2 ? b : a, sdu, T0_MS + i, i).envelope);
    const foreign = protect(sender(UE_B, { groupId: 0x424242 }), Uint8Array.of(1), T0_MS, 9, { groupId: 0x424242 }).envelope;
    const w = await PcapWriter.open(t.path('c.pcap'));
    [...envelopes, foreign].forEach((e, i) => w.record(i % 2 ? 'rx' : 'tx', e, 1_000n + BigInt(i)));
    await w.close();
    writeKeylog(t.path('k'), [material(UE_A)]);

    const r = cli('--pcap', t.path('c.pcap'), '--keylog', t.path('k'), '--write-pcap', t.path('out.pcap'));
    expect(r.status).toBe(0);
    expect(r.stderr).toBe(`4 frames: 3 deciphered and verified, 1 dropped (unknown-group 1)\nwrote 4 records to ${t.path('out.pcap')}`);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/ pgk_id=7 ranging=request requester_id=99 request_seq=0 request_time_ns=10 responder_id=0 response_time_ns=0 padding_bytes=0 sdu=[0-9a-f]+$/);
    expect(lines[1]).toMatch(/ pgk_id=7 sdu=706c61696e$/);

    const { header, records } = parsePcap(readFileSync(t.path('out.pcap')));
    expect(header.linkType).toBe(LINKTYPE_USER0);
    const parsed = records.map((rec) => {
      const p = parseDecipheredRecord(rec.data);
      if (!p.ok) throw new Error(p.error.message);
      const v = p.value;
      return [rec.timeNs, v.sourceFrame, v.direction, v.l2SourceId, v.l2DestinationId, v.seq, v.result, v.reason, v.pgkId, v.content, hex(v.pdcpHeader!), hex(v.body)];
    });
    const all = [...envelopes, foreign];
    expect(parsed).toEqual(
      all.map((e, i) => [
        1_000n + BigInt(i),
        i + 1,
        i % 2 ? 'rx' : 'tx',
        e.l2SourceId,
        e.l2DestinationId,
        e.seq,
        i < 3 ? 'verified-mac-i' : 'dropped',
        i < 3 ? '' : 'unknown-group',
        i < 3 ? 7 : 0,
        i === 0 || i === 2 ? 'ranging' : 'opaque',
        hex(e.pdu.subarray(0, 5)),
        i < 3 ? hex(sdus[i]!) : hex(e.pdu),
      ]),
    );

    // The deciphered capture is not input for pdu decode: every frame says what it is.
    const again = cli('--pcap', t.path('out.pcap'), '--keylog', t.path('k'));
    expect(again.status).toBe(0);
    expect(new Set(again.stdout.trimEnd().split('\n').map((l) => l.replace(/^frame \d+ /, '').replace(/at=\d+ /, '')))).toEqual(
      new Set(['malformed=unknown-version (this is a deciphered record written by `pdu decode --write-pcap` (already in clear): open it with the Wireshark dissector)']),
    );
  });

  it('--write-pcap on an interface capture: traffic that is not sl-bridge is left out, records name their source frame', () => {
    const t = tmp();
    const e = protect(sender(UE_B), Uint8Array.of(0xab), T0_MS, 0).envelope;
    const frame = (port: number) => emitIpUdpFrame(LINKTYPE_RAW, { source: '10.0.0.2', destination: '239.255.77.1', sourcePort: 40000, destinationPort: port, payload: encodePduEnvelope(e) });
    const frames = [frame(53), frame(5600)];
    // A raw-IP pcap as tshark writes it on a TUN interface (the pcap writer only writes sl-bridge link types).
    const head = emitPcapHeader();
    new DataView(head.buffer).setUint32(20, LINKTYPE_RAW, true);
    const parts: Uint8Array[] = [head];
    frames.forEach((f, i) => {
      const h = new Uint8Array(PCAP_RECORD_HEADER_BYTES);
      writeRecordHeader(new DataView(h.buffer), 0, BigInt(T0_MS) * 1_000_000n + BigInt(i), f.length, f.length);
      parts.push(h, f);
    });
    writeFileSync(t.path('tun.pcap'), Buffer.concat(parts));
    writeKeylog(t.path('k'), [material(UE_A)]);
    const r = cli('--pcap', t.path('tun.pcap'), '--keylog', t.path('k'), '--write-pcap', t.path('out.pcap'));
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/\nwrote 1 record to /);
    const { records } = parsePcap(readFileSync(t.path('out.pcap')));
    expect(records).toHaveLength(1);
    const p = parseDecipheredRecord(records[0]!.data);
    expect(p.ok && [p.value.sourceFrame, p.value.direction, p.value.l2SourceId, p.value.result, hex(p.value.body), records[0]!.timeNs]).toEqual([
      2,
      'rx',
      UE_B,
      'verified-mac-i',
      'ab',
      BigInt(T0_MS) * 1_000_000n + 1n,
    ]);
  });

  it('--write-pcap refuses to overwrite the capture it reads (by any name) and reports a file it cannot create, exit 1', async () => {
    const t = tmp();
    await writeCapture(t.path('c.pcap'), conversation(2));
    const before = readFileSync(t.path('c.pcap'));
    linkSync(t.path('c.pcap'), t.path('same.pcap'));
    for (const out of [t.path('c.pcap'), `${t.dir}/./c.pcap`, t.path('same.pcap')]) {
      const r = cli('--pcap', t.path('c.pcap'), '--write-pcap', out);
      expect(r.status, out).toBe(1);
      expect(r.stderr).toMatch(/^sl-bridge: --write-pcap .*: is the capture being decoded/);
      expect(r.stdout).toBe('');
    }
    expect(readFileSync(t.path('c.pcap'))).toEqual(before);
    const r = cli('--pcap', t.path('c.pcap'), '--write-pcap', t.path('no/such/dir/out.pcap'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^sl-bridge: cannot write .*no\/such\/dir\/out\.pcap: ENOENT/);
  });
});
