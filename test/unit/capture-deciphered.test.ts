/**
 * What `pdu decode` makes of deciphered SDUs, in process: RangingMessage SDUs printed field by
 * field in the text line and the JSON object (other SDUs as hex only), and the deciphered records
 * of `--write-pcap` (src/capture/deciphered-record.ts): built from decoded frames of real protected
 * PDUs (one per verification kind, drops and skips), emitted and parsed back, bad fields refused,
 * and a seeded fuzz of the parser (never throws, errors name an octet inside the record).
 */
import { describe, expect, it } from 'vitest';
import { formatFrame, frameJson } from '../../bridge/capture/index.js';
import {
  CaptureDecoder,
  DECIPHERED_FIXED_BYTES,
  decipheredRecordOf,
  emitCaptureRecord,
  emitDecipheredRecord,
  parseCaptureRecord,
  parseDecipheredRecord,
  recognizeSdu,
  type DecipheredRecord,
  type DecodedFrame,
  type KeylogEntry,
  type PcapRecord,
} from '../../src/capture/index.js';
import { seededRandom } from '../../src/medium/random.js';
import { encodeRangingMessage, type RangingMessage } from '../../src/wire/ranging.js';
import { GROUP, T0_MS, UE_A, UE_B, hex, material, protect, sender, type GroupSpec } from '../fixtures/capture-helpers.js';

const REQUEST: RangingMessage = {
  kind: 'request',
  requesterId: 0xdeadbeef,
  requestSeq: 41,
  requestTimeNs: 1_893_456_000_123_456_789n,
  responderId: 0,
  responseTimeNs: 0n,
  padding: new Uint8Array(0),
};
const RESPONSE: RangingMessage = { ...REQUEST, kind: 'response', responderId: 7, responseTimeNs: 1_893_456_000_200_000_001n, padding: new Uint8Array(12) };

/** An accepted frame as the decoder reports it, holding `sdu` of `sduType`. */
function accepted(sdu: Uint8Array, sduType = 1): DecodedFrame {
  return {
    frame: 3,
    offset: 100,
    timeNs: 5n,
    direction: 'rx',
    castType: 'groupcast',
    l2SourceId: UE_B,
    l2DestinationId: GROUP,
    seq: 2,
    txTimeNs: 4n,
    header: { sduType, pgkIndex: 7, ptkId: 1, sn: 9 },
    pdu: Uint8Array.of((sduType << 5) | 7, 0, 1, 0, 9, 0xff),
    outcome: { kind: 'accepted', sdu, sduType, pgkId: 7, ptkId: 1, sn: 9 },
    verifiedBy: 'mac-i',
  };
}

describe('pdu decode prints RangingMessage SDUs field by field', () => {
  it('text line: the fields of a request and of a response, then the hex', () => {
    const req = encodeRangingMessage(REQUEST);
    expect(formatFrame(accepted(req))).toBe(
      'frame 3 rx src=00b002 dst=12ab34 sdu_type=non-ip pgk_index=7 ptk_id=1 sn=9 pgk_id=7 ranging=request requester_id=3735928559 request_seq=41 ' +
        `request_time_ns=1893456000123456789 responder_id=0 response_time_ns=0 padding_bytes=0 sdu=${hex(req)}`,
    );
    const resp = encodeRangingMessage(RESPONSE);
    expect(formatFrame(accepted(resp))).toBe(
      'frame 3 rx src=00b002 dst=12ab34 sdu_type=non-ip pgk_index=7 ptk_id=1 sn=9 pgk_id=7 ranging=response requester_id=3735928559 request_seq=41 ' +
        `request_time_ns=1893456000123456789 responder_id=7 response_time_ns=1893456000200000001 padding_bytes=12 sdu=${hex(resp)}`,
    );
  });

  it('JSON: a `ranging` member with every field (times as decimal strings)', () => {
    const resp = encodeRangingMessage(RESPONSE);
    expect(frameJson(accepted(resp))).toMatchObject({
      pgkId: 7,
      sdu: hex(resp),
      ranging: {
        kind: 'response',
        requesterId: 0xdeadbeef,
        requestSeq: 41,
        requestTimeNs: '1893456000123456789',
        responderId: 7,
        responseTimeNs: '1893456000200000001',
        paddingBytes: 12,
      },
    });
  });

  it('other SDUs stay hex only: not non-IP, not a RangingMessage, or one the decoder refuses', () => {
    const req = encodeRangingMessage(REQUEST);
    const cases: [Uint8Array, number][] = [
      [req, 0], // an IP SDU that happens to decode
      [new TextEncoder().encode('ranging request 0'), 1], // text
      [req.subarray(0, req.length - 2), 1], // cut inside the request time
      [Uint8Array.of(0x10, 0x05), 1], // no kind
      [Uint8Array.of(0x08, 0x03), 1], // kind 3 is not a Kind
    ];
    for (const [sdu, sduType] of cases) {
      expect(recognizeSdu(sduType, sdu), hex(sdu)).toEqual({ kind: 'opaque' });
      expect(formatFrame(accepted(sdu, sduType))).toMatch(new RegExp(` pgk_id=7 sdu=${hex(sdu)}$`));
      expect(frameJson(accepted(sdu, sduType))).not.toHaveProperty('ranging');
    }
    // Unknown fields are skipped, as the application's decoder does: still a RangingMessage.
    expect(recognizeSdu(1, Uint8Array.from([...req, 0x78, 0x01]))).toMatchObject({ kind: 'ranging', message: { requestSeq: 41 } });
  });
});

