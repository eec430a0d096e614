/**
 * `sl-bridge pdu protect|unprotect` through the compiled CLI (bin/sl-bridge.js; the test command
 * builds first): round trips, an independent check of the emitted bytes with the crypto core,
 * drop reasons on stderr with a non-zero status, and bad flags. Source authentication: the block
 * checked with node:crypto's HMAC and Ed25519 and @noble/ciphers' CMAC, each receiver's view,
 * forged and misaddressed blocks refused, and the flags that do not go together.
 */
import { spawnSync } from 'node:child_process';
import { createHmac, createPublicKey, verify } from 'node:crypto';
import { cmac as nobleCmac } from '@noble/ciphers/aes.js';
import { describe, expect, it } from 'vitest';
import { createCipherEngine, createIntegrityEngine, deriveAlgKey, derivePtk } from '../../src/crypto/index.js';
import { pairwiseKey, publicKeyOf, seedOf } from '../fixtures/source-auth-helpers.js';

const BIN = new URL('../../bin/sl-bridge.js', import.meta.url).pathname;
const PGK = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
const KEYS = ['--pgk', PGK, '--pgk-id', '0x2a', '--group-id', '00c0de', '--member-id', '0000ab'];

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'pdu', ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout.trim(), stderr: r.stderr.trim() };
}

function protect(...extra: string[]): string {
  const r = cli('protect', ...KEYS, '--ptk-id', '3', '--sn', '258', '--sdu', '48656c6c6f2c2072616e67696e67', ...extra);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout;
}

