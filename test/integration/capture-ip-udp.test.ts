/**
 * Captures taken on a network interface (src/capture/ip-udp.ts and its use in the decoder and in
 * `sl-bridge pdu decode`), on hand-built frames: every link type (raw IP 101/12/14, IPV4, IPV6,
 * Ethernet with and without 802.1Q tags, Linux cooked v1 and v2, BSD NULL in both byte orders,
 * LOOP), IPv4 options, IPv6 extension headers, fragments, other ports and protocols, truncations
 * and contradicting lengths; then PDUs from real PDCP transmit entities in such frames deciphered
 * by the decoder and by the CLI, with the IP/UDP fields of each frame.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CaptureDecoder,
  DLT_RAW_12,
  DLT_RAW_14,
  LINKTYPE_ETHERNET,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  LINKTYPE_LOOP,
  LINKTYPE_NULL,
  LINKTYPE_RAW,
  PcapFormatError,
  PcapParser,
  emitIpUdpFrame,
  formatIpv6,
  formatKeylogLine,
  parseIpUdpFrame,
  parseKeylog,
  parsePcap,
  type IpUdpResult,
  type KeylogEntry,
  type PcapRecord,
  type UdpFrameSpec,
} from '../../src/capture/index.js';
import { encodePduEnvelope } from '../../src/wire/envelope.js';
import { GROUP, T0_MS, UE_A, UE_B, hex, material, protect, sender, tempDir, writeKeylog } from '../fixtures/capture-helpers.js';

const BIN = new URL('../../bin/sl-bridge.js', import.meta.url).pathname;
const PORT = 5600;
const PAYLOAD = encodePduEnvelope({ l2SourceId: 0xa001, l2DestinationId: 0x12ab34, castType: 'groupcast', pdu: Uint8Array.of(0x27, 0, 1, 0, 0, 9, 9, 9), txTimeNs: 5n, seq: 3 });
const V4: UdpFrameSpec = { source: '10.0.0.2', destination: '239.255.77.1', sourcePort: 41234, destinationPort: PORT, payload: PAYLOAD };
const V6: UdpFrameSpec = { source: 'fd00::2', destination: 'ff02::77:1', sourcePort: 41234, destinationPort: PORT, payload: PAYLOAD };

const be16 = (v: number): number[] => [v >> 8, v & 0xff];
const cat = (...parts: Array<ArrayLike<number>>): Uint8Array => Uint8Array.from(parts.flatMap((p) => Array.from(p)));

/** The raw IPv4 packet of V4 (the emitter's, which tshark accepts with good checksums). */
const ipv4 = (spec: Partial<UdpFrameSpec> = {}): Uint8Array => emitIpUdpFrame(LINKTYPE_RAW, { ...V4, ...spec });
const ipv6 = (spec: Partial<UdpFrameSpec> = {}): Uint8Array => emitIpUdpFrame(LINKTYPE_RAW, { ...V6, ...spec });

/** An IPv4 packet with `options` (a multiple of 4 octets) inserted after the fixed header. */
function withIpv4Options(packet: Uint8Array, options: number[]): Uint8Array {
  const out = cat(packet.subarray(0, 20), options, packet.subarray(20));
  out[0] = 0x40 | ((20 + options.length) / 4);
  const total = out.length;
  out[2] = total >> 8;
  out[3] = total & 0xff;
  return out;
}

/** An IPv6 packet with extension headers (each [type, body of a multiple of 8 octets minus 2]) before UDP. */
function withIpv6Extensions(packet: Uint8Array, headers: Array<{ type: number; body: number[] }>): Uint8Array {
  const first = packet[6]!;
  const chain: number[] = [];
  headers.forEach((h, i) => {
    const next = i + 1 < headers.length ? headers[i + 1]!.type : first;
    if (h.type === 44) chain.push(next, 0, ...h.body); // fragment: reserved octet, then offset/flags and ID
    else if (h.type === 51) chain.push(next, (h.body.length + 2) / 4 - 2, ...h.body);
    else chain.push(next, (h.body.length + 2) / 8 - 1, ...h.body);
  });
  const out = cat(packet.subarray(0, 40), chain, packet.subarray(40));
  out[6] = headers[0]!.type;
  const payloadLength = out.length - 40;
  out[4] = payloadLength >> 8;
  out[5] = payloadLength & 0xff;
  return out;
}

function datagram(r: IpUdpResult) {
  if (r.kind !== 'datagram') throw new Error(`expected a datagram, got ${JSON.stringify(r)}`);
  return r.value;
}

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

