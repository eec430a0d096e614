/**
 * The delay the medium applied to each copy it sent, per receiving link, as Prometheus histogram
 * buckets: recorded on the forwarding path (a few comparisons and additions, no allocation, no
 * label hashing: prom-client's `observe` costs about 1 µs, a fifth of the ZeroMQ send it would
 * accompany) and rendered at scrape time by metrics.ts.
 *
 * A link is a daemon's connection, known by its ZeroMQ routing ID; a daemon that reconnects is a
 * new link. So that a long run with restarting daemons does not grow the number of series without
 * bound, the first {@link MAX_LINK_LABELS} links get their own series and later ones share
 * {@link OTHER_LINKS}.
 */

/**
 * Upper bounds, seconds. 0 counts copies sent the moment they arrived (no delay configured); the
 * rest spans the timer's ~1 ms resolution up to the seconds a `--delay-ms` may ask for.
 */
export const DELAY_BOUNDS_S: readonly number[] = [0, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const MAX_LINK_LABELS = 64;
export const OTHER_LINKS = 'other';

export interface DelaySeries {
  readonly link: string;
  /** Per bucket of {@link DELAY_BOUNDS_S} (not cumulative); the last slot counts values above every bound. */
  readonly counts: Float64Array;
  count: number;
  sumS: number;
}

export class LinkDelays {
  /** In the order links were first seen; {@link OTHER_LINKS} (if used) where it was first needed. */
  readonly series: DelaySeries[] = [];
  private readonly byLink = new Map<string, DelaySeries>();

  constructor(private readonly maxLinks = MAX_LINK_LABELS) {}

  /** The series of `link` (made on first sight), or the shared one once `maxLinks` links have their own. */
  seriesFor(link: string): DelaySeries {
    const known = this.byLink.get(link);
    if (known !== undefined) return known;
    const own = this.byLink.size - (this.byLink.has(OTHER_LINKS) ? 1 : 0) < this.maxLinks;
    const key = own ? link : OTHER_LINKS;
    let series = this.byLink.get(key);
    if (series === undefined) {
      series = { link: key, counts: new Float64Array(DELAY_BOUNDS_S.length + 1), count: 0, sumS: 0 };
      this.byLink.set(key, series);
      this.series.push(series);
    }
    return series;
  }

  record(series: DelaySeries, delayMs: number): void {
    const s = delayMs > 0 ? delayMs / 1000 : 0;
    const bounds = DELAY_BOUNDS_S;
    let i = 0;
    while (i < bounds.length && s > bounds[i]!) i++;
    series.counts[i]! += 1;
    series.count++;
    series.sumS += s;
  }
}
