/**
 * Group key material as a UE holds it: what the PKMF's Key Response carries per group
 * (docs/protocol.md 1 and 7) and what the PDCP layer consumes. Shared by the key client (producer)
 * and the PDCP group key state (consumer).
 */
import type { AlgId, HierarchyProfile } from '../crypto/types.js';

/** One ProSe Group Key (PGK) with its identity and lifetime. */
export interface PgkRecord {
  /** 32-bit PGK ID, strictly increasing per group; its 5 LSBs are the PGK Index of the PDU header. */
  pgkId: number;
  /** 256-bit PGK (32 bytes). Never logged. */
  pgk: Uint8Array;
  /** Expiry as milliseconds since the Unix epoch. */
  expiresAtMs: number;
  /**
   * When senders may start using this PGK, ms since the Unix epoch (the PKMF's activation time,
   * the same instant for every member). Before it the PGK is held for receiving only: a member
   * whose clock runs a little ahead may already send under it. Absent: active at once.
   */
  activeFromMs?: number;
  /**
   * Source authentication `pairwise-mac`: this UE's pairwise keys under this PGK, other member's
   * GMI -> 16-byte key shared with that member only (the PKMF derives them from a per-group secret
   * it never hands out). A member absent here can neither be verified nor addressed. Never logged.
   */
  pairwiseKeys?: ReadonlyMap<number, Uint8Array>;
}

/** What a group requires of every PDU beyond the PDCP MAC-I: who may send in whose name. */
export type SourceAuthMode = 'none' | 'pairwise-mac' | 'signature';

export type SourceAuthMaterial =
  /** The keys are per PGK: {@link PgkRecord.pairwiseKeys}. */
  | { mode: 'pairwise-mac' }
  | {
      mode: 'signature';
      /**
       * This UE's Ed25519 private key (32-byte seed), made by the UE; never leaves it, never logged.
       * Absent: receive only (verifies, cannot send; a capture decoder holds no seed).
       */
      signingSeed?: Uint8Array;
      /** Member GMI -> Ed25519 public key (32 bytes), as the PKMF bound them to authenticated members (own included). */
      publicKeys: ReadonlyMap<number, Uint8Array>;
    };

/** Everything one UE knows about one group. */
export interface GroupKeyMaterial {
  /** 24-bit Group ID (= ProSe Layer-2 group ID = L2 destination of the groupcast). */
  groupId: number;
  /** 24-bit Group Member ID of this UE in the group (= its L2 source ID). */
  gmi: number;
  /** Ciphering algorithm (128-NEA0..3). */
  nea: AlgId;
  /** Integrity algorithm (128-NIA0..3), or null for integrity off (always null for `lte-prose`). */
  nia: AlgId | null;
  profile: HierarchyProfile;
  /** Currently valid PGKs of the group (distinct PGK Indexes), any order. */
  pgks: PgkRecord[];
  /** Source authentication inside the group (docs/pdcp.md); absent: none (any member can pose as any other). */
  sourceAuth?: SourceAuthMaterial;
  /** NEA0/NIA0 are refused unless the group's configuration allows them (docs/protocol.md 4.2). */
  allowNullAlgorithms?: boolean;
}
