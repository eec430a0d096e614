/**
 * Result codes of the PKMF protocols (proto/pkmf.proto `ErrorCode`, the inter-PKMF JSON `cause`
 * strings of docs/pkmf.md). One table: numeric value, JSON/CLI name, description and whether a
 * UE should retry (transient) or stop asking for that group until its configuration changes.
 */

export const ErrorCode = {
  NONE: 0,
  UNKNOWN_GROUP: 1,
  NOT_A_MEMBER: 2,
  NO_ROAMING_AGREEMENT: 3,
  HOME_NETWORK_UNREACHABLE: 4,
  MALFORMED_REQUEST: 5,
  NO_OPERATOR_AGREEMENT: 6,
  OWNER_NETWORK_UNREACHABLE: 7,
  ALGORITHM_NOT_SUPPORTED: 8,
  FRAME_TOO_LARGE: 9,
  INTERNAL_ERROR: 10,
  IDENTITY_REJECTED: 11,
  RATE_LIMITED: 12,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

interface ErrorInfo {
  readonly name: string;
  readonly description: string;
  readonly transient: boolean;
}

const INFO: Record<ErrorCode, ErrorInfo> = {
  0: { name: 'NONE', description: 'success', transient: false },
  1: { name: 'UNKNOWN_GROUP', description: 'the group is not known to the PKMF that owns it (or to any PKMF on the way)', transient: false },
  2: { name: 'NOT_A_MEMBER', description: 'the UE is not a member of the group', transient: false },
  3: { name: 'NO_ROAMING_AGREEMENT', description: "no roaming agreement between the serving network and the UE's home network", transient: false },
  4: { name: 'HOME_NETWORK_UNREACHABLE', description: "the home network's PKMF could not be reached", transient: true },
  5: { name: 'MALFORMED_REQUEST', description: 'the request was malformed', transient: false },
  6: { name: 'NO_OPERATOR_AGREEMENT', description: "the group's owner has no operator agreement with the UE's home network", transient: false },
  7: { name: 'OWNER_NETWORK_UNREACHABLE', description: "the PKMF of the network that owns the group could not be reached", transient: true },
  8: { name: 'ALGORITHM_NOT_SUPPORTED', description: "the UE does not support the group's ciphering or integrity algorithm, or its source authentication by signature (no public key sent)", transient: false },
  9: { name: 'FRAME_TOO_LARGE', description: 'the frame exceeds the maximum frame size', transient: false },
  10: { name: 'INTERNAL_ERROR', description: 'the PKMF failed internally', transient: true },
  11: { name: 'IDENTITY_REJECTED', description: "the client certificate names no SUPI or was not issued by the CA of the SUPI's home network", transient: false },
  12: { name: 'RATE_LIMITED', description: 'the UE sent more Key Requests than the PKMF accepts per UE; retry later', transient: true },
};

export const ERROR_CODES: readonly ErrorCode[] = Object.values(ErrorCode);

export function isErrorCode(v: unknown): v is ErrorCode {
  return typeof v === 'number' && Object.prototype.hasOwnProperty.call(INFO, v);
}

export function errorName(code: ErrorCode): string {
  return INFO[code].name;
}

export function errorDescription(code: ErrorCode): string {
  return INFO[code].description;
}

/** True for codes a UE should retry with backoff (the network, not the request, was the problem). */
export function isTransient(code: ErrorCode): boolean {
  return INFO[code].transient;
}

/** The code named `name` (as in JSON `cause` fields), or undefined. */
export function errorCodeByName(name: string): ErrorCode | undefined {
  for (const code of ERROR_CODES) if (INFO[code].name === name) return code;
  return undefined;
}
