/**
 * `sl-bridge pdu decode --pcap FILE [--keylog FILE] [--json]`: prints every PDU of a capture,
 * deciphered and verified with the keylog's PGKs through the PDCP receive path, or why it was
 * dropped (src/capture/decoder.ts explains the decisions). One line per frame, in file order,
 * written as the file is read, so a damaged file still shows everything before the damage.
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import {
  CaptureDecoder,
  KeylogFormatError,
  PcapFormatError,
  PcapParser,
  parseKeylog,
  sduTypeName,
  type DecodeCounters,
  type DecodedFrame,
  type KeylogEntry,
} from '../../src/capture/index.js';
import { DROP_REASON_TEXT } from '../../src/pdcp/drop-reasons.js';

export interface DecodeOptions {
  pcap: string;
  keylog?: string;
  json?: boolean;
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
} as const;

/** The text line of one frame. */
export function formatFrame(f: DecodedFrame): string {
  const head = `frame ${f.frame}`;
  if (f.outcome.kind === 'malformed') return `${head} malformed=${f.outcome.code} at=${f.offset} (${f.outcome.message})`;
  const parts = [head, f.direction!, `src=${id24(f.l2SourceId)}`, `dst=${id24(f.l2DestinationId)}`];
  if (f.castType !== 'groupcast') parts.push(`cast=${f.castType}`);
  if (f.header !== undefined) {
    parts.push(`sdu_type=${sduTypeName(f.header.sduType)}`, `pgk_index=${f.header.pgkIndex}`, `ptk_id=${f.header.ptkId}`, `sn=${f.header.sn}`);
  }
  switch (f.outcome.kind) {
    case 'accepted':
      parts.push(`pgk_id=${f.outcome.pgkId}`, `sdu=${hex(f.outcome.sdu)}`);
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

/** The JSON line of one frame (bigints as decimal strings, IDs as 6 hex digits). */
export function frameJson(f: DecodedFrame): Record<string, unknown> {
  const o: Record<string, unknown> = { frame: f.frame, offset: f.offset, timeNs: f.timeNs.toString() };
  if (f.outcome.kind === 'malformed') return { ...o, malformed: f.outcome.code, message: f.outcome.message };
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
  if (f.outcome.kind === 'accepted') Object.assign(o, { pgkId: f.outcome.pgkId, sdu: hex(f.outcome.sdu) });
  else if (f.outcome.kind === 'dropped') o.dropped = f.outcome.reason;
  else Object.assign(o, { skipped: f.outcome.reason, pdu: hex(f.pdu!) });
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

/**
 * Decodes the capture, writing one line per frame as it goes. Resolves with the counters; rejects
 * with {@link CaptureInputError} (after the lines of the frames before the problem) when the
 * keylog or the pcap is malformed or unreadable.
 */
export async function decodeCapture(options: DecodeOptions): Promise<DecodeCounters> {
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const entries = options.keylog === undefined ? [] : await loadKeylog(options.keylog);
  const decoder = new CaptureDecoder(entries);
  const parser = new PcapParser(options.pcap);
  const emit = (f: DecodedFrame): void => write(options.json ? JSON.stringify(frameJson(f)) : formatFrame(f));
  try {
    const stream = createReadStream(options.pcap, { highWaterMark: 256 * 1024 });
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      for (const record of parser.push(chunk)) emit(decoder.decode(record));
    }
    parser.end();
  } catch (e) {
    if (e instanceof PcapFormatError) throw new CaptureInputError(`malformed pcap: ${e.message}`, e);
    throw new CaptureInputError(`cannot read pcap ${options.pcap}: ${(e as Error).message}`, e);
  }
  return decoder.counters;
}
