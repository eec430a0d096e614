/**
 * A capture of a real demo read back three ways: `sl-bridge demo --ues 3 --seconds 3 --pcap F
 * --keylog K --json J` (PKMFs, medium and daemons as processes; the pcap is ue1's view), then
 * Debian's tshark with the Lua dissector (bridge/wireshark/sl-bridge.lua) and `sl-bridge pdu
 * decode --pcap F --keylog K --json`. Checked: tshark shows the PGK index, PTK ID and SN of every
 * PDU, frame by frame the same as `pdu decode`; `pdu decode` deciphers and verifies every frame
 * (no drop) with the PGK the keylog holds; and the capture matches the demo's own report (ue1's
 * PDUs sent and received, from whom, SNs without gaps or repeats). Then the plaintext: `pdu decode
 * --write-pcap` of the same capture, in which tshark shows every RangingMessage field, frame by
 * frame equal to `pdu decode --json`, and the messages are the ranging traffic of the report
 * (ue1's requests numbered 0, 1, 2 ..., every response echoing a request it answers).
 *
 * Needs tshark (Debian package `tshark`; CI installs it). tshark runs with an empty private
 * configuration directory (see test/integration/wireshark.test.ts).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoResult } from '../../bridge/demo/report.js';
import { BIN, tmpDir } from '../fixtures/pkmf-testbed.js';

const LUA = new URL('../../bridge/wireshark/sl-bridge.lua', import.meta.url).pathname;
const t = tmpDir('slb-int-capture-');
afterAll(() => t.cleanup());
const file = (name: string): string => join(t.dir, name);
/** A 24-bit ID as tshark prints it (decimal) in sl-bridge's 6-hex-digit form. */
const hex24 = (v: string): string => Number(v).toString(16).padStart(6, '0');

interface Ranging {
  kind: 'request' | 'response';
  requesterId: number;
  requestSeq: number;
  requestTimeNs: string;
  responderId: number;
  responseTimeNs: string;
  paddingBytes: number;
}

interface Decoded {
  frame: number;
  direction: 'tx' | 'rx';
  castType: string;
  l2SourceId: string;
  l2DestinationId: string;
  seq?: number;
  sduType: number;
  pgkIndex: number;
  ptkId: number;
  sn: number;
  pduLength: number;
  pgkId?: number;
  sdu?: string;
  ranging?: Ranging;
  dropped?: string;
  skipped?: string;
  malformed?: string;
}

let demo: DemoResult;

