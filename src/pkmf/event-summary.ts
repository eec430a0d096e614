/**
 * Rate-limited reporting of frequent events (failed TLS handshakes, refused connections,
 * rate-limited requests): instead of one log line per event, at most one summary per interval,
 * saying how many happened since the last one and why. Time passed in (ms); pure, no I/O. The
 * caller logs what {@link EventSummarizer.record} returns and, while events are pending, calls
 * {@link EventSummarizer.flush} at {@link EventSummarizer.dueAt}.
 */

export interface EventSummary {
  /** Events since the previous summary. */
  count: number;
  /** Time of the first of them (ms). */
  firstMs: number;
  /** Time of the last of them (ms). */
  lastMs: number;
  /** Count per reason; reasons beyond the distinct-reason bound are counted under "other". */
  reasons: Record<string, number>;
  /** Detail of the last event (e.g. its remote address), if given. */
  lastDetail?: string;
}

export class EventSummarizer {
  private count = 0;
  private firstMs = 0;
  private lastMs = 0;
  private reasons = new Map<string, number>();
  private lastDetail: string | undefined;
  private lastReportMs = -Infinity;
  /** Every event ever recorded. */
  total = 0;

  constructor(
    readonly intervalMs: number,
    readonly maxReasons = 16,
  ) {
    if (!(intervalMs >= 0)) throw new RangeError(`intervalMs: expected a number >= 0, got ${intervalMs}`);
  }

  /**
   * Records one event at `nowMs`. Returns the summary to report now when the previous one is at
   * least an interval old (so a lone event is reported at once); otherwise undefined, and the
   * event waits for {@link flush}.
   */
  record(nowMs: number, reason: string, detail?: string): EventSummary | undefined {
    this.total++;
    if (this.count === 0) this.firstMs = nowMs;
    this.count++;
    this.lastMs = nowMs;
    const key = this.reasons.has(reason) || this.reasons.size < this.maxReasons ? reason : 'other';
    this.reasons.set(key, (this.reasons.get(key) ?? 0) + 1);
    this.lastDetail = detail;
    return nowMs - this.lastReportMs >= this.intervalMs ? this.flush(nowMs) : undefined;
  }

  /** Events recorded and not yet reported. */
  get pending(): number {
    return this.count;
  }

  /** When the pending events are due to be reported (ms); undefined when none are pending. */
  dueAt(): number | undefined {
    return this.count > 0 ? this.lastReportMs + this.intervalMs : undefined;
  }

  /** The summary of the pending events (undefined when there are none); `nowMs` counts as a report. */
  flush(nowMs: number): EventSummary | undefined {
    if (this.count === 0) return undefined;
    const s: EventSummary = {
      count: this.count,
      firstMs: this.firstMs,
      lastMs: this.lastMs,
      reasons: Object.fromEntries(this.reasons),
      ...(this.lastDetail === undefined ? {} : { lastDetail: this.lastDetail }),
    };
    this.count = 0;
    this.reasons = new Map();
    this.lastDetail = undefined;
    this.lastReportMs = nowMs;
    return s;
  }
}
