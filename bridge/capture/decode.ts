/**
 * `sl-bridge pdu decode --pcap FILE [--keylog FILE] [--udp-port N] [--json]`: prints every PDU of a
 * capture, deciphered and verified with the keylog's PGKs through the PDCP receive path, or why it
 * was dropped (src/capture/decoder.ts explains the decisions). One line per frame, in file order,
 * written as the file is read, so a damaged file still shows everything before the damage.
 *
 * The capture is sl-bridge's own (`--pcap` of a daemon, LINKTYPE_USER0..15) or one taken with
 * tshark / tcpdump on a network interface carrying the `udp` stack transport (Ethernet, raw IP,
 * Linux cooked ...: src/capture/ip-udp.ts); the file's link type decides. `--write-pcap OUT` also
 * writes every frame that carries an envelope to OUT, the SDU in clear when it was deciphered
 * (src/capture/deciphered-record.ts), for the Wireshark dissector.
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import {
  CaptureDecoder,
  DEFAULT_SL_BRIDGE_UDP_PORT,
  IP_UDP_SKIP_REASONS,
  KeylogFormatError,
  PcapFormatError,
  PcapParser,
  parseKeylog,
  sduTypeName,
  type DecodeCounters,
  type DecodedFrame,
  type FrameNetwork,
  type KeylogEntry,
  decipheredRecordOf,
  formatEndpoint,
  recognizeSdu,
} from '../../src/capture/index.js';
import { DROP_REASON_TEXT } from '../../src/pdcp/drop-reasons.js';
import { PcapWriter } from './pcap-writer.js';

export interface DecodeOptions {
  pcap: string;
  keylog?: string;
  json?: boolean;
  /** Interface captures: the UDP port of the sl-bridge traffic (default 5600); 0 = every UDP datagram. */
  udpPort?: number;
  /** Also write a deciphered capture (src/capture/deciphered-record.ts) to this file. */
  writePcap?: string;
  /** Where lines go (default stdout). */
  write?: (line: string) => void;
}

/** A keylog or pcap that cannot be used: the message names the file and the line or offset. */
export class CaptureInputError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'CaptureInputError';
  }
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
const id24 = (v: number | undefined): string => (v === undefined ? '?' : v.toString(16).padStart(6, '0'));

const SKIP_TEXT = {
  'not-groupcast': 'not groupcast: sl-bridge protects groupcast PDUs only',
  'truncated-capture': 'the record was cut by the snapshot length',
  'not-ip': 'not IP',
  'not-udp': 'not UDP',
  'other-port': 'not the sl-bridge UDP port',
  'ip-fragment': 'an IP fragment',
} as const;

/** Interface captures: `from=A:p to=B:q` (or `from=A to=B proto=N` without UDP), and the VLAN. */
function networkParts(n: FrameNetwork | undefined): string[] {
  if (n?.ip === undefined) return n?.vlan === undefined ? [] : [`vlan=${n.vlan}`];
  const parts =
    n.udp === undefined
      ? [`from=${n.ip.source}`, `to=${n.ip.destination}`, ...(n.ip.protocol === undefined ? [] : [`proto=${n.ip.protocol}`])]
      : [`from=${formatEndpoint(n.ip.source, n.udp.sourcePort)}`, `to=${formatEndpoint(n.ip.destination, n.udp.destinationPort)}`];
  if (n.vlan !== undefined) parts.push(`vlan=${n.vlan}`);
  return parts;
}

/** A RangingMessage SDU's fields for the text line (none for other SDUs; the hex follows either way). */
function rangingParts(sduType: number, sdu: Uint8Array): string[] {
  const c = recognizeSdu(sduType, sdu);
  if (c.kind !== 'ranging') return [];
  const m = c.message;
  return [
    `ranging=${m.kind}`,
    `requester_id=${m.requesterId}`,
    `request_seq=${m.requestSeq}`,
    `request_time_ns=${m.requestTimeNs}`,
    `responder_id=${m.responderId}`,
    `response_time_ns=${m.responseTimeNs}`,
    `padding_bytes=${m.padding.length}`,
  ];
}

/** A RangingMessage SDU's fields as a JSON member (times as decimal strings), or undefined. */
function rangingJson(sduType: number, sdu: Uint8Array): Record<string, unknown> | undefined {
  const c = recognizeSdu(sduType, sdu);
  if (c.kind !== 'ranging') return undefined;
  const m = c.message;
  return {
    kind: m.kind,
    requesterId: m.requesterId,
    requestSeq: m.requestSeq,
    requestTimeNs: m.requestTimeNs.toString(),
    responderId: m.responderId,
    responseTimeNs: m.responseTimeNs.toString(),
    paddingBytes: m.padding.length,
  };
}

