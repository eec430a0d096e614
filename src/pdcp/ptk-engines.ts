/**
 * PGK -> PTK -> PEK / PIK -> engines, for one (PGK, sender GMI, PTK ID) (PROTOCOL.md 3.2 and 4.2).
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

export interface PtkEngineParams {
  profile: HierarchyProfile;
  pgk: Uint8Array;
  groupId: number;
  /** The sender's GMI. */
  gmi: number;
  ptkId: number;
  nea: AlgId;
  nia: AlgId | null;
}

export function derivePtkEngines(p: PtkEngineParams): PtkEngines {
  const ptk = derivePtk(p.profile, p.pgk, p.gmi, p.ptkId, p.groupId);
  const pek = deriveAlgKey(p.profile, ptk, 'enc', p.nea);
  const cipher = createCipherEngine(p.nea, pek);
  let integrity: IntegrityEngine | null = null;
  if (p.nia !== null) {
    const pik = deriveAlgKey(p.profile, ptk, 'int', p.nia);
    integrity = createIntegrityEngine(p.nia, pik);
  }
  // The key arrays are not zeroed here: an engine may keep a reference to its key (SNOW 3G and
  // ZUC re-initialise from it per packet).
  return { cipher, integrity };
}
