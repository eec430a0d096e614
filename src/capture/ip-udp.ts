/**
 * Frames of a capture taken on a network interface (tshark / tcpdump on the interface that carries
 * the `udp` stack transport, e.g. OpenAirInterface's `oaitun_ue1`): link header -> IPv4 or IPv6 ->
 * UDP -> the payload, which the `udp` transport fills with one protobuf PduEnvelope. Parse/emit
 * pair, no I/O, and the parser never throws.
 *
 * Link types read (the pcap global header's, https://www.tcpdump.org/linktypes.html):
 *
 *   LINKTYPE_NULL        0    4-octet address family in the writer's byte order (BSD loopback)
 *   LINKTYPE_ETHERNET    1    14-octet Ethernet II header, up to two 802.1Q / 802.1ad tags
 *   DLT_RAW              12   raw IP (what some writers store instead of 101)
 *   DLT_RAW              14   raw IP (OpenBSD's number)
 *   LINKTYPE_RAW         101  raw IPv4 or IPv6, no link header (tshark on a TUN interface)
 *   LINKTYPE_LOOP        108  like NULL, the address family in network byte order (OpenBSD)
 *   LINKTYPE_LINUX_SLL   113  Linux "cooked" header, 16 octets (`-i any`, older libpcap)
 *   LINKTYPE_IPV4        228  raw IPv4
 *   LINKTYPE_IPV6        229  raw IPv6
 *   LINKTYPE_LINUX_SLL2  276  Linux "cooked" header v2, 20 octets (`-i any`, libpcap >= 1.10)
 *
 * Outcomes of {@link parseIpUdpFrame}:
 * - `datagram`: a complete UDP datagram on the selected port (either its source or its destination
 *   port, like a `udp port N` capture filter; port 0 selects every UDP datagram);
 * - `skipped`: well-formed traffic that is not ours: not IP (ARP, LLDP ...), IP but not UDP
 *   (ICMP, TCP ...), UDP on another port, or an IP fragment (no reassembly: the `udp` transport
 *   keeps datagrams below the MTU, hw-profile `pdu.max_bytes`);
 * - `malformed`: a header that is cut short or whose fields contradict each other, with a code,
 *   the octet offset in the frame and a message.
 * IPv4 options and IPv6 hop-by-hop, routing and destination-options headers are skipped. Checksums
 * are not checked: with checksum offload, captured outgoing datagrams carry none or a wrong one.
 */

export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
/** DLT_RAW as most BSDs and some writers number it in files. */
export const DLT_RAW_12 = 12;
/** DLT_RAW as OpenBSD numbers it. */
export const DLT_RAW_14 = 14;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;

/** Link types of interface captures this module reads, with their names (for messages). */
export const INTERFACE_LINK_TYPES: ReadonlyMap<number, string> = new Map([
  [LINKTYPE_NULL, 'NULL'],
  [LINKTYPE_ETHERNET, 'ETHERNET'],
  [DLT_RAW_12, 'RAW'],
  [DLT_RAW_14, 'RAW'],
  [LINKTYPE_RAW, 'RAW'],
  [LINKTYPE_LOOP, 'LOOP'],
  [LINKTYPE_LINUX_SLL, 'LINUX_SLL'],
  [LINKTYPE_IPV4, 'IPV4'],
  [LINKTYPE_IPV6, 'IPV6'],
  [LINKTYPE_LINUX_SLL2, 'LINUX_SLL2'],
]);

export function isInterfaceLinkType(linkType: number): boolean {
  return INTERFACE_LINK_TYPES.has(linkType);
}

