/**
 * A warn line per interval instead of a line per event, for events an attacker can cause at will
 * (failed TLS handshakes, refused connections, rate-limited requests): a flood of them must not
 * fill the disk with logs. The first event after a quiet interval is logged at once; the ones that
 * follow are summarised ("N since ..., by reason") when the interval is over, by a timer that does
 * not keep the process alive, and on {@link ThrottledWarn.close}. Each line also carries the last
 * detail of each reason (`details`), so that a rare event (a roaming UE's certificate refused)
 * keeps its detail in a summary dominated by a flood of another reason. Counting is
 * src/pkmf/event-summary.ts.
 */
import type { Logger } from 'pino';
import type { EventSummary } from '../../src/pkmf/event-summary.js';
import { EventSummarizer } from '../../src/pkmf/event-summary.js';

export class ThrottledWarn {
  private readonly summarizer: EventSummarizer;
  private timer: NodeJS.Timeout | undefined;
  /** The last detail of each reason since the last line (as many reasons as the summarizer keeps). */
  private details = new Map<string, string>();

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
    if (detail !== undefined && (this.details.has(reason) || this.details.size < this.summarizer.maxReasons)) this.details.set(reason, detail);
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
    const details = Object.fromEntries(this.details);
    this.details = new Map();
    this.log.warn(
      {
        [this.countField]: s.count,
        reasons: s.reasons,
        firstAt: new Date(s.firstMs).toISOString(),
        lastAt: new Date(s.lastMs).toISOString(),
        ...(s.lastDetail === undefined ? {} : { last: s.lastDetail }),
        ...(Object.keys(details).length > 0 ? { details } : {}),
      },
      this.msg,
    );
  }
}
