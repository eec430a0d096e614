/**
 * The Wireshark Lua dissector (bridge/wireshark/sl-bridge.lua) run by Debian's tshark on captures
 * written by the real pcap writer from real protected PDUs: PGK Index, PTK ID, SN (and the other
 * named fields) of every PDU, cross-checked against `sl-bridge pdu decode` deciphering the same
 * capture with its keylog; the L2 IDs in the Source / Destination columns; the preferences (MAC-I,
 * user DLT) and malformed records. Deciphered captures (`pdu decode --keylog --write-pcap`): the
 * decode result of every frame and each RangingMessage field equal to what was protected.
 *
 * Needs tshark (Debian package `tshark`; CI installs it). tshark runs with a private, empty
 * configuration directory so personal preferences cannot change the result; Debian's init.lua
 * keeps Lua enabled for root (run_user_scripts_when_superuser = true), so this also works as root.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PcapWriter } from '../../bridge/capture/index.js';
import { PCAP_RECORD_HEADER_BYTES, emitDecipheredRecord, emitPcapHeader, writeRecordHeader } from '../../src/capture/index.js';
import { encodeRangingMessage, type RangingMessage } from '../../src/wire/ranging.js';
import { GROUP, T0_MS, UE_A, UE_B, conversation, material, pgk, protect, sender, tempDir, writeCapture, writeKeylog, type GroupSpec, type Sent } from '../fixtures/capture-helpers.js';

const LUA = new URL('../../bridge/wireshark/sl-bridge.lua', import.meta.url).pathname;
const BIN = new URL('../../bin/sl-bridge.js', import.meta.url).pathname;

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});
function tmp() {
  const t = tempDir('slb-wireshark-');
  cleanups.push(t.cleanup);
  return t;
}

let configDir = '';
/** The column fields: named by title up to tshark 4.0 (`_ws.col.Source`), by format from 4.2 (`_ws.col.def_src`). */
let srcColumn = '_ws.col.Source';
let dstColumn = '_ws.col.Destination';
let infoColumn = '_ws.col.Info';
beforeAll(() => {
  const probe = spawnSync('tshark', ['--version'], { encoding: 'utf8' });
  if (probe.error) throw new Error('tshark is not installed: `apt-get install -y tshark` (CI installs it)');
  const [major, minor] = (/TShark \(Wireshark\) (\d+)\.(\d+)/.exec(probe.stdout) ?? []).slice(1).map(Number);
  if (major! > 4 || (major === 4 && minor! >= 2)) [srcColumn, dstColumn, infoColumn] = ['_ws.col.def_src', '_ws.col.def_dst', '_ws.col.info'];
  const t = tempDir('slb-wireshark-config-');
  configDir = t.path('config');
  mkdirSync(configDir);
  return t.cleanup;
});

function runTshark(file: string, args: string[]): string {
  const r = spawnSync('tshark', ['-X', `lua_script:${LUA}`, '-r', file, ...args], { encoding: 'utf8', env: { ...process.env, WIRESHARK_CONFIG_DIR: configDir } });
  if (r.status !== 0) throw new Error(`tshark failed (${r.status}): ${r.stderr}`);
  expect(r.stderr).not.toMatch(/Lua: Error|error loading|Couldn't register/i);
  return r.stdout;
}

function tshark(file: string, fields: string[], extra: string[] = []): string[][] {
  const out = runTshark(file, [...extra, '-T', 'fields', '-E', 'separator=;', ...fields.flatMap((f) => ['-e', f])]);
  return out.replace(/\n$/, '').split('\n').map((l) => l.split(';'));
}

const id24 = (v: number): string => v.toString(16).padStart(6, '0');

function decode(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [BIN, 'pdu', 'decode', ...args], { encoding: 'utf8' });
}

/** UE A's capture with two PGKs of different indexes (7 and 40 -> index 8) and PTK changes. */
function capture(): Sent[] {
  const first = conversation(16, { pgks: [pgk(7)] }, 2);
  const later = conversation(6, { pgks: [pgk(40), pgk(7, T0_MS - 1)] }, 2).map((s) => ({ ...s, timeNs: s.timeNs + 1_000_000_000n }));
  return [...first, ...later];
}