/** The text line of one frame. */
export function formatFrame(f: DecodedFrame): string {
  const head = `frame ${f.frame}`;
  const o = f.outcome;
  if (o.kind === 'malformed') {
    if (o.layer === 'capture-record') return `${head} malformed=${o.code} at=${f.offset} (${o.message})`;
    return [head, ...networkParts(f.network), `malformed=${o.code}`, `layer=${o.layer}`, `at=${f.offset}`, ...(o.at === undefined ? [] : [`octet=${o.at}`]), `(${o.message})`].join(' ');
  }
  if (f.pdu === undefined && o.kind === 'skipped') {
    // Interface captures: a frame that carries no PduEnvelope of ours.
    return [head, ...networkParts(f.network), `skipped=${o.reason}`, `(${SKIP_TEXT[o.reason]}${o.detail === undefined ? '' : `: ${o.detail}`})`].join(' ');
  }
  const parts = [head, f.direction!, ...networkParts(f.network), `src=${id24(f.l2SourceId)}`, `dst=${id24(f.l2DestinationId)}`];
  if (f.castType !== 'groupcast') parts.push(`cast=${f.castType}`);
  if (f.header !== undefined) {
    parts.push(`sdu_type=${sduTypeName(f.header.sduType)}`, `pgk_index=${f.header.pgkIndex}`, `ptk_id=${f.header.ptkId}`, `sn=${f.header.sn}`);
  }
  switch (f.outcome.kind) {
    case 'accepted':
      parts.push(`pgk_id=${f.outcome.pgkId}`);
      if (f.sourceVerifiedBy !== undefined) parts.push(`source=${f.sourceVerifiedBy}`);
      parts.push(...rangingParts(f.outcome.sduType, f.outcome.sdu), `sdu=${hex(f.outcome.sdu)}`);
      break;
    case 'dropped':
      parts.push(`dropped=${f.outcome.reason} (${DROP_REASON_TEXT[f.outcome.reason]})`);
      break;
    case 'skipped':
      parts.push(`skipped=${f.outcome.reason} (${SKIP_TEXT[f.outcome.reason]})`, `pdu=${hex(f.pdu!)}`);
      break;
  }
  return parts.join(' ');
}

/** Interface captures: the IP / UDP / link fields of a frame as JSON members. */
function networkJson(n: FrameNetwork | undefined): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (n === undefined) return o;
  if (n.ip !== undefined) {
    Object.assign(o, { ipVersion: n.ip.version, ipSource: n.ip.source, ipDestination: n.ip.destination });
    if (n.ip.protocol !== undefined) o.ipProtocol = n.ip.protocol;
  }
  if (n.udp !== undefined) Object.assign(o, { udpSourcePort: n.udp.sourcePort, udpDestinationPort: n.udp.destinationPort });
  if (n.vlan !== undefined) o.vlan = n.vlan;
  if (n.interfaceIndex !== undefined) o.interfaceIndex = n.interfaceIndex;
  if (n.packetType !== undefined) o.packetType = n.packetType;
  return o;
}

/** The JSON line of one frame (bigints as decimal strings, IDs as 6 hex digits). */
export function frameJson(f: DecodedFrame): Record<string, unknown> {
  const o: Record<string, unknown> = { frame: f.frame, offset: f.offset, timeNs: f.timeNs.toString(), ...networkJson(f.network) };
  const out = f.outcome;
  if (out.kind === 'malformed') {
    return { ...o, malformed: out.code, layer: out.layer, ...(out.at === undefined ? {} : { octet: out.at }), message: out.message };
  }
  if (f.pdu === undefined && out.kind === 'skipped') return { ...o, skipped: out.reason, ...(out.detail === undefined ? {} : { detail: out.detail }) };
  Object.assign(o, {
    direction: f.direction,
    castType: f.castType,
    l2SourceId: id24(f.l2SourceId),
    l2DestinationId: id24(f.l2DestinationId),
  });
  if (f.seq !== undefined) o.seq = f.seq;
  if (f.txTimeNs !== undefined) o.txTimeNs = f.txTimeNs.toString();
  if (f.header !== undefined) Object.assign(o, { sduType: f.header.sduType, pgkIndex: f.header.pgkIndex, ptkId: f.header.ptkId, sn: f.header.sn });
  o.pduLength = f.pdu!.length;
  if (out.kind === 'accepted') {
    const ranging = rangingJson(out.sduType, out.sdu);
    Object.assign(
      o,
      { pgkId: out.pgkId },
      f.sourceVerifiedBy === undefined ? {} : { sourceAuth: f.sourceVerifiedBy },
      { sdu: hex(out.sdu) },
      ranging === undefined ? {} : { ranging },
    );
  }
  else if (out.kind === 'dropped') o.dropped = out.reason;
  else Object.assign(o, { skipped: out.reason, ...(out.detail === undefined ? {} : { detail: out.detail }), pdu: hex(f.pdu!) });
  return o;
}