describe('parseIpUdpFrame: link types', () => {
  const cases: Array<[string, number, UdpFrameSpec]> = [
    ['RAW (101) IPv4', LINKTYPE_RAW, V4],
    ['RAW (101) IPv6', LINKTYPE_RAW, V6],
    ['DLT_RAW 12', DLT_RAW_12, V4],
    ['DLT_RAW 14', DLT_RAW_14, V6],
    ['IPV4 (228)', LINKTYPE_IPV4, V4],
    ['IPV6 (229)', LINKTYPE_IPV6, V6],
    ['ETHERNET IPv4', LINKTYPE_ETHERNET, V4],
    ['ETHERNET IPv6', LINKTYPE_ETHERNET, V6],
    ['LINUX_SLL', LINKTYPE_LINUX_SLL, V4],
    ['LINUX_SLL2', LINKTYPE_LINUX_SLL2, V6],
    ['NULL IPv4', LINKTYPE_NULL, V4],
    ['NULL IPv6', LINKTYPE_NULL, V6],
    ['LOOP', LINKTYPE_LOOP, V6],
  ];
  it.each(cases)('%s: the UDP payload, the addresses and the ports', (_, linkType, spec) => {
    const frame = emitIpUdpFrame(linkType, spec);
    const d = datagram(parseIpUdpFrame(linkType, frame));
    expect(d.ip).toEqual({ version: spec === V4 ? 4 : 6, source: spec.source, destination: spec.destination, protocol: 17 });
    expect(d.udp).toEqual({ sourcePort: 41234, destinationPort: PORT });
    expect(hex(d.payload)).toBe(hex(PAYLOAD));
    expect(d.payloadOffset).toBe(frame.length - PAYLOAD.length);
  });

  it('Ethernet: one 802.1Q tag (its VLAN ID reported), two tags (QinQ, the outer one), more is not IP; trailer padding ignored', () => {
    const tagged = emitIpUdpFrame(LINKTYPE_ETHERNET, { ...V4, vlan: 42 });
    expect(Array.from(tagged.subarray(12, 18))).toEqual([0x81, 0x00, 0x00, 42, 0x08, 0x00]);
    expect(datagram(parseIpUdpFrame(LINKTYPE_ETHERNET, tagged))).toMatchObject({ vlan: 42, udp: { destinationPort: PORT } });
    const ip = ipv4();
    const mac = [1, 0, 0x5e, 0x7f, 0x4d, 1, 2, 0, 0, 0, 0, 1];
    const qinq = cat(mac, [0x88, 0xa8, ...be16(0x0123)], [0x81, 0x00, ...be16(7)], be16(0x0800), ip);
    expect(datagram(parseIpUdpFrame(LINKTYPE_ETHERNET, qinq)).vlan).toBe(0x123);
    const three = cat(mac, [0x88, 0xa8, 0, 1], [0x81, 0, 0, 2], [0x81, 0, 0, 3], be16(0x0800), ip);
    expect(parseIpUdpFrame(LINKTYPE_ETHERNET, three)).toMatchObject({ kind: 'skipped', skip: { reason: 'not-ip', message: 'more than 2 VLAN tags' } });
    // A short frame padded to 60 octets, and a frame with a 4-octet FCS: the IP total length decides.
    const small = emitIpUdpFrame(LINKTYPE_ETHERNET, { ...V4, payload: Uint8Array.of(0x08, 1) });
    expect(small.length).toBeLessThan(60);
    const padded = cat(small, new Array(60 - small.length).fill(0), [0xde, 0xad, 0xbe, 0xef]);
    expect(Array.from(datagram(parseIpUdpFrame(LINKTYPE_ETHERNET, padded)).payload)).toEqual([0x08, 1]);
  });

  it('not IP: ARP, an 802.3 length field, an unknown address family; the reason says which', () => {
    const arp = cat([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1], be16(0x0806), new Array(28).fill(0));
    expect(parseIpUdpFrame(LINKTYPE_ETHERNET, arp)).toEqual({ kind: 'skipped', skip: { reason: 'not-ip', message: 'EtherType 0x0806 is not IPv4 or IPv6' } });
    const llc = cat(new Array(12).fill(0), be16(46), new Array(46).fill(0));
    expect(parseIpUdpFrame(LINKTYPE_ETHERNET, llc)).toMatchObject({ kind: 'skipped', skip: { reason: 'not-ip' } });
    expect(parseIpUdpFrame(LINKTYPE_NULL, cat([7, 0, 0, 0], ipv4()))).toMatchObject({ kind: 'skipped', skip: { reason: 'not-ip', message: 'address family 7 is not IPv4 or IPv6' } });
    const sll = emitIpUdpFrame(LINKTYPE_LINUX_SLL, V4);
    sll[14] = 0x88;
    sll[15] = 0xcc; // LLDP
    expect(parseIpUdpFrame(LINKTYPE_LINUX_SLL, sll)).toMatchObject({ kind: 'skipped', skip: { reason: 'not-ip' }, packetType: 4 });
  });

  it('BSD NULL: the address family in either byte order (the writer host order); LOOP in network order', () => {
    const ip = ipv4();
    expect(datagram(parseIpUdpFrame(LINKTYPE_NULL, cat([2, 0, 0, 0], ip))).ip.version).toBe(4);
    expect(datagram(parseIpUdpFrame(LINKTYPE_NULL, cat([0, 0, 0, 2], ip))).ip.version).toBe(4);
    for (const af of [10, 24, 28, 30]) {
      expect(datagram(parseIpUdpFrame(LINKTYPE_NULL, cat([0, 0, 0, af], ipv6()))).ip.version).toBe(6);
      expect(datagram(parseIpUdpFrame(LINKTYPE_NULL, cat([af, 0, 0, 0], ipv6()))).ip.version).toBe(6);
    }
    expect(datagram(parseIpUdpFrame(LINKTYPE_LOOP, cat([0, 0, 0, 2], ip))).ip.source).toBe('10.0.0.2');
  });

  it('Linux cooked headers: packet type (4 = outgoing) and, for SLL2, the interface index', () => {
    expect(datagram(parseIpUdpFrame(LINKTYPE_LINUX_SLL, emitIpUdpFrame(LINKTYPE_LINUX_SLL, V4)))).toMatchObject({ packetType: 4 });
    const sll2 = emitIpUdpFrame(LINKTYPE_LINUX_SLL2, V4);
    sll2[7] = 9;
    sll2[10] = 0;
    expect(datagram(parseIpUdpFrame(LINKTYPE_LINUX_SLL2, sll2))).toMatchObject({ interfaceIndex: 9, packetType: 0 });
  });

  it('a link type it does not read is a typed error, not an exception', () => {
    expect(parseIpUdpFrame(105, ipv4())).toEqual({
      kind: 'malformed',
      error: { code: 'unsupported-link-type', layer: 'link', at: 0, message: 'link type 105 is not one this reader knows' },
    });
  });
});

