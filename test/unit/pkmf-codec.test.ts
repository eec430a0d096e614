import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import type { GroupResult, KeyRequestMsg, KeyResponseMsg } from '../../src/pkmf/codec.js';
import {
  decodeClientFrame,
  decodeServerFrame,
  encodeConnectionError,
  encodeFrame,
  encodeKeyRequest,
  encodeKeyResponse,
  FrameDecoder,
  FrameError,
  ProtocolDecodeError,
} from '../../src/pkmf/codec.js';
import { ErrorCode } from '../../src/pkmf/errors.js';
import { buildPeerKeyRequest, buildPeerKeyResponse, parsePeerKeyRequest, parsePeerKeyResponse } from '../../src/pkmf/json.js';
import { PKMF_PROTO_DESCRIPTOR } from '../../src/pkmf/descriptor.generated.js';

/** Deterministic PRNG (xorshift32) so a fuzz failure is reproducible from its seed. */
function prng(seed: number): { next(): number; int(n: number): number; bytes(n: number): Uint8Array } {
  let s = seed >>> 0 || 1;
  const next = (): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x1_0000_0000;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    bytes: (n) => Uint8Array.from({ length: n }, () => Math.floor(next() * 256)),
  };
}

const pgk = (fill: number): Uint8Array => new Uint8Array(32).fill(fill);

const sampleResponse: KeyResponseMsg = {
  transactionId: 0xdeadbeef,
  error: ErrorCode.NONE,
  servingPlmn: '001-01',
  groups: [
    {
      groupId: 0x000101,
      ok: true,
      material: {
        groupId: 0x000101,
        gmi: 0xabcdef,
        nea: 2,
        nia: 3,
        profile: 'pcr',
        allowNullAlgorithms: false,
        pgks: [
          { pgkId: 0xfffffffe, pgk: pgk(1), expiresAtMs: 2 ** 45 + 7, activeFromMs: 2 ** 45 - 100 },
          { pgkId: 0xffffffff, pgk: pgk(2), expiresAtMs: 2 ** 45 + 9, activeFromMs: 2 ** 45 + 3 },
        ],
      },
      renewAfterMs: 2 ** 45 + 1,
    },
    {
      groupId: 0x000202,
      ok: true,
      material: { groupId: 0x000202, gmi: 1, nea: 1, nia: null, profile: 'lte-prose', allowNullAlgorithms: false, pgks: [{ pgkId: 5, pgk: pgk(3), expiresAtMs: 1000, activeFromMs: 0 }] },
      renewAfterMs: 500,
    },
    { groupId: 0x000303, ok: false, error: ErrorCode.NOT_A_MEMBER },
  ],
};

const key = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);

/** Source authentication of both kinds: pairwise keys per PGK, members' public keys (own included). */
const sourceAuthResponse: KeyResponseMsg = {
  transactionId: 7,
  error: ErrorCode.NONE,
  servingPlmn: '001-02',
  groups: [
    {
      groupId: 0x000401,
      ok: true,
      material: {
        groupId: 0x000401,
        gmi: 0x000010,
        nea: 2,
        nia: 2,
        profile: 'pcr',
        allowNullAlgorithms: false,
        pgks: [
          { pgkId: 40, pgk: pgk(4), expiresAtMs: 5000, activeFromMs: 0, pairwiseKeys: new Map([[0x000020, key(16, 0x20)], [0xfffffe, key(16, 0xfe)]]) },
          { pgkId: 41, pgk: pgk(5), expiresAtMs: 9000, activeFromMs: 4000, pairwiseKeys: new Map() },
        ],
        sourceAuth: { mode: 'pairwise-mac' },
      },
      renewAfterMs: 3000,
    },
    {
      groupId: 0x000402,
      ok: true,
      material: {
        groupId: 0x000402,
        gmi: 0x000011,
        nea: 1,
        nia: 3,
        profile: 'ts33533',
        allowNullAlgorithms: false,
        pgks: [{ pgkId: 7, pgk: pgk(6), expiresAtMs: 5000, activeFromMs: 0 }],
        sourceAuth: { mode: 'signature', publicKeys: new Map([[0x000011, key(32, 0x11)], [0x000001, key(32, 0x01)]]) },
      },
      renewAfterMs: 3000,
    },
  ],
};

