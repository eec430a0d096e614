/**
 * PGK -> PTK -> PEK / PIK -> engines, for one (PGK, sender GMI, PTK ID) (docs/protocol.md 3.2 and 4.2).
 * This is the per-PTK set-up (three HMAC-SHA-256 and two key schedules); it never runs per
 * packet except for the first PDU of a PTK. The PGK comes keyed for HMAC (its state computed once
 * at install, src/keys/group-key-state.ts) and the PTK is keyed once for both PEK and PIK, so the
 * three KDF calls and the PTK's keying cost 8 SHA-256 compressions (docs/pdcp.md, "Key derivation
 * cost").
 */
import {
  createCipherEngine,
  createIntegrityEngine,
  DEFAULT_KDF_BACKEND,
  deriveAlgKey,
  derivePtk,
  hmacSha256Key,
  type KdfKey,
} from '../crypto/index.js';
import type { AlgId, CipherEngine, HierarchyProfile, IntegrityEngine } from '../crypto/types.js';

export interface PtkEngines {
  readonly cipher: CipherEngine;
  /** null when integrity is off (and always for `lte-prose`). */
  readonly integrity: IntegrityEngine | null;
}

/** What the derivation takes from a group (an `InstalledGroup` of src/keys is one). */
export interface PtkGroup {
  readonly profile: HierarchyProfile;
  readonly groupId: number;
  readonly nea: AlgId;
  readonly nia: AlgId | null;
}

/** The algorithm keys of one PTK: PEK, and PIK unless integrity is off (16 bytes each). */
export interface PtkKeys {
  readonly pek: Uint8Array;
  readonly pik: Uint8Array | null;
}

/**
 * PEK and PIK of PTK `ptkId` of sender `senderGmi` under `pgk` in `group`. `pgk` is best the
 * installed PGK's `kdfKey`; given as bytes it is keyed here, at the cost of two more compressions.
 */
export function derivePtkKeys(group: PtkGroup, pgk: KdfKey, senderGmi: number, ptkId: number): PtkKeys {
  const { profile, nea, nia } = group;
  const ptk = derivePtk(profile, pgk, senderGmi, ptkId, group.groupId);
  // Keyed once for both PEK and PIK, on the PGK's backend (node:crypto only when measuring it).
  const ptkKey = hmacSha256Key(ptk, pgk instanceof Uint8Array ? DEFAULT_KDF_BACKEND : pgk.backend);
  const pek = deriveAlgKey(profile, ptkKey, 'enc', nea);
  const pik = nia === null ? null : deriveAlgKey(profile, ptkKey, 'int', nia);
  // The PTK is needed no more (its keyed state dies with ptkKey).
  ptk.fill(0);
  return { pek, pik };
}

/** The engines of PTK `ptkId` of sender `senderGmi` under `pgk` in `group` (see derivePtkKeys). */
export function derivePtkEngines(group: PtkGroup, pgk: KdfKey, senderGmi: number, ptkId: number): PtkEngines {
  const { pek, pik } = derivePtkKeys(group, pgk, senderGmi, ptkId);
  // PEK and PIK are not zeroed: an engine may keep a reference to its key (SNOW 3G and ZUC
  // re-initialise from it per packet).
  return {
    cipher: createCipherEngine(group.nea, pek),
    integrity: group.nia === null ? null : createIntegrityEngine(group.nia, pik!),
  };
}
