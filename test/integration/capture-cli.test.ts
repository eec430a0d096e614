/**
 * `sl-bridge pdu decode` through the compiled CLI (bin/sl-bridge.js; the test command builds
 * first), on captures and keylogs written by the real writers from real protected PDUs: every PDU
 * deciphered and verified, drop reasons, JSON output, and malformed inputs named with their file
 * and byte offset / line (frames before the damage still printed).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { PcapWriter } from '../../bridge/capture/index.js';
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
});
