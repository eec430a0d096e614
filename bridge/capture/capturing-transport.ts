/**
 * Puts a {@link PcapWriter} on a stack transport: every PDU the transport accepts for sending is
 * recorded as tx, every envelope it delivers as rx, at the time it passes. The daemon wraps its
 * stack transport with this when `--pcap` is given; nothing else changes for it.
 *
 * tx records carry the L2 IDs, cast type and PDU but not the envelope's `seq` / `tx_time_ns`:
 * the transport stamps those inside `send`, after this wrapper sees the frame (the record's flags
 * say so). rx records carry the full envelope.
 */
import type { OutgoingPdu, PduEnvelope } from '../../src/wire/envelope.js';
import { unixNowNs } from '../transport/clock.js';
import type { FrameSink, SendOutcome, StackTransport } from '../transport/types.js';
import type { PcapWriter } from './pcap-writer.js';

export function captureStackTransport(inner: StackTransport, writer: PcapWriter, clock: () => bigint = unixNowNs): StackTransport {
  return {
    kind: inner.kind,
    get description() {
      return inner.description;
    },
    get counters() {
      return inner.counters;
    },
    get linkUp() {
      return inner.linkUp;
    },
    open(sink: FrameSink<PduEnvelope>): Promise<void> {
      return inner.open({
        frame(envelope, from) {
          writer.record('rx', envelope, clock());
          sink.frame(envelope, from);
        },
        malformed: (error, from) => sink.malformed?.(error, from),
        link: (up, detail) => sink.link?.(up, detail),
      });
    },
    send(frame: OutgoingPdu): SendOutcome {
      const outcome = inner.send(frame);
      if (outcome === 'accepted') writer.record('tx', frame, clock());
      return outcome;
    },
    close: () => inner.close(),
  };
}
