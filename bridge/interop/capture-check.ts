/**
 * What a capture on a stack's interface shows: how many sl-bridge datagrams it holds, how many
 * `pdu decode` deciphered and verified, and whether any SDU it deciphered also appears in clear
 * anywhere in the raw capture file (it must not: that is the point of the layer).
 */

export interface CaptureCheck {
  /** Frames that carried a PduEnvelope (decoded or dropped); other traffic is not counted. */
  datagrams: number;
  accepted: number;
  dropped: Record<string, number>;
  malformed: number;
  /** Frames that were not sl-bridge traffic (other ports, IPv6 neighbour discovery, ...). */
  skipped: number;
  /** SDUs searched for in the raw file, and how many were found there. */
  sdusChecked: number;
  plaintextFound: number;
  /** The deciphered SDUs (kept only until the search). */
  sdus: Uint8Array[];
}

/** Reads `sl-bridge pdu decode --json` output (one JSON object per frame). */
export function summarizeCapture(jsonLines: string): Omit<CaptureCheck, 'plaintextFound'> {
  const c: Omit<CaptureCheck, 'plaintextFound'> = { datagrams: 0, accepted: 0, dropped: {}, malformed: 0, skipped: 0, sdusChecked: 0, sdus: [] };
  for (const line of jsonLines.split('\n')) {
    if (line.trim() === '') continue;
    const f = JSON.parse(line) as { malformed?: string; skipped?: string; pdu?: string; pduLength?: number; dropped?: string; sdu?: string };
    if (f.malformed !== undefined) c.malformed++;
    else if (f.pduLength === undefined) c.skipped++;
    else {
      c.datagrams++;
      if (f.sdu !== undefined) {
        c.accepted++;
        c.sdus.push(Buffer.from(f.sdu, 'hex'));
      } else if (f.dropped !== undefined) c.dropped[f.dropped] = (c.dropped[f.dropped] ?? 0) + 1;
      else c.skipped++;
    }
  }
  c.sdusChecked = c.sdus.length;
  return c;
}

/**
 * How many of `sdus` occur in `raw`. An SDU shorter than 8 octets is looked for whole; a longer
 * one by each of its 8-octet windows, so that a partial leak (a prefix sent in clear) counts too.
 */
export function findPlaintext(raw: Uint8Array, sdus: readonly Uint8Array[]): number {
  const hay = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  let found = 0;
  for (const sdu of sdus) {
    const s = Buffer.from(sdu.buffer, sdu.byteOffset, sdu.byteLength);
    if (s.length === 0) continue;
    const w = Math.min(8, s.length);
    let leaked = false;
    for (let i = 0; i + w <= s.length && !leaked; i++) {
      const window = s.subarray(i, i + w);
      // All-zero windows (padding) would match any run of zeros in headers: not evidence.
      if (window.every((b) => b === 0)) continue;
      leaked = hay.includes(window);
    }
    if (leaked) found++;
  }
  return found;
}
