/**
 * Every drop of one daemon in one map: the core's own reasons (src/daemon/counters.ts), the PDCP
 * receive entity's (src/pdcp/drop-reasons.ts, under their own names), and those the sockets count
 * themselves:
 *
 *   tx-transport-*  a protected PDU the stack transport did not take (or the layer below refused)
 *   app-*        a verified SDU the application socket could not deliver
 *   malformed-*  bytes from a socket that did not decode
 */
import { DAEMON_DROP_REASONS, type DaemonCounters } from '../../src/daemon/counters.js';
import { DROP_REASONS, type DropReason, type RxCounters } from '../../src/pdcp/drop-reasons.js';
import { SEND_DROP_REASONS, type TransportCounters } from '../transport/types.js';

/**
 * "Security drops": every drop by the PDCP receive entity (integrity, replay, identity, keys,
 * malformed PDUs). A healthy group shows none of them.
 */
export const SECURITY_DROP_REASONS: readonly DropReason[] = DROP_REASONS;

/** Reasons both the core and the PDCP receive entity count (`internal-error`): one key, the sum. */
const SHARED_REASONS: ReadonlySet<string> = new Set(DAEMON_DROP_REASONS.filter((r) => (DROP_REASONS as readonly string[]).includes(r)));

/**
 * Every drop of one daemon in one flat map, reason -> count (PDCP receive reasons under their own
 * names). Zero counts are left out unless `withZeros`.
 */
export function flattenDrops(
  own: DaemonCounters,
  rx: Readonly<RxCounters> | undefined,
  stack: Readonly<TransportCounters>,
  app: Readonly<TransportCounters>,
  withZeros = false,
): Record<string, number> {
  const out: Record<string, number> = {};
  const put = (k: string, v: number): void => {
    if (v !== 0 || withZeros) out[k] = v;
  };
  for (const r of DAEMON_DROP_REASONS) put(r, own.dropped[r] + (SHARED_REASONS.has(r) && rx ? rx[r as DropReason] : 0));
  for (const r of DROP_REASONS) if (!SHARED_REASONS.has(r)) put(r, rx ? rx[r] : 0);
  for (const r of SEND_DROP_REASONS) put(`tx-transport-${r}`, stack.dropped[r]);
  for (const r of SEND_DROP_REASONS) put(`app-${r}`, app.dropped[r]);
  put('malformed-envelope', stack.malformed);
  put('malformed-sdu', app.malformed);
  return out;
}

/** Sum of the security drops in a flattened map. */
export function securityDrops(flat: Record<string, number>): number {
  return SECURITY_DROP_REASONS.reduce((n, r) => n + (flat[r] ?? 0), 0);
}