describe('parseIpUdpFrame: IP and UDP', () => {
  it('IPv4 options are skipped (IHL), whatever they hold', () => {
    const opts = [0x94, 0x04, 0, 0, 0x01, 0x01, 0x01, 0x00]; // router alert, NOPs, end of list
    const packet = withIpv4Options(ipv4(), opts);
    const d = datagram(parseIpUdpFrame(LINKTYPE_RAW, packet));
    expect(d.payloadOffset).toBe(28 + 8);
    expect(hex(d.payload)).toBe(hex(PAYLOAD));
    // The longest header, 60 octets.
    expect(hex(datagram(parseIpUdpFrame(LINKTYPE_IPV4, withIpv4Options(ipv4(), new Array(40).fill(1)))).payload)).toBe(hex(PAYLOAD));
  });

  it('IPv6 hop-by-hop, routing, destination-options and AH headers are skipped; an atomic fragment is whole', () => {
    const pad6 = [1, 4, 0, 0, 0, 0]; // PadN option filling an 8-octet header
    const packet = withIpv6Extensions(ipv6(), [
      { type: 0, body: pad6 },
      { type: 43, body: [0, 0, 0, 0, 0, 0, ...new Array(16).fill(0xaa)] }, // routing, 24 octets
      { type: 51, body: new Array(14).fill(0xbb) }, // AH, 16 octets
      { type: 44, body: [0, 0, 0, 0, 0, 1] }, // atomic fragment (offset 0, M = 0)
      { type: 60, body: pad6 },
    ]);
    const d = datagram(parseIpUdpFrame(LINKTYPE_RAW, packet));
    expect(d.ip).toEqual({ version: 6, source: 'fd00::2', destination: 'ff02::77:1', protocol: 17 });
    expect(d.payloadOffset).toBe(40 + 8 + 24 + 16 + 8 + 8 + 8);
    expect(hex(d.payload)).toBe(hex(PAYLOAD));
  });

  it('fragments are skipped, with the datagram ID: IPv4 first and later fragments, IPv6 fragment headers', () => {
    const first = ipv4();
    first[4] = 0x12;
    first[5] = 0x34;
    first[6] = 0x20; // MF
    expect(parseIpUdpFrame(LINKTYPE_RAW, first)).toMatchObject({
      kind: 'skipped',
      skip: { reason: 'ip-fragment', message: 'IPv4 the first fragment of datagram ID 4660; fragments are not reassembled' },
      ip: { source: '10.0.0.2', protocol: 17 },
    });
    const later = ipv4();
    later[6] = 0x00;
    later[7] = 0xb9; // offset 185 * 8 = 1480, no MF: the last fragment
    expect(parseIpUdpFrame(LINKTYPE_RAW, later)).toMatchObject({ kind: 'skipped', skip: { reason: 'ip-fragment', message: expect.stringContaining('non-first fragment (offset 1480)') } });
    const v6first = withIpv6Extensions(ipv6(), [{ type: 44, body: [0, 1, 0, 0, 0, 7] }]);
    expect(parseIpUdpFrame(LINKTYPE_RAW, v6first)).toMatchObject({ kind: 'skipped', skip: { reason: 'ip-fragment', message: expect.stringContaining('first fragment of datagram ID 7') } });
    const v6later = withIpv6Extensions(ipv6(), [{ type: 44, body: [0x05, 0xc8, 0, 0, 0, 7] }]);
    expect(parseIpUdpFrame(LINKTYPE_RAW, v6later)).toMatchObject({ kind: 'skipped', skip: { reason: 'ip-fragment', message: expect.stringContaining('offset 1480') } });
  });

  it('other ports are skipped with the ports; either port may be the selected one; port 0 takes any', () => {
    const dns = ipv4({ sourcePort: 5353, destinationPort: 53 });
    expect(parseIpUdpFrame(LINKTYPE_RAW, dns)).toEqual({
      kind: 'skipped',
      skip: { reason: 'other-port', message: 'UDP ports 5353 -> 53, neither is 5600' },
      ip: { version: 4, source: '10.0.0.2', destination: '239.255.77.1', protocol: 17 },
      udp: { sourcePort: 5353, destinationPort: 53 },
    });
    expect(datagram(parseIpUdpFrame(LINKTYPE_RAW, dns, { udpPort: 0 })).udp.destinationPort).toBe(53);
    expect(datagram(parseIpUdpFrame(LINKTYPE_RAW, dns, { udpPort: 5353 })).udp.sourcePort).toBe(5353);
    expect(datagram(parseIpUdpFrame(LINKTYPE_RAW, ipv4({ sourcePort: PORT, destinationPort: 9 }))).udp.sourcePort).toBe(PORT);
    expect(parseIpUdpFrame(LINKTYPE_RAW, ipv4(), { udpPort: 7000 })).toMatchObject({ kind: 'skipped', skip: { reason: 'other-port' } });
  });

  it('not UDP: ICMP, TCP, ICMPv6, no next header; the protocol is reported', () => {
    const icmp = ipv4();
    icmp[9] = 1;
    expect(parseIpUdpFrame(LINKTYPE_RAW, icmp)).toMatchObject({ kind: 'skipped', skip: { reason: 'not-udp', message: 'IP protocol 1 is not UDP' }, ip: { protocol: 1 } });
    const icmp6 = ipv6();
    icmp6[6] = 58;
    expect(parseIpUdpFrame(LINKTYPE_RAW, icmp6)).toMatchObject({ kind: 'skipped', skip: { reason: 'not-udp' }, ip: { version: 6, protocol: 58 } });
    const behindHop = withIpv6Extensions(ipv6(), [{ type: 0, body: [1, 4, 0, 0, 0, 0] }]);
    behindHop[40] = 59; // no next header
    expect(parseIpUdpFrame(LINKTYPE_RAW, behindHop)).toMatchObject({ kind: 'skipped', skip: { reason: 'not-udp' }, ip: { protocol: 59 } });
  });

  it('every truncation of every link type is a typed `truncated` error, at the octet where the frame ends or the header that does not fit', () => {
    const frames: Array<[number, Uint8Array]> = [
      [LINKTYPE_RAW, withIpv4Options(ipv4(), [1, 1, 1, 0])],
      [LINKTYPE_RAW, withIpv6Extensions(ipv6(), [{ type: 60, body: [1, 4, 0, 0, 0, 0] }])],
      [LINKTYPE_ETHERNET, emitIpUdpFrame(LINKTYPE_ETHERNET, { ...V4, vlan: 5 })],
      [LINKTYPE_LINUX_SLL, emitIpUdpFrame(LINKTYPE_LINUX_SLL, V6)],
      [LINKTYPE_LINUX_SLL2, emitIpUdpFrame(LINKTYPE_LINUX_SLL2, V4)],
      [LINKTYPE_NULL, emitIpUdpFrame(LINKTYPE_NULL, V4)],
      [LINKTYPE_IPV6, emitIpUdpFrame(LINKTYPE_IPV6, V6)],
    ];
    let checked = 0;
    for (const [linkType, frame] of frames) {
      expect(parseIpUdpFrame(linkType, frame).kind).toBe('datagram');
      for (let n = 0; n < frame.length; n++) {
        const r = parseIpUdpFrame(linkType, frame.subarray(0, n));
        expect(r.kind, `link type ${linkType} cut at ${n}`).toBe('malformed');
        if (r.kind !== 'malformed') continue;
        expect(r.error.code).toBe('truncated');
        expect(r.error.at).toBeLessThanOrEqual(n);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(500);
    expect(parseIpUdpFrame(LINKTYPE_ETHERNET, new Uint8Array(10))).toEqual({
      kind: 'malformed',
      error: { code: 'truncated', layer: 'link', at: 10, message: 'Ethernet header truncated: 10 of 14 octets' },
    });
  });

  it('contradicting headers: IP version, IHL, total length, UDP length', () => {
    const err = (linkType: number, f: Uint8Array) => {
      const r = parseIpUdpFrame(linkType, f);
      if (r.kind !== 'malformed') throw new Error(`expected malformed, got ${r.kind}`);
      return r.error;
    };
    // An IPv6 packet behind an IPv4 EtherType; a version 5 packet on a raw link.
    const eth = emitIpUdpFrame(LINKTYPE_ETHERNET, V6);
    eth[12] = 0x08;
    eth[13] = 0x00;
    expect(err(LINKTYPE_ETHERNET, eth)).toEqual({ code: 'bad-ip-version', layer: 'ip', at: 14, message: 'IP version 6 where 4 (as the link layer says) was expected' });
    const v5 = ipv4();
    v5[0] = 0x55;
    expect(err(LINKTYPE_RAW, v5)).toMatchObject({ code: 'bad-ip-version', message: 'IP version 5 where 4 or 6 (raw IP link) was expected' });
    expect(err(LINKTYPE_IPV6, ipv4())).toMatchObject({ code: 'bad-ip-version' });
    const ihl = ipv4();
    ihl[0] = 0x44;
    expect(err(LINKTYPE_RAW, ihl)).toMatchObject({ code: 'bad-ip-header-length', at: 0 });
    const total = ipv4();
    total[2] = 0;
    total[3] = 19;
    expect(err(LINKTYPE_RAW, total)).toMatchObject({ code: 'bad-ip-length', at: 2 });
    const short = ipv4();
    short[25] = 7;
    short[24] = 0;
    expect(err(LINKTYPE_RAW, short)).toEqual({ code: 'bad-udp-length', layer: 'udp', at: 24, message: 'UDP length 7 is below the 8-octet header' });
    const long = ipv6();
    long[45] = long[45]! + 1;
    expect(err(LINKTYPE_RAW, long)).toMatchObject({ code: 'bad-udp-length', layer: 'udp', message: `UDP length ${PAYLOAD.length + 9} exceeds the ${PAYLOAD.length + 8} octets of IP payload` });
    // The IP packet ends before its UDP header does.
    const noUdp = ipv4().subarray(0, 24);
    noUdp[3] = 24;
    expect(err(LINKTYPE_RAW, noUdp)).toMatchObject({ code: 'truncated', layer: 'udp' });
  });

  it('a UDP length shorter than the IP payload gives the shorter payload', () => {
    const p = ipv4();
    p[25] = p[25]! - 2;
    expect(hex(datagram(parseIpUdpFrame(LINKTYPE_RAW, p)).payload)).toBe(hex(PAYLOAD.subarray(0, PAYLOAD.length - 2)));
  });

  it('formats IPv6 addresses as RFC 5952 says', () => {
    const text = (groups: number[]) => formatIpv6(Uint8Array.from(groups.flatMap(be16)), 0);
    expect(text([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1])).toBe('2001:db8::1');
    expect(text([0, 0, 0, 0, 0, 0, 0, 1])).toBe('::1');
    expect(text([0, 0, 0, 0, 0, 0, 0, 0])).toBe('::');
    expect(text([0xff02, 0, 0, 0, 0, 0, 1, 2])).toBe('ff02::1:2');
    expect(text([1, 0, 0, 2, 0, 0, 0, 3])).toBe('1:0:0:2::3');
    expect(text([1, 0, 2, 3, 4, 5, 6, 7])).toBe('1:0:2:3:4:5:6:7');
    expect(text([1, 0, 0, 2, 3, 0, 0, 4])).toBe('1::2:3:0:0:4');
  });
});

describe('decoding an interface capture', () => {
  function entriesOf(...materials: ReturnType<typeof material>[]): KeylogEntry[] {
    return parseKeylog(
      materials
        .flatMap((m) => m.pgks.map((p) => formatKeylogLine({ groupId: m.groupId, pgkId: p.pgkId, pgk: p.pgk, profile: m.profile, nea: m.nea, nia: m.nia, expiresAtMs: p.expiresAtMs })))
        .join('\n'),
    );
  }
  const record = (frame: number, data: Uint8Array, originalLength = data.length): PcapRecord => ({
    frame,
    offset: 24 + (frame - 1) * 100,
    timeNs: BigInt(T0_MS) * 1_000_000n + BigInt(frame),
    capturedLength: data.length,
    originalLength,
    data,
  });

  it('deciphers every sender PDU as rx with per-sender replay state, shows the IP/UDP fields, and counts what is skipped or malformed', () => {
    const a = sender(UE_A);
    const b = sender(UE_B);
    const sdus = Array.from({ length: 6 }, (_, i) => new TextEncoder().encode(`sdu ${i}`));
    const envs = sdus.map((sdu, i) => protect(i % 2 === 0 ? a : b, sdu, T0_MS + i, i).envelope);
    const src = (i: number): UdpFrameSpec => ({ ...V4, source: i % 2 === 0 ? '10.0.0.1' : '10.0.0.2', sourcePort: 40000 + (i % 2), payload: encodePduEnvelope(envs[i]!) });
    const frames = [
      ...envs.map((_, i) => emitIpUdpFrame(LINKTYPE_ETHERNET, src(i))),
      emitIpUdpFrame(LINKTYPE_ETHERNET, src(2)), // the same datagram again: a replay for a receiver
      emitIpUdpFrame(LINKTYPE_ETHERNET, { ...V4, destinationPort: 53, sourcePort: 53 }),
      emitIpUdpFrame(LINKTYPE_ETHERNET, { ...V4, payload: Uint8Array.of(0xff, 0xff) }),
      emitIpUdpFrame(LINKTYPE_ETHERNET, src(4)).subarray(0, 60), // cut by the snapshot length
      emitIpUdpFrame(LINKTYPE_ETHERNET, src(5)).subarray(0, 60), // damaged: cut with no snaplen cut
    ];
    const decoder = new CaptureDecoder(entriesOf(material(UE_A)));
    const out = frames.map((f, i) => decoder.decode(record(i + 1, f, i === 9 ? f.length + 100 : f.length), LINKTYPE_ETHERNET));
    for (let i = 0; i < 6; i++) {
      expect(out[i]).toMatchObject({
        direction: 'rx',
        l2SourceId: i % 2 === 0 ? UE_A : UE_B,
        l2DestinationId: GROUP,
        seq: i,
        network: { ip: { version: 4, source: src(i).source, destination: '239.255.77.1', protocol: 17 }, udp: { sourcePort: 40000 + (i % 2), destinationPort: PORT } },
        outcome: { kind: 'accepted' },
      });
      expect(hex((out[i]!.outcome as { sdu: Uint8Array }).sdu)).toBe(hex(sdus[i]!));
    }
    expect(out[6]!.outcome).toEqual({ kind: 'dropped', reason: 'replay' });
    expect(out[7]).toMatchObject({ network: { udp: { sourcePort: 53 } }, outcome: { kind: 'skipped', reason: 'other-port', detail: 'UDP ports 53 -> 53, neither is 5600' } });
    expect(out[8]!.outcome).toMatchObject({ kind: 'malformed', layer: 'envelope', code: 'not-protobuf', at: 14 + 20 + 8, message: expect.stringMatching(/^UDP payload: PduEnvelope/) });
    expect(out[9]!.outcome).toMatchObject({ kind: 'skipped', reason: 'truncated-capture', detail: expect.stringContaining('IPv4 packet truncated') });
    expect(out[10]!.outcome).toMatchObject({ kind: 'malformed', layer: 'ip', code: 'truncated' });
    expect(decoder.counters).toMatchObject({
      frames: 11,
      accepted: 6,
      malformed: 2,
      dropped: { replay: 1 },
      skipped: { 'not-groupcast': 0, 'truncated-capture': 1, 'other-port': 1, 'not-udp': 0, 'not-ip': 0, 'ip-fragment': 0 },
    });
  });

  it('the pcap reader takes interface link types only when asked, and names the link types it knows otherwise', () => {
    const file = pcapFile(LINKTYPE_ETHERNET, [emitIpUdpFrame(LINKTYPE_ETHERNET, V4)]);
    expect(() => parsePcap(file, 'eth.pcap')).toThrow(/link type 1 is not one of LINKTYPE_USER0\.\.15/);
    expect(parsePcap(file, 'eth.pcap', { interfaceCaptures: true }).header.linkType).toBe(1);
    let err: unknown;
    try {
      new PcapParser('x.pcap', { interfaceCaptures: true }).push(pcapFile(105, []));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PcapFormatError);
    expect((err as Error).message).toBe(
      'x.pcap: byte offset 20: link type 105 is neither an sl-bridge capture (LINKTYPE_USER0..15, 147..162) nor an interface capture this reader knows ' +
        '(NULL 0, ETHERNET 1, RAW 12, RAW 14, RAW 101, LOOP 108, LINUX_SLL 113, IPV4 228, IPV6 229, LINUX_SLL2 276)',
    );
    // pcapng (tshark's default format) is refused with how to write classic pcap.
    expect(() => new PcapParser('t.pcapng', { interfaceCaptures: true }).push(Uint8Array.of(0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0, 0))).toThrow(
      't.pcapng: byte offset 0: pcapng: write classic pcap (tshark -F pcap, or editcap -F pcap IN OUT to convert this file)',
    );
  });
});

/** A classic pcap file of `linkType` (microsecond, either byte order) holding `frames`. */
function pcapFile(linkType: number, frames: Uint8Array[], le = true): Buffer {
  const parts: Buffer[] = [];
  const h = Buffer.alloc(24);
  const u32 = (b: Buffer, v: number, at: number) => (le ? b.writeUInt32LE(v, at) : b.writeUInt32BE(v, at));
  const u16 = (b: Buffer, v: number, at: number) => (le ? b.writeUInt16LE(v, at) : b.writeUInt16BE(v, at));
  u32(h, 0xa1b2c3d4, 0);
  u16(h, 2, 4);
  u16(h, 4, 6);
  u32(h, 262144, 16);
  u32(h, linkType, 20);
  parts.push(h);
  frames.forEach((f, i) => {
    const r = Buffer.alloc(16);
    u32(r, Math.floor(T0_MS / 1000) + i, 0);
    u32(r, 0, 4);
    u32(r, f.length, 8);
    u32(r, f.length, 12);
    parts.push(r, Buffer.from(f));
  });
  return Buffer.concat(parts);
}

describe('sl-bridge pdu decode on interface captures', () => {
  function cli(...args: string[]) {
    const r = spawnSync(process.execPath, [BIN, 'pdu', 'decode', ...args], { encoding: 'utf8' });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr.trim() };
  }
  function tmp() {
    const t = tempDir('slb-ip-udp-');
    cleanups.push(t.cleanup);
    return t;
  }

  it('a raw-IP (TUN) capture of both byte orders: one line per datagram with from/to, skipped traffic counted in the summary', () => {
    const t = tmp();
    writeKeylog(t.path('k'), [material(UE_A)]);
    const a = sender(UE_A);
    const b = sender(UE_B);
    const e1 = protect(a, Uint8Array.of(0xca, 0xfe), T0_MS, 0).envelope;
    const e2 = protect(b, Uint8Array.of(0xbe, 0xef), T0_MS + 1, 0).envelope;
    const icmp = ipv4();
    icmp[9] = 1;
    const frag = ipv4();
    frag[6] = 0x20;
    const frames = [
      ipv4({ source: '10.0.0.1', sourcePort: 40001, payload: encodePduEnvelope(e1) }),
      ipv6({ source: 'fd00::b', sourcePort: 40002, payload: encodePduEnvelope(e2) }),
      ipv4({ sourcePort: 53, destinationPort: 53 }),
      icmp,
      frag,
      ipv4({ payload: Uint8Array.of(0x0a) }),
    ];
    for (const le of [true, false]) {
      writeFileSync(t.path('tun.pcap'), pcapFile(LINKTYPE_RAW, frames, le));
      const r = cli('--pcap', t.path('tun.pcap'), '--keylog', t.path('k'));
      expect(r.status).toBe(0);
      expect(r.stdout.trimEnd().split('\n')).toEqual([
        `frame 1 rx from=10.0.0.1:40001 to=239.255.77.1:5600 src=00a001 dst=12ab34 sdu_type=non-ip pgk_index=7 ptk_id=1 sn=0 pgk_id=7 sdu=cafe`,
        `frame 2 rx from=[fd00::b]:40002 to=[ff02::77:1]:5600 src=00b002 dst=12ab34 sdu_type=non-ip pgk_index=7 ptk_id=1 sn=0 pgk_id=7 sdu=beef`,
        'frame 3 from=10.0.0.2:53 to=239.255.77.1:53 skipped=other-port (not the sl-bridge UDP port: UDP ports 53 -> 53, neither is 5600)',
        'frame 4 from=10.0.0.2 to=239.255.77.1 proto=1 skipped=not-udp (not UDP: IP protocol 1 is not UDP)',
        'frame 5 from=10.0.0.2 to=239.255.77.1 proto=17 skipped=ip-fragment (an IP fragment: IPv4 the first fragment of datagram ID 0; fragments are not reassembled)',
        `frame 6 from=10.0.0.2:41234 to=239.255.77.1:5600 malformed=wrong-wire-type layer=envelope at=${24 + 5 * 16 + frames.slice(0, 5).reduce((n, f) => n + f.length, 0)} octet=28 (UDP payload: PduEnvelope.l2_source_id: wire type 2, expected 0)`,
      ]);
      expect(r.stderr).toBe('6 frames: 2 deciphered and verified, 0 dropped, 3 skipped as not sl-bridge traffic (not-udp 1, other-port 1, ip-fragment 1), 1 malformed records');
    }
    const json = cli('--pcap', t.path('tun.pcap'), '--keylog', t.path('k'), '--json');
    const objs = json.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(objs[1]).toMatchObject({ frame: 2, ipVersion: 6, ipSource: 'fd00::b', ipDestination: 'ff02::77:1', ipProtocol: 17, udpSourcePort: 40002, udpDestinationPort: 5600, direction: 'rx', l2SourceId: '00b002', sdu: 'beef' });
    expect(objs[2]).toEqual({
      frame: 3,
      offset: objs[2]!.offset,
      timeNs: objs[2]!.timeNs,
      ipVersion: 4,
      ipSource: '10.0.0.2',
      ipDestination: '239.255.77.1',
      ipProtocol: 17,
      udpSourcePort: 53,
      udpDestinationPort: 53,
      skipped: 'other-port',
      detail: 'UDP ports 53 -> 53, neither is 5600',
    });
    expect(objs[5]).toMatchObject({ malformed: 'wrong-wire-type', layer: 'envelope', octet: 28 });
    // --udp-port 53 takes the port-53 datagram (an envelope with an 8-octet stand-in PDU, dropped), and skips ours.
    expect(cli('--pcap', t.path('tun.pcap'), '--keylog', t.path('k'), '--udp-port', '53').stderr).toBe(
      '6 frames: 0 deciphered and verified, 1 dropped (truncated 1), 5 skipped as not sl-bridge traffic (not-udp 1, other-port 3, ip-fragment 1)',
    );
  });

  it('Ethernet with a VLAN tag and Linux cooked (`-i any`) captures, and bad --udp-port values exit 2', () => {
    const t = tmp();
    writeKeylog(t.path('k'), [material(UE_A)]);
    const e = protect(sender(UE_A), Uint8Array.of(1, 2, 3), T0_MS, 0).envelope;
    for (const [linkType, extra] of [
      [LINKTYPE_ETHERNET, { vlan: 3 }],
      [LINKTYPE_LINUX_SLL2, {}],
      [LINKTYPE_LINUX_SLL, {}],
      [LINKTYPE_NULL, {}],
    ] as const) {
      writeFileSync(t.path('c.pcap'), pcapFile(linkType, [emitIpUdpFrame(linkType, { ...V4, ...extra, payload: encodePduEnvelope(e) })]));
      const r = cli('--pcap', t.path('c.pcap'), '--keylog', t.path('k'));
      expect(r.status, `link type ${linkType}`).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^frame 1 rx from=10\\.0\\.0\\.2:41234 to=239\\.255\\.77\\.1:5600 ${'vlan' in extra ? 'vlan=3 ' : ''}src=00a001 .* sdu=010203\\n$`));
    }
    for (const bad of ['-1', '65536', 'x']) {
      const r = cli('--pcap', t.path('c.pcap'), '--udp-port', bad);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`option '--udp-port <n>' argument '${bad}' is invalid. expected an integer from 0 to 65535`);
    }
    const help = spawnSync(process.execPath, [BIN, 'pdu', 'decode', '--help'], { encoding: 'utf8' });
    expect(help.stdout).toContain("tshark -i oaitun_ue1 -F pcap -w tun.pcap -f 'udp port 5600'");
    expect(help.stdout).toContain('--udp-port <n>');
  });
});
