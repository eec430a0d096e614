/**
 * Bytes <-> typed records for the UE <-> PKMF stream (proto/pkmf.proto): the length-prefixed
 * frame layer (4-byte big-endian length, then that many bytes) and the protobuf messages inside.
 * Parse/emit pairs only; no I/O. Everything read from outside fails with a typed error, never a
 * crash: FrameError for the framing, ProtocolDecodeError for message contents.
 */
import protobuf from 'protobufjs';
import type { AlgId, HierarchyProfile } from '../crypto/types.js';
import type { GroupKeyMaterial, PgkRecord, SourceAuthMode } from '../keys/types.js';
import { PKMF_PROTO_DESCRIPTOR } from './descriptor.generated.js';
import { ErrorCode, isErrorCode } from './errors.js';
import { isUint24, isUint32 } from './identity.js';
import type { IssuedSourceAuth } from './source-auth.js';
import { gmiKeyMap, PAIRWISE_KEY_BYTES, SIGNING_PUBLIC_KEY_BYTES, sourceAuthModeOf, sourceAuthViolation } from './source-auth.js';

const schema = PKMF_PROTO_DESCRIPTOR.nested.slbridge.nested.pkmf.nested.v1.nested;
const root = protobuf.Root.fromJSON(PKMF_PROTO_DESCRIPTOR as unknown as protobuf.INamespace);
const ClientFrameType = root.lookupType('slbridge.pkmf.v1.ClientFrame');
const ServerFrameType = root.lookupType('slbridge.pkmf.v1.ServerFrame');

export const FRAME_HEADER_BYTES = 4;
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024;
/** Upper bound of `maxFrameBytes` settings: far above any real Key Request or Response. */
export const MAX_FRAME_BYTES_LIMIT = 16 * 1024 * 1024;
export const PGK_BYTES = 32;

export type FrameErrorCode = 'FRAME_TOO_LARGE' | 'EMPTY_FRAME';

/** The byte stream cannot be framed; the connection must be closed. */
export class FrameError extends Error {
  constructor(
    readonly code: FrameErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'FrameError';
  }

  /** The protocol code to send in ConnectionError before closing. */
  get errorCode(): ErrorCode {
    return this.code === 'FRAME_TOO_LARGE' ? ErrorCode.FRAME_TOO_LARGE : ErrorCode.MALFORMED_REQUEST;
  }
}

/** A frame's payload is not a valid message; the connection must be closed. */
export class ProtocolDecodeError extends Error {
  readonly code = 'EPROTO_DECODE';
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolDecodeError';
  }
}

function checkMaxFrameBytes(maxFrameBytes: number): void {
  if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 1 || maxFrameBytes > MAX_FRAME_BYTES_LIMIT) {
    throw new RangeError(`maxFrameBytes: expected an integer from 1 to ${MAX_FRAME_BYTES_LIMIT}, got ${maxFrameBytes}`);
  }
}