/** One-line summary of a decode run, e.g. for stderr. */
export function summarize(c: DecodeCounters): string {
  const drops = Object.entries(c.dropped).filter(([, n]) => n > 0);
  const dropped = drops.reduce((n, [, k]) => n + k, 0);
  const skipped = c.skipped['not-groupcast'] + c.skipped['truncated-capture'];
  let s = `${c.frames} frames: ${c.accepted} deciphered and verified, ${dropped} dropped`;
  if (drops.length > 0) s += ` (${drops.map(([r, n]) => `${r} ${n}`).join(', ')})`;
  if (skipped > 0) s += `, ${skipped} not deciphered (not groupcast or cut by the snapshot length)`;
  // Interface captures: the datagrams that are not sl-bridge traffic.
  const others = IP_UDP_SKIP_REASONS.filter((r) => c.skipped[r] > 0);
  const otherCount = others.reduce((n, r) => n + c.skipped[r], 0);
  if (otherCount > 0) s += `, ${otherCount} skipped as not sl-bridge traffic (${others.map((r) => `${r} ${c.skipped[r]}`).join(', ')})`;
  if (c.malformed > 0) s += `, ${c.malformed} malformed records`;
  return s;
}

export async function loadKeylog(file: string): Promise<KeylogEntry[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new CaptureInputError(`cannot read keylog ${file}: ${(e as Error).message}`, e);
  }
  try {
    return parseKeylog(text, file);
  } catch (e) {
    if (e instanceof KeylogFormatError) throw new CaptureInputError(`malformed keylog: ${e.message}`, e);
    throw e;
  }
}

/** What a decode run did: the decoder's counters and, with `writePcap`, the records written. */
export interface DecodeRun {
  counters: DecodeCounters;
  /** `writePcap` only: records in the deciphered capture (frames with an envelope). */
  recordsWritten?: number;
}

/** Refuses an output that is the input itself: opening it for writing would empty the capture first. */
async function checkDistinctFiles(input: string, output: string): Promise<void> {
  if (resolve(input) === resolve(output)) throw new CaptureInputError(`--write-pcap ${output}: is the capture being decoded`);
  const [a, b] = await Promise.all([stat(input).catch(() => undefined), stat(output).catch(() => undefined)]);
  if (a !== undefined && b !== undefined && a.dev === b.dev && a.ino === b.ino) {
    throw new CaptureInputError(`--write-pcap ${output}: is the capture being decoded (${input})`);
  }
}

/**
 * Decodes the capture, writing one line per frame as it goes, and with `writePcap` a deciphered
 * capture (src/capture/deciphered-record.ts) through the pcap writer. Resolves with the counters;
 * rejects with {@link CaptureInputError} (after the lines of the frames before the problem) when
 * the keylog or the pcap is malformed or unreadable, or the deciphered capture cannot be written
 * in full.
 */
export async function decodeCapture(options: DecodeOptions): Promise<DecodeRun> {
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const entries = options.keylog === undefined ? [] : await loadKeylog(options.keylog);
  let decoder: CaptureDecoder;
  try {
    decoder = new CaptureDecoder(entries, { udpPort: options.udpPort ?? DEFAULT_SL_BRIDGE_UDP_PORT });
  } catch (e) {
    // Keys the format accepts but the key state refuses (one line's keys that do not go together).
    throw new CaptureInputError(`unusable keylog ${options.keylog}: ${(e as Error).message}`, e);
  }
  const parser = new PcapParser(options.pcap, { interfaceCaptures: true });
  let out: PcapWriter | undefined;
  if (options.writePcap !== undefined) {
    await checkDistinctFiles(options.pcap, options.writePcap);
    try {
      // No timed flush: the loop below flushes after every chunk it reads.
      out = await PcapWriter.open(options.writePcap, { flushIntervalMs: 0 });
    } catch (e) {
      throw new CaptureInputError(`cannot write ${options.writePcap}: ${(e as Error).message}`, e);
    }
  }
  const emit = (f: DecodedFrame, timeNs: bigint): void => {
    write(options.json ? JSON.stringify(frameJson(f)) : formatFrame(f));
    const record = out === undefined ? undefined : decipheredRecordOf(f);
    if (record !== undefined) out!.recordDeciphered(record, timeNs);
  };
  try {
    const stream = createReadStream(options.pcap, { highWaterMark: 256 * 1024 });
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      for (const record of parser.push(chunk)) emit(decoder.decode(record, parser.fileHeader!.linkType), record.timeNs);
      // The writer drops rather than blocks (it is the daemon's); here waiting is right, so the
      // backlog never grows past one chunk's worth and nothing is dropped.
      await out?.flush();
    }
    parser.end();
  } catch (e) {
    await out?.close().catch(() => undefined); // the read error is the one to report
    if (e instanceof PcapFormatError) throw new CaptureInputError(`malformed pcap: ${e.message}`, e);
    throw new CaptureInputError(`cannot read pcap ${options.pcap}: ${(e as Error).message}`, e);
  }
  if (out === undefined) return { counters: decoder.counters };
  await out.close();
  const lost = out.counters.recorded - out.counters.written + Object.values(out.counters.dropped).reduce((n, k) => n + k, 0);
  if (out.error !== undefined || lost > 0) {
    throw new CaptureInputError(`cannot write ${options.writePcap}: ${out.error?.message ?? `${lost} record(s) not written`}`, out.error);
  }
  return { counters: decoder.counters, recordsWritten: out.counters.written };
}