/** The `udp` stack transport's port in the shipped hw-profiles (hw-profiles/oai-nr-sl-tun.yaml). */
export const DEFAULT_SL_BRIDGE_UDP_PORT = 5600;

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
/** 802.1Q, 802.1ad and the old pre-standard QinQ TPID. */
const ETHERTYPE_VLAN = new Set([0x8100, 0x88a8, 0x9100]);
const MAX_VLAN_TAGS = 2;
const IPPROTO_UDP = 17;
/** IPv6 extension headers that are skipped on the way to UDP (hop-by-hop, routing, destination options). */
const IPV6_SKIPPED_EXTENSIONS = new Set([0, 43, 60]);
const IPV6_FRAGMENT = 44;
const IPV6_AH = 51;
const UDP_HEADER_BYTES = 8;

/** The IP layer of a frame, as far as it was read. */
export interface IpInfo {
  version: 4 | 6;
  /** Textual addresses: dotted quad, or RFC 5952 IPv6. */
  source: string;
  destination: string;
  /** The transport protocol (IPv4 protocol / the IPv6 next header after the extension headers), once known. */
  protocol?: number;
}

export interface UdpPorts {
  sourcePort: number;
  destinationPort: number;
}

/** What the link layer said, where it says something. */
export interface LinkInfo {
  /** The outer 802.1Q VLAN ID, when the Ethernet frame was tagged. */
  vlan?: number;
  /** Linux cooked captures: the interface index (SLL2 only) and the packet type (0 to us, 4 outgoing ...). */
  interfaceIndex?: number;
  packetType?: number;
}

export interface UdpDatagram extends LinkInfo {
  ip: IpInfo & { protocol: number };
  udp: UdpPorts;
  /** The UDP payload (a view into the frame). */
  payload: Uint8Array;
  /** Octet offset of the payload in the frame. */
  payloadOffset: number;
}

export type IpUdpSkipReason =
  /** Not IPv4 or IPv6 (ARP, LLDP, an unknown address family ...). */
  | 'not-ip'
  /** IP, but not UDP (ICMP, TCP, IPsec ...). */
  | 'not-udp'
  /** UDP, but neither port is the selected one. */
  | 'other-port'
  /** An IPv4 or IPv6 fragment: datagrams are not reassembled. */
  | 'ip-fragment';

export const IP_UDP_SKIP_REASONS: readonly IpUdpSkipReason[] = ['not-ip', 'not-udp', 'other-port', 'ip-fragment'];

export type IpUdpErrorCode =
  /** The frame ends inside a header, or before the length an IP or UDP header gives. */
  | 'truncated'
  /** The IP version nibble does not match the link layer's protocol (or is neither 4 nor 6 on a raw link). */
  | 'bad-ip-version'
  /** IPv4 IHL below 5. */
  | 'bad-ip-header-length'
  /** IPv4 total length shorter than the header it has. */
  | 'bad-ip-length'
  /** UDP length below 8, or longer than the IP payload that carries it. */
  | 'bad-udp-length'
  /** A link type this module does not read. */
  | 'unsupported-link-type';

export const IP_UDP_ERROR_CODES: readonly IpUdpErrorCode[] = ['truncated', 'bad-ip-version', 'bad-ip-header-length', 'bad-ip-length', 'bad-udp-length', 'unsupported-link-type'];

export type IpUdpLayer = 'link' | 'ip' | 'udp';

export interface IpUdpError {
  readonly code: IpUdpErrorCode;
  readonly layer: IpUdpLayer;
  /** Octet offset in the frame where the problem is. */
  readonly at: number;
  readonly message: string;
}

export interface IpUdpSkip {
  readonly reason: IpUdpSkipReason;
  readonly message: string;
}

/** What was read before the frame was skipped or found malformed. */
export interface IpUdpPartial extends LinkInfo {
  ip?: IpInfo;
  udp?: UdpPorts;
}

export type IpUdpResult =
  | { readonly kind: 'datagram'; readonly value: UdpDatagram }
  | ({ readonly kind: 'skipped'; readonly skip: IpUdpSkip } & IpUdpPartial)
  | ({ readonly kind: 'malformed'; readonly error: IpUdpError } & IpUdpPartial);

export interface IpUdpOptions {
  /** The selected UDP port (default 5600); 0 selects every UDP datagram. */
  udpPort?: number;
}