const sampleRequest: KeyRequestMsg = {
  transactionId: 42,
  homePlmn: '001-01',
  groups: [
    { groupId: 0x000101, supportedNea: [1, 2, 3], supportedNia: [2] },
    { groupId: 0xffffff, supportedNea: [2], supportedNia: [], heldGmi: 0x123456, signingPublicKey: key(32, 9) },
  ],
};

describe('proto/pkmf.proto', () => {
  const fromFile = protobuf.loadSync(fileURLToPath(new URL('../../proto/pkmf.proto', import.meta.url)));

  it('equals the generated descriptor the codec uses (else run `npm run proto:gen`)', () => {
    expect(PKMF_PROTO_DESCRIPTOR).toEqual(fromFile.toJSON());
  });

  it('has the codes of errors.ts as its ErrorCode enum (ERROR_NONE for NONE)', () => {
    const protoCodes = fromFile.lookupEnum('slbridge.pkmf.v1.ErrorCode').values;
    const tsCodes = Object.fromEntries(Object.entries(ErrorCode).map(([name, code]) => [code === ErrorCode.NONE ? 'ERROR_NONE' : name, code]));
    expect(tsCodes).toEqual(protoCodes);
  });
});

describe('frames', () => {
  it('round-trips frames split at every byte boundary', () => {
    const payloads = [Uint8Array.of(1), new Uint8Array(300).fill(7), encodeKeyRequest(sampleRequest)];
    const stream = Buffer.concat(payloads.map((p) => encodeFrame(p)));
    for (let cut = 0; cut <= stream.length; cut++) {
      const d = new FrameDecoder();
      const frames = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
      expect(frames.map((f) => Buffer.from(f).toString('hex'))).toEqual(payloads.map((p) => Buffer.from(p).toString('hex')));
      expect(d.bufferedBytes).toBe(0);
    }
  });

  it('delivers byte-at-a-time input', () => {
    const stream = encodeFrame(encodeKeyRequest(sampleRequest));
    const d = new FrameDecoder();
    const frames: Uint8Array[] = [];
    for (const b of stream) frames.push(...d.push(Uint8Array.of(b)));
    expect(frames).toHaveLength(1);
    expect(decodeClientFrame(frames[0]!)).toEqual(sampleRequest);
  });

  it('refuses an oversized frame as soon as its header is in, and stays failed', () => {
    const d = new FrameDecoder(1024);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(1025);
    const before = encodeFrame(Uint8Array.of(9));
    // A good frame and a bad header in one chunk: the good frame is still delivered.
    expect(d.push(Buffer.concat([before, header]))).toEqual([Uint8Array.of(9)]);
    expect(d.error).toBeInstanceOf(FrameError);
    expect(d.error!.code).toBe('FRAME_TOO_LARGE');
    expect(d.error!.errorCode).toBe(ErrorCode.FRAME_TOO_LARGE);
    expect(d.bufferedBytes).toBe(0);
    expect(d.push(encodeFrame(Uint8Array.of(1)))).toEqual([]);
  });

  it('accepts a frame of exactly the maximum size and refuses an empty frame', () => {
    const d = new FrameDecoder(64);
    expect(d.push(encodeFrame(new Uint8Array(64), 64))).toHaveLength(1);
    expect(d.push(Uint8Array.of(0, 0, 0, 0))).toEqual([]);
    expect(d.error?.code).toBe('EMPTY_FRAME');
    expect(() => encodeFrame(new Uint8Array(65), 64)).toThrow(RangeError);
    expect(() => new FrameDecoder(0)).toThrow(RangeError);
  });

  it('fuzz: arbitrary byte streams in arbitrary chunks give the reference framing and error', () => {
    const max = 200;
    for (let seed = 1; seed <= 3000; seed++) {
      const r = prng(seed);
      // Mostly well-formed frames with sometimes corrupted length bytes, sometimes pure noise.
      const parts: Uint8Array[] = [];
      const n = r.int(6);
      for (let i = 0; i < n; i++) {
        if (r.next() < 0.15) parts.push(r.bytes(r.int(12)));
        else {
          const f = encodeFrame(r.bytes(1 + r.int(max)), max);
          if (r.next() < 0.1) f[r.int(4)] = r.int(256);
          parts.push(f);
        }
      }
      const stream = Buffer.concat(parts);
      // Reference: a straightforward parse of the whole stream.
      const expected: string[] = [];
      let expectedError: string | undefined;
      for (let off = 0; off + 4 <= stream.length; ) {
        const len = stream.readUInt32BE(off);
        if (len === 0) expectedError = 'EMPTY_FRAME';
        else if (len > max) expectedError = 'FRAME_TOO_LARGE';
        if (expectedError || off + 4 + len > stream.length) break;
        expected.push(stream.subarray(off + 4, off + 4 + len).toString('hex'));
        off += 4 + len;
      }
      const d = new FrameDecoder(max);
      const got: string[] = [];
      let gotError: string | undefined;
      for (let off = 0; off < stream.length && !gotError; ) {
        const take = 1 + r.int(40);
        for (const f of d.push(stream.subarray(off, off + take))) got.push(Buffer.from(f).toString('hex'));
        gotError = d.error?.code;
        off += take;
      }
      expect({ seed, got, gotError }).toEqual({ seed, got: expected, gotError: expectedError });
    }
  });
});

