/**
 * Inter-PKMF JSON bodies (HTTP/2 + mutual TLS), modelled on the TS 29.559 Npkmf_PKMFKeyRequest
 * service style of 5GC SBA APIs: `POST /npkmf-keyreq/v1/key-request` with a
 * `PkmfKeyRequestData` body, answered by `PkmfKeyResponseData` (200) or a TS 29.571
 * `ProblemDetails` (4xx/5xx, `application/problem+json`) whose `cause` is an ErrorCode name.
 * Builders and checking parsers only; no I/O. Field reference: docs/pkmf.md.
 *
 * Encodings (TS 29.571 conventions): Group ID and GMI as 6 hex digits, PLMN as {mcc, mnc},
 * PGK, pairwise and public keys as base64 ("Bytes"), times as RFC 3339 date-times with
 * milliseconds ("DateTime"). Source authentication (src/pkmf/source-auth.ts) travels with the keys,
 * so a roaming or other-operator member gets the same material as a member at the owner.
 */
import type { AlgId, HierarchyProfile } from '../crypto/types.js';
import { HIERARCHY_PROFILES } from '../crypto/types.js';
import type { GroupResult, IssuedGroupKeys, IssuedPgk } from './codec.js';
import { PGK_BYTES } from './codec.js';
import { ErrorCode, errorCodeByName, errorName } from './errors.js';
import { formatPlmn, hex24, isGmi, isSupi, isUint32, parsePlmn } from './identity.js';
import type { IssuedSourceAuth } from './source-auth.js';
import { gmiKeyMap, isSourceAuthMode, PAIRWISE_KEY_BYTES, SIGNING_PUBLIC_KEY_BYTES, sourceAuthModeOf, sourceAuthViolation } from './source-auth.js';
import type { ValidGroupRequest } from './validate.js';
import { MAX_GROUPS_PER_REQUEST } from './validate.js';

export const KEY_REQUEST_PATH = '/npkmf-keyreq/v1/key-request';
export const MAX_JSON_BODY_BYTES = 1024 * 1024;

export interface PeerKeyRequest {
  transactionId: number;
  supi: string;
  /** The PLMN serving the UE ("MCC-MNC"), for logs and the issuance log. */
  servingPlmn: string;
  groups: ValidGroupRequest[];
}

export interface PeerKeyResponse {
  transactionId: number;
  groups: GroupResult[];
}

export interface ProblemDetails {
  status: number;
  title: string;
  detail: string;
  cause: string;
}

type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const HEX24_RE = /^[0-9a-fA-F]{6}$/;
const DATE_TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function plmnJson(plmn: string): { mcc: string; mnc: string } {
  const p = parsePlmn(plmn);
  if (!p) throw new RangeError(`plmn: expected "MCC-MNC", got ${JSON.stringify(plmn)}`);
  return { mcc: p.mcc, mnc: p.mnc };
}

function plmnFromJson(v: unknown): string | undefined {
  if (!isObj(v) || typeof v.mcc !== 'string' || typeof v.mnc !== 'string') return undefined;
  const s = `${v.mcc}-${v.mnc}`;
  const p = parsePlmn(s);
  return p ? formatPlmn(p) : undefined;
}

function dateTime(ms: number): string {
  return new Date(ms).toISOString();
}

function dateTimeFromJson(v: unknown): number | undefined {
  if (typeof v !== 'string' || !DATE_TIME_RE.test(v)) return undefined;
  const ms = Date.parse(v);
  return Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}

/** Base64 text as bytes, or undefined when it is not base64. */
function bytesFromJson(v: unknown): Uint8Array | undefined {
  return typeof v === 'string' && BASE64_RE.test(v) ? Uint8Array.from(Buffer.from(v, 'base64')) : undefined;
}

const base64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

/** A list of {<gmiField>: 6 hex digits, <keyField>: base64} as a checked GMI -> key map. */
function gmiKeysFromJson(v: unknown, gmiField: string, keyField: string, keyBytes: number, at: string): { ok: true; value: Map<number, Uint8Array> } | { ok: false; reason: string } {
  if (!Array.isArray(v)) return { ok: false, reason: `${at}: expected a list` };
  const entries: [unknown, Uint8Array | undefined][] = [];
  for (const [i, e] of v.entries()) {
    if (!isObj(e) || typeof e[gmiField] !== 'string' || !HEX24_RE.test(e[gmiField])) return { ok: false, reason: `${at}[${i}].${gmiField}: expected 6 hex digits` };
    entries.push([parseInt(e[gmiField], 16), bytesFromJson(e[keyField])]);
  }
  return gmiKeyMap(entries, keyBytes, at);
}