/** Prefixes `payload` with its 4-byte big-endian length. */
export function encodeFrame(payload: Uint8Array, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): Uint8Array {
  checkMaxFrameBytes(maxFrameBytes);
  if (payload.length === 0) throw new RangeError('payload: a frame carries at least one byte');
  if (payload.length > maxFrameBytes) {
    throw new RangeError(`payload: ${payload.length} bytes exceed the maximum frame size ${maxFrameBytes}`);
  }
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  new DataView(out.buffer).setUint32(0, payload.length, false);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

/**
 * Incremental frame splitter for a byte stream. `push` returns the complete frame payloads the new
 * bytes finish (possibly none). An announced length above `maxFrameBytes`, or of zero, fails the
 * decoder as soon as the 4 header bytes are in, without buffering the body: `push` still returns
 * the frames completed before the bad header (nothing accepted is lost), `error` is set, and later
 * pushes return nothing. `push` never throws.
 */
export class FrameDecoder {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private failure: FrameError | undefined;

  constructor(readonly maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {
    checkMaxFrameBytes(maxFrameBytes);
  }

  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Why the stream cannot be framed any further, once it cannot. */
  get error(): FrameError | undefined {
    return this.failure;
  }

  push(chunk: Uint8Array): Uint8Array[] {
    if (this.failure) return [];
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const frames: Uint8Array[] = [];
    while (this.buffered >= FRAME_HEADER_BYTES) {
      const header = this.peek(FRAME_HEADER_BYTES);
      const length = new DataView(header.buffer, header.byteOffset, FRAME_HEADER_BYTES).getUint32(0, false);
      if (length === 0) {
        this.fail('EMPTY_FRAME', 'a frame of length 0');
        break;
      }
      if (length > this.maxFrameBytes) {
        this.fail('FRAME_TOO_LARGE', `a frame of ${length} bytes exceeds the maximum of ${this.maxFrameBytes}`);
        break;
      }
      if (this.buffered < FRAME_HEADER_BYTES + length) break;
      this.take(FRAME_HEADER_BYTES);
      frames.push(this.take(length));
    }
    return frames;
  }

  private fail(code: FrameErrorCode, message: string): void {
    this.failure = new FrameError(code, message);
    this.chunks = [];
    this.buffered = 0;
  }

  /** The first `n` buffered bytes without consuming them (n <= buffered). */
  private peek(n: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    return this.concat(n);
  }

  private take(n: number): Uint8Array {
    const first = this.chunks[0]!;
    let out: Uint8Array;
    if (first.length >= n) {
      // Copied (a plain Uint8Array) so the caller's frame does not alias or pin the socket's chunk.
      out = new Uint8Array(n);
      out.set(first.subarray(0, n));
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = this.concat(n);
      let left = n;
      while (left > 0) {
        const c = this.chunks[0]!;
        if (c.length <= left) {
          this.chunks.shift();
          left -= c.length;
        } else {
          this.chunks[0] = c.subarray(left);
          left = 0;
        }
      }
    }
    this.buffered -= n;
    return out;
  }

  private concat(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let off = 0;
    for (const c of this.chunks) {
      if (off >= n) break;
      const part = c.subarray(0, n - off);
      out.set(part, off);
      off += part.length;
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Typed records

export interface GroupRequestMsg {
  groupId: number;
  supportedNea: number[];
  supportedNia: number[];
  /** The GMI the UE holds durable PTK ID state for in this group; absent: none (proto `held_gmi`). */
  heldGmi?: number;
  /** The UE's Ed25519 public key (proto `signing_public_key`); absent: the UE cannot sign. */
  signingPublicKey?: Uint8Array;
}

export interface KeyRequestMsg {
  transactionId: number;
  groups: GroupRequestMsg[];
  /** "MCC-MNC" or '' when the UE does not say. */
  homePlmn: string;
}

/** A PGK as the PKMF issues it: the shared PgkRecord plus the time senders start using it. */
export interface IssuedPgk extends PgkRecord {
  activeFromMs: number;
}

/**
 * A group's key material as the PKMF issues it (see {@link IssuedPgk}); its source authentication
 * lacks the UE's signing seed, which never leaves the UE.
 */
export interface IssuedGroupKeys extends Omit<GroupKeyMaterial, 'pgks' | 'sourceAuth'> {
  pgks: IssuedPgk[];
  sourceAuth?: IssuedSourceAuth;
}

/**
 * One group's outcome: its key material, or why there is none. `pendingMembers` (groups with
 * source authentication; absent: 0): members the material does not cover yet, so ask again.
 */
export type GroupResult =
  | { groupId: number; ok: true; material: IssuedGroupKeys; renewAfterMs: number; pendingMembers?: number }
  | { groupId: number; ok: false; error: ErrorCode };

export interface KeyResponseMsg {
  transactionId: number;
  /** Request-level error; NONE when `groups` holds one result per requested group. */
  error: ErrorCode;
  groups: GroupResult[];
  servingPlmn: string;
}

export type ServerMessage =
  | { kind: 'key-response'; response: KeyResponseMsg }
  | { kind: 'connection-error'; code: ErrorCode; message: string };

const PROFILE_TO_WIRE: Readonly<Record<HierarchyProfile, number>> = {
  pcr: schema.HierarchyProfile.values.PROFILE_PCR,
  ts33533: schema.HierarchyProfile.values.PROFILE_TS33533,
  'lte-prose': schema.HierarchyProfile.values.PROFILE_LTE_PROSE,
};
const PROFILE_FROM_WIRE: ReadonlyMap<number, HierarchyProfile> = new Map(
  Object.entries(PROFILE_TO_WIRE).map(([profile, wire]) => [wire, profile as HierarchyProfile]),
);
const SOURCE_AUTH_TO_WIRE: Readonly<Record<SourceAuthMode, number>> = {
  none: schema.SourceAuth.values.SOURCE_AUTH_NONE,
  'pairwise-mac': schema.SourceAuth.values.SOURCE_AUTH_PAIRWISE_MAC,
  signature: schema.SourceAuth.values.SOURCE_AUTH_SIGNATURE,
};
const SOURCE_AUTH_FROM_WIRE: ReadonlyMap<number, SourceAuthMode> = new Map(
  Object.entries(SOURCE_AUTH_TO_WIRE).map(([mode, wire]) => [wire, mode as SourceAuthMode]),
);

function isAlgId(v: unknown): v is AlgId {
  return v === 0 || v === 1 || v === 2 || v === 3;
}

/**
 * A uint64 field as a number, refused beyond 2^53 - 1 rather than rounded. protobufjs gives uint64
 * as a Long object (the `long` package is installed), or as a plain number without it.
 */
function toNumber(v: unknown, what: string): number {
  const n =
    typeof v === 'number' ? v
    : v && typeof v === 'object' && 'toNumber' in v && typeof (v as { toNumber: unknown }).toNumber === 'function' ? (v as { toNumber(): number }).toNumber()
    : NaN;
  if (Number.isSafeInteger(n) && n >= 0) return n;
  throw new ProtocolDecodeError(`${what}: not a non-negative safe integer`);
}

function decodeWith<T>(type: protobuf.Type, bytes: Uint8Array): T {
  try {
    return type.decode(bytes) as unknown as T;
  } catch (e) {
    throw new ProtocolDecodeError(`not a valid ${type.name}: ${(e as Error).message}`);
  }
}

// --- ClientFrame (UE -> PKMF) -----------------------------------------------------------------

export function encodeKeyRequest(req: KeyRequestMsg): Uint8Array {
  return ClientFrameType.encode(ClientFrameType.create({ keyRequest: req })).finish();
}

/**
 * Decodes a ClientFrame. Protobuf-level garbage and a missing body throw ProtocolDecodeError;
 * semantic checks (ranges, counts) are {@link validateKeyRequest}'s, so that a decodable but
 * invalid request gets a MALFORMED_REQUEST response instead of a closed connection.
 */
export function decodeClientFrame(bytes: Uint8Array): KeyRequestMsg {
  const msg = decodeWith<{
    keyRequest?: { transactionId: number; groups: (Omit<GroupRequestMsg, 'signingPublicKey'> & { heldGmi?: number | null; signingPublicKey: Uint8Array })[]; homePlmn: string };
  }>(
    ClientFrameType,
    bytes,
  );
  const kr = msg.keyRequest;
  if (!kr) throw new ProtocolDecodeError('ClientFrame carries no key_request');
  return {
    transactionId: kr.transactionId,
    homePlmn: kr.homePlmn,
    groups: kr.groups.map((g) => ({
      groupId: g.groupId,
      supportedNea: [...g.supportedNea],
      supportedNia: [...g.supportedNia],
      ...(g.heldGmi === undefined || g.heldGmi === null ? {} : { heldGmi: g.heldGmi }),
      // proto3 bytes: empty is absent. Its length is validateKeyRequest's to check.
      ...(g.signingPublicKey.length === 0 ? {} : { signingPublicKey: Uint8Array.from(g.signingPublicKey) }),
    })),
  };
}

// --- ServerFrame (PKMF -> UE) -----------------------------------------------------------------

function groupResultToWire(r: GroupResult): object {
  if (!r.ok) return { groupId: r.groupId, error: r.error };
  const m = r.material;
  return {
    groupId: r.groupId,
    error: ErrorCode.NONE,
    gmi: m.gmi,
    algorithms: {
      nea: m.nea,
      ...(m.nia === null ? {} : { nia: m.nia }),
      profile: PROFILE_TO_WIRE[m.profile],
      allowNullAlgorithms: m.allowNullAlgorithms ?? false,
      sourceAuth: SOURCE_AUTH_TO_WIRE[sourceAuthModeOf(m.sourceAuth)],
    },
    pgks: m.pgks.map((p) => ({
      pgkId: p.pgkId,
      pgk: p.pgk,
      expiresAtMs: p.expiresAtMs,
      activeFromMs: p.activeFromMs,
      pairwiseKeys: [...(p.pairwiseKeys ?? [])].map(([peerGmi, key]) => ({ peerGmi, key })),
    })),
    renewAfterMs: r.renewAfterMs,
    memberKeys: m.sourceAuth?.mode === 'signature' ? [...m.sourceAuth.publicKeys].map(([gmi, publicKey]) => ({ gmi, publicKey })) : [],
    pendingMembers: r.pendingMembers ?? 0,
  };
}

export function encodeKeyResponse(res: KeyResponseMsg): Uint8Array {
  return ServerFrameType.encode(
    ServerFrameType.create({
      keyResponse: {
        transactionId: res.transactionId,
        error: res.error,
        groups: res.groups.map(groupResultToWire),
        servingPlmn: res.servingPlmn,
      },
    }),
  ).finish();
}

export function encodeConnectionError(code: ErrorCode, message: string): Uint8Array {
  return ServerFrameType.encode(ServerFrameType.create({ connectionError: { code, message } })).finish();
}

interface WireGroupResult {
  groupId: number;
  error: number;
  gmi: number;
  algorithms?: { nea: number; nia?: number | null; profile: number; allowNullAlgorithms: boolean; sourceAuth: number };
  pgks: { pgkId: number; pgk: Uint8Array; expiresAtMs: unknown; activeFromMs: unknown; pairwiseKeys: { peerGmi: number; key: Uint8Array }[] }[];
  renewAfterMs: unknown;
  memberKeys: { gmi: number; publicKey: Uint8Array }[];
  pendingMembers: number;
}

function groupResultFromWire(g: WireGroupResult): GroupResult {
  if (!isUint24(g.groupId)) throw new ProtocolDecodeError(`group_id ${g.groupId} is not 24-bit`);
  if (!isErrorCode(g.error)) throw new ProtocolDecodeError(`group ${g.groupId}: unknown error code ${g.error}`);
  if (g.error !== ErrorCode.NONE) return { groupId: g.groupId, ok: false, error: g.error };
  const where = `group ${g.groupId}`;
  if (!isUint24(g.gmi)) throw new ProtocolDecodeError(`${where}: gmi is not 24-bit`);
  const a = g.algorithms;
  if (!a) throw new ProtocolDecodeError(`${where}: no algorithms`);
  if (!isAlgId(a.nea)) throw new ProtocolDecodeError(`${where}: nea ${a.nea} is not 0..3`);
  const nia = a.nia === undefined || a.nia === null ? null : a.nia;
  if (nia !== null && !isAlgId(nia)) throw new ProtocolDecodeError(`${where}: nia ${nia} is not 0..3`);
  const profile = PROFILE_FROM_WIRE.get(a.profile);
  if (!profile) throw new ProtocolDecodeError(`${where}: unknown profile ${a.profile}`);
  if (profile === 'lte-prose' && nia !== null) throw new ProtocolDecodeError(`${where}: lte-prose has no integrity`);
  const mode = SOURCE_AUTH_FROM_WIRE.get(a.sourceAuth);
  if (!mode) throw new ProtocolDecodeError(`${where}: unknown source_auth ${a.sourceAuth}`);
  if (g.pgks.length === 0) throw new ProtocolDecodeError(`${where}: no PGK`);
  const indexes = new Set<number>();
  const pgks: IssuedPgk[] = g.pgks.map((p) => {
    if (!isUint32(p.pgkId)) throw new ProtocolDecodeError(`${where}: pgk_id is not 32-bit`);
    if (p.pgk.length !== PGK_BYTES) throw new ProtocolDecodeError(`${where}: PGK ${p.pgkId} is not ${PGK_BYTES} bytes`);
    if (indexes.has(p.pgkId & 0x1f)) throw new ProtocolDecodeError(`${where}: two PGKs share PGK Index ${p.pgkId & 0x1f}`);
    indexes.add(p.pgkId & 0x1f);
    const expiresAtMs = toNumber(p.expiresAtMs, `${where}: expires_at_ms`);
    const activeFromMs = toNumber(p.activeFromMs, `${where}: active_from_ms`);
    if (activeFromMs > expiresAtMs) throw new ProtocolDecodeError(`${where}: PGK ${p.pgkId} activates after it expires`);
    const pgk: IssuedPgk = { pgkId: p.pgkId, pgk: Uint8Array.from(p.pgk), expiresAtMs, activeFromMs };
    if (mode !== 'pairwise-mac' && p.pairwiseKeys.length > 0) throw new ProtocolDecodeError(`${where}: PGK ${p.pgkId} carries pairwise keys, but source_auth is ${mode}`);
    if (mode === 'pairwise-mac') pgk.pairwiseKeys = checked(gmiKeyMap(p.pairwiseKeys.map((k) => [k.peerGmi, k.key]), PAIRWISE_KEY_BYTES, `${where}: PGK ${p.pgkId} pairwise_keys`));
    return pgk;
  });
  if (mode !== 'signature' && g.memberKeys.length > 0) throw new ProtocolDecodeError(`${where}: member_keys given, but source_auth is ${mode}`);
  if (mode === 'none' && g.pendingMembers > 0) throw new ProtocolDecodeError(`${where}: pending_members given, but source_auth is none`);
  const sourceAuth: IssuedSourceAuth | undefined =
    mode === 'none' ? undefined
    : mode === 'pairwise-mac' ? { mode }
    : { mode, publicKeys: checked(gmiKeyMap(g.memberKeys.map((k) => [k.gmi, k.publicKey]), SIGNING_PUBLIC_KEY_BYTES, `${where}: member_keys`)) };
  const violation = sourceAuthViolation(sourceAuth, g.gmi, pgks);
  if (violation !== undefined) throw new ProtocolDecodeError(`${where}: ${violation}`);
  return {
    groupId: g.groupId,
    ok: true,
    material: {
      groupId: g.groupId,
      gmi: g.gmi,
      nea: a.nea,
      nia,
      profile,
      pgks,
      allowNullAlgorithms: a.allowNullAlgorithms,
      ...(sourceAuth === undefined ? {} : { sourceAuth }),
    },
    renewAfterMs: toNumber(g.renewAfterMs, `${where}: renew_after_ms`),
    ...(g.pendingMembers > 0 ? { pendingMembers: g.pendingMembers } : {}),
  };
}

function checked<T>(r: { ok: true; value: T } | { ok: false; reason: string }): T {
  if (!r.ok) throw new ProtocolDecodeError(r.reason);
  return r.value;
}

/** Decodes and checks a ServerFrame (the UE side). */
export function decodeServerFrame(bytes: Uint8Array): ServerMessage {
  const msg = decodeWith<{
    keyResponse?: { transactionId: number; error: number; groups: WireGroupResult[]; servingPlmn: string };
    connectionError?: { code: number; message: string };
  }>(ServerFrameType, bytes);
  if (msg.connectionError) {
    const { code, message } = msg.connectionError;
    return { kind: 'connection-error', code: isErrorCode(code) ? code : ErrorCode.INTERNAL_ERROR, message };
  }
  const kr = msg.keyResponse;
  if (!kr) throw new ProtocolDecodeError('ServerFrame carries no body');
  if (!isErrorCode(kr.error)) throw new ProtocolDecodeError(`unknown error code ${kr.error}`);
  return {
    kind: 'key-response',
    response: {
      transactionId: kr.transactionId,
      error: kr.error,
      groups: kr.groups.map(groupResultFromWire),
      servingPlmn: kr.servingPlmn,
    },
  };
}
