/**
 * A warn line per interval instead of a line per event, for events an attacker can cause at will
 * (failed TLS handshakes, refused connections, rate-limited requests): a flood of them must not
 * fill the disk with logs. The first event after a quiet interval is logged at once; the ones that
 * follow are summarised ("N since ..., by reason") when the interval is over, by a timer that does
 * not keep the process alive, and on {@link ThrottledWarn.close}. Counting is src/pkmf/event-summary.ts.
 */
import type { Logger } from 'pino';
import type { EventSummary } from '../../src/pkmf/event-summary.js';
import { EventSummarizer } from '../../src/pkmf/event-summary.js';

export class ThrottledWarn {
  private readonly summarizer: EventSummarizer;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: Logger,
    /** The log message. */
    private readonly msg: string,
    /** The field carrying the count, e.g. `failed`. */
    private readonly countField: string,
    intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.summarizer = new EventSummarizer(intervalMs);
  }

  /** Every event recorded so far. */
  get total(): number {
    return this.summarizer.total;
  }

  record(reason: string, detail?: string): void {
    const s = this.summarizer.record(this.now(), reason, detail);
    if (s) this.emit(s);
    else this.arm();
  }

  /** Logs what is pending now. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const s = this.summarizer.flush(this.now());
    if (s) this.emit(s);
  }

  close(): void {
    this.flush();
  }

  private arm(): void {
    if (this.timer) return;
    const due = this.summarizer.dueAt();
    if (due === undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, Math.max(0, due - this.now()));
    this.timer.unref();
  }

  private emit(s: EventSummary): void {
    this.log.warn(
      {
        [this.countField]: s.count,
        reasons: s.reasons,
        firstAt: new Date(s.firstMs).toISOString(),
        lastAt: new Date(s.lastMs).toISOString(),
        ...(s.lastDetail === undefined ? {} : { last: s.lastDetail }),
      },
      this.msg,
    );
  }
}
