/**
 * The Wireshark Lua dissector (bridge/wireshark/sl-bridge.lua) run by Debian's tshark on captures
 * written by the real pcap writer from real protected PDUs: PGK Index, PTK ID, SN (and the other
 * named fields) of every PDU, cross-checked against `sl-bridge pdu decode` deciphering the same
 * capture with its keylog; the preferences (MAC-I, user DLT) and malformed records.
 *
 * Needs tshark (Debian package `tshark`; CI installs it). tshark runs with a private, empty
 * configuration directory so personal preferences cannot change the result; Debian's init.lua
 * keeps Lua enabled for root (run_user_scripts_when_superuser = true), so this also works as root.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PcapWriter } from '../../bridge/capture/index.js';
import { T0_MS, UE_A, UE_B, conversation, material, pgk, protect, sender, tempDir, writeCapture, writeKeylog, type Sent } from '../fixtures/capture-helpers.js';

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
beforeAll(() => {
  const probe = spawnSync('tshark', ['--version'], { encoding: 'utf8' });
  if (probe.error) throw new Error('tshark is not installed: `apt-get install -y tshark` (CI installs it)');
  const t = tempDir('slb-wireshark-config-');
  configDir = t.path('config');
  mkdirSync(configDir);
  return t.cleanup;
});

function tshark(file: string, fields: string[], extra: string[] = []): string[][] {
  const args = ['-X', `lua_script:${LUA}`, '-r', file, ...extra, '-T', 'fields', '-E', 'separator=;', ...fields.flatMap((f) => ['-e', f])];
  const r = spawnSync('tshark', args, { encoding: 'utf8', env: { ...process.env, WIRESHARK_CONFIG_DIR: configDir } });
  if (r.status !== 0) throw new Error(`tshark failed (${r.status}): ${r.stderr}`);
  expect(r.stderr).not.toMatch(/Lua: Error|error loading|Couldn't register/i);
  return r.stdout.replace(/\n$/, '').split('\n').map((l) => l.split(';'));
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
});
