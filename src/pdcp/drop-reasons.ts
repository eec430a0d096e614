/**
 * Why the receive entity dropped a PDU (docs/protocol.md 6: every drop has a reason counter). The
 * receive path never throws: anything it cannot accept ends in exactly one of these.
 */

/** Every drop reason, in the order the receive path checks them (docs/pdcp.md describes each). */
export const DROP_REASONS = [
  /** The L2 source or destination is not a 24-bit integer (a bug or corruption below us). */
  'invalid-l2-address',
  /** Shorter than header + inner identity block + 1 SDU octet (+ MAC-I). */
  'truncated',
  /** Longer than the configured maximum PDU size. */
  'oversized',
  /** SDU Type reserved in the group's profile (TS 38.323 6.3.12: 101..111; lte-prose, TS 36.323 6.3.14: 010 PC5 signalling, 100..111). */
  'reserved-sdu-type',
  /** The L2 destination is not a group this UE holds keys for. */
  'unknown-group',
  /** The L2 source is this UE's own GMI in that group (our own PDU looped back, or a spoof). */
  'own-source',
  /** No PGK of the group has the PDU's PGK Index. */
  'unknown-pgk-index',
  /** The PGK with that index expired longer ago than the clock-skew grace. */
  'expired-pgk',
  /** COUNT already seen, or older than the anti-replay window (checked again after MAC-I). */
  'replay',
  /** A new sender would exceed the bounded table of replay windows. */
  'sender-table-full',
  /** Keys for a (sender, PTK ID) pair not in the cache were needed and the derivation budget is spent. */
  'derivation-rate-limited',
  /** MAC-I does not verify (forged, corrupted, or keys/algorithms not matching). */
  'mac-failure',
  /** The Group ID in the inner identity block is not the L2 destination. */
  'wrong-group',
  /**
   * The GMI in the inner identity block is not the L2 source (misrouting, or an outsider's splice;
   * a group member can build a matching block in any member's name: docs/protocol.md, threat model).
   */
  'identity-mismatch',
  /**
   * Source authentication (groups that ask for it, docs/pdcp.md): the source-auth block is
   * malformed, or its tag / signature for the claimed sender does not verify. Checked after the
   * MAC-I and before the replay window.
   */
  'bad-source-tag',
  /**
   * Source authentication: no key for the claimed sender (not a member under this PGK's material,
   * e.g. removed at the last key refresh), or no tag in the block addressed to this UE.
   */
  'unknown-member',
  /** The persisted replay mark could not be moved past this COUNT (state disk): not delivered. */
  'replay-state-error',
  /** An unexpected exception inside the receive path (a bug): caught, counted, never thrown. */
  'internal-error',
] as const;

export type DropReason = (typeof DROP_REASONS)[number];

/** Per-reason counters plus `accepted`; they add up to the number of PDUs offered. */
export type RxCounters = { accepted: number } & Record<DropReason, number>;

export function newRxCounters(): RxCounters {
  const counters = { accepted: 0 } as RxCounters;
  for (const reason of DROP_REASONS) counters[reason] = 0;
  return counters;
}

/** Sum of every counter: the number of PDUs the entity was offered. */
export function totalRx(counters: RxCounters): number {
  let total = counters.accepted;
  for (const reason of DROP_REASONS) total += counters[reason];
  return total;
}

/** One-line human explanations, for the CLI and logs. */
export const DROP_REASON_TEXT: Readonly<Record<DropReason, string>> = {
  'invalid-l2-address': 'L2 source/destination is not a 24-bit ID',
  truncated: 'PDU shorter than its header, identity block, SDU and MAC-I need',
  oversized: 'PDU longer than the maximum PDU size',
  'reserved-sdu-type': "SDU Type is reserved (or PC5 signalling) in the group's profile",
  'unknown-group': 'L2 destination is not a group this UE has keys for',
  'own-source': "L2 source is this UE's own Group Member ID",
  'unknown-pgk-index': 'no PGK of the group has this PGK Index',
  'expired-pgk': 'the PGK with this PGK Index has expired',
  replay: 'COUNT already received or older than the anti-replay window',
  'sender-table-full': 'too many senders: no room for another anti-replay window',
  'derivation-rate-limited': 'key derivations for new (sender, PTK ID) pairs are rate-limited right now',
  'mac-failure': 'MAC-I does not verify',
  'wrong-group': 'Group ID inside the ciphered identity block differs from the L2 destination',
  'identity-mismatch': 'Group Member ID inside the ciphered identity block differs from the L2 source',
  'bad-source-tag': 'source-auth block malformed, or its tag / signature for the sender does not verify',
  'unknown-member': 'no source-auth key for the sender, or no tag addressed to this UE',
  'replay-state-error': 'the persisted replay mark could not be moved past this COUNT (state directory not writable)',
  'internal-error': 'unexpected internal error (bug)',
};
