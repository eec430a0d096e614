/**
 * Classic libpcap files (https://www.tcpdump.org/manpages/pcap-savefile.5.html, and
 * draft-ietf-opsawg-pcap) carrying sl-bridge capture records: the parse/emit pair, no I/O.
 *
 *   global header (24 octets)  magic, version 2.4, thiszone 0, sigfigs 0, snaplen, link type
 *   per record (16 octets)     ts_sec, ts_subsec, incl_len, orig_len; then incl_len octets
 *
 * We write nanosecond-resolution files (magic 0xA1B23C4D) in little-endian byte order with link
 * type LINKTYPE_USER0 (147) unless told otherwise; the reader also takes microsecond files, either
 * byte order and any of LINKTYPE_USER0..15 (147..162), as editcap and other tools may rewrite them.
 * pcapng is refused with a hint (`tshark -F pcap`, `editcap -F pcap`).
 *
 * The record payload of an sl-bridge capture is a capture header followed by the PDCP PDU
 * (record.ts). With `{ interfaceCaptures: true }` the reader also takes captures taken on a network
 * interface (tshark / tcpdump: Ethernet, raw IP, Linux cooked ...; ip-udp.ts reads their frames).
 */
import { INTERFACE_LINK_TYPES, isInterfaceLinkType } from './ip-udp.js';

/** LINKTYPE_USER0: reserved for private use; Wireshark maps it to wtap encapsulation USER0. */
export const LINKTYPE_USER0 = 147;
/** LINKTYPE_USER15, the last of the 16 private-use link types. */
export const LINKTYPE_USER15 = 162;
export const PCAP_GLOBAL_HEADER_BYTES = 24;
export const PCAP_RECORD_HEADER_BYTES = 16;
/** Nanosecond-resolution magic as written in the file's own byte order. */
export const PCAP_MAGIC_NS = 0xa1b23c4d;
/** Microsecond-resolution magic. */
export const PCAP_MAGIC_US = 0xa1b2c3d4;
/** Our snapshot length: every PDU (at most 65 535 octets) plus its capture header fits. */
export const SNAPLEN = 262_144;
/**
 * Largest incl_len the reader accepts (libpcap's own limit for non-D-Bus link types): beyond it a
 * "record" is almost certainly a damaged length field, not data.
 */
export const MAX_RECORD_BYTES = 262_144;

const PCAPNG_MAGIC = 0x0a0d0d0a;

/** A pcap file that cannot be read: `offset` is the byte offset in the file where it goes wrong. */
export class PcapFormatError extends Error {
  constructor(
    /** The file (or other source) name, for the message. */
    readonly source: string,
    readonly offset: number,
    readonly code: 'not-pcap' | 'pcapng' | 'unsupported-version' | 'unsupported-link-type' | 'bad-record-header' | 'truncated',
    detail: string,
  ) {
    super(`${source}: byte offset ${offset}: ${detail}`);
    this.name = 'PcapFormatError';
  }
}

export interface PcapFileHeader {
  /** True for nanosecond timestamps, false for microseconds. */
  nanoseconds: boolean;
  littleEndian: boolean;
  snaplen: number;
  linkType: number;
}

/** One record as stored; `data` holds `capturedLength` octets (a view, not a copy). */
export interface PcapRecord {
  /** 1-based, like Wireshark's frame numbers. */
  frame: number;
  /** Byte offset of the record header in the file. */
  offset: number;
  /** Capture time, Unix epoch nanoseconds. */
  timeNs: bigint;
  /** incl_len: octets stored. */
  capturedLength: number;
  /** orig_len: octets the record had before any snaplen cut. */
  originalLength: number;
  data: Uint8Array;
}

/** The 24-octet global header we write (little-endian, nanosecond timestamps). */
export function emitPcapHeader(linkType = LINKTYPE_USER0, snaplen = SNAPLEN): Uint8Array {
  if (!Number.isInteger(linkType) || linkType < LINKTYPE_USER0 || linkType > LINKTYPE_USER15) {
    throw new RangeError(`linkType: expected one of LINKTYPE_USER0..15 (147..162), got ${linkType}`);
  }
  if (!Number.isInteger(snaplen) || snaplen < 1 || snaplen > 0x7fffffff) throw new RangeError(`snaplen: expected 1..2^31-1, got ${snaplen}`);
  const out = new Uint8Array(PCAP_GLOBAL_HEADER_BYTES);
  const v = new DataView(out.buffer);
  v.setUint32(0, PCAP_MAGIC_NS, true);
  v.setUint16(4, 2, true); // version 2.4
  v.setUint16(6, 4, true);
  // thiszone and sigfigs stay 0 (timestamps are UTC; the format's recommendation)
  v.setUint32(16, snaplen, true);
  v.setUint32(20, linkType, true);
  return out;
}

