/**
 * `--pcap FILE`: writes every PDU the daemon sends to and receives from its stack transport into
 * a classic pcap file (src/capture/pcap.ts, src/capture/record.ts) that Wireshark opens with
 * bridge/wireshark/sl-bridge.lua. `pdu decode --write-pcap` writes its deciphered records
 * (src/capture/deciphered-record.ts) through the same writer.
 *
 * Hot path: {@link PcapWriter.record} encodes the record into an in-memory chunk (a few stores and
 * one copy of the PDU) and returns; it never waits for the disk and never throws. Full chunks, and
 * every `flushIntervalMs` the partial one, go to the file with one writev at a time.
 *
 * Back-pressure: drop, never block. When the disk does not keep up and more than
 * `maxPendingBytes` are waiting, further records are dropped and counted (`dropped.backlog`)
 * until the backlog drains. After a write error (disk full, I/O error) the writer stops writing,
 * keeps the error in `error`, and counts every later record as `dropped['write-failed']`; the
 * daemon carries on. `close` writes what is buffered and closes the file.
 */
import { close as closeFd, open as openFd, writev, type PathLike } from 'node:fs';
import { promisify } from 'node:util';
import type { OutgoingPdu, PduEnvelope } from '../../src/wire/envelope.js';
import {
  CAPTURE_HEADER_BYTES,
  LINKTYPE_USER0,
  PCAP_RECORD_HEADER_BYTES,
  SNAPLEN,
  decipheredRecordLength,
  emitPcapHeader,
  writeCaptureRecord,
  writeDecipheredRecord,
  writeRecordHeader,
  type CaptureDirection,
  type DecipheredRecord,
} from '../../src/capture/index.js';

const openAsync = promisify(openFd);
const closeAsync = promisify(closeFd);

export interface PcapWriterOptions {
  /** LINKTYPE_USER0..15 (147..162); default 147. Wireshark's dissector follows its preference. */
  linkType?: number;
  /** Size of the in-memory chunks records are packed into (default 64 KiB). */
  chunkBytes?: number;
  /** Bytes allowed to wait for the disk before records are dropped (default 8 MiB). */
  maxPendingBytes?: number;
  /** The partial chunk is written at least this often, ms (default 200; 0: only when full or on close). */
  flushIntervalMs?: number;
}

export const PCAP_DROP_REASONS = [
  /** More than `maxPendingBytes` waiting for the disk. */
  'backlog',
  /** The file had a write error earlier; nothing more is written. */
  'write-failed',
  /** `record` after `close`. */
  'closed',
  /** Not a valid envelope (L2 ID over 24 bits, unknown cast type, no PDU bytes): a caller bug. */
  'invalid',
] as const;
export type PcapDropReason = (typeof PCAP_DROP_REASONS)[number];

export interface PcapWriterCounters {
  /** Records accepted by `record` (buffered). */
  recorded: number;
  /** Records on disk (written successfully). */
  written: number;
  /** Bytes written, the global header included. */
  bytesWritten: number;
  /** Records not captured, per reason. `recorded = written + pending + lost to a write error`. */
  dropped: Record<PcapDropReason, number>;
  /** Records that had been accepted but were lost with a failed write. */
  lostInFailedWrite: number;
}

interface Chunk {
  buf: Buffer;
  records: number;
}

const ENVELOPE_MAX = 0xffff;

export class PcapWriter {
  readonly counters: PcapWriterCounters;
  /** The first write error, if any (the writer stopped writing then). */
  error: Error | undefined;
  private readonly chunkBytes: number;
  private readonly maxPendingBytes: number;
  private current: Buffer;
  private view: DataView;
  private pos = 0;
  private currentRecords = 0;
  private readonly queue: Chunk[] = [];
  /** Bytes in `queue`, in flight and in `current`. */
  private pendingBytes = 0;
  private writing = false;
  private state: 'open' | 'closing' | 'closed' = 'open';
  private readonly timer: NodeJS.Timeout | undefined;
  private drained: (() => void)[] = [];

