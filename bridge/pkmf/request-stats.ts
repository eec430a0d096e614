/**
 * What a PKMF answered, for its metrics (metrics.ts, read at scrape time) and its shutdown summary:
 * Key Requests per port by result with a histogram of their handling time, group key material
 * issued per group, and requests forwarded to / answered for each peer PKMF. Plain numbers and
 * arrays updated once per request: no label hashing, nothing allocated after a label's first
 * count. Every label value comes from a bounded set: result names (error codes, `OK`, `MIXED`),
 * configured groups and configured peers.
 */
import type { GroupResult } from '../../src/pkmf/codec.js';
import { ErrorCode, errorName } from '../../src/pkmf/errors.js';

/** The UE-facing TLS port or the inter-PKMF HTTP/2 port. */
export type PkmfPort = 'ue' | 'peer';

/** Every requested group got key material. */
export const RESULT_OK = 'OK';
/** The requested groups got different answers (keys for some, or different error codes). */
export const RESULT_MIXED = 'MIXED';

/**
 * The result of one Key Request: the error name when it was refused as a whole (`RATE_LIMITED`,
 * `MALFORMED_REQUEST`, ...); else `OK` when every group got keys, the one error name when every
 * group was refused for the same reason, `MIXED` otherwise.
 */
export function requestResult(error: ErrorCode, groups: readonly GroupResult[]): string {
  if (error !== ErrorCode.NONE) return errorName(error);
  let result: string | undefined;
  for (const g of groups) {
    const name = g.ok ? RESULT_OK : errorName(g.error);
    if (result !== undefined && result !== name) return RESULT_MIXED;
    result = name;
  }
  return result ?? RESULT_OK;
}

/**
 * Upper bounds (seconds) of the handling-time histogram: a local issuance is a SQLite transaction
 * (about a millisecond), a roaming or multi-operator request waits for a peer PKMF, at most
 * `limits.peerTimeoutSec` (5 s by default).
 */
export const REQUEST_SECONDS_BOUNDS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Counts per bucket of {@link REQUEST_SECONDS_BOUNDS} (not cumulative; the last is above every bound). */
export class RequestSeconds {
  readonly counts = new Float64Array(REQUEST_SECONDS_BOUNDS.length + 1);
  count = 0;
  sum = 0;

  record(seconds: number): void {
    const v = seconds > 0 ? seconds : 0;
    let i = 0;
    while (i < REQUEST_SECONDS_BOUNDS.length && v > REQUEST_SECONDS_BOUNDS[i]!) i++;
    this.counts[i]! += 1;
    this.count++;
    this.sum += v;
  }
}

export interface PortRequests {
  /** Key Requests answered, by {@link requestResult}. */
  results: Map<string, number>;
  seconds: RequestSeconds;
}

export type ForwardDirection = 'out' | 'in';

export class RequestStats {
  readonly ports: Record<PkmfPort, PortRequests> = {
    ue: { results: new Map(), seconds: new RequestSeconds() },
    peer: { results: new Map(), seconds: new RequestSeconds() },
  };
  /** Group key answers issued from this PKMF's store, by Group ID. */
  readonly keysIssued = new Map<number, number>();
  /**
   * Requests this PKMF sent to a peer PKMF (`out`: roaming relays, groups another operator owns)
   * or answered for one (`in`), by the peer's PLMN, then by {@link requestResult}.
   */
  readonly forwards: Record<ForwardDirection, Map<string, Map<string, number>>> = { out: new Map(), in: new Map() };

  /** One Key Request answered on `port` after `seconds` of handling; `peer`: the calling PKMF's PLMN. */
  answered(port: PkmfPort, result: string, seconds: number, peer?: string): void {
    const p = this.ports[port];
    increment(p.results, result);
    p.seconds.record(seconds);
    if (peer !== undefined) this.forward('in', peer, result);
  }

  /** The peer PKMF of `peer` was asked and its answer (or its absence) gave `result`. */
  forwarded(peer: string, result: string): void {
    this.forward('out', peer, result);
  }

  issued(groupId: number): void {
    increment(this.keysIssued, groupId);
  }

  /** Key Requests answered on `port`, all results. */
  total(port: PkmfPort): number {
    return this.ports[port].seconds.count;
  }

  private forward(direction: ForwardDirection, peer: string, result: string): void {
    const byPeer = this.forwards[direction];
    let results = byPeer.get(peer);
    if (results === undefined) byPeer.set(peer, (results = new Map()));
    increment(results, result);
  }
}

function increment<K>(m: Map<K, number>, key: K): void {
  m.set(key, (m.get(key) ?? 0) + 1);
}