/** Writes one 16-octet record header at `offset` of `view` (little-endian, nanosecond timestamps). */
export function writeRecordHeader(view: DataView, offset: number, timeNs: bigint, capturedLength: number, originalLength: number): void {
  const sec = timeNs / 1_000_000_000n;
  view.setUint32(offset, Number(sec & 0xffffffffn), true);
  view.setUint32(offset + 4, Number(timeNs - sec * 1_000_000_000n), true);
  view.setUint32(offset + 8, capturedLength, true);
  view.setUint32(offset + 12, originalLength, true);
}

/**
 * Incremental reader: feed the file in chunks of any size with {@link push}, get back the records
 * completed so far, and call {@link end} at end of file. Throws {@link PcapFormatError} naming the
 * source and the byte offset; records returned before an error were read correctly.
 */
export interface PcapParserOptions {
  /**
   * Also accept the link types of captures taken on a network interface
   * ({@link INTERFACE_LINK_TYPES}: Ethernet, raw IP, Linux cooked, BSD loopback); default false:
   * only sl-bridge's own LINKTYPE_USER0..15.
   */
  interfaceCaptures?: boolean;
}

/** True for the link types of sl-bridge's own captures (LINKTYPE_USER0..15). */
export function isSlBridgeLinkType(linkType: number): boolean {
  return linkType >= LINKTYPE_USER0 && linkType <= LINKTYPE_USER15;
}

export class PcapParser {
  private header: PcapFileHeader | undefined;
  private pending: Uint8Array = new Uint8Array(0);
  /** File offset of `pending[0]`. */
  private pendingOffset = 0;
  private frames = 0;

  private readonly interfaceCaptures: boolean;

  constructor(
    readonly source: string,
    options: PcapParserOptions = {},
  ) {
    this.interfaceCaptures = options.interfaceCaptures === true;
  }

  /** The global header, once read. */
  get fileHeader(): PcapFileHeader | undefined {
    return this.header;
  }

  /** Records read so far. */
  get recordCount(): number {
    return this.frames;
  }

  push(chunk: Uint8Array): PcapRecord[] {
    this.append(chunk);
    const out: PcapRecord[] = [];
    let at = 0;
    const buf = this.pending;
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    if (this.header === undefined) {
      if (buf.length < PCAP_GLOBAL_HEADER_BYTES) {
        // Judge the magic as soon as it is there, so a wrong file fails fast.
        if (buf.length >= 4) this.checkMagic(view);
        this.pending = buf.slice();
        return out;
      }
      this.header = this.readGlobalHeader(view);
      at = PCAP_GLOBAL_HEADER_BYTES;
    }
    const h = this.header;
    const le = h.littleEndian;
    while (buf.length - at >= PCAP_RECORD_HEADER_BYTES) {
      const recordOffset = this.pendingOffset + at;
      const sec = view.getUint32(at, le);
      const sub = view.getUint32(at + 4, le);
      const incl = view.getUint32(at + 8, le);
      const orig = view.getUint32(at + 12, le);
      const subMax = h.nanoseconds ? 1_000_000_000 : 1_000_000;
      if (sub >= subMax) {
        throw new PcapFormatError(this.source, recordOffset + 4, 'bad-record-header',
          `record ${this.frames + 1}: timestamp fraction ${sub} is not below ${subMax} (${h.nanoseconds ? 'ns' : 'µs'})`);
      }
      if (incl > MAX_RECORD_BYTES) {
        throw new PcapFormatError(this.source, recordOffset + 8, 'bad-record-header',
          `record ${this.frames + 1}: captured length ${incl} exceeds the ${MAX_RECORD_BYTES}-octet limit (damaged length field?)`);
      }
      if (incl > orig) {
        throw new PcapFormatError(this.source, recordOffset + 8, 'bad-record-header',
          `record ${this.frames + 1}: captured length ${incl} is larger than the original length ${orig}`);
      }
      if (buf.length - at - PCAP_RECORD_HEADER_BYTES < incl) break; // wait for more data
      const dataAt = at + PCAP_RECORD_HEADER_BYTES;
      this.frames++;
      out.push({
        frame: this.frames,
        offset: recordOffset,
        timeNs: BigInt(sec) * 1_000_000_000n + BigInt(h.nanoseconds ? sub : sub * 1000),
        capturedLength: incl,
        originalLength: orig,
        data: buf.subarray(dataAt, dataAt + incl),
      });
      at = dataAt + incl;
    }
    // Keep a copy of the unread tail (at most one record): the caller may reuse its chunk. The
    // records returned are views into the caller's chunk.
    this.pending = buf.slice(at);
    this.pendingOffset += at;
    return out;
  }

