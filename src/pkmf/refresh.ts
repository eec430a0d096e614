/**
 * When the UE key client asks its PKMF again: pure functions of the keys it holds, `now` and an
 * injected uniform random source in [0, 1).
 *
 * - Refresh: the PKMF tells per group when it rolls over to the next PGK (`renewAfterMs`, the
 *   newest PGK's expiry minus the group's overlap); that PGK becomes active halfway through the
 *   overlap (src/pkmf/lifecycle.ts). The client asks at a random point of the first `jitter`
 *   fraction of [rollover, activation), so the members of a group do not all ask at once, all hold
 *   the next PGK before senders switch to it, and a failed attempt leaves time for retries.
 * - Backoff: after a failed attempt, exponential from `backoffBaseMs`, capped at `backoffMaxMs`,
 *   with "equal jitter" (half fixed, half random) so retries of many UEs spread out.
 */

export interface RefreshPolicy {
  /** Fraction (0..1] of the window between rollover and activation over which refreshes spread. */
  jitter: number;
  /** Never schedule sooner than this after now. */
  minDelayMs: number;
  /** Never schedule later than this after now (also the re-check period with nothing to renew). */
  maxDelayMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
}

export const DEFAULT_REFRESH_POLICY: RefreshPolicy = {
  jitter: 0.8,
  minDelayMs: 1_000,
  maxDelayMs: 6 * 3600_000,
  backoffBaseMs: 1_000,
  backoffMaxMs: 60_000,
};

export function checkRefreshPolicy(p: RefreshPolicy): void {
  if (!(p.jitter > 0 && p.jitter <= 1)) throw new RangeError(`jitter: expected a number in (0, 1], got ${p.jitter}`);
  for (const k of ['minDelayMs', 'maxDelayMs', 'backoffBaseMs', 'backoffMaxMs'] as const) {
    if (!Number.isFinite(p[k]) || p[k] < 0) throw new RangeError(`${k}: expected a non-negative number, got ${p[k]}`);
  }
  if (p.maxDelayMs < p.minDelayMs) throw new RangeError('maxDelayMs: must not be below minDelayMs');
  if (p.backoffMaxMs < p.backoffBaseMs) throw new RangeError('backoffMaxMs: must not be below backoffBaseMs');
}

export interface RenewalWindow {
  /** When the PKMF will have the next PGK. */
  renewAfterMs: number;
  /** Expiry of the newest PGK held. */
  newestExpiryMs: number;
}

function clampDelay(at: number, now: number, p: RefreshPolicy): number {
  return Math.min(Math.max(at, now + p.minDelayMs), now + p.maxDelayMs);
}

/** The time of the next refresh for the groups held (their earliest need), clamped to policy. */
export function nextRefreshAt(windows: readonly RenewalWindow[], now: number, random: () => number, p: RefreshPolicy): number {
  let at = now + p.maxDelayMs;
  for (const w of windows) {
    // The next PGK activates halfway between the rollover and the newest PGK's expiry.
    const activation = w.renewAfterMs + Math.floor((w.newestExpiryMs - w.renewAfterMs) / 2);
    const start = Math.max(w.renewAfterMs, now);
    const span = Math.max(0, activation - start);
    const t = start + random() * p.jitter * span;
    if (t < at) at = t;
  }
  return Math.round(clampDelay(at, now, p));
}

/** Delay before retry number `attempt` (1 = first retry after one failure). */
export function backoffDelayMs(attempt: number, random: () => number, p: RefreshPolicy): number {
  const exp = Math.min(p.backoffMaxMs, p.backoffBaseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  return Math.round(exp / 2 + (random() * exp) / 2);
}