/** Parses one captured frame of link type `linkType`. Never throws. */
export function parseIpUdpFrame(linkType: number, frame: Uint8Array, options: IpUdpOptions = {}): IpUdpResult {
  const port = options.udpPort ?? DEFAULT_SL_BRIDGE_UDP_PORT;
  const link = parseLink(linkType, frame);
  if (link.kind !== 'ip') return link.result;
  return parseIp(frame, link.at, link.version, link.info, port);
}

type LinkOutcome = { kind: 'ip'; at: number; version: 4 | 6 | undefined; info: LinkInfo } | { kind: 'done'; result: IpUdpResult };

const linkMalformed = (code: IpUdpErrorCode, at: number, message: string, info: LinkInfo = {}): LinkOutcome => ({
  kind: 'done',
  result: { kind: 'malformed', error: { code, layer: 'link', at, message }, ...info },
});
const linkSkip = (message: string, info: LinkInfo = {}): LinkOutcome => ({ kind: 'done', result: { kind: 'skipped', skip: { reason: 'not-ip', message }, ...info } });
const hex4 = (v: number): string => `0x${v.toString(16).padStart(4, '0')}`;

function u16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

/** From an EtherType (Ethernet, SLL, SLL2) to the IP version, or a skip. */
function byEthertype(type: number, at: number, info: LinkInfo): LinkOutcome {
  if (type === ETHERTYPE_IPV4) return { kind: 'ip', at, version: 4, info };
  if (type === ETHERTYPE_IPV6) return { kind: 'ip', at, version: 6, info };
  return linkSkip(`EtherType ${hex4(type)} is not IPv4 or IPv6`, info);
}

/** BSD address families: AF_INET is 2 everywhere; AF_INET6 is 24 (NetBSD, OpenBSD), 28 (FreeBSD), 30 (macOS), 10 (Linux). */
function byAddressFamily(af: number, at: number): LinkOutcome {
  if (af === 2) return { kind: 'ip', at, version: 4, info: {} };
  if (af === 24 || af === 28 || af === 30 || af === 10) return { kind: 'ip', at, version: 6, info: {} };
  return linkSkip(`address family ${af} is not IPv4 or IPv6`);
}

function parseLink(linkType: number, f: Uint8Array): LinkOutcome {
  switch (linkType) {
    case LINKTYPE_RAW:
    case DLT_RAW_12:
    case DLT_RAW_14:
      return { kind: 'ip', at: 0, version: undefined, info: {} };
    case LINKTYPE_IPV4:
      return { kind: 'ip', at: 0, version: 4, info: {} };
    case LINKTYPE_IPV6:
      return { kind: 'ip', at: 0, version: 6, info: {} };
    case LINKTYPE_NULL: {
      if (f.length < 4) return linkMalformed('truncated', f.length, `NULL header truncated: ${f.length} of 4 octets`);
      // The writer's host byte order, which need not be the file's: a small value in either order.
      const le = (f[0]! | (f[1]! << 8) | (f[2]! << 16) | (f[3]! << 24)) >>> 0;
      return byAddressFamily(le <= 0xffff ? le : u32(f, 0), 4);
    }
    case LINKTYPE_LOOP:
      if (f.length < 4) return linkMalformed('truncated', f.length, `LOOP header truncated: ${f.length} of 4 octets`);
      return byAddressFamily(u32(f, 0), 4);
    case LINKTYPE_ETHERNET: {
      if (f.length < 14) return linkMalformed('truncated', f.length, `Ethernet header truncated: ${f.length} of 14 octets`);
      let at = 12;
      let type = u16(f, at);
      const info: LinkInfo = {};
      for (let tags = 0; ETHERTYPE_VLAN.has(type); tags++) {
        if (tags === MAX_VLAN_TAGS) return linkSkip(`more than ${MAX_VLAN_TAGS} VLAN tags`, info);
        if (f.length < at + 6) return linkMalformed('truncated', f.length, `802.1Q tag truncated: the frame ends at octet ${f.length}`, info);
        info.vlan ??= u16(f, at + 2) & 0x0fff;
        at += 4;
        type = u16(f, at);
      }
      if (type < 0x0600) return linkSkip(`an IEEE 802.3 length field (${type}), not an EtherType: not IP`, info);
      return byEthertype(type, at + 2, info);
    }
    case LINKTYPE_LINUX_SLL: {
      if (f.length < 16) return linkMalformed('truncated', f.length, `LINUX_SLL header truncated: ${f.length} of 16 octets`);
      return byEthertype(u16(f, 14), 16, { packetType: u16(f, 0) });
    }
    case LINKTYPE_LINUX_SLL2: {
      if (f.length < 20) return linkMalformed('truncated', f.length, `LINUX_SLL2 header truncated: ${f.length} of 20 octets`);
      return byEthertype(u16(f, 0), 20, { interfaceIndex: u32(f, 4), packetType: f[10]! });
    }
    default:
      return linkMalformed('unsupported-link-type', 0, `link type ${linkType} is not one this reader knows`);
  }
}