  /** Declares end of file: throws if it ends inside the global header or a record. */
  end(): void {
    if (this.header === undefined) {
      if (this.pending.length >= 4) this.checkMagic(new DataView(this.pending.buffer, this.pending.byteOffset, this.pending.byteLength));
      throw new PcapFormatError(this.source, this.pending.length, 'truncated',
        `file ends after ${this.pending.length} octets, inside the 24-octet pcap global header`);
    }
    if (this.pending.length > 0) {
      const what = this.pending.length < PCAP_RECORD_HEADER_BYTES ? 'record header' : 'record data';
      throw new PcapFormatError(this.source, this.pendingOffset + this.pending.length, 'truncated',
        `file ends inside the ${what} of record ${this.frames + 1} (which starts at byte offset ${this.pendingOffset}); ${this.frames} complete record(s) before it`);
    }
  }

  private append(chunk: Uint8Array): void {
    if (this.pending.length === 0) {
      this.pending = chunk;
      return;
    }
    const merged = new Uint8Array(this.pending.length + chunk.length);
    merged.set(this.pending, 0);
    merged.set(chunk, this.pending.length);
    this.pending = merged;
  }

  private checkMagic(view: DataView): { nanoseconds: boolean; littleEndian: boolean } {
    const le = view.getUint32(0, true);
    if (le === PCAP_MAGIC_NS) return { nanoseconds: true, littleEndian: true };
    if (le === PCAP_MAGIC_US) return { nanoseconds: false, littleEndian: true };
    const be = view.getUint32(0, false);
    if (be === PCAP_MAGIC_NS) return { nanoseconds: true, littleEndian: false };
    if (be === PCAP_MAGIC_US) return { nanoseconds: false, littleEndian: false };
    if (le === PCAPNG_MAGIC) {
      throw new PcapFormatError(this.source, 0, 'pcapng',
        'pcapng: write classic pcap (tshark -F pcap, or editcap -F pcap IN OUT to convert this file); sl-bridge reads classic pcap only');
    }
    throw new PcapFormatError(this.source, 0, 'not-pcap', `not a pcap file: magic number 0x${be.toString(16).padStart(8, '0')} is neither 0xa1b2c3d4 nor 0xa1b23c4d`);
  }

  private readGlobalHeader(view: DataView): PcapFileHeader {
    const { nanoseconds, littleEndian } = this.checkMagic(view);
    const major = view.getUint16(4, littleEndian);
    const minor = view.getUint16(6, littleEndian);
    if (major !== 2) {
      throw new PcapFormatError(this.source, 4, 'unsupported-version', `pcap version ${major}.${minor} is not supported (expected 2.4)`);
    }
    const snaplen = view.getUint32(16, littleEndian);
    // The link type is the low 16 bits; the upper bits carry the FCS length and flags.
    const linkType = view.getUint32(20, littleEndian) & 0xffff;
    if (this.interfaceCaptures && !isSlBridgeLinkType(linkType) && !isInterfaceLinkType(linkType)) {
      const known = [...INTERFACE_LINK_TYPES].map(([n, name]) => `${name} ${n}`).join(', ');
      throw new PcapFormatError(this.source, 20, 'unsupported-link-type',
        `link type ${linkType} is neither an sl-bridge capture (LINKTYPE_USER0..15, 147..162) nor an interface capture this reader knows (${known})`);
    }
    if (!this.interfaceCaptures && !isSlBridgeLinkType(linkType)) {
      throw new PcapFormatError(this.source, 20, 'unsupported-link-type',
        `link type ${linkType} is not one of LINKTYPE_USER0..15 (147..162) that sl-bridge captures use`);
    }
    return { nanoseconds, littleEndian, snaplen, linkType };
  }
}

/** Parses a whole pcap file held in memory (tests, small files). */
export function parsePcap(bytes: Uint8Array, source = 'pcap', options: PcapParserOptions = {}): { header: PcapFileHeader; records: PcapRecord[] } {
  const parser = new PcapParser(source, options);
  const records = parser.push(bytes);
  parser.end();
  return { header: parser.fileHeader!, records };
}
