/**
 * The drop reasons and counters the daemon core decides itself. Every SDU from an application and
 * every envelope from the stack side ends in exactly one place: sent / delivered, or one drop
 * reason. The receive entity's reasons (src/pdcp/drop-reasons.ts) keep their names; the daemon's
 * own reasons carry a prefix saying where they happened:
 *
 *   tx-*         an application's SDU that was not protected or not sent
 *   rx-*         an envelope from the stack side dropped before or instead of the PDCP layer
 *
 * The transports' and the application socket's reasons (tx-transport-*, app-*, malformed-*) are
 * counted by them and merged with these by the daemon shell (bridge/daemon/counters.ts).
 */

/** Reasons the daemon itself decides (the transports' and PDCP's come from their own counters). */
export const DAEMON_DROP_REASONS = [
  /** The SDU names a group this daemon does not carry (not in its config). */
  'tx-unknown-group',
  /** No key material for the group yet (PKMF not reached yet): dropped, the application is told. */
  'tx-no-keys',
  /** Keys are held but none is usable now (all expired, not active yet, or PTK IDs used up). */
  'tx-no-usable-pgk',
  /** The SDU was refused by the transmit entity (size or type out of range). */
  'tx-invalid-sdu',
  /** The PTK ID high-water mark could not be made durable: nothing is sent (never reuse a COUNT). */
  'tx-ptk-state',
  /** An envelope whose cast type is not groupcast (this daemon handles groupcast only). */
  'rx-not-groupcast',
  /** An envelope for a group this daemon does not carry: normal on a shared channel, counted. */
  'rx-other-group',
  /**
   * An envelope for a group this daemon carries but holds no keys for yet (PKMF not reached, or a
   * restart still waiting for keys): a wait, not a security event, so not a security drop.
   */
  'rx-no-keys',
  /** Security off: a PDU too short or with a reserved SDU type. */
  'rx-insecure-malformed',
  /** An unexpected exception on the data path (a bug): caught, counted, never thrown. */
  'internal-error',
] as const;
export type DaemonDropReason = (typeof DAEMON_DROP_REASONS)[number];

export interface DaemonCounters {
  /** SDUs received from applications (decoded). */
  sdusIn: number;
  /** PDUs handed to the stack transport and accepted by it. */
  pdusOut: number;
  /** Envelopes received from the stack side (decoded). */
  envelopesIn: number;
  /** SDUs delivered to the application socket (each once, whatever the number of applications). */
  delivered: number;
  dropped: Record<DaemonDropReason, number>;
}

export function newDaemonCounters(): DaemonCounters {
  const dropped = {} as Record<DaemonDropReason, number>;
  for (const r of DAEMON_DROP_REASONS) dropped[r] = 0;
  return { sdusIn: 0, pdusOut: 0, envelopesIn: 0, delivered: 0, dropped };
}
