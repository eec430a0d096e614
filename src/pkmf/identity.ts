/**
 * Identities of the PKMF protocols: PLMN IDs, SUPIs and how certificates carry them.
 *
 * - PLMN ID (TS 23.003 12.1): MCC (3 digits) + MNC (2 or 3 digits), written "MCC-MNC" in configs,
 *   protobuf and the CLI ("001-01"), and as {"mcc","mnc"} in inter-PKMF JSON (TS 29.571 PlmnId).
 * - SUPI (TS 23.003 2.2A): only the IMSI form `imsi-<MCC><MNC><MSIN>` (6..15 digits in all).
 *   The home PLMN of an IMSI is the known PLMN whose MCC+MNC digits prefix it (longest match, since
 *   an IMSI does not say whether its MNC has 2 or 3 digits).
 * - Certificates (an sl-bridge convention standing in for GBA/AKMA, docs/protocol.md 7): a UE client
 *   certificate carries the URI SAN `urn:3gpp:supi:imsi-...`; a PKMF certificate carries
 *   `urn:3gpp:pkmf:plmn:MCC-MNC`.
 */

export interface PlmnId {
  readonly mcc: string;
  readonly mnc: string;
}

export const SUPI_URI_PREFIX = 'urn:3gpp:supi:';
export const PKMF_URI_PREFIX = 'urn:3gpp:pkmf:plmn:';

const PLMN_RE = /^([0-9]{3})-([0-9]{2,3})$/;
const SUPI_RE = /^imsi-[0-9]{6,15}$/;

/** Parses "MCC-MNC"; returns undefined when malformed. */
export function parsePlmn(text: string): PlmnId | undefined {
  const m = PLMN_RE.exec(text);
  return m ? { mcc: m[1]!, mnc: m[2]! } : undefined;
}

export function isPlmnString(v: unknown): v is string {
  return typeof v === 'string' && PLMN_RE.test(v);
}

export function formatPlmn(p: PlmnId): string {
  return `${p.mcc}-${p.mnc}`;
}

export function isSupi(v: unknown): v is string {
  return typeof v === 'string' && SUPI_RE.test(v);
}

/**
 * The home PLMN ("MCC-MNC") of an IMSI SUPI among `known` PLMNs, by the longest MCC+MNC prefix of
 * its digits, or undefined when none matches.
 */
export function homePlmnOf(supi: string, known: Iterable<string>): string | undefined {
  if (!isSupi(supi)) return undefined;
  const digits = supi.slice('imsi-'.length);
  let best: string | undefined;
  let bestLen = 0;
  for (const plmn of known) {
    const p = parsePlmn(plmn);
    if (!p) continue;
    const prefix = p.mcc + p.mnc;
    if (digits.length > prefix.length && digits.startsWith(prefix) && prefix.length > bestLen) {
      best = plmn;
      bestLen = prefix.length;
    }
  }
  return best;
}

/** The URI entries of a certificate's subjectAltName as Node prints it ("URI:a, DNS:b, ..."). */
export function uriSans(subjectAltName: string | undefined): string[] {
  if (!subjectAltName) return [];
  const out: string[] = [];
  // Node quotes entries that contain commas or quotes as JSON strings; our URIs never do, and an
  // entry we cannot read is simply not an identity.
  for (const part of subjectAltName.split(', ')) {
    if (part.startsWith('URI:')) out.push(part.slice(4));
  }
  return out;
}

/** The SUPI named by a UE certificate's subjectAltName, or undefined (none, or more than one). */
export function supiFromSubjectAltName(subjectAltName: string | undefined): string | undefined {
  const supis = uriSans(subjectAltName)
    .filter((u) => u.startsWith(SUPI_URI_PREFIX))
    .map((u) => u.slice(SUPI_URI_PREFIX.length));
  return supis.length === 1 && isSupi(supis[0]) ? supis[0] : undefined;
}

/** The PLMN ("MCC-MNC") named by a PKMF certificate's subjectAltName, or undefined. */
export function plmnFromSubjectAltName(subjectAltName: string | undefined): string | undefined {
  const plmns = uriSans(subjectAltName)
    .filter((u) => u.startsWith(PKMF_URI_PREFIX))
    .map((u) => u.slice(PKMF_URI_PREFIX.length));
  return plmns.length === 1 && isPlmnString(plmns[0]) ? plmns[0] : undefined;
}

/** 24-bit IDs (Group ID, GMI) as 6 hex digits, the way logs, the CLI and inter-PKMF JSON show them. */
export function hex24(v: number): string {
  return v.toString(16).padStart(6, '0');
}

export function isUint24(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffff;
}

/** A GMI the PKMF can assign: 24-bit, neither 0 nor 0xffffff (src/pkmf/lifecycle.ts pickGmi). */
export function isGmi(v: unknown): v is number {
  return isUint24(v) && v !== 0 && v !== 0xffffff;
}

export function isUint32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}