function algList(v: unknown): Set<AlgId> | undefined {
  if (!Array.isArray(v) || v.length > 16) return undefined;
  const out = new Set<AlgId>();
  for (const a of v) {
    if (a !== 0 && a !== 1 && a !== 2 && a !== 3) return undefined;
    out.add(a);
  }
  return out;
}

// --- request ----------------------------------------------------------------------------------

export function buildPeerKeyRequest(req: PeerKeyRequest): object {
  return {
    transactionId: req.transactionId,
    supi: req.supi,
    servingPlmn: plmnJson(req.servingPlmn),
    groups: req.groups.map((g) => ({
      groupId: hex24(g.groupId),
      supportedNea: [...g.supportedNea].sort(),
      supportedNia: [...g.supportedNia].sort(),
      ...(g.heldGmi === undefined ? {} : { heldGmi: hex24(g.heldGmi) }),
      ...(g.signingPublicKey === undefined ? {} : { signingPublicKey: base64(g.signingPublicKey) }),
    })),
  };
}

export function parsePeerKeyRequest(body: unknown): Parsed<PeerKeyRequest> {
  if (!isObj(body)) return { ok: false, reason: 'body is not a JSON object' };
  if (!isUint32(body.transactionId)) return { ok: false, reason: 'transactionId: expected a 32-bit unsigned integer' };
  if (!isSupi(body.supi)) return { ok: false, reason: 'supi: expected "imsi-" and 6 to 15 digits' };
  const servingPlmn = plmnFromJson(body.servingPlmn);
  if (!servingPlmn) return { ok: false, reason: 'servingPlmn: expected {"mcc": 3 digits, "mnc": 2 or 3 digits}' };
  if (!Array.isArray(body.groups) || body.groups.length === 0 || body.groups.length > MAX_GROUPS_PER_REQUEST) {
    return { ok: false, reason: `groups: expected a list of 1 to ${MAX_GROUPS_PER_REQUEST} entries` };
  }
  const groups: ValidGroupRequest[] = [];
  const seen = new Set<number>();
  for (const [i, g] of body.groups.entries()) {
    if (!isObj(g) || typeof g.groupId !== 'string' || !HEX24_RE.test(g.groupId)) {
      return { ok: false, reason: `groups[${i}].groupId: expected 6 hex digits` };
    }
    const groupId = parseInt(g.groupId, 16);
    if (seen.has(groupId)) return { ok: false, reason: `groups[${i}].groupId: requested twice` };
    seen.add(groupId);
    const supportedNea = algList(g.supportedNea);
    const supportedNia = algList(g.supportedNia);
    if (!supportedNea || supportedNea.size === 0) return { ok: false, reason: `groups[${i}].supportedNea: expected a non-empty list of 0..3` };
    if (!supportedNia) return { ok: false, reason: `groups[${i}].supportedNia: expected a list of 0..3` };
    let heldGmi: number | undefined;
    if (g.heldGmi !== undefined) {
      heldGmi = typeof g.heldGmi === 'string' && HEX24_RE.test(g.heldGmi) ? parseInt(g.heldGmi, 16) : undefined;
      if (!isGmi(heldGmi)) return { ok: false, reason: `groups[${i}].heldGmi: expected 6 hex digits, not 000000 or ffffff` };
    }
    let signingPublicKey: Uint8Array | undefined;
    if (g.signingPublicKey !== undefined) {
      signingPublicKey = bytesFromJson(g.signingPublicKey);
      if (signingPublicKey?.length !== SIGNING_PUBLIC_KEY_BYTES) {
        return { ok: false, reason: `groups[${i}].signingPublicKey: expected ${SIGNING_PUBLIC_KEY_BYTES} bytes in base64` };
      }
    }
    groups.push({
      groupId,
      supportedNea,
      supportedNia,
      ...(heldGmi === undefined ? {} : { heldGmi }),
      ...(signingPublicKey === undefined ? {} : { signingPublicKey }),
    });
  }
  return { ok: true, value: { transactionId: body.transactionId, supi: body.supi, servingPlmn, groups } };
}

// --- response ---------------------------------------------------------------------------------