describe('Wireshark dissector (tshark 4.0, Lua)', () => {
  it('shows PGK Index, PTK ID and SN of every PDU, matching `pdu decode` of the same capture with its keylog', async () => {
    const t = tmp();
    const sent = capture();
    await writeCapture(t.path('demo.pcap'), sent);
    writeKeylog(t.path('demo.keys'), [material(UE_A, { pgks: [pgk(7), pgk(40)] })]);

    const rows = tshark(t.path('demo.pcap'), ['frame.number', 'slbridge.pgk_index', 'slbridge.ptk_id', 'slbridge.sn']);
    expect(rows).toEqual(sent.map((s, i) => [String(i + 1), String(s.pgkId & 31), String(s.ptkId), String(s.sn)]));
    // Both PGK indexes and several PTK IDs really occur, so the check above covers them.
    expect(new Set(rows.map((r) => r[1]))).toEqual(new Set(['7', '8']));
    expect(new Set(rows.map((r) => r[2])).size).toBeGreaterThan(3);

    const d = spawnSync(process.execPath, [BIN, 'pdu', 'decode', '--pcap', t.path('demo.pcap'), '--keylog', t.path('demo.keys'), '--json'], { encoding: 'utf8' });
    expect(d.status).toBe(0);
    const decoded = d.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { pgkIndex: number; ptkId: number; sn: number; sdu?: string; pgkId?: number });
    expect(decoded.map((o) => [o.pgkIndex, o.ptkId, o.sn])).toEqual(rows.map((r) => [Number(r[1]), Number(r[2]), Number(r[3])]));
    expect(decoded.map((o) => [o.pgkId, o.sdu])).toEqual(sent.map((s) => [s.pgkId, Buffer.from(s.sdu).toString('hex')]));
  });

  it('shows the envelope (direction, L2 IDs, cast type, seq, tx time) and the ciphered length and MAC-I', async () => {
    const t = tmp();
    const sent = conversation(4);
    await writeCapture(t.path('c.pcap'), sent);
    const rows = tshark(t.path('c.pcap'), [
      'slbridge.direction',
      'slbridge.l2_src',
      'slbridge.l2_dst',
      'slbridge.cast_type',
      'slbridge.seq',
      'slbridge.tx_time_ns',
      'slbridge.sdu_type',
      'slbridge.ciphered_length',
      'slbridge.mac_i',
      'slbridge.count',
      'frame.protocols',
    ]);
    expect(rows).toEqual(
      sent.map((s) => {
        const pdu = s.envelope.pdu;
        const macI = Buffer.from(pdu.subarray(pdu.length - 4)).readUInt32BE(0);
        return [
          s.direction === 'tx' ? '0' : '1',
          `0x${s.envelope.l2SourceId.toString(16).padStart(6, '0')}`,
          '0x12ab34',
          '2',
          String(s.envelope.seq),
          String(s.envelope.txTimeNs),
          '1',
          String(pdu.length - 5),
          `0x${macI.toString(16).padStart(8, '0')}`,
          `0x${(s.ptkId * 65536 + s.sn).toString(16).padStart(8, '0')}`,
          'slbridge',
        ];
      }),
    );
    // Integrity off: no MAC-I field when the preference says so.
    const noMac = tshark(t.path('c.pcap'), ['slbridge.mac_i', 'slbridge.ciphered_length'], ['-o', 'slbridge.mac_i:FALSE']);
    expect(noMac.map((r) => r[0])).toEqual(['', '', '', '']);
    expect(noMac.map((r) => r[1])).toEqual(sent.map((s) => String(s.envelope.pdu.length - 5)));
  });

  it('follows the user DLT preference, and flags malformed records instead of failing', async () => {
    const t = tmp();
    const w = await PcapWriter.open(t.path('u2.pcap'), { linkType: 149 });
    const e = protect(sender(UE_B), Uint8Array.of(1, 2, 3), T0_MS, 5).envelope;
    w.record('rx', e, 1_000n);
    w.record('tx', { ...e, pdu: Uint8Array.of(0xe1, 0, 1) }, 2_000n); // a 3-octet PDU, reserved SDU type 7
    await w.close();
    expect(tshark(t.path('u2.pcap'), ['slbridge.sn'])).toEqual([[''], ['']]); // USER2 is not ours by default
    const rows = tshark(t.path('u2.pcap'), ['slbridge.sn', '_ws.expert.message', 'slbridge.l2_src'], ['-o', 'slbridge.user_dlt:2']);
    expect(rows[0]).toEqual(['0', '', '0x00b002']);
    expect(rows[1]![0]).toBe('');
    expect(rows[1]![1]).toMatch(/shorter than the 5-octet header/);
    expect(rows[1]![2]).toBe('0x00b002');
  });

  it('Source and Destination columns hold the L2 source ID (GMI) and L2 destination ID (Group ID)', async () => {
    const t = tmp();
    const sent = conversation(6);
    const foreign = protect(sender(UE_B, { groupId: 0x424242 }), Uint8Array.of(1), T0_MS, 9, { groupId: 0x424242 });
    await writeCapture(t.path('c.pcap'), [...sent, { ...sent[1]!, envelope: foreign.envelope }]);
    const rows = tshark(t.path('c.pcap'), [srcColumn, dstColumn, 'slbridge.l2_src', 'slbridge.l2_dst']);
    const want = [...sent.map((s) => s.envelope), foreign.envelope].map((e) => [id24(e.l2SourceId), id24(e.l2DestinationId)]);
    expect(rows.map((r) => r.slice(0, 2))).toEqual(want);
    // Both UEs and both groups occur, and the columns agree with the envelope fields.
    expect(new Set(rows.map((r) => r[0]))).toEqual(new Set(['00a001', '00b002']));
    expect(new Set(rows.map((r) => r[1]))).toEqual(new Set(['12ab34', '424242']));
    expect(rows.map((r) => [Number(r[2]), Number(r[3])])).toEqual(want.map(([a, b]) => [parseInt(a!, 16), parseInt(b!, 16)]));
  });

  it('pdu decode --write-pcap: tshark shows the decode result of every frame and each RangingMessage field as sent', async () => {
    const t = tmp();
    const INTEGRITY_OFF = 0x424242;
    const LTE_PROSE = 0x515151;
    const offSpec: GroupSpec = { groupId: INTEGRITY_OFF, nia: null };
    const proseSpec: GroupSpec = { groupId: LTE_PROSE, profile: 'lte-prose' };
    const a = sender(UE_A);
    const b = sender(UE_B);
    const requesterId = 0xdeadbeef;
    const request = (seq: number, padding = 0): RangingMessage => ({
      kind: 'request',
      requesterId,
      requestSeq: seq,
      requestTimeNs: BigInt(T0_MS) * 1_000_000n + BigInt(seq) * 1_000_003n + 7n,
      responderId: 0,
      responseTimeNs: 0n,
      padding: Uint8Array.from({ length: padding }, (_, i) => i),
    });
    const respond = (r: RangingMessage): RangingMessage => ({ ...r, kind: 'response', responderId: 4242, responseTimeNs: r.requestTimeNs + 123_456n });
    interface Frame { direction: 'tx' | 'rx'; p: ReturnType<typeof protect>; ranging?: RangingMessage; sdu: Uint8Array; castType?: 'broadcast' }
    const frames: Frame[] = [];
    const add = (direction: 'tx' | 'rx', tx: typeof a, sdu: Uint8Array, opts: Parameters<typeof protect>[4] = {}, ranging?: RangingMessage) =>
      frames.push({ direction, p: protect(tx, sdu, T0_MS + frames.length, frames.length, opts), sdu, ...(ranging === undefined ? {} : { ranging }) });
    for (let i = 0; i < 3; i++) {
      const req = request(i, i * 5);
      add('tx', a, encodeRangingMessage(req), {}, req);
      add('rx', b, encodeRangingMessage(respond(req)), {}, respond(req));
    }
    add('tx', a, new TextEncoder().encode('not a ranging message')); // non-IP, opaque
    add('tx', a, encodeRangingMessage(request(9)), { sduType: 0 }); // IP: not taken for a RangingMessage
    add('rx', sender(UE_B, offSpec), encodeRangingMessage(request(10)), { groupId: INTEGRITY_OFF }, request(10));
    add('rx', sender(UE_B, proseSpec), encodeRangingMessage(request(11)), { groupId: LTE_PROSE }, request(11));
    // A PDU whose MAC-I was changed on the way, a group the keylog lacks, a broadcast.
    const tampered = protect(b, Uint8Array.of(1, 2, 3), T0_MS + 50, 50);
    const pdu = tampered.envelope.pdu;
    pdu[pdu.length - 1]! ^= 0x01;
    frames.push({ direction: 'rx', p: tampered, sdu: Uint8Array.of(1, 2, 3) });
    add('rx', sender(UE_B, { groupId: 0x777777 }), Uint8Array.of(4), { groupId: 0x777777 });
    add('rx', b, Uint8Array.of(5), { castType: 'broadcast' });

    const w = await PcapWriter.open(t.path('c.pcap'));
    for (const [i, f] of frames.entries()) w.record(f.direction, f.p.envelope, BigInt(T0_MS + i) * 1_000_000n);
    await w.close();
    writeKeylog(t.path('c.keys'), [material(UE_A), material(UE_A, offSpec), material(UE_A, proseSpec)]);

    const d = decode('--pcap', t.path('c.pcap'), '--keylog', t.path('c.keys'), '--write-pcap', t.path('clear.pcap'));
    expect(d.status).toBe(0);
    expect(d.stderr).toBe(`${frames.length} frames: 10 deciphered and verified, 2 dropped (unknown-group 1, mac-failure 1), 1 not deciphered (not groupcast or cut by the snapshot length)\nwrote ${frames.length} records to ${t.path('clear.pcap')}\n`);

    const fields = [
      'slbridge.version', 'slbridge.source_frame', 'slbridge.direction', srcColumn, dstColumn, 'slbridge.result', 'slbridge.reason', 'slbridge.pgk_id',
      'slbridge.sn', 'slbridge.ptk_id', 'slbridge.sdu', 'slbridge.deciphered_sdu_type', 'slbridge.content',
      'slbridge.ranging.kind', 'slbridge.ranging.requester_id', 'slbridge.ranging.request_seq', 'slbridge.ranging.request_time_ns',
      'slbridge.ranging.responder_id', 'slbridge.ranging.response_time_ns', 'slbridge.ranging.padding', 'slbridge.ranging.padding_length',
      'slbridge.pdu_length', '_ws.expert.message',
    ];
    const rows = tshark(t.path('clear.pcap'), fields);
    const notDeciphered = { 10: ['3', 'mac-failure'], 11: ['3', 'unknown-group'], 12: ['4', 'not-groupcast'] } as Record<number, [string, string]>;
    const want = frames.map((f, i) => {
      const e = f.p.envelope;
      const head = ['2', String(i + 1), f.direction === 'tx' ? '0' : '1', id24(e.l2SourceId), id24(e.l2DestinationId)];
      const bad = notDeciphered[i];
      if (bad !== undefined) {
        const expert = bad[0] === '3' ? `PDU dropped: ${bad[1]}` : '';
        return [...head, bad[0], bad[1], '', String(f.p.sn), String(f.p.ptkId), '', '', '', '', '', '', '', '', '', '', '', String(e.pdu.length), expert];
      }
      const result = e.l2DestinationId === INTEGRITY_OFF ? '1' : e.l2DestinationId === LTE_PROSE ? '2' : '0';
      const expert = result === '2' ? 'Deciphered without integrity check' : '';
      const sdu = Buffer.from(f.sdu).toString('hex');
      const r = f.ranging;
      const ranging =
        r === undefined
          ? ['0', '', '', '', '', '', '', '', '']
          : ['1', r.kind === 'request' ? '1' : '2', String(r.requesterId), String(r.requestSeq), String(r.requestTimeNs), String(r.responderId), String(r.responseTimeNs), Buffer.from(r.padding).toString('hex'), String(r.padding.length)];
      return [...head, result, '', String(f.p.pgkId), String(f.p.sn), String(f.p.ptkId), sdu, String(f.p.sduType), ...ranging, '', expert];
    });
    expect(rows).toEqual(want);
    // What the rows cover: requests, responses (with padding), every result code and reason.
    expect(new Set(rows.map((r) => r[13]))).toEqual(new Set(['', '1', '2']));
    expect(new Set(rows.map((r) => r[5]))).toEqual(new Set(['0', '1', '2', '3', '4']));
    expect(rows.some((r) => r[20] !== '' && r[20] !== '0')).toBe(true);

    // The Info column a user reads, and the same fields `pdu decode --json` prints.
    const info = tshark(t.path('clear.pcap'), [infoColumn]).map((r) => r[0]);
    expect(info[1]).toBe(`rx 00b002 -> 12ab34 Non-IP PGK idx 7 PTK ${frames[1]!.p.ptkId} SN ${frames[1]!.p.sn} deciphered: RangingMessage response requester ${requesterId} seq 0 responder 4242`);
    expect(info[10]).toMatch(/^rx 00b002 -> 12ab34 Non-IP PGK idx 7 PTK \d+ SN \d+ len \d+ dropped: mac-failure$/);
    // lte-prose: the header carries the LTE code of non-IP (3, "Unstructured" in NR terms); the record names the SDU type deciphered.
    expect(info[9]).toMatch(/^rx 00b002 -> 515151 Non-IP PGK idx 7 .* deciphered: RangingMessage request/);
    const json = decode('--pcap', t.path('c.pcap'), '--keylog', t.path('c.keys'), '--json').stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { ranging?: Record<string, unknown> });
    expect(json.map((o) => o.ranging)).toEqual(
      rows.map((r) =>
        r[12] === '1'
          ? { kind: r[13] === '1' ? 'request' : 'response', requesterId: Number(r[14]), requestSeq: Number(r[15]), requestTimeNs: r[16], responderId: Number(r[17]), responseTimeNs: r[18], paddingBytes: Number(r[20]) }
          : undefined,
      ),
    );
  });

  it('deciphered records that are damaged, or a RangingMessage that is not one, are flagged, never a Lua error', async () => {
    const t = tmp();
    const base = {
      sourceFrame: 1, direction: 'rx' as const, castType: 'groupcast' as const, l2SourceId: UE_B, l2DestinationId: GROUP, seq: 3, txTimeNs: 5n,
      pdcpHeader: Uint8Array.of(0x27, 0, 1, 0, 2), result: 'verified-mac-i' as const, reason: '', pgkId: 7, sduType: 1, content: 'ranging' as const,
    };
    const good = encodeRangingMessage({ kind: 'request', requesterId: 1, requestSeq: 2, requestTimeNs: 3n, responderId: 0, responseTimeNs: 0n, padding: new Uint8Array(0) });
    const bodies = [
      good.subarray(0, good.length - 3), // cut inside the request time
      Uint8Array.of(0x08, 0x81), // varint runs past the end
      Uint8Array.of(0x0b, 0x01), // wire type 3 (group)
      Uint8Array.from([...good, 0x20, 0x05]), // request time's field number with a varint: wrong wire type
      Uint8Array.from([...good, 0x78, 0x01]), // unknown field 15: shown, not an error
    ];
    const records = [...bodies.map((body) => emitDecipheredRecord({ ...base, body })), emitDecipheredRecord({ ...base, body: good }).subarray(0, 30)];
    // Written by hand: the pcap writer refuses to write damaged records.
    const parts: Uint8Array[] = [emitPcapHeader()];
    for (const [i, r] of records.entries()) {
      const h = new Uint8Array(PCAP_RECORD_HEADER_BYTES);
      writeRecordHeader(new DataView(h.buffer), 0, BigInt(i), r.length, r.length);
      parts.push(h, r);
    }
    writeFileSync(t.path('bad.pcap'), Buffer.concat(parts));
    const rows = tshark(t.path('bad.pcap'), ['slbridge.ranging.request_seq', 'slbridge.ranging.unknown_field', '_ws.expert.message', infoColumn]);
    expect(rows).toHaveLength(6);
    expect(rows[0]![2]).toMatch(/field 4: fixed64 runs past the end/);
    expect(rows[1]![2]).toMatch(/field 1: varint runs past the end/);
    expect(rows[2]![2]).toMatch(/field 1: wire type 3 not supported/);
    expect(rows[3]![2]).toMatch(/field 4 has wire type 0/);
    expect(rows[4]!.slice(0, 3)).toEqual(['2', '7801', '']);
    expect(rows[5]![2]).toMatch(/unsupported format 2 or header length 40 \(record 30 octets\)/);
  });
});