function ipMalformed(code: IpUdpErrorCode, at: number, message: string, partial: IpUdpPartial, layer: IpUdpLayer = 'ip'): IpUdpResult {
  return { kind: 'malformed', error: { code, layer, at, message }, ...partial };
}

function skipped(reason: IpUdpSkipReason, message: string, partial: IpUdpPartial): IpUdpResult {
  return { kind: 'skipped', skip: { reason, message }, ...partial };
}

function parseIp(f: Uint8Array, at: number, expected: 4 | 6 | undefined, info: LinkInfo, port: number): IpUdpResult {
  if (f.length <= at) return ipMalformed('truncated', f.length, `no IP header: the frame ends at octet ${f.length}`, info);
  const version = f[at]! >> 4;
  if (expected === undefined ? version !== 4 && version !== 6 : version !== expected) {
    const want = expected === undefined ? '4 or 6 (raw IP link)' : `${expected} (as the link layer says)`;
    return ipMalformed('bad-ip-version', at, `IP version ${version} where ${want} was expected`, info);
  }
  return version === 4 ? parseIpv4(f, at, info, port) : parseIpv6(f, at, info, port);
}

function parseIpv4(f: Uint8Array, at: number, info: LinkInfo, port: number): IpUdpResult {
  if (f.length < at + 20) return ipMalformed('truncated', f.length, `IPv4 header truncated: ${f.length - at} of 20 octets`, info);
  const ip: IpInfo = { version: 4, source: formatIpv4(f, at + 12), destination: formatIpv4(f, at + 16), protocol: f[at + 9]! };
  const partial: IpUdpPartial = { ...info, ip };
  const ihl = (f[at]! & 0x0f) * 4;
  if (ihl < 20) return ipMalformed('bad-ip-header-length', at, `IPv4 IHL ${ihl / 4} is below 5`, partial);
  if (f.length < at + ihl) return ipMalformed('truncated', f.length, `IPv4 header with options truncated: ${f.length - at} of ${ihl} octets`, partial);
  const total = u16(f, at + 2);
  if (total < ihl) return ipMalformed('bad-ip-length', at + 2, `IPv4 total length ${total} is shorter than its ${ihl}-octet header`, partial);
  if (f.length < at + total) return ipMalformed('truncated', f.length, `IPv4 packet truncated: ${f.length - at} of ${total} octets`, partial);
  const flagsFragment = u16(f, at + 6);
  const offset = (flagsFragment & 0x1fff) * 8;
  const more = (flagsFragment & 0x2000) !== 0;
  if (offset !== 0 || more) {
    const which = offset !== 0 ? `a non-first fragment (offset ${offset})` : 'the first fragment';
    return skipped('ip-fragment', `IPv4 ${which} of datagram ID ${u16(f, at + 4)}; fragments are not reassembled`, partial);
  }
  if (ip.protocol !== IPPROTO_UDP) return skipped('not-udp', `IP protocol ${ip.protocol} is not UDP`, partial);
  return parseUdp(f, at + ihl, at + total, ip, info, port);
}

