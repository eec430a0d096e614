/**
 * A relay on the stack link of one daemon (between OAI's PDCP glue and the daemon's stack socket),
 * standing where an attacker on the air stands: it sees every PDU the other UE sent, after OAI
 * carried it, and can alter or repeat it before the daemon gets it. The interop run uses it to
 * show that a tampered PDU that crossed a real stack is dropped as `mac-failure` and a repeated
 * one as `replay`.
 *
 * Both sides are DEALERs like the profile's (`oai-nr-sl-zmq`: the daemon binds a DEALER, the shim
 * connects one): the relay binds where the glue connects and connects, with ZMQ_PROBE_ROUTER like
 * the shim, to the daemon. Empty frames are attach probes and are not forwarded.
 */
import { Dealer } from 'zeromq';
import { decodePduEnvelope, encodePduEnvelope } from '../../src/wire/envelope.js';

export class StackRelay {
  private readonly fromStack = new Dealer({ linger: 0 });
  private readonly toDaemon = new Dealer({ linger: 0, immediate: true, probeRouter: true });
  private tamperNext = 0;
  private last: Uint8Array | undefined;
  readonly counts = { toDaemon: 0, toStack: 0, tampered: 0, replayed: 0 };
  private sending: Promise<unknown> = Promise.resolve();
  private loops: Promise<unknown>[] = [];

  constructor(
    readonly stackEndpoint: string,
    readonly daemonEndpoint: string,
  ) {}

  async open(): Promise<void> {
    await this.fromStack.bind(this.stackEndpoint);
    this.toDaemon.connect(this.daemonEndpoint);
    this.loops = [this.pump(this.fromStack, true), this.pump(this.toDaemon, false)];
  }

  private async pump(from: Dealer, upward: boolean): Promise<void> {
    try {
      for await (const frames of from) {
        const frame = frames[0];
        if (frames.length !== 1 || frame === undefined || frame.length === 0) continue;
        if (upward) {
          let out: Uint8Array = frame;
          if (this.tamperNext > 0) {
            const d = decodePduEnvelope(frame);
            if (d.ok) {
              const pdu = Uint8Array.from(d.value.pdu);
              pdu[pdu.length - 1]! ^= 0x01; // one bit of the MAC-I
              out = encodePduEnvelope({ ...d.value, pdu });
              this.tamperNext--;
              this.counts.tampered++;
            }
          } else {
            this.last = Uint8Array.from(frame);
          }
          this.counts.toDaemon++;
          this.send(this.toDaemon, out);
        } else {
          this.counts.toStack++;
          this.send(this.fromStack, frame);
        }
      }
    } catch {
      /* socket closed */
    }
  }

  /** zeromq.js allows one send at a time per socket; a send that cannot go is dropped. */
  private send(to: Dealer, frame: Uint8Array): void {
    this.sending = this.sending.then(() => to.send(frame)).catch(() => undefined);
  }

  /** Alters one bit of the MAC-I of the next PDU going up to the daemon. */
  tamperWithNext(): void {
    this.tamperNext++;
  }

  /** Sends the last PDU that went up to the daemon once more; false if none went up yet. */
  replayLast(): boolean {
    if (!this.last) return false;
    this.counts.replayed++;
    this.send(this.toDaemon, this.last);
    return true;
  }

  async close(): Promise<void> {
    this.fromStack.close();
    this.toDaemon.close();
    await Promise.allSettled(this.loops);
  }
}
