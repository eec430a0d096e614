/**
 * A capture of a real demo read back three ways: `sl-bridge demo --ues 3 --seconds 3 --pcap F
 * --keylog K --json J` (PKMFs, medium and daemons as processes; the pcap is ue1's view), then
 * Debian's tshark with the Lua dissector (bridge/wireshark/sl-bridge.lua) and `sl-bridge pdu
 * decode --pcap F --keylog K --json`. Checked: tshark shows the PGK index, PTK ID and SN of every
 * PDU, frame by frame the same as `pdu decode`; `pdu decode` deciphers and verifies every frame
 * (no drop) with the PGK the keylog holds; and the capture matches the demo's own report (ue1's
 * PDUs sent and received, from whom, SNs without gaps or repeats).
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

function tshark(fields: string[]): string[][] {
  const configDir = file('wireshark-config');
  mkdirSync(configDir, { recursive: true });
  const args = ['-X', `lua_script:${LUA}`, '-r', file('demo.pcap'), '-T', 'fields', '-E', 'separator=;', ...fields.flatMap((f) => ['-e', f])];
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
    const hex = (v: string): string => Number(v).toString(16).padStart(6, '0');
    expect(rows.map((r) => [Number(r[0]), r[1] === '0' ? 'tx' : 'rx', hex(r[2]!), hex(r[3]!), r[4] === '' ? undefined : Number(r[4]), Number(r[5]), Number(r[6]), Number(r[7])])).toEqual(
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
});