/** Decoded frames of real PDUs: MAC-I, identity block, lte-prose, a drop, a broadcast, a malformed record. */
function decodedFrames(): DecodedFrame[] {
  const off: GroupSpec = { groupId: 0x424242, nia: null };
  const prose: GroupSpec = { groupId: 0x515151, profile: 'lte-prose' };
  const entries: KeylogEntry[] = [material(UE_A), material(UE_A, off), material(UE_A, prose)].flatMap((m) =>
    m.pgks.map((p) => ({ groupId: m.groupId, pgkId: p.pgkId, pgk: p.pgk, profile: m.profile, nea: m.nea, nia: m.nia, expiresAtMs: p.expiresAtMs, line: 0 })),
  );
  const req = encodeRangingMessage(REQUEST);
  const envelopes = [
    protect(sender(UE_B), req, T0_MS, 0).envelope,
    protect(sender(UE_B, off), req, T0_MS, 1, { groupId: off.groupId }).envelope,
    protect(sender(UE_B, prose), req, T0_MS, 2, { groupId: prose.groupId }).envelope,
    protect(sender(UE_B, { groupId: 0x777777 }), req, T0_MS, 3, { groupId: 0x777777 }).envelope,
    protect(sender(UE_B), Uint8Array.of(1), T0_MS, 4, { castType: 'broadcast' }).envelope,
  ];
  const data = [...envelopes.map((e) => emitCaptureRecord('rx', e)), Uint8Array.of(1, 24, 9)];
  const decoder = new CaptureDecoder(entries);
  return data.map((d, i) => {
    const record: PcapRecord = { frame: i + 1, offset: 0, timeNs: BigInt(T0_MS) * 1_000_000n, capturedLength: d.length, originalLength: d.length, data: d };
    return decoder.decode(record);
  });
}

