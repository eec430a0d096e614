/**
 * Semantic checks of a decoded Key Request (TS 33.503 5.2.5 contents, our limits). A request that
 * fails gets a Key Response with MALFORMED_REQUEST; the connection stays open.
 */
import type { AlgId } from '../crypto/types.js';
import type { KeyRequestMsg } from './codec.js';
import { hex24, isGmi, isPlmnString, isUint24 } from './identity.js';
import { SIGNING_PUBLIC_KEY_BYTES } from './source-auth.js';

export const MAX_GROUPS_PER_REQUEST = 64;

export interface ValidGroupRequest {
  groupId: number;
  supportedNea: ReadonlySet<AlgId>;
  supportedNia: ReadonlySet<AlgId>;
  /** The GMI the UE holds durable PTK ID state for; undefined: none (a fresh GMI is due). */
  heldGmi?: number;
  /** The UE's Ed25519 public key (32 bytes); undefined: it cannot sign (src/pkmf/source-auth.ts). */
  signingPublicKey?: Uint8Array;
}

export interface ValidKeyRequest {
  transactionId: number;
  groups: ValidGroupRequest[];
  homePlmn: string | undefined;
}

export type Validation<T> = { ok: true; value: T } | { ok: false; reason: string };

function algSet(list: readonly number[], what: string): Validation<ReadonlySet<AlgId>> {
  if (list.length > 16) return { ok: false, reason: `${what}: more than 16 entries` };
  const out = new Set<AlgId>();
  for (const a of list) {
    if (a !== 0 && a !== 1 && a !== 2 && a !== 3) return { ok: false, reason: `${what}: algorithm ${a} is not 0..3` };
    out.add(a);
  }
  return { ok: true, value: out };
}

export function validateKeyRequest(req: KeyRequestMsg): Validation<ValidKeyRequest> {
  if (req.groups.length === 0) return { ok: false, reason: 'no group requested' };
  if (req.groups.length > MAX_GROUPS_PER_REQUEST) {
    return { ok: false, reason: `${req.groups.length} groups requested, at most ${MAX_GROUPS_PER_REQUEST} allowed` };
  }
  if (req.homePlmn !== '' && !isPlmnString(req.homePlmn)) return { ok: false, reason: 'home_plmn is not "MCC-MNC"' };
  const seen = new Set<number>();
  const groups: ValidGroupRequest[] = [];
  for (const g of req.groups) {
    if (!isUint24(g.groupId)) return { ok: false, reason: `group_id ${g.groupId} is not 24-bit` };
    if (seen.has(g.groupId)) return { ok: false, reason: `group ${hex24(g.groupId)} requested twice` };
    seen.add(g.groupId);
    const nea = algSet(g.supportedNea, `group ${hex24(g.groupId)} supported_nea`);
    if (!nea.ok) return nea;
    if (nea.value.size === 0) return { ok: false, reason: `group ${hex24(g.groupId)}: supported_nea is empty` };
    const nia = algSet(g.supportedNia, `group ${hex24(g.groupId)} supported_nia`);
    if (!nia.ok) return nia;
    if (g.heldGmi !== undefined && !isGmi(g.heldGmi)) return { ok: false, reason: `group ${hex24(g.groupId)}: held_gmi ${g.heldGmi} is not a GMI (1..0xfffffe)` };
    if (g.signingPublicKey !== undefined && g.signingPublicKey.length !== SIGNING_PUBLIC_KEY_BYTES) {
      return { ok: false, reason: `group ${hex24(g.groupId)}: signing_public_key is ${g.signingPublicKey.length} bytes, not ${SIGNING_PUBLIC_KEY_BYTES}` };
    }
    groups.push({
      groupId: g.groupId,
      supportedNea: nea.value,
      supportedNia: nia.value,
      ...(g.heldGmi === undefined ? {} : { heldGmi: g.heldGmi }),
      ...(g.signingPublicKey === undefined ? {} : { signingPublicKey: g.signingPublicKey }),
    });
  }
  return { ok: true, value: { transactionId: req.transactionId, groups, homePlmn: req.homePlmn || undefined } };
}