export function buildPeerKeyResponse(res: PeerKeyResponse): object {
  return {
    transactionId: res.transactionId,
    groups: res.groups.map((r) => {
      if (!r.ok) return { groupId: hex24(r.groupId), cause: errorName(r.error) };
      const m = r.material;
      return {
        groupId: hex24(r.groupId),
        gmi: hex24(m.gmi),
        algorithms: { nea: m.nea, nia: m.nia, profile: m.profile, allowNullAlgorithms: m.allowNullAlgorithms ?? false, sourceAuth: sourceAuthModeOf(m.sourceAuth) },
        pgks: m.pgks.map((p) => ({
          pgkId: p.pgkId,
          pgk: base64(p.pgk),
          expiry: dateTime(p.expiresAtMs),
          activeFrom: dateTime(p.activeFromMs),
          ...(p.pairwiseKeys === undefined ? {} : { pairwiseKeys: [...p.pairwiseKeys].map(([gmi, key]) => ({ peerGmi: hex24(gmi), key: base64(key) })) }),
        })),
        renewAfter: dateTime(r.renewAfterMs),
        ...(m.sourceAuth?.mode === 'signature' ? { memberKeys: [...m.sourceAuth.publicKeys].map(([gmi, key]) => ({ gmi: hex24(gmi), publicKey: base64(key) })) } : {}),
        ...((r.pendingMembers ?? 0) > 0 ? { pendingMembers: r.pendingMembers } : {}),
      };
    }),
  };
}

function groupResultFromJson(g: unknown, i: number): Parsed<GroupResult> {
  const at = `groups[${i}]`;
  if (!isObj(g) || typeof g.groupId !== 'string' || !HEX24_RE.test(g.groupId)) {
    return { ok: false, reason: `${at}.groupId: expected 6 hex digits` };
  }
  const groupId = parseInt(g.groupId, 16);
  if (g.cause !== undefined) {
    const code = typeof g.cause === 'string' ? errorCodeByName(g.cause) : undefined;
    if (code === undefined || code === ErrorCode.NONE) return { ok: false, reason: `${at}.cause: unknown cause` };
    return { ok: true, value: { groupId, ok: false, error: code } };
  }
  if (typeof g.gmi !== 'string' || !HEX24_RE.test(g.gmi)) return { ok: false, reason: `${at}.gmi: expected 6 hex digits` };
  const a = g.algorithms;
  if (!isObj(a)) return { ok: false, reason: `${at}.algorithms: expected an object` };
  const nea = a.nea;
  const nia = a.nia;
  if (nea !== 0 && nea !== 1 && nea !== 2 && nea !== 3) return { ok: false, reason: `${at}.algorithms.nea: expected 0..3` };
  if (nia !== null && nia !== 0 && nia !== 1 && nia !== 2 && nia !== 3) {
    return { ok: false, reason: `${at}.algorithms.nia: expected 0..3 or null` };
  }
  if (typeof a.profile !== 'string' || !(HIERARCHY_PROFILES as readonly string[]).includes(a.profile)) {
    return { ok: false, reason: `${at}.algorithms.profile: expected one of ${HIERARCHY_PROFILES.join(', ')}` };
  }
  const profile = a.profile as HierarchyProfile;
  if (profile === 'lte-prose' && nia !== null) return { ok: false, reason: `${at}.algorithms.nia: lte-prose has no integrity` };
  if (typeof a.allowNullAlgorithms !== 'boolean') return { ok: false, reason: `${at}.algorithms.allowNullAlgorithms: expected a boolean` };
  // Absent: a peer from before source authentication, whose groups have none.
  const mode = a.sourceAuth ?? 'none';
  if (!isSourceAuthMode(mode)) return { ok: false, reason: `${at}.algorithms.sourceAuth: expected none, pairwise-mac or signature` };
  if (!Array.isArray(g.pgks) || g.pgks.length === 0 || g.pgks.length > 32) {
    return { ok: false, reason: `${at}.pgks: expected a list of 1 to 32 PGKs` };
  }
  const pgks: IssuedPgk[] = [];
  const indexes = new Set<number>();
  for (const [j, p] of g.pgks.entries()) {
    const pat = `${at}.pgks[${j}]`;
    if (!isObj(p) || !isUint32(p.pgkId)) return { ok: false, reason: `${pat}.pgkId: expected a 32-bit unsigned integer` };
    if (indexes.has(p.pgkId & 0x1f)) return { ok: false, reason: `${pat}.pgkId: PGK Index used twice` };
    indexes.add(p.pgkId & 0x1f);
    if (typeof p.pgk !== 'string' || !BASE64_RE.test(p.pgk)) return { ok: false, reason: `${pat}.pgk: expected base64` };
    const pgk = Uint8Array.from(Buffer.from(p.pgk, 'base64'));
    if (pgk.length !== PGK_BYTES) return { ok: false, reason: `${pat}.pgk: expected ${PGK_BYTES} bytes` };
    const expiresAtMs = dateTimeFromJson(p.expiry);
    if (expiresAtMs === undefined) return { ok: false, reason: `${pat}.expiry: expected an RFC 3339 date-time` };
    const activeFromMs = dateTimeFromJson(p.activeFrom);
    if (activeFromMs === undefined || activeFromMs > expiresAtMs) {
      return { ok: false, reason: `${pat}.activeFrom: expected an RFC 3339 date-time not after the expiry` };
    }
    const issued: IssuedPgk = { pgkId: p.pgkId, pgk, expiresAtMs, activeFromMs };
    if (p.pairwiseKeys !== undefined) {
      const keys = gmiKeysFromJson(p.pairwiseKeys, 'peerGmi', 'key', PAIRWISE_KEY_BYTES, `${pat}.pairwiseKeys`);
      if (!keys.ok) return keys;
      issued.pairwiseKeys = keys.value;
    }
    pgks.push(issued);
  }
  const renewAfterMs = dateTimeFromJson(g.renewAfter);
  if (renewAfterMs === undefined) return { ok: false, reason: `${at}.renewAfter: expected an RFC 3339 date-time` };
  if (mode !== 'signature' && g.memberKeys !== undefined) return { ok: false, reason: `${at}.memberKeys: given, but sourceAuth is ${mode}` };
  let sourceAuth: IssuedSourceAuth | undefined;
  if (mode === 'pairwise-mac') sourceAuth = { mode };
  else if (mode === 'signature') {
    const keys = gmiKeysFromJson(g.memberKeys, 'gmi', 'publicKey', SIGNING_PUBLIC_KEY_BYTES, `${at}.memberKeys`);
    if (!keys.ok) return keys;
    sourceAuth = { mode, publicKeys: keys.value };
  }
  const gmi = parseInt(g.gmi, 16);
  const violation = sourceAuthViolation(sourceAuth, gmi, pgks);
  if (violation !== undefined) return { ok: false, reason: `${at}: ${violation}` };
  const pendingMembers = g.pendingMembers;
  if (pendingMembers !== undefined && (mode === 'none' || !isUint32(pendingMembers) || pendingMembers === 0)) {
    return { ok: false, reason: `${at}.pendingMembers: expected a positive integer, in a group with source authentication` };
  }
  const material: IssuedGroupKeys = { groupId, gmi, nea, nia, profile, pgks, allowNullAlgorithms: a.allowNullAlgorithms, ...(sourceAuth === undefined ? {} : { sourceAuth }) };
  return { ok: true, value: { groupId, ok: true, material, renewAfterMs, ...(pendingMembers === undefined ? {} : { pendingMembers }) } };
}