describe('deciphered records (pdu decode --write-pcap)', () => {
  it('one per frame with an envelope: the verification kind, the reason, the SDU in clear or the PDU as captured', () => {
    const frames = decodedFrames();
    const records = frames.map((f) => decipheredRecordOf(f));
    const req = encodeRangingMessage(REQUEST);
    expect(records.map((r) => r && [r.sourceFrame, r.result, r.reason, r.pgkId, r.sduType, r.content, hex(r.body)])).toEqual([
      [1, 'verified-mac-i', '', 7, 1, 'ranging', hex(req)],
      [2, 'verified-identity-block', '', 7, 1, 'ranging', hex(req)],
      [3, 'unverified', '', 7, 1, 'ranging', hex(req)],
      [4, 'dropped', 'unknown-group', 0, 0, 'opaque', hex(frames[3]!.pdu!)],
      [5, 'not-deciphered', 'not-groupcast', 0, 0, 'opaque', hex(frames[4]!.pdu!)],
      undefined,
    ]);
    // The PDCP header is the PDU's first 5 octets (lte-prose's carries the LTE code of non-IP, 3).
    expect(records.slice(0, 5).map((r) => hex(r!.pdcpHeader!))).toEqual(frames.slice(0, 5).map((f) => hex(f.pdu!.subarray(0, 5))));
    expect(records[2]!.pdcpHeader![0]! >> 5).toBe(3);

    for (const r of records.slice(0, 5)) {
      const bytes = emitDecipheredRecord(r!);
      expect(bytes.length).toBe(DECIPHERED_FIXED_BYTES + r!.reason.length + r!.body.length);
      const back = parseDecipheredRecord(bytes);
      expect(back.ok && { ...back.value, body: hex(back.value.body), pdcpHeader: hex(back.value.pdcpHeader!) }).toEqual({
        ...r!,
        body: hex(r!.body),
        pdcpHeader: hex(r!.pdcpHeader!),
      });
      // `pdu decode` refuses to decipher plaintext, and says what the file is.
      const asCapture = parseCaptureRecord(bytes);
      expect(asCapture.ok === false && asCapture.error).toEqual({
        code: 'unknown-version',
        at: 0,
        message: 'this is a deciphered record written by `pdu decode --write-pcap` (already in clear): open it with the Wireshark dissector',
      });
    }
  });

  it('a PDU shorter than its header: no header in the record (flags bit 1 clear)', () => {
    const short = emitCaptureRecord('tx', { l2SourceId: UE_A, l2DestinationId: GROUP, castType: 'unicast', pdu: Uint8Array.of(1, 2) });
    const f = new CaptureDecoder([]).decode({ frame: 1, offset: 0, timeNs: 0n, capturedLength: short.length, originalLength: short.length, data: short });
    const r = decipheredRecordOf(f)!;
    expect(r.pdcpHeader).toBeUndefined();
    const bytes = emitDecipheredRecord(r);
    expect(bytes[10]! & 0x02).toBe(0);
    const back = parseDecipheredRecord(bytes);
    expect(back.ok && [back.value.pdcpHeader, back.value.seq, hex(back.value.body)]).toEqual([undefined, undefined, '0102']);
  });

  it('refuses out-of-range fields when writing, and names the octet when reading', () => {
    const good = decipheredRecordOf(decodedFrames()[0]!)!;
    const bad: Partial<DecipheredRecord>[] = [
      { reason: 'é' },
      { reason: 'x'.repeat(216) },
      { reason: 'a\nb' },
      { pgkId: -1 },
      { pgkId: 2 ** 32 },
      { sourceFrame: 1.5 },
      { sduType: 5 },
      { l2SourceId: 0x1000000 },
      { pdcpHeader: Uint8Array.of(1, 2, 3) },
    ];
    for (const b of bad) expect(() => emitDecipheredRecord({ ...good, ...b }), JSON.stringify(b)).toThrow(RangeError);
    expect(emitDecipheredRecord({ ...good, reason: 'x'.repeat(215) })[1]).toBe(255);

    const bytes = emitDecipheredRecord({ ...good, reason: 'why' });
    const err = (f: (c: Uint8Array) => void, sliceTo?: number) => {
      const c = bytes.slice(0, sliceTo);
      f(c);
      const r = parseDecipheredRecord(c);
      return r.ok ? 'ok' : `${r.error.code}@${r.error.at}`;
    };
    expect(err(() => {})).toBe('ok');
    expect(err(() => {}, 39)).toBe('truncated@39');
    expect(err(() => {}, 42)).toBe('truncated@42');
    expect(err((c) => (c[0] = 1))).toBe('unknown-version@0');
    expect(err((c) => (c[1] = 42))).toBe('out-of-range@1');
    expect(err((c) => (c[2] = 2))).toBe('out-of-range@2');
    expect(err((c) => (c[3] = 0))).toBe('out-of-range@3');
    expect(err((c) => (c[11] = 5))).toBe('out-of-range@11');
    expect(err((c) => (c[29] = 2))).toBe('out-of-range@29');
    expect(err((c) => (c[30] = 5))).toBe('out-of-range@30');
  });

  it('fuzz: 20 000 mutated records never throw; every error names an octet inside the record', () => {
    const rnd = seededRandom(0x5eed);
    const int = (n: number): number => Math.floor(rnd() * n);
    const seeds = decodedFrames().flatMap((f) => {
      const r = decipheredRecordOf(f);
      return r === undefined ? [] : [emitDecipheredRecord({ ...r, reason: r.reason || 'x' })];
    });
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const m = seeds[int(seeds.length)]!.slice(0, int(4) === 0 ? int(60) : undefined);
      for (let k = 1 + int(3); k > 0 && m.length > 0; k--) m[int(m.length)] = int(4) === 0 ? [0, 1, 2, 40, 255][int(5)]! : int(256);
      const r = parseDecipheredRecord(m);
      if (r.ok) {
        seen.add('ok');
        expect(r.value.body.length).toBe(m.length - m[1]!);
      } else {
        seen.add(r.error.code);
        expect(r.error.at).toBeGreaterThanOrEqual(0);
        expect(r.error.at).toBeLessThanOrEqual(m.length);
      }
    }
    expect(seen).toEqual(new Set(['ok', 'truncated', 'unknown-version', 'out-of-range']));
  });
});