  private constructor(
    readonly file: string,
    private readonly fd: number,
    options: PcapWriterOptions,
  ) {
    this.chunkBytes = options.chunkBytes ?? 64 * 1024;
    this.maxPendingBytes = options.maxPendingBytes ?? 8 * 1024 * 1024;
    const dropped = {} as Record<PcapDropReason, number>;
    for (const r of PCAP_DROP_REASONS) dropped[r] = 0;
    this.counters = { recorded: 0, written: 0, bytesWritten: 0, dropped, lostInFailedWrite: 0 };
    this.current = Buffer.allocUnsafe(this.chunkBytes);
    this.view = new DataView(this.current.buffer, this.current.byteOffset, this.current.byteLength);
    const header = emitPcapHeader(options.linkType ?? LINKTYPE_USER0, SNAPLEN);
    this.current.set(header, 0);
    this.pos = header.length;
    this.pendingBytes = header.length;
    const interval = options.flushIntervalMs ?? 200;
    if (interval > 0) {
      this.timer = setInterval(() => this.flushPartial(), interval);
      this.timer.unref();
    }
  }

  /**
   * Creates (or truncates) `file` and writes the pcap global header. Throws on a bad option or
   * when the file cannot be created (the daemon reports it at start-up).
   */
  static async open(file: PathLike, options: PcapWriterOptions = {}): Promise<PcapWriter> {
    const chunkBytes = options.chunkBytes ?? 64 * 1024;
    if (!Number.isInteger(chunkBytes) || chunkBytes < 1024) throw new RangeError(`chunkBytes: expected an integer >= 1024, got ${chunkBytes}`);
    const maxPending = options.maxPendingBytes ?? 8 * 1024 * 1024;
    if (!Number.isInteger(maxPending) || maxPending < chunkBytes) {
      throw new RangeError(`maxPendingBytes: expected an integer >= chunkBytes (${chunkBytes}), got ${maxPending}`);
    }
    emitPcapHeader(options.linkType ?? LINKTYPE_USER0); // validates the link type before touching the file
    const fd = await openAsync(file, 'w', 0o644);
    const writer = new PcapWriter(String(file), fd, options);
    writer.sealCurrent(); // the header goes out at once: a capture is a valid (empty) pcap from the start
    writer.pump();
    return writer;
  }

  /**
   * Captures one PDU: `direction` tx (handed to the stack transport) or rx (received from it),
   * at `timeNs` (Unix epoch ns; for tx normally the transmit stamp, for rx the receive time). A
   * full {@link PduEnvelope} also records its `seq` and `txTimeNs`; an {@link OutgoingPdu} (what
   * the daemon gives its transport before the transport stamps it) records them as unknown.
   * Returns false when the record was dropped (counted). Never throws, never blocks.
   */
  record(direction: CaptureDirection, envelope: OutgoingPdu | PduEnvelope, timeNs: bigint): boolean {
    const pdu = envelope.pdu;
    const valid = pdu instanceof Uint8Array && pdu.length > 0 && pdu.length <= ENVELOPE_MAX;
    const at = this.reserve(timeNs, valid ? CAPTURE_HEADER_BYTES + pdu.length : -1);
    if (at < 0) return false;
    return this.commit(at, timeNs, CAPTURE_HEADER_BYTES + pdu.length, writeCaptureRecord(this.current, this.view, at + PCAP_RECORD_HEADER_BYTES, direction, envelope));
  }

  /**
   * Writes one record of a deciphered capture (`pdu decode --write-pcap`,
   * src/capture/deciphered-record.ts) at `timeNs`, the time of the frame it was decoded from.
   * Same buffering, back-pressure and counters as {@link record}.
   */
  recordDeciphered(deciphered: DecipheredRecord, timeNs: bigint): boolean {
    const body = deciphered.body;
    const valid = body instanceof Uint8Array && body.length <= ENVELOPE_MAX && typeof deciphered.reason === 'string';
    const payload = valid ? decipheredRecordLength(deciphered) : -1;
    const at = this.reserve(timeNs, payload);
    if (at < 0) return false;
    return this.commit(at, timeNs, payload, writeDecipheredRecord(this.current, this.view, at + PCAP_RECORD_HEADER_BYTES, deciphered));
  }

