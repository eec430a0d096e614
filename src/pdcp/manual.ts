/**
 * One PDU protected or unprotected with every field given by hand (the `sl-bridge pdu` commands,
 * captures, cross-checks against other implementations). Same code paths as the entities: key
 * material is validated by the group key state (NEA0/NIA0 refused unless allowed), protection is
 * {@link sealPdu}, and unprotection goes through a real {@link PdcpRxEntity}, so every drop
 * reason is the one the daemon would count.
 */
import { ed25519PublicKeyOf } from '../crypto/ed25519.js';
import type { AlgId, HierarchyProfile } from '../crypto/types.js';
import { GroupKeyState, installGroup } from '../keys/group-key-state.js';
import type { GroupKeyMaterial, SourceAuthMaterial } from '../keys/types.js';
import { MAX_SDU_TYPE, pduLayout, sduTypeCode } from './pdu.js';
import { derivePtkEngines } from './ptk-engines.js';
import { PdcpRxEntity, type UnprotectResult } from './rx-entity.js';
import { sealPdu } from './seal.js';
import { sourceAuthFor } from './source-auth.js';

/**
 * Source authentication by hand (docs/pdcp.md, "Source authentication"), from the point of view
 * of one UE: the sender when protecting; when unprotecting, `receiverId` (default: the sender
 * itself, which checks every tag of its own PDU).
 */
export type ManualSourceAuth =
  | {
      mode: 'pairwise-mac';
      /** That UE's pairwise keys: other member's GMI -> K(UE, member), 16 bytes. */
      pairwiseKeys: ReadonlyMap<number, Uint8Array>;
    }
  | {
      mode: 'signature';
      /** The sender's Ed25519 seed (protect only; verifying needs none). */
      signingSeed?: Uint8Array;
      /** Members' public keys by GMI; the sender's own is derived from the seed when missing. */
      publicKeys: ReadonlyMap<number, Uint8Array>;
    };

export interface ManualKeys {
  profile: HierarchyProfile;
  /** 32-byte PGK. */
  pgk: Uint8Array;
  pgkId: number;
  groupId: number;
  /** The sender's GMI (= L2 source ID). */
  memberId: number;
  nea: AlgId;
  /** null: integrity off. */
  nia: AlgId | null;
  allowNullAlgorithms?: boolean;
  /** Absent: none (today's PDU, no block). */
  sourceAuth?: ManualSourceAuth;
  /** Unprotect only: the receiving UE's GMI, whose tag `pairwise-mac` checks (default: `memberId`). */
  receiverId?: number;
}

function material(keys: ManualKeys, gmi: number): GroupKeyMaterial {
  const sa = keys.sourceAuth;
  let sourceAuth: SourceAuthMaterial | undefined;
  if (sa?.mode === 'pairwise-mac') sourceAuth = { mode: 'pairwise-mac' };
  else if (sa?.mode === 'signature') {
    const publicKeys = new Map(sa.publicKeys);
    if (sa.signingSeed !== undefined && !publicKeys.has(gmi)) publicKeys.set(gmi, ed25519PublicKeyOf(sa.signingSeed));
    sourceAuth = { mode: 'signature', signingSeed: sa.signingSeed, publicKeys };
  }
  return {
    groupId: keys.groupId,
    gmi,
    nea: keys.nea,
    nia: keys.nia,
    profile: keys.profile,
    allowNullAlgorithms: keys.allowNullAlgorithms === true,
    pgks: [{ pgkId: keys.pgkId, pgk: keys.pgk, expiresAtMs: Infinity, pairwiseKeys: sa?.mode === 'pairwise-mac' ? sa.pairwiseKeys : undefined }],
    sourceAuth,
  };
}

function checkU16(value: number, name: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) throw new RangeError(`${name}: expected 0..65535, got ${value}`);
}

/** The PDU for the given fields. Throws TypeError/RangeError naming the bad field. */
export function protectManually(keys: ManualKeys, ptkId: number, sn: number, sduType: number, sdu: Uint8Array): Uint8Array {
  const group = installGroup(material(keys, keys.memberId));
  checkU16(ptkId, 'ptkId');
  checkU16(sn, 'sn');
  if (!Number.isInteger(sduType) || sduType < 0 || sduType > MAX_SDU_TYPE) {
    throw new RangeError(`sduType: expected 0..${MAX_SDU_TYPE} (5..7 are reserved), got ${sduType}`);
  }
  if (!(sdu instanceof Uint8Array) || sdu.length === 0) throw new RangeError('sdu: expected at least one octet');
  const pgk = group.pgksNewestFirst[0]!;
  const engines = derivePtkEngines(group, pgk.pgk, group.gmi, ptkId);
  const layout = pduLayout(group.profile, group.nia !== null);
  const source = sourceAuthFor(group, pgk);
  if (source !== undefined && !source.canSeal) throw new RangeError('sourceAuth.signingSeed: signing needs the sender\'s seed');
  return sealPdu(engines, layout, sduTypeCode(layout, sduType), pgk.index, ptkId, sn, group.groupId, group.gmi, sdu, undefined, source);
}

/**
 * Receives `pdu` as sent by `keys.memberId` to `keys.groupId` with a fresh receive entity (so no
 * replay history; the PGK never expires), as the UE `keys.receiverId` (default: the sender).
 * Throws only for bad key parameters.
 */
export function unprotectManually(keys: ManualKeys, pdu: Uint8Array): UnprotectResult {
  const state = new GroupKeyState();
  // Own-source rejection is off: the receiver may be the sender itself.
  state.install(material(keys, keys.receiverId ?? keys.memberId));
  const rx = new PdcpRxEntity(state, { rejectOwnSource: false });
  return rx.unprotect(pdu, keys.memberId, keys.groupId, 0);
}