function parseIpv6(f: Uint8Array, at: number, info: LinkInfo, port: number): IpUdpResult {
  if (f.length < at + 40) return ipMalformed('truncated', f.length, `IPv6 header truncated: ${f.length - at} of 40 octets`, info);
  const ip: IpInfo = { version: 6, source: formatIpv6(f, at + 8), destination: formatIpv6(f, at + 24) };
  const partial: IpUdpPartial = { ...info, ip };
  const end = at + 40 + u16(f, at + 4);
  if (f.length < end) return ipMalformed('truncated', f.length, `IPv6 packet truncated: ${f.length - at} of ${end - at} octets`, partial);
  let next = f[at + 6]!;
  let p = at + 40;
  // Each extension header is at least 8 octets, so the loop ends within the packet.
  while (IPV6_SKIPPED_EXTENSIONS.has(next) || next === IPV6_FRAGMENT || next === IPV6_AH) {
    if (end < p + 8) return ipMalformed('truncated', p, `IPv6 extension header ${next} truncated: ${end - p} octets left in the packet`, partial);
    if (next === IPV6_FRAGMENT) {
      const offsetFlags = u16(f, p + 2);
      const offset = offsetFlags & 0xfff8;
      // An atomic fragment (offset 0, no more fragments) is a whole datagram.
      if (offset !== 0 || (offsetFlags & 1) !== 0) {
        const which = offset !== 0 ? `a non-first fragment (offset ${offset})` : 'the first fragment';
        return skipped('ip-fragment', `IPv6 ${which} of datagram ID ${u32(f, p + 4)}; fragments are not reassembled`, partial);
      }
      next = f[p]!;
      p += 8;
      continue;
    }
    const len = next === IPV6_AH ? (f[p + 1]! + 2) * 4 : (f[p + 1]! + 1) * 8;
    if (end < p + len) return ipMalformed('truncated', p, `IPv6 extension header ${next} of ${len} octets truncated: ${end - p} octets left in the packet`, partial);
    next = f[p]!;
    p += len;
  }
  ip.protocol = next;
  if (next !== IPPROTO_UDP) return skipped('not-udp', `IPv6 next header ${next} is not UDP`, partial);
  return parseUdp(f, p, end, ip, info, port);
}

/** UDP from `at` to `end` (the end of the IP payload). */
function parseUdp(f: Uint8Array, at: number, end: number, ip: IpInfo, info: LinkInfo, port: number): IpUdpResult {
  const partial: IpUdpPartial = { ...info, ip };
  if (end - at < UDP_HEADER_BYTES) {
    return ipMalformed('truncated', at, `UDP header truncated: the IP payload holds ${end - at} of 8 octets`, partial, 'udp');
  }
  const udp: UdpPorts = { sourcePort: u16(f, at), destinationPort: u16(f, at + 2) };
  const withPorts: IpUdpPartial = { ...partial, udp };
  if (port !== 0 && udp.sourcePort !== port && udp.destinationPort !== port) {
    return skipped('other-port', `UDP ports ${udp.sourcePort} -> ${udp.destinationPort}, neither is ${port}`, withPorts);
  }
  const length = u16(f, at + 4);
  if (length < UDP_HEADER_BYTES) return ipMalformed('bad-udp-length', at + 4, `UDP length ${length} is below the 8-octet header`, withPorts, 'udp');
  if (length > end - at) {
    return ipMalformed('bad-udp-length', at + 4, `UDP length ${length} exceeds the ${end - at} octets of IP payload`, withPorts, 'udp');
  }
  const payloadOffset = at + UDP_HEADER_BYTES;
  return {
    kind: 'datagram',
    value: { ...info, ip: { ...ip, protocol: IPPROTO_UDP }, udp, payload: f.subarray(payloadOffset, at + length), payloadOffset },
  };
}