  /**
   * Makes room for one pcap record of `payload` octets (-1: the caller found it invalid) and
   * returns its offset in the current chunk, or -1 when the record is dropped (counted).
   */
  private reserve(timeNs: bigint, payload: number): number {
    if (this.state !== 'open') return this.drop('closed');
    if (this.error !== undefined) return this.drop('write-failed');
    if (payload < 0 || typeof timeNs !== 'bigint' || timeNs < 0n) return this.drop('invalid');
    const size = PCAP_RECORD_HEADER_BYTES + payload;
    if (this.pendingBytes + size > this.maxPendingBytes) return this.drop('backlog');
    if (this.pos + size > this.current.length) {
      this.sealCurrent();
      if (size > this.current.length) this.replaceCurrent(size);
      this.pump();
    }
    return this.pos;
  }

  /** Keeps the record filled in at `at` (its payload written when `filled`), or drops it as invalid. */
  private commit(at: number, timeNs: bigint, payload: number, filled: boolean): boolean {
    if (!filled) {
      this.drop('invalid');
      return false;
    }
    writeRecordHeader(this.view, at, timeNs, payload, payload);
    this.pos = at + PCAP_RECORD_HEADER_BYTES + payload;
    this.currentRecords++;
    this.pendingBytes += PCAP_RECORD_HEADER_BYTES + payload;
    this.counters.recorded++;
    return true;
  }

  /** Bytes accepted but not yet on disk. */
  get backlogBytes(): number {
    return this.pendingBytes;
  }

  /** Writes everything recorded so far; resolves when it is on disk (or the writer failed). */
  async flush(): Promise<void> {
    this.flushPartial();
    if (!this.writing && this.queue.length === 0) return;
    await new Promise<void>((resolve) => this.drained.push(resolve));
  }

  /** Flushes and closes the file. Later `record` calls are dropped as `closed`. Idempotent. */
  async close(): Promise<void> {
    if (this.state !== 'open') {
      await this.flush();
      return;
    }
    this.state = 'closing';
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.flush();
    this.state = 'closed';
    await closeAsync(this.fd);
  }

  private drop(reason: PcapDropReason): -1 {
    this.counters.dropped[reason]++;
    return -1;
  }

  private flushPartial(): void {
    if (this.pos > 0) this.sealCurrent();
    this.pump();
  }

  /** Moves the filled part of the current chunk to the write queue and starts a fresh chunk. */
  private sealCurrent(): void {
    if (this.pos === 0) return;
    this.queue.push({ buf: this.current.subarray(0, this.pos), records: this.currentRecords });
    this.replaceCurrent(this.chunkBytes);
  }

  private replaceCurrent(size: number): void {
    this.current = Buffer.allocUnsafe(Math.max(size, this.chunkBytes));
    this.view = new DataView(this.current.buffer, this.current.byteOffset, this.current.byteLength);
    this.pos = 0;
    this.currentRecords = 0;
  }

  private pump(): void {
    if (this.writing || this.queue.length === 0) {
      if (!this.writing) this.notifyDrained();
      return;
    }
    if (this.error !== undefined) {
      for (const c of this.queue) this.lose(c);
      this.queue.length = 0;
      this.notifyDrained();
      return;
    }
    const batch = this.queue.splice(0, this.queue.length);
    const buffers = batch.map((c) => c.buf);
    const total = buffers.reduce((n, b) => n + b.length, 0);
    this.writing = true;
    writev(this.fd, buffers, (err, written) => {
      this.writing = false;
      if (err) {
        this.error = err;
        for (const c of batch) this.lose(c);
        this.pump();
        return;
      }
      this.counters.bytesWritten += written;
      this.pendingBytes -= written;
      if (written < total) {
        // A short write: put the unwritten tail back in front, chunk by chunk.
        let skip = written;
        const rest: Chunk[] = [];
        for (const c of batch) {
          if (skip >= c.buf.length) {
            skip -= c.buf.length;
            this.counters.written += c.records;
            continue;
          }
          rest.push({ buf: c.buf.subarray(skip), records: c.records });
          skip = 0;
        }
        this.queue.unshift(...rest);
      } else {
        for (const c of batch) this.counters.written += c.records;
      }
      this.pump();
    });
  }

  private lose(c: Chunk): void {
    this.pendingBytes -= c.buf.length;
    this.counters.lostInFailedWrite += c.records;
  }

  private notifyDrained(): void {
    if (this.drained.length === 0) return;
    const waiting = this.drained;
    this.drained = [];
    for (const resolve of waiting) resolve();
  }
}