/**
 * Checks a peer's 200 body; every group in `requested` must be answered exactly once, in any order
 * (the result comes back in request order).
 */
export function parsePeerKeyResponse(body: unknown, requested: readonly number[]): Parsed<PeerKeyResponse> {
  if (!isObj(body)) return { ok: false, reason: 'body is not a JSON object' };
  if (!isUint32(body.transactionId)) return { ok: false, reason: 'transactionId: expected a 32-bit unsigned integer' };
  if (!Array.isArray(body.groups)) return { ok: false, reason: 'groups: expected a list' };
  const byId = new Map<number, GroupResult>();
  for (const [i, g] of body.groups.entries()) {
    const r = groupResultFromJson(g, i);
    if (!r.ok) return r;
    if (byId.has(r.value.groupId)) return { ok: false, reason: `groups[${i}]: group answered twice` };
    byId.set(r.value.groupId, r.value);
  }
  const groups: GroupResult[] = [];
  for (const id of requested) {
    const r = byId.get(id);
    if (!r) return { ok: false, reason: `group ${hex24(id)} was not answered` };
    groups.push(r);
  }
  if (byId.size !== requested.length) return { ok: false, reason: 'groups: answers for groups not requested' };
  return { ok: true, value: { transactionId: body.transactionId, groups } };
}

// --- problems ---------------------------------------------------------------------------------

const PROBLEM_STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.MALFORMED_REQUEST]: 400,
  [ErrorCode.NO_ROAMING_AGREEMENT]: 403,
  [ErrorCode.NO_OPERATOR_AGREEMENT]: 403,
  [ErrorCode.IDENTITY_REJECTED]: 403,
  [ErrorCode.INTERNAL_ERROR]: 500,
};

export function buildProblem(code: ErrorCode, detail: string): ProblemDetails {
  const status = PROBLEM_STATUS[code] ?? 400;
  return { status, title: errorName(code), detail, cause: errorName(code) };
}

/** The ErrorCode a ProblemDetails body names, or undefined when it names none we know. */
export function problemCause(body: unknown): ErrorCode | undefined {
  if (!isObj(body) || typeof body.cause !== 'string') return undefined;
  const code = errorCodeByName(body.cause);
  return code === ErrorCode.NONE ? undefined : code;
}