describe('messages', () => {
  it('round-trips a Key Request', () => {
    expect(decodeClientFrame(encodeKeyRequest(sampleRequest))).toEqual(sampleRequest);
  });

  it('round-trips a Key Response, including 64-bit times and absent NIA', () => {
    const msg = decodeServerFrame(encodeKeyResponse(sampleResponse));
    expect(msg.kind).toBe('key-response');
    if (msg.kind !== 'key-response') return;
    expect(msg.response).toEqual(sampleResponse);
  });

  it('round-trips source authentication: pairwise keys per PGK (an empty list too), members\' public keys', () => {
    const msg = decodeServerFrame(encodeKeyResponse(sourceAuthResponse));
    expect(msg.kind === 'key-response' && msg.response).toEqual(sourceAuthResponse);
  });

  it('refuses source authentication that breaks the contract, naming the group and the field', () => {
    const pairwise = (patch: (m: Extract<GroupResult, { ok: true }>['material']) => void): Uint8Array => {
      const res = structuredClone(sourceAuthResponse);
      patch((res.groups[0] as Extract<GroupResult, { ok: true }>).material);
      return encodeKeyResponse(res);
    };
    const signature = (patch: (m: Extract<GroupResult, { ok: true }>['material']) => void): Uint8Array => {
      const res = structuredClone(sourceAuthResponse);
      patch((res.groups[1] as Extract<GroupResult, { ok: true }>).material);
      return encodeKeyResponse(res);
    };
    const keysOf = (m: Extract<GroupResult, { ok: true }>['material']): Map<number, Uint8Array> => m.pgks[0]!.pairwiseKeys as Map<number, Uint8Array>;
    expect(() => decodeServerFrame(pairwise((m) => keysOf(m).set(0x30, key(15, 1))))).toThrow(/group 1025: PGK 40 pairwise_keys\[2\]: key of GMI 000030 is not 16 bytes/);
    expect(() => decodeServerFrame(pairwise((m) => keysOf(m).set(0, key(16, 1))))).toThrow(/pairwise_keys\[2\]: GMI is not 1\.\.0xfffffe/);
    expect(() => decodeServerFrame(pairwise((m) => keysOf(m).set(0x10, key(16, 1))))).toThrow(/pairwise key for this UE's own GMI 000010/);
    expect(() => decodeServerFrame(pairwise((m) => (m.sourceAuth = undefined)))).toThrow(/PGK 40 carries pairwise keys, but source_auth is none/);
    expect(() => decodeServerFrame(signature((m) => (m.sourceAuth = { mode: 'signature', publicKeys: new Map([[0x000001, key(32, 1)]]) })))).toThrow(/member keys lack this UE's own GMI 000011/);
    expect(() => decodeServerFrame(signature((m) => (m.sourceAuth = { mode: 'signature', publicKeys: new Map([[0x000011, key(33, 1)]]) })))).toThrow(/member_keys\[0\]: key of GMI 000011 is not 32 bytes/);
    expect(() => decodeServerFrame(signature((m) => (m.pgks[0]!.pairwiseKeys = new Map([[0x20, key(16, 1)]]))))).toThrow(/carries pairwise keys, but source_auth is signature/);

    // Written by protobufjs from the .proto itself: duplicates, member keys outside signature, an unknown mode.
    const ServerFrame = protobuf.loadSync(fileURLToPath(new URL('../../proto/pkmf.proto', import.meta.url))).lookupType('slbridge.pkmf.v1.ServerFrame');
    const raw = (group: Record<string, unknown>): Uint8Array =>
      ServerFrame.encode(
        ServerFrame.fromObject({
          keyResponse: { groups: [{ groupId: 1, gmi: 2, algorithms: { nea: 2, nia: 2, profile: 0 }, pgks: [{ pgkId: 1, pgk: pgk(1), expiresAtMs: 9, activeFromMs: 0 }], renewAfterMs: 1, ...group }] },
        }),
      ).finish();
    expect(() => decodeServerFrame(raw({ algorithms: { nea: 2, nia: 2, profile: 0, sourceAuth: 7 } }))).toThrow(/unknown source_auth 7/);
    expect(() => decodeServerFrame(raw({ memberKeys: [{ gmi: 2, publicKey: key(32, 1) }] }))).toThrow(/member_keys given, but source_auth is none/);
    const twice = [{ gmi: 2, publicKey: key(32, 1) }, { gmi: 2, publicKey: key(32, 2) }];
    expect(() => decodeServerFrame(raw({ algorithms: { nea: 2, nia: 2, profile: 0, sourceAuth: 2 }, memberKeys: twice }))).toThrow(/GMI 000002 listed twice/);
    expect(decodeServerFrame(raw({ algorithms: { nea: 2, nia: 2, profile: 0, sourceAuth: 1 } }))).toMatchObject({
      response: { groups: [{ material: { sourceAuth: { mode: 'pairwise-mac' }, pgks: [{ pairwiseKeys: new Map() }] } }] },
    });
  });

  it('decodes a ConnectionError', () => {
    expect(decodeServerFrame(encodeConnectionError(ErrorCode.FRAME_TOO_LARGE, 'too big'))).toEqual({
      kind: 'connection-error',
      code: ErrorCode.FRAME_TOO_LARGE,
      message: 'too big',
    });
  });

  it('refuses responses that break the contract', () => {
    const bad = (patch: (g: Extract<GroupResult, { ok: true }>) => void): Uint8Array => {
      const res = structuredClone(sampleResponse);
      patch(res.groups[0] as Extract<GroupResult, { ok: true }>);
      return encodeKeyResponse(res);
    };
    expect(() => decodeServerFrame(bad((g) => (g.material.pgks[0]!.pgk = new Uint8Array(31))))).toThrow(/32 bytes/);
    expect(() => decodeServerFrame(bad((g) => (g.material.pgks[1]!.pgkId = 0xfffffffe + 32)))).toThrow(/not 32-bit|PGK Index/);
    expect(() => decodeServerFrame(bad((g) => (g.material.gmi = 0x1000000)))).toThrow(ProtocolDecodeError);
    expect(() => decodeServerFrame(bad((g) => (g.material.pgks = [])))).toThrow(/no PGK/);
    expect(() => decodeServerFrame(bad((g) => (g.material.pgks[0]!.activeFromMs = 2 ** 46)))).toThrow(/activates after it expires/);
    expect(() => decodeServerFrame(bad((g) => ((g.material as { nea: number }).nea = 4)))).toThrow(/nea/);
  });

  it('takes uint64 times up to 2^53 - 1 and refuses larger ones instead of rounding them', () => {
    // Written by protobufjs from the .proto itself, with 64-bit values a JS number cannot carry.
    const ServerFrame = protobuf.loadSync(fileURLToPath(new URL('../../proto/pkmf.proto', import.meta.url))).lookupType('slbridge.pkmf.v1.ServerFrame');
    const withExpiry = (expiresAtMs: string): Uint8Array =>
      ServerFrame.encode(
        ServerFrame.fromObject({
          keyResponse: {
            groups: [
              {
                groupId: 1,
                gmi: 2,
                algorithms: { nea: 2, nia: 2, profile: 0 },
                pgks: [{ pgkId: 1, pgk: pgk(1), expiresAtMs, activeFromMs: '0' }],
                renewAfterMs: '1',
              },
            ],
          },
        }),
      ).finish();
    const first = (bytes: Uint8Array): GroupResult => {
      const msg = decodeServerFrame(bytes);
      if (msg.kind !== 'key-response') throw new Error(msg.kind);
      return msg.response.groups[0]!;
    };
    const ok = first(withExpiry(String(Number.MAX_SAFE_INTEGER)));
    expect(ok.ok && ok.material.pgks[0]!.expiresAtMs).toBe(Number.MAX_SAFE_INTEGER);
    for (const big of ['9007199254740992', '9007199254740993', '18446744073709551615']) {
      expect(() => decodeServerFrame(withExpiry(big))).toThrow(/expires_at_ms: not a non-negative safe integer/);
    }
  });

  it('fuzz: random and mutated bytes only ever raise ProtocolDecodeError', () => {
    const valid = [encodeKeyRequest(sampleRequest), encodeKeyResponse(sampleResponse), encodeKeyResponse(sourceAuthResponse)];
    let decodedSomething = 0;
    for (let seed = 1; seed <= 5000; seed++) {
      const r = prng(seed * 7919);
      let bytes: Uint8Array;
      if (r.next() < 0.5) bytes = r.bytes(1 + r.int(64));
      else {
        bytes = Uint8Array.from(valid[r.int(valid.length)]!);
        for (let k = 0, n = 1 + r.int(4); k < n; k++) bytes[r.int(bytes.length)] = r.int(256);
        if (r.next() < 0.3) bytes = bytes.subarray(0, r.int(bytes.length));
      }
      for (const decode of [decodeClientFrame, decodeServerFrame]) {
        try {
          decode(bytes);
          decodedSomething++;
        } catch (e) {
          if (!(e instanceof ProtocolDecodeError)) throw new Error(`seed ${seed}: ${decode.name} threw ${String(e)}`);
        }
      }
    }
    expect(decodedSomething).toBeGreaterThan(0);
  });
});

describe('inter-PKMF JSON', () => {
  const groups = [{ groupId: 0x000101, supportedNea: new Set([2, 1] as const), supportedNia: new Set([2] as const) }];

  it('round-trips a request and a response', () => {
    const req = { transactionId: 7, supi: 'imsi-001010000000001', servingPlmn: '001-02', groups };
    const body = JSON.parse(JSON.stringify(buildPeerKeyRequest(req)));
    expect(body).toEqual({
      transactionId: 7,
      supi: 'imsi-001010000000001',
      servingPlmn: { mcc: '001', mnc: '02' },
      groups: [{ groupId: '000101', supportedNea: [1, 2], supportedNia: [2] }],
    });
    expect(parsePeerKeyRequest(body)).toEqual({ ok: true, value: req });
    const withKey = { ...req, groups: [{ ...groups[0]!, heldGmi: 0x00abcd, signingPublicKey: key(32, 3) }] };
    const keyBody = JSON.parse(JSON.stringify(buildPeerKeyRequest(withKey)));
    expect(keyBody.groups[0]).toMatchObject({ heldGmi: '00abcd', signingPublicKey: Buffer.from(key(32, 3)).toString('base64') });
    expect(parsePeerKeyRequest(keyBody)).toEqual({ ok: true, value: withKey });
    keyBody.groups[0].signingPublicKey = Buffer.from(key(31, 3)).toString('base64');
    expect(parsePeerKeyRequest(keyBody)).toMatchObject({ ok: false, reason: /signingPublicKey: expected 32 bytes/ });

    const res = { transactionId: 7, groups: sampleResponse.groups };
    const wire = JSON.parse(JSON.stringify(buildPeerKeyResponse(res)));
    expect(wire.groups[0].pgks[0].expiry).toBe(new Date(2 ** 45 + 7).toISOString());
    expect(wire.groups[0].pgks[1].activeFrom).toBe(new Date(2 ** 45 + 3).toISOString());
    expect(wire.groups[2]).toEqual({ groupId: '000303', cause: 'NOT_A_MEMBER' });
    expect(parsePeerKeyResponse(wire, [0x000101, 0x000202, 0x000303])).toEqual({ ok: true, value: res });
  });

  it.each([
    ['not an object', []],
    ['bad supi', { transactionId: 1, supi: 'nai-x', servingPlmn: { mcc: '001', mnc: '01' }, groups: [{ groupId: '000001', supportedNea: [1], supportedNia: [] }] }],
    ['bad plmn', { transactionId: 1, supi: 'imsi-001010000000001', servingPlmn: { mcc: '1', mnc: '01' }, groups: [{ groupId: '000001', supportedNea: [1], supportedNia: [] }] }],
    ['no groups', { transactionId: 1, supi: 'imsi-001010000000001', servingPlmn: { mcc: '001', mnc: '01' }, groups: [] }],
    ['group id', { transactionId: 1, supi: 'imsi-001010000000001', servingPlmn: { mcc: '001', mnc: '01' }, groups: [{ groupId: '1000000', supportedNea: [1], supportedNia: [] }] }],
    ['algorithm', { transactionId: 1, supi: 'imsi-001010000000001', servingPlmn: { mcc: '001', mnc: '01' }, groups: [{ groupId: '000001', supportedNea: [4], supportedNia: [] }] }],
    ['duplicate group', { transactionId: 1, supi: 'imsi-001010000000001', servingPlmn: { mcc: '001', mnc: '01' }, groups: [{ groupId: '000001', supportedNea: [1], supportedNia: [] }, { groupId: '000001', supportedNea: [1], supportedNia: [] }] }],
    ['transaction id', { transactionId: -1, supi: 'imsi-001010000000001', servingPlmn: { mcc: '001', mnc: '01' }, groups: [{ groupId: '000001', supportedNea: [1], supportedNia: [] }] }],
  ])('refuses a malformed request body: %s', (_name, body) => {
    expect(parsePeerKeyRequest(body).ok).toBe(false);
  });

  it('carries source authentication between PKMFs as it came from the owner; a body without it (an older peer) means none', () => {
    const ids = [0x000401, 0x000402];
    const wire = JSON.parse(JSON.stringify(buildPeerKeyResponse({ transactionId: 7, groups: sourceAuthResponse.groups })));
    expect(wire.groups[0].algorithms.sourceAuth).toBe('pairwise-mac');
    expect(wire.groups[0].pgks[0].pairwiseKeys).toEqual([
      { peerGmi: '000020', key: Buffer.from(key(16, 0x20)).toString('base64') },
      { peerGmi: 'fffffe', key: Buffer.from(key(16, 0xfe)).toString('base64') },
    ]);
    expect(wire.groups[1].memberKeys[0]).toEqual({ gmi: '000011', publicKey: Buffer.from(key(32, 0x11)).toString('base64') });
    expect(parsePeerKeyResponse(wire, ids)).toEqual({ ok: true, value: { transactionId: 7, groups: sourceAuthResponse.groups } });

    const old = JSON.parse(JSON.stringify(buildPeerKeyResponse({ transactionId: 7, groups: sampleResponse.groups })));
    delete old.groups[0].algorithms.sourceAuth;
    const parsed = parsePeerKeyResponse(old, [0x000101, 0x000202, 0x000303]);
    expect(parsed.ok && parsed.value.groups[0]!.ok && parsed.value.groups[0]!.material.sourceAuth).toBe(undefined);

    const bad = (patch: (w: typeof wire) => void): unknown => {
      const w = structuredClone(wire);
      patch(w);
      return parsePeerKeyResponse(w, ids);
    };
    expect(bad((w) => (w.groups[0].algorithms.sourceAuth = 'psk'))).toMatchObject({ ok: false, reason: /algorithms\.sourceAuth: expected none, pairwise-mac or signature/ });
    expect(bad((w) => delete w.groups[0].pgks[1].pairwiseKeys)).toMatchObject({ ok: false, reason: /PGK 41 carries no pairwise key list/ });
    expect(bad((w) => (w.groups[0].pgks[0].pairwiseKeys[0].key = 'AAAA'))).toMatchObject({ ok: false, reason: /pairwiseKeys\[0\]: key of GMI 000020 is not 16 bytes/ });
    expect(bad((w) => (w.groups[0].pgks[0].pairwiseKeys[1].peerGmi = '000010'))).toMatchObject({ ok: false, reason: /own GMI 000010/ });
    expect(bad((w) => (w.groups[1].memberKeys = w.groups[1].memberKeys.slice(1)))).toMatchObject({ ok: false, reason: /lack this UE's own GMI 000011/ });
    expect(bad((w) => (w.groups[0].memberKeys = []))).toMatchObject({ ok: false, reason: /memberKeys: given, but sourceAuth is pairwise-mac/ });
    expect(bad((w) => (w.groups[1].memberKeys[1].gmi = 'zz'))).toMatchObject({ ok: false, reason: /memberKeys\[1\]\.gmi: expected 6 hex digits/ });
  });

  it('fuzz: mutated response bodies are refused with a reason or parsed, never thrown on', () => {
    const base = JSON.parse(JSON.stringify(buildPeerKeyResponse({ transactionId: 7, groups: [...sampleResponse.groups, ...sourceAuthResponse.groups] })));
    const ids = [0x000101, 0x000202, 0x000303, 0x000401, 0x000402];
    const junk = [null, 0, -1, 1.5, '', 'zz', '000020', 'AAAA', [], {}, true, 2 ** 40];
    let parsed = 0;
    for (let seed = 1; seed <= 3000; seed++) {
      const r = prng(seed * 104729);
      const body = structuredClone(base);
      for (let k = 0, n = 1 + r.int(3); k < n; k++) {
        // A random path down the document; its last step is replaced by junk or deleted.
        let node: Record<string, unknown> | unknown[] = body;
        for (;;) {
          const keys = Object.keys(node);
          if (keys.length === 0) break;
          const step = keys[r.int(keys.length)]!;
          const child = (node as Record<string, unknown>)[step];
          if (child !== null && typeof child === 'object' && r.next() < 0.75) node = child as Record<string, unknown>;
          else {
            if (r.next() < 0.2) delete (node as Record<string, unknown>)[step];
            else (node as Record<string, unknown>)[step] = junk[r.int(junk.length)];
            break;
          }
        }
      }
      const result = parsePeerKeyResponse(body, ids);
      if (result.ok) parsed++;
      else expect(typeof result.reason, `seed ${seed}`).toBe('string');
    }
    expect(parsed).toBeLessThan(3000);
  });

  it('refuses response bodies that miss, duplicate or mangle groups', () => {
    const wire = JSON.parse(JSON.stringify(buildPeerKeyResponse({ transactionId: 7, groups: sampleResponse.groups })));
    expect(parsePeerKeyResponse(wire, [0x000101, 0x000202]).ok).toBe(false); // an extra answer
    expect(parsePeerKeyResponse(wire, [0x000101, 0x000202, 0x000303, 0x000404]).ok).toBe(false); // a missing one
    const mangled = structuredClone(wire);
    mangled.groups[0].pgks[0].pgk = Buffer.alloc(16).toString('base64');
    expect(parsePeerKeyResponse(mangled, [0x000101, 0x000202, 0x000303])).toMatchObject({ ok: false, reason: /32 bytes/ });
    const badTime = structuredClone(wire);
    badTime.groups[0].pgks[0].expiry = 'tomorrow';
    expect(parsePeerKeyResponse(badTime, [0x000101, 0x000202, 0x000303]).ok).toBe(false);
    const badCause = structuredClone(wire);
    badCause.groups[2].cause = 'NOPE';
    expect(parsePeerKeyResponse(badCause, [0x000101, 0x000202, 0x000303]).ok).toBe(false);
  });
});