describe('sl-bridge pdu', () => {
  it('protect emits the docs/protocol.md 4 layout (checked with the crypto core) and unprotect reverses it', () => {
    const pduHex = protect('--nea', '1', '--nia', '3', '--sdu-type', 'ethernet');
    const pdu = Buffer.from(pduHex, 'hex');
    expect(pdu.length).toBe(5 + 6 + 14 + 4);
    expect([...pdu.subarray(0, 5)]).toEqual([(2 << 5) | 0x0a, 0x00, 0x03, 0x01, 0x02]);
    const ptk = derivePtk('pcr', Buffer.from(PGK, 'hex'), 0xab, 3, 0xc0de);
    const count = (3 << 16) | 258;
    const plain = createCipherEngine(1, deriveAlgKey('pcr', ptk, 'enc', 1)).apply(count, 0, 0, pdu.subarray(5));
    expect(Buffer.from(plain.subarray(0, 6)).toString('hex')).toBe('00c0de0000ab');
    expect(Buffer.from(plain.subarray(6, 20)).toString()).toBe('Hello, ranging');
    const mac = createIntegrityEngine(3, deriveAlgKey('pcr', ptk, 'int', 3)).mac(count, 0, 0, Buffer.concat([pdu.subarray(0, 5), plain.subarray(0, 20)]));
    expect(Buffer.from(plain.subarray(20)).readUInt32BE(0)).toBe(mac);

    const back = cli('unprotect', ...KEYS, '--nea', '1', '--nia', '3', '--pdu', pduHex);
    expect(back).toEqual({ status: 0, stdout: '48656c6c6f2c2072616e67696e67', stderr: '' });
    const json = cli('unprotect', ...KEYS, '--nea', '1', '--nia', '3', '--pdu', pduHex, '--json');
    expect(JSON.parse(json.stdout)).toEqual({
      sdu: '48656c6c6f2c2072616e67696e67', sduType: 2, senderGmi: '0000ab', groupId: '00c0de', pgkId: 42, ptkId: 3, sn: 258,
    });
  });

  it('lte-prose: the bare TS 36.323 6.2.10 header and the ciphered SDU; integrity off with --nia none', () => {
    const pduHex = protect('--profile', 'lte-prose', '--sdu-type', '0');
    expect(pduHex.slice(0, 10)).toBe('0a00030102');
    expect(pduHex.length).toBe(2 * (5 + 14));
    expect(cli('unprotect', ...KEYS, '--profile', 'lte-prose', '--pdu', pduHex).stdout).toBe('48656c6c6f2c2072616e67696e67');
    const noMac = protect('--profile', 'ts33533', '--nia', 'none');
    expect(noMac.length).toBe(2 * (5 + 6 + 14));
    expect(cli('unprotect', ...KEYS, '--profile', 'ts33533', '--nia', 'none', '--pdu', noMac).status).toBe(0);
  });

  it('reports the drop reason on stderr and exits 1', () => {
    const pduHex = protect();
    const wrongSender = cli('unprotect', '--pgk', PGK, '--pgk-id', '42', '--group-id', 'c0de', '--member-id', 'ac', '--pdu', pduHex);
    expect(wrongSender.status).toBe(1);
    expect(wrongSender.stdout).toBe('');
    expect(wrongSender.stderr).toMatch(/PDU dropped: mac-failure/);
    const flipped = pduHex.slice(0, -1) + ((parseInt(pduHex.slice(-1), 16) ^ 1).toString(16));
    expect(cli('unprotect', ...KEYS, '--pdu', flipped).stderr).toMatch(/mac-failure/);
    expect(cli('unprotect', ...KEYS, '--pdu', pduHex.slice(0, 20)).stderr).toMatch(/PDU dropped: truncated/);
    expect(cli('unprotect', ...KEYS, '--pgk-id', '43', '--pdu', pduHex).stderr).toMatch(/unknown-pgk-index/);
    expect(cli('unprotect', ...KEYS, '--pdu', `e${pduHex.slice(1)}`).stderr).toMatch(/reserved-sdu-type/);
  });

  it.each([
    ['missing --ptk-id', ['protect', ...KEYS, '--sn', '0', '--sdu', '00'], /required option '--ptk-id/],
    ['short --pgk', ['protect', ...KEYS.slice(2), '--pgk', 'abcd', '--ptk-id', '0', '--sn', '0', '--sdu', '00'], /option '--pgk <hex64>' argument 'abcd' is invalid\. expected 32 bytes \(64 hex digits\), got 2 bytes/],
    ['--ptk-id too big', ['protect', ...KEYS, '--ptk-id', '65536', '--sn', '0', '--sdu', '00'], /option '--ptk-id <n>' argument '65536' is invalid\. expected an integer from 0 to 65535/],
    ['bad --sdu hex', ['protect', ...KEYS, '--ptk-id', '0', '--sn', '0', '--sdu', 'xyz'], /option '--sdu <hex>' argument 'xyz' is invalid\. expected an even number of hex digits/],
    ['reserved --sdu-type', ['protect', ...KEYS, '--ptk-id', '0', '--sn', '0', '--sdu', '00', '--sdu-type', '6'], /option '--sdu-type <n\|name>' argument '6' is invalid\. 6 is reserved/],
    ['NEA0 without --allow-null', ['protect', ...KEYS, '--ptk-id', '0', '--sn', '0', '--sdu', '00', '--nea', '0'], /--allow-null/],
    ['lte-prose with a NIA', ['protect', ...KEYS, '--ptk-id', '0', '--sn', '0', '--sdu', '00', '--profile', 'lte-prose', '--nia', '2'], /--nia none/],
    ['unknown --profile', ['protect', ...KEYS, '--ptk-id', '0', '--sn', '0', '--sdu', '00', '--profile', 'nr'], /option '--profile <profile>' argument 'nr' is invalid\. Allowed choices are pcr, ts33533, lte-prose/],
    ['--member-id over 24 bits', ['unprotect', ...KEYS.slice(0, 6), '--member-id', '1000000', '--pdu', '00'], /option '--member-id <hex6>' argument '1000000' is invalid\. expected a 24-bit ID/],
    ['--pgk-id over 32 bits', ['unprotect', ...KEYS.slice(0, 2), '--pgk-id', '0x100000000', ...KEYS.slice(4), '--pdu', '00'], /option '--pgk-id <n>' argument '0x100000000' is invalid\. expected an integer from 0 to 4294967295/],
    ['bad --nia', ['unprotect', ...KEYS, '--pdu', '00', '--nia', 'five'], /option '--nia <n\|none>' argument 'five' is invalid\. expected 0\.\.3/],
  ])('rejects bad flags with status 2: %s', (_label, args, message) => {
    const r = cli(...(args as string[]));
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
  });

  it('NEA0/NIA0 with --allow-null: the SDU travels in the clear', () => {
    const pduHex = protect('--nea', '0', '--nia', '0', '--allow-null');
    expect(pduHex).toBe(`2a00030102${'00c0de0000ab'}48656c6c6f2c2072616e67696e67${'00000000'}`);
  });

  it('--help explains the flags', () => {
    const r = spawnSync(process.execPath, [BIN, 'pdu', 'unprotect', '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    for (const flag of ['--profile', '--pgk', '--pgk-id', '--group-id', '--member-id', '--nea', '--nia', '--pdu', '--json']) {
      expect(r.stdout).toContain(flag);
    }
    expect(r.stdout).toMatch(/Exit status: 0 accepted, 1 dropped/);
  });
});

describe('sl-bridge pdu with source authentication', () => {
  const SDU = '48656c6c6f2c2072616e67696e67';
  const [AB, AC, AD] = [0xab, 0xac, 0xad];
  const h = (b: Uint8Array): string => Buffer.from(b).toString('hex');
  const pairwiseFlags = (self: number, peers: number[]): string[] => peers.flatMap((p) => ['--pairwise-key', `${p.toString(16).padStart(6, '0')}:${h(pairwiseKey(42, self, p))}`]);

  /** The PDU deciphered with the crypto core, and D of docs/pdcp.md computed with node:crypto. */
  function open(pduHex: string, blockBytes: number) {
    const pdu = Buffer.from(pduHex, 'hex');
    const ptk = derivePtk('pcr', Buffer.from(PGK, 'hex'), AB, 3, 0xc0de);
    const count = (3 << 16) | 258;
    const plain = createCipherEngine(2, deriveAlgKey('pcr', ptk, 'enc', 2)).apply(count, 0, 0, pdu.subarray(5));
    const sduEnd = 6 + SDU.length / 2;
    expect(plain.length).toBe(sduEnd + blockBytes + 4);
    // The MAC-I covers the block.
    const mac = createIntegrityEngine(2, deriveAlgKey('pcr', ptk, 'int', 2)).mac(count, 0, 0, Buffer.concat([pdu.subarray(0, 5), plain.subarray(0, sduEnd + blockBytes)]));
    expect(Buffer.from(plain.subarray(sduEnd + blockBytes)).readUInt32BE(0)).toBe(mac);
    const kSa = createHmac('sha256', Buffer.from(PGK, 'hex')).update('sl-bridge source-auth v1').digest();
    const d = createHmac('sha256', kSa).update(pdu.subarray(0, 5)).update(plain.subarray(0, sduEnd)).digest();
    return { block: plain.subarray(sduEnd, sduEnd + blockBytes), d };
  }

  it('pairwise-mac: one 64-bit AES-CMAC tag of D per other member, ascending, then their count; each receiver checks its own', () => {
    const pduHex = protect('--source-auth', 'pairwise-mac', ...pairwiseFlags(AB, [AD, AC]));
    const { block, d } = open(pduHex, 2 * 11 + 1);
    expect(block[22]).toBe(2);
    for (const [i, peer] of [AC, AD].entries()) {
      expect(h(block.subarray(11 * i, 11 * i + 3))).toBe(peer.toString(16).padStart(6, '0'));
      expect(h(block.subarray(11 * i + 3, 11 * i + 11))).toBe(h(nobleCmac(d, pairwiseKey(42, AB, peer)).subarray(0, 8)));
    }
    // The sender's own view (its keys, every tag checked), then each receiver with K(receiver, sender).
    const sa = ['--source-auth', 'pairwise-mac'];
    expect(cli('unprotect', ...KEYS, '--pdu', pduHex, ...sa, ...pairwiseFlags(AB, [AC, AD]))).toEqual({ status: 0, stdout: SDU, stderr: '' });
    for (const peer of [AC, AD]) {
      const r = cli('unprotect', ...KEYS, '--pdu', pduHex, ...sa, '--receiver-id', peer.toString(16), ...pairwiseFlags(peer, [AB]), '--json');
      expect(r.status).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ sdu: SDU, senderGmi: '0000ab', sourceAuth: 'pairwise-mac' });
    }
    // Another member's key with the sender (an insider's K(ad, ab) presented as K(ac, ab)): bad-source-tag.
    const wrongKey = cli('unprotect', ...KEYS, '--pdu', pduHex, ...sa, '--receiver-id', 'ac', '--pairwise-key', `0000ab:${h(pairwiseKey(42, AD, AB))}`);
    expect(wrongKey.status).toBe(1);
    expect(wrongKey.stderr).toMatch(/PDU dropped: bad-source-tag/);
    // A receiver the sender did not address, and a receiver without a key for the sender: unknown-member.
    expect(cli('unprotect', ...KEYS, '--pdu', pduHex, ...sa, '--receiver-id', 'ae', ...pairwiseFlags(0xae, [AB])).stderr).toMatch(/unknown-member/);
    expect(cli('unprotect', ...KEYS, '--pdu', pduHex, ...sa, '--receiver-id', 'ac').stderr).toMatch(/unknown-member/);
    // Without source authentication the MAC-I still verifies: the SDU comes out with the block after it.
    expect(cli('unprotect', ...KEYS, '--pdu', pduHex).stdout).toBe(`${SDU}${h(block)}`);
  });

  it('signature: the Ed25519 signature of D (node:crypto verifies it), checked without the seed', () => {
    const pduHex = protect('--source-auth', 'signature', '--signing-seed', h(seedOf(AB)));
    const { block, d } = open(pduHex, 64);
    const spki = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), publicKeyOf(AB)]), format: 'der', type: 'spki' });
    expect(verify(null, d, spki, block)).toBe(true);
    const sa = ['--source-auth', 'signature'];
    const ok = cli('unprotect', ...KEYS, '--pdu', pduHex, ...sa, '--public-key', `ab:${h(publicKeyOf(AB))}`, '--public-key', `ac:${h(publicKeyOf(AC))}`, '--json');
    expect(JSON.parse(ok.stdout)).toMatchObject({ sdu: SDU, sourceAuth: 'signature' });
    // Another member's public key bound to the sender's GMI: bad-source-tag; none for it: unknown-member.
    expect(cli('unprotect', ...KEYS, '--pdu', pduHex, ...sa, '--public-key', `ab:${h(publicKeyOf(AC))}`).stderr).toMatch(/PDU dropped: bad-source-tag/);
    const unknown = cli('unprotect', ...KEYS, '--pdu', pduHex, ...sa, '--public-key', `ac:${h(publicKeyOf(AC))}`);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/PDU dropped: unknown-member/);
    // Signed by another member's seed in AB's name.
    const forged = protect('--source-auth', 'signature', '--signing-seed', h(seedOf(AC)), '--public-key', `ac:${h(publicKeyOf(AC))}`);
    expect(cli('unprotect', ...KEYS, '--pdu', forged, ...sa, '--public-key', `ab:${h(publicKeyOf(AB))}`).stderr).toMatch(/bad-source-tag/);
  });

  it.each([
    ['--pairwise-key without pairwise-mac', ['--pairwise-key', `ac:${'00'.repeat(16)}`], /--pairwise-key: only with --source-auth pairwise-mac/],
    ['--signing-seed without signature', ['--source-auth', 'pairwise-mac', '--signing-seed', '00'.repeat(32)], /--signing-seed: only with --source-auth signature/],
    ['signature without a seed', ['--source-auth', 'signature'], /--signing-seed: required with --source-auth signature/],
    ['a public key that is not the seed\'s', ['--source-auth', 'signature', '--signing-seed', '11'.repeat(32), '--public-key', `ab:${'22'.repeat(32)}`], /publicKeys\[0x0000ab\]: is not the public key of signingSeed/],
    ['a short pairwise key', ['--source-auth', 'pairwise-mac', '--pairwise-key', `ac:${'00'.repeat(15)}`], /'--pairwise-key <gmi:hex32>' argument .* is invalid\. expected 16 bytes/],
    ['no GMI in --pairwise-key', ['--source-auth', 'pairwise-mac', '--pairwise-key', '00'.repeat(16)], /expected GMI:KEY/],
    ['a key with itself', ['--source-auth', 'pairwise-mac', '--pairwise-key', `ab:${'00'.repeat(16)}`], /pairwiseKeys\[0x0000ab\]: a key with this UE itself/],
    ['an unknown mode', ['--source-auth', 'hmac'], /argument 'hmac' is invalid\. Allowed choices are none, pairwise-mac, signature/],
    ['lte-prose', ['--source-auth', 'pairwise-mac', '--profile', 'lte-prose', '--nia', 'none'], /needs the inner identity block and a MAC-I/],
  ])('protect refuses %s with status 2', (_label, extra, message) => {
    const r = cli('protect', ...KEYS, '--ptk-id', '3', '--sn', '258', '--sdu', SDU, ...(extra as string[]));
    expect(r.stderr).toMatch(message);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
  });

  it('unprotect refuses --receiver-id outside pairwise-mac', () => {
    const r = cli('unprotect', ...KEYS, '--pdu', '00', '--source-auth', 'signature', '--receiver-id', 'ac');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--receiver-id: only with --source-auth pairwise-mac/);
  });
});
