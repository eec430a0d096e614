/**
 * Captures of groups with source authentication (docs/pdcp.md "Source authentication",
 * docs/captures-shim.md "The keylog"): the keylog carries what verifying the source-auth blocks
 * takes (the writer's GMI and pairwise keys, or every member's public key) and never the signing
 * seed; `sl-bridge pdu decode` (bin/sl-bridge.js, built first) checks each PDU's block as the
 * keylog's writer would and shows the result: the writer's own PDUs by every tag or their
 * signature, other members' by the tag addressed to it or their signature, an insider's PDU in
 * another member's name and a removed member's PDU dropped with their reasons. The keylog's new
 * fields: round trip, and malformed lines named by line and column.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { formatKeylogLine, parseKeylog } from '../../src/capture/index.js';
import { GroupKeyState } from '../../src/keys/group-key-state.js';
import type { SourceAuthMode } from '../../src/keys/types.js';
import { MemoryPtkHighWaterStore, PdcpTxEntity, PtkIdAllocator, derivePtkEngines, pduLayout, sealPdu, sourceAuthFor } from '../../src/pdcp/index.js';
import type { PduEnvelope } from '../../src/wire/envelope.js';
import { GROUP, T0_MS, UE_A, UE_B, hex, pgk, tempDir, writeCapture, writeKeylog, type Sent } from '../fixtures/capture-helpers.js';
import { pairwiseKey, publicKeyOf, seedOf, sourceAuthMaterial } from '../fixtures/source-auth-helpers.js';

const BIN = new URL('../../bin/sl-bridge.js', import.meta.url).pathname;
const UE_C = 0x00c003;
const UE_D = 0x00d004;

function decode(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'pdu', 'decode', ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.trim() };
}

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

const group = (members: readonly number[], mode: SourceAuthMode) => ({ groupId: GROUP, members, mode, pgks: [pgk(7)] });

function txOf(gmi: number, members: readonly number[], mode: SourceAuthMode): { keys: GroupKeyState; tx: PdcpTxEntity } {
  const keys = new GroupKeyState();
  keys.install(sourceAuthMaterial(gmi, group(members, mode)));
  return { keys, tx: new PdcpTxEntity(keys, new PtkIdAllocator(new MemoryPtkHighWaterStore())) };
}

function sent(direction: 'tx' | 'rx', l2Src: number, pdu: Uint8Array, sdu: Uint8Array, i: number, ptkId: number, sn: number): Sent {
  const envelope: PduEnvelope = { l2SourceId: l2Src, l2DestinationId: GROUP, castType: 'groupcast', pdu, txTimeNs: BigInt(T0_MS + i) * 1_000_000n, seq: i };
  return { direction, envelope, timeNs: envelope.txTimeNs + 7n, sdu, sduType: 1, pgkId: 7, ptkId, sn };
}

describe('pdu decode with source authentication', () => {
  for (const mode of ['pairwise-mac', 'signature'] as const) {
    it(`${mode}: the keylog holds what verifying takes, and decode shows each PDU's source check`, async () => {
      const t = tempDir('slb-sa-decode-');
      cleanups.push(t.cleanup);
      const members = [UE_A, UE_B, UE_C];
      const a = txOf(UE_A, members, mode);
      const b = txOf(UE_B, members, mode);
      const c = txOf(UE_C, members, mode);
      // D was removed: it still holds PGK 7 and its own keys from before, A's material has none for it.
      const d = txOf(UE_D, [...members, UE_D], mode);
      const records: Sent[] = [];
      const push = (direction: 'tx' | 'rx', tx: PdcpTxEntity, text: string): void => {
        const sdu = new TextEncoder().encode(text);
        const r = tx.protect(sdu, 1, GROUP, T0_MS);
        records.push(sent(direction, r.l2Src, r.pdu, sdu, records.length, r.ptkId, r.sn));
      };
      push('tx', a.tx, 'request from A');
      push('rx', b.tx, 'response from B');
      push('tx', a.tx, 'second from A');
      // C's PDU in B's name: C derives B's PTK (it holds the PGK), writes B's GMI, seals with its own keys.
      const cGroup = c.keys.get(GROUP)!;
      const cPgk = cGroup.pgksNewestFirst[0]!;
      const forgedSdu = new TextEncoder().encode('forged by C');
      const forged = sealPdu(derivePtkEngines(cGroup, cPgk.pgk, UE_B, 900), pduLayout('pcr', true), 1, 7, 900, 0, GROUP, UE_B, forgedSdu, undefined, sourceAuthFor(cGroup, cPgk));
      records.push(sent('rx', UE_B, forged, forgedSdu, records.length, 900, 0));
      push('rx', d.tx, 'from removed D');
      push('rx', c.tx, 'response from C');
      await writeCapture(t.path('a.pcap'), records);
      writeKeylog(t.path('a.keys'), [sourceAuthMaterial(UE_A, group(members, mode))]);

      const keylog = readFileSync(t.path('a.keys'), 'utf8');
      expect(keylog).toContain(` source_auth=${mode} gmi=00a001 `);
      if (mode === 'pairwise-mac') {
        expect(keylog).toContain(` pairwise=00b002:${hex(pairwiseKey(7, UE_A, UE_B))},00c003:${hex(pairwiseKey(7, UE_A, UE_C))}`);
      } else {
        expect(keylog).toContain(` public_keys=${members.map((m) => `${m.toString(16).padStart(6, '0')}:${hex(publicKeyOf(m))}`).join(',')}`);
        expect(keylog).not.toContain(hex(seedOf(UE_A)));
      }

      const r = decode('--pcap', t.path('a.pcap'), '--keylog', t.path('a.keys'));
      expect(r.status).toBe(0);
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines).toHaveLength(6);
      for (const i of [0, 1, 2, 5]) {
        const s = records[i]!;
        expect(lines[i]).toBe(
          `frame ${i + 1} ${s.direction} src=${s.envelope.l2SourceId.toString(16).padStart(6, '0')} dst=12ab34 sdu_type=non-ip pgk_index=7 ptk_id=${s.ptkId} sn=${s.sn} pgk_id=7 source=${mode} sdu=${hex(s.sdu)}`,
        );
      }
      expect(lines[3]).toMatch(/^frame 4 rx src=00b002 .* ptk_id=900 sn=0 dropped=bad-source-tag \(/);
      expect(lines[4]).toMatch(/^frame 5 rx src=00d004 .* dropped=unknown-member \(/);
      expect(r.stderr).toBe('6 frames: 4 deciphered and verified, 2 dropped (bad-source-tag 1, unknown-member 1)');

      const json = decode('--pcap', t.path('a.pcap'), '--keylog', t.path('a.keys'), '--json');
      const objs = json.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(objs[1]).toMatchObject({ direction: 'rx', l2SourceId: '00b002', pgkId: 7, sourceAuth: mode, sdu: hex(records[1]!.sdu) });
      expect(objs[3]).toMatchObject({ dropped: 'bad-source-tag' });

      // A keylog line without the source fields (an older writer): the MAC-I still verifies, the
      // block is shown as part of the SDU and nothing says the source was checked.
      const plainKeylog = keylog.replace(/ source_auth=.*$/m, '');
      const old = t.path('old.keys');
      writeKeylog(old, []);
      appendFileSync(old, plainKeylog.split('\n').slice(1).join('\n'));
      const unchecked = decode('--pcap', t.path('a.pcap'), '--keylog', old);
      expect(unchecked.stdout.split('\n')[1]).toMatch(new RegExp(`pgk_id=7 sdu=${hex(records[1]!.sdu)}[0-9a-f]+$`));
      expect(unchecked.stdout).not.toContain('source=');
    });
  }
});

describe('keylog source-auth fields', () => {
  const base = { groupId: GROUP, pgkId: 7, pgk: pgk(7).pgk, profile: 'pcr' as const, nea: 2 as const, nia: 2 as const, expiresAtMs: Infinity };

  it('round-trip: pairwise keys and public keys in ascending GMI order; lines without them are unchanged', () => {
    const pairwise = { ...base, sourceAuthKeys: { mode: 'pairwise-mac' as const, gmi: UE_A, pairwiseKeys: new Map([[UE_C, pairwiseKey(7, UE_A, UE_C)], [UE_B, pairwiseKey(7, UE_A, UE_B)]]) } };
    const signature = { ...base, sourceAuthKeys: { mode: 'signature' as const, gmi: undefined, publicKeys: new Map([[UE_B, publicKeyOf(UE_B)]]) } };
    const alone = { ...base, sourceAuthKeys: { mode: 'pairwise-mac' as const, gmi: UE_A, pairwiseKeys: new Map<number, Uint8Array>() } };
    const lines = [formatKeylogLine(base), formatKeylogLine(pairwise), formatKeylogLine(signature), formatKeylogLine(alone)];
    expect(lines[0]).toBe(`PGK group=12ab34 pgk_id=7 pgk=${hex(base.pgk)} profile=pcr nea=2 nia=2 expires=never`);
    expect(lines[1]).toBe(`${lines[0]} source_auth=pairwise-mac gmi=00a001 pairwise=00b002:${hex(pairwiseKey(7, UE_A, UE_B))},00c003:${hex(pairwiseKey(7, UE_A, UE_C))}`);
    expect(lines[2]).toBe(`${lines[0]} source_auth=signature public_keys=00b002:${hex(publicKeyOf(UE_B))}`);
    expect(lines[3]).toBe(`${lines[0]} source_auth=pairwise-mac gmi=00a001 pairwise=`);
    const parsed = parseKeylog(lines.join('\n'));
    expect(parsed).toHaveLength(4);
    expect(parsed[0]!.sourceAuthKeys).toBeUndefined();
    expect(parsed.slice(1).map((e) => formatKeylogLine(e))).toEqual(lines.slice(1));
  });

  const ok = formatKeylogLine(base);
  const key = (gmi: number): string => `${gmi.toString(16)}:${hex(pairwiseKey(7, UE_A, gmi))}`;
  it.each([
    [`${ok} source_auth=hmac`, /^k:1:\d+: source_auth: expected one of none, pairwise-mac, signature, got "hmac"/],
    [`${ok} source_auth=pairwise-mac gmi=a001`, new RegExp(`^k:1:${ok.length + 35}: missing field pairwise \\(needed by source_auth=pairwise-mac\\)`)],
    [`${ok} source_auth=pairwise-mac pairwise=${key(UE_B)}`, /missing field gmi \(needed by source_auth=pairwise-mac\)/],
    [`${ok} pairwise=${key(UE_B)}`, new RegExp(`^k:1:${ok.length + 11}: pairwise: not a field of source_auth=none`)],
    [`${ok} source_auth=signature public_keys=${key(UE_B)}`, /public_keys: expected GMI:KEY items \(1\.\.6 hex digits, a colon, 64 hex digits\)/],
    [`${ok} source_auth=pairwise-mac gmi=a001 pairwise=${key(UE_B)},${key(UE_B)}`, /pairwise: GMI 00b002 given twice/],
    [`${ok} source_auth=pairwise-mac gmi=a001 pairwise=a001:${'00'.repeat(16)}`, /pairwise: a key with the keylog's own GMI 00a001/],
    [`${ok} source_auth=pairwise-mac gmi=1000000 pairwise=`, /gmi: expected a 24-bit GMI as 1\.\.6 hex digits/],
    [`${ok.replace('nia=2', 'nia=none')} source_auth=signature public_keys=`, /source_auth: signature needs a MAC-I and the inner identity block/],
  ])('refuses %s', (line, message) => {
    expect(() => parseKeylog(line, 'k')).toThrow(message);
  });
});