beforeAll(async () => {
  const probe = spawnSync('tshark', ['--version'], { encoding: 'utf8' });
  if (probe.error) throw new Error('tshark is not installed: `apt-get install -y tshark` (CI installs it)');
  // Spawned (not spawnSync) so that vitest's timeout can still end it; killed if the test fails.
  const child = spawn(process.execPath, [BIN, 'demo', '--ues', '3', '--seconds', '3', '--pcap', file('demo.pcap'), '--keylog', file('demo.keys'), '--json', file('demo.json')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const timer = setTimeout(() => child.kill('SIGINT'), 50_000); // the demo stops its children on SIGINT
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`demo failed (${code}):\n${out}`);
  demo = JSON.parse(readFileSync(file('demo.json'), 'utf8')) as DemoResult;
});

function tshark(fields: string[], pcap = file('demo.pcap')): string[][] {
  const configDir = file('wireshark-config');
  mkdirSync(configDir, { recursive: true });
  const args = ['-X', `lua_script:${LUA}`, '-r', pcap, '-T', 'fields', '-E', 'separator=;', ...fields.flatMap((f) => ['-e', f])];
  const r = spawnSync('tshark', args, { encoding: 'utf8', env: { ...process.env, WIRESHARK_CONFIG_DIR: configDir }, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`tshark failed (${r.status}): ${r.stderr}`);
  expect(r.stderr).not.toMatch(/Lua: Error|error loading|Couldn't register/i);
  return r.stdout.replace(/\n$/, '').split('\n').map((l) => l.split(';'));
}

let decoded: { frames: Decoded[]; summary: string; status: number | null } | undefined;
function decode(): { frames: Decoded[]; summary: string; status: number | null } {
  if (decoded) return decoded;
  const r = spawnSync(process.execPath, [BIN, 'pdu', 'decode', '--pcap', file('demo.pcap'), '--keylog', file('demo.keys'), '--json'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  decoded = { frames: r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Decoded), summary: r.stderr.trim(), status: r.status };
  return decoded;
}

describe('capture of a demo run: tshark with the Lua dissector, and pdu decode with the keylog', () => {
  it('the demo ran clean and wrote a pcap and a 0600 keylog', () => {
    expect(demo.ok).toBe(true);
    expect(demo.securityDrops).toBe(0);
    expect(statSync(file('demo.keys')).mode & 0o777).toBe(0o600);
    expect(readFileSync(file('demo.keys'), 'utf8')).toMatch(new RegExp(`^PGK group=${demo.group} pgk_id=\\d+ pgk=[0-9a-f]{64} `, 'm'));
    expect(statSync(file('demo.pcap')).size).toBeGreaterThan(24);
  });

  it('tshark shows PGK index, PTK ID and SN of every PDU, frame by frame as pdu decode reports them; pdu decode deciphers all', () => {
    const fields = ['frame.number', 'slbridge.direction', 'slbridge.l2_src', 'slbridge.l2_dst', 'slbridge.seq', 'slbridge.pgk_index', 'slbridge.ptk_id', 'slbridge.sn'];
    const rows = tshark(fields);
    const { frames, summary, status } = decode();
    expect(status).toBe(0);
    expect(rows.length).toBeGreaterThan(100);
    expect(frames).toHaveLength(rows.length);
    // Every frame dissected: no empty PGK index / PTK ID / SN.
    expect(rows.filter((r) => r.length !== fields.length || r.slice(5).some((v) => v === ''))).toEqual([]);
    // Frame by frame, the dissector and the decoder agree.
    expect(rows.map((r) => [Number(r[0]), r[1] === '0' ? 'tx' : 'rx', hex24(r[2]!), hex24(r[3]!), r[4] === '' ? undefined : Number(r[4]), Number(r[5]), Number(r[6]), Number(r[7])])).toEqual(
      frames.map((f) => [f.frame, f.direction, f.l2SourceId, f.l2DestinationId, f.seq, f.pgkIndex, f.ptkId, f.sn]),
    );
    // The envelope seq is known for received PDUs (tx records are written before the transport stamps it).
    expect(frames.every((f) => (f.direction === 'rx') === (f.seq !== undefined))).toBe(true);
    // pdu decode deciphered and verified every frame: no drop, nothing skipped or malformed.
    expect(frames.filter((f) => f.sdu === undefined)).toEqual([]);
    expect(frames.every((f) => f.pgkId !== undefined && (f.pgkId & 31) === f.pgkIndex && f.pduLength === f.sdu!.length / 2 + 15)).toBe(true);
    expect(summary).toBe(`${frames.length} frames: ${frames.length} deciphered and verified, 0 dropped`);

    // The same in the text form a user reads: one line per frame, each with its deciphered SDU.
    const text = spawnSync(process.execPath, [BIN, 'pdu', 'decode', '--pcap', file('demo.pcap'), '--keylog', file('demo.keys')], { encoding: 'utf8', maxBuffer: 64 << 20 });
    expect(text.status).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(frames.length);
    expect(lines.filter((l, i) => !l.startsWith(`frame ${i + 1} ${frames[i]!.direction} `) || !/ sdu=[0-9a-f]+$/.test(l) || / (dropped|skipped|malformed)=/.test(l))).toEqual([]);
    expect(text.stderr.trim()).toBe(summary);
  });

  it('the capture is ue1 view of the demo: its PDUs sent and received, from whom, with SNs without gaps or repeats', () => {
    const { frames } = decode();
    const ue1 = demo.ues.find((u) => u.id === 'ue1')!;
    const gmiOf = new Map(demo.ues.map((u) => [u.id, u.gmi]));
    const tx = frames.filter((f) => f.direction === 'tx');
    const rx = frames.filter((f) => f.direction === 'rx');
    expect(tx).toHaveLength(ue1.sent);
    expect(rx).toHaveLength(ue1.received);
    expect(new Set(tx.map((f) => f.l2SourceId))).toEqual(new Set([ue1.gmi]));
    expect(new Set(frames.map((f) => f.l2DestinationId))).toEqual(new Set([demo.group]));
    // Per sender: as many PDUs as the demo says ue1 received from it, SNs 0, 1, 2, ... under one PTK.
    const bySender = new Map<string, Decoded[]>();
    for (const f of rx) bySender.set(f.l2SourceId, [...(bySender.get(f.l2SourceId) ?? []), f]);
    expect(Object.fromEntries([...bySender].map(([gmi, fs]) => [gmi, fs.length]))).toEqual(
      Object.fromEntries(Object.entries(ue1.receivedFrom).map(([id, n]) => [gmiOf.get(id), n])),
    );
    for (const fs of [tx, ...bySender.values()]) {
      expect(fs.map((f) => [f.ptkId, f.sn])).toEqual(fs.map((_, i) => [fs[0]!.ptkId, i]));
    }
    // Received PDUs carry their sender's envelope seq: 0, 1, 2, ... as well (nothing lost on the medium).
    for (const fs of bySender.values()) expect(fs.map((f) => f.seq)).toEqual(fs.map((_, i) => i));
  });

  it('pdu decode --write-pcap: tshark shows every RangingMessage in clear, equal to pdu decode, and they are the ranging traffic of the report', () => {
    const w = spawnSync(process.execPath, [BIN, 'pdu', 'decode', '--pcap', file('demo.pcap'), '--keylog', file('demo.keys'), '--write-pcap', file('clear.pcap'), '--json'], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    expect(w.status).toBe(0);
    const frames = w.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Decoded);
    expect(w.stderr).toBe(`${decode().summary}\nwrote ${frames.length} records to ${file('clear.pcap')}\n`);
    // Every SDU the demo's ranging applications sent is a RangingMessage.
    expect(frames.filter((f) => f.ranging === undefined)).toEqual([]);

    const fields = [
      'slbridge.source_frame', 'slbridge.l2_src', 'slbridge.l2_dst', 'slbridge.result', 'slbridge.sn', 'slbridge.content',
      'slbridge.ranging.kind', 'slbridge.ranging.requester_id', 'slbridge.ranging.request_seq', 'slbridge.ranging.request_time_ns',
      'slbridge.ranging.responder_id', 'slbridge.ranging.response_time_ns', 'slbridge.ranging.padding_length',
    ];
    const rows = tshark(fields, file('clear.pcap'));
    expect(rows.map((r) => [Number(r[0]), hex24(r[1]!), hex24(r[2]!), r[3], Number(r[4]), r[5]])).toEqual(frames.map((f) => [f.frame, f.l2SourceId, f.l2DestinationId, '0', f.sn, '1']));
    const shown = rows.map(
      (r): Ranging => ({
        kind: r[6] === '1' ? 'request' : 'response',
        requesterId: Number(r[7]),
        requestSeq: Number(r[8]),
        requestTimeNs: r[9]!,
        responderId: Number(r[10]),
        responseTimeNs: r[11]!,
        paddingBytes: Number(r[12]),
      }),
    );
    expect(shown).toEqual(frames.map((f) => f.ranging));
    expect(new Set(rows.map((r) => r[6]))).toEqual(new Set(['1', '2']));

    // The report's ranging traffic of ue1, message by message.
    const ue1 = demo.ues.find((u) => u.id === 'ue1')!;
    expect(ue1.ranging!.refused).toEqual({});
    const tx = frames.filter((f) => f.direction === 'tx').map((f) => f.ranging!);
    const rx = frames.filter((f) => f.direction === 'rx').map((f) => f.ranging!);
    const txRequests = tx.filter((m) => m.kind === 'request');
    const myId = txRequests[0]!.requesterId;
    expect(txRequests.map((m) => [m.requesterId, m.requestSeq, m.responderId, m.responseTimeNs])).toEqual(txRequests.map((_, i) => [myId, i, 0, '0']));
    expect(txRequests).toHaveLength(ue1.ranging!.requestsSent);
    const txResponses = tx.filter((m) => m.kind === 'response');
    expect(txResponses).toHaveLength(ue1.ranging!.responsesSent);
    const rxRequests = rx.filter((m) => m.kind === 'request');
    expect(rxRequests).toHaveLength(ue1.ranging!.requestsReceived);
    const key = (m: Ranging) => `${m.requesterId}/${m.requestSeq}/${m.requestTimeNs}`;
    // ue1 answers each request it received, echoing its fields; its answers carry its own ID.
    expect(txResponses.map(key).sort()).toEqual(rxRequests.map(key).sort());
    expect(txResponses.every((m) => m.responderId === myId && BigInt(m.responseTimeNs) >= BigInt(m.requestTimeNs))).toBe(true);
    // The others' answers to ue1's requests echo them exactly.
    const answersToMe = rx.filter((m) => m.kind === 'response' && m.requesterId === myId);
    expect(answersToMe).toHaveLength(ue1.ranging!.responsesReceived);
    const mine = new Set(txRequests.map(key));
    expect(answersToMe.filter((m) => !mine.has(key(m)))).toEqual([]);
  });
});
