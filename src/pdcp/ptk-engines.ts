/**
 * PGK -> PTK -> PEK / PIK -> engines, for one (PGK, sender GMI, PTK ID) (docs/protocol.md 3.2 and 4.2).
 * This is the expensive per-PTK set-up (three HMAC-SHA-256 and two key schedules); it never runs
 * per packet except for the first PDU of a PTK.
 */
import { createCipherEngine, createIntegrityEngine, deriveAlgKey, derivePtk } from '../crypto/index.js';
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

/** The engines of PTK `ptkId` of sender `senderGmi` under `pgk` in `group`. */
export function derivePtkEngines(group: PtkGroup, pgk: Uint8Array, senderGmi: number, ptkId: number): PtkEngines {
  const { profile, nea, nia } = group;
  const ptk = derivePtk(profile, pgk, senderGmi, ptkId, group.groupId);
  const pek = deriveAlgKey(profile, ptk, 'enc', nea);
  const cipher = createCipherEngine(nea, pek);
  let integrity: IntegrityEngine | null = null;
  if (nia !== null) {
    const pik = deriveAlgKey(profile, ptk, 'int', nia);
    integrity = createIntegrityEngine(nia, pik);
  }
  // The key arrays are not zeroed here: an engine may keep a reference to its key (SNOW 3G and
  // ZUC re-initialise from it per packet).
  return { cipher, integrity };
}