export function formatIpv4(b: Uint8Array, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

/** RFC 5952 text: lower case, no leading zeros, the longest run of two or more zero groups as `::`. */
export function formatIpv6(b: Uint8Array, at: number): string {
  const groups = Array.from({ length: 8 }, (_, i) => u16(b, at + 2 * i));
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hexes = groups.map((g) => g.toString(16));
  if (bestAt < 0) return hexes.join(':');
  return `${hexes.slice(0, bestAt).join(':')}::${hexes.slice(bestAt + bestLen).join(':')}`;
}

/** `a.b.c.d:port`, or `[v6]:port`. */
export function formatEndpoint(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

// ---------------------------------------------------------------------------------------------
// Emit: one UDP datagram as a frame of a given link type (synthetic captures, tests).

export interface UdpFrameSpec {
  /** Dotted-quad IPv4 or IPv6 text; both of the same family. */
  source: string;
  destination: string;
  sourcePort: number;
  destinationPort: number;
  payload: Uint8Array;
  /** Ethernet only: one 802.1Q tag with this VLAN ID. */
  vlan?: number;
  /** IPv4 TTL / IPv6 hop limit (default 1, as the `udp` transport sends). */
  ttl?: number;
}

function parseIpv4Text(s: string): Uint8Array | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const b = m.slice(1).map(Number);
  return b.every((x) => x <= 255) ? Uint8Array.from(b) : undefined;
}

function parseIpv6Text(s: string): Uint8Array | undefined {
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const part = (h: string): number[] | undefined => {
    if (h === '') return [];
    const gs = h.split(':');
    return gs.every((g) => /^[0-9a-f]{1,4}$/i.test(g)) ? gs.map((g) => Number.parseInt(g, 16)) : undefined;
  };
  const head = part(halves[0]!);
  const tail = halves.length === 2 ? part(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return undefined;
  const groups = [...head, ...Array<number>(fill).fill(0), ...tail];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

function onesComplement(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function sum16(b: Uint8Array, from: number, to: number, acc = 0): number {
  for (let i = from; i < to; i += 2) acc += (b[i]! << 8) | (i + 1 < to ? b[i + 1]! : 0);
  return acc;
}

/**
 * One UDP datagram as a frame of `linkType` (one of {@link INTERFACE_LINK_TYPES}), with correct
 * IPv4 header and UDP checksums. Throws RangeError/TypeError on a bad spec (a caller bug).
 */
export function emitIpUdpFrame(linkType: number, spec: UdpFrameSpec): Uint8Array {
  const v4 = [parseIpv4Text(spec.source), parseIpv4Text(spec.destination)];
  const v6 = [parseIpv6Text(spec.source), parseIpv6Text(spec.destination)];
  const version = v4[0] && v4[1] ? 4 : v6[0] && v6[1] ? 6 : undefined;
  if (version === undefined) throw new RangeError(`source, destination: expected two IPv4 or two IPv6 addresses, got ${spec.source} and ${spec.destination}`);
  for (const [name, p] of [['sourcePort', spec.sourcePort], ['destinationPort', spec.destinationPort]] as const) {
    if (!Number.isInteger(p) || p < 0 || p > 0xffff) throw new RangeError(`${name}: expected 0..65535, got ${p}`);
  }
  if (!(spec.payload instanceof Uint8Array)) throw new TypeError('payload: expected a Uint8Array');
  const ttl = spec.ttl ?? 1;
  const src = version === 4 ? v4[0]! : v6[0]!;
  const dst = version === 4 ? v4[1]! : v6[1]!;
  const udpLength = UDP_HEADER_BYTES + spec.payload.length;
  const ipHeader = version === 4 ? 20 : 40;
  if (ipHeader + udpLength > 0xffff + (version === 6 ? 40 : 0)) throw new RangeError(`payload: ${spec.payload.length} octets do not fit one IP packet`);

  const ip = new Uint8Array(ipHeader + udpLength);
  if (version === 4) {
    ip[0] = 0x45;
    ip[2] = ip.length >> 8;
    ip[3] = ip.length & 0xff;
    ip[6] = 0x40; // DF
    ip[8] = ttl;
    ip[9] = IPPROTO_UDP;
    ip.set(src, 12);
    ip.set(dst, 16);
    const c = onesComplement(sum16(ip, 0, 20));
    ip[10] = c >> 8;
    ip[11] = c & 0xff;
  } else {
    ip[0] = 0x60;
    ip[4] = udpLength >> 8;
    ip[5] = udpLength & 0xff;
    ip[6] = IPPROTO_UDP;
    ip[7] = ttl;
    ip.set(src, 8);
    ip.set(dst, 24);
  }
  const u = ipHeader;
  ip[u] = spec.sourcePort >> 8;
  ip[u + 1] = spec.sourcePort & 0xff;
  ip[u + 2] = spec.destinationPort >> 8;
  ip[u + 3] = spec.destinationPort & 0xff;
  ip[u + 4] = udpLength >> 8;
  ip[u + 5] = udpLength & 0xff;
  ip.set(spec.payload, u + 8);
  // Pseudo-header: addresses, protocol, UDP length.
  let acc = sum16(src, 0, src.length, sum16(dst, 0, dst.length)) + IPPROTO_UDP + udpLength;
  acc = sum16(ip, u, ip.length, acc);
  const c = onesComplement(acc) || 0xffff;
  ip[u + 6] = c >> 8;
  ip[u + 7] = c & 0xff;

  const ethertype = version === 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6;
  const prefix = (link: number[]): Uint8Array => {
    const out = new Uint8Array(link.length + ip.length);
    out.set(link, 0);
    out.set(ip, link.length);
    return out;
  };
  const be16 = (v: number): number[] => [v >> 8, v & 0xff];
  switch (linkType) {
    case LINKTYPE_RAW:
    case DLT_RAW_12:
    case DLT_RAW_14:
      return ip;
    case LINKTYPE_IPV4:
    case LINKTYPE_IPV6:
      if ((linkType === LINKTYPE_IPV4) !== (version === 4)) throw new RangeError(`link type ${linkType} cannot carry IPv${version}`);
      return ip;
    case LINKTYPE_NULL:
      return prefix(version === 4 ? [2, 0, 0, 0] : [30, 0, 0, 0]); // little-endian writer, macOS AF_INET6
    case LINKTYPE_LOOP:
      return prefix(version === 4 ? [0, 0, 0, 2] : [0, 0, 0, 24]);
    case LINKTYPE_ETHERNET: {
      // Destination: the IPv4 multicast MAC for a 224/4 address, else broadcast; a locally administered source.
      const mac = version === 4 && dst[0]! >= 224 && dst[0]! <= 239 ? [0x01, 0x00, 0x5e, dst[1]! & 0x7f, dst[2]!, dst[3]!] : [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
      const tag = spec.vlan === undefined ? [] : [0x81, 0x00, ...be16(spec.vlan & 0x0fff)];
      return prefix([...mac, 0x02, 0, 0, 0, 0, 1, ...tag, ...be16(ethertype)]);
    }
    case LINKTYPE_LINUX_SLL:
      // packet type 4 (outgoing), ARPHRD_NONE (TUN), no link-layer address.
      return prefix([0, 4, 0xff, 0xfe, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ...be16(ethertype)]);
    case LINKTYPE_LINUX_SLL2:
      return prefix([...be16(ethertype), 0, 0, 0, 0, 0, 1, 0xff, 0xfe, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    default:
      throw new RangeError(`linkType: expected one of ${[...INTERFACE_LINK_TYPES.keys()].join(', ')}, got ${linkType}`);
  }
}
