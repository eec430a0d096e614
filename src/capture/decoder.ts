/**
 * Deciphers and verifies the PDUs of a capture with the PGKs of a keylog, through the same
 * receive path as the daemon ({@link PdcpRxEntity}), so every drop reason is one the daemon
 * counts. I/O-free: records in, decoded frames out.
 *
 * Decisions (docs/captures-shim.md):
 * - One set of receive state per direction. A daemon's capture holds its own PDUs (tx) and the
 *   ones it received (rx); the same PDU may appear in both when captures of two daemons are
 *   merged. Each direction is decoded as a receiver of that direction would: a duplicate within
 *   one direction (e.g. the medium emulator's duplication) is reported as `replay`, like the
 *   daemon drops it, while a tx record and its rx twin both decode.
 * - Own-source rejection is off: tx records carry our own GMI as L2 source by definition.
 * - Expiry is judged at the record's capture time (with the daemon's default clock-skew grace),
 *   so a PDU the daemon would have dropped as `expired-pgk` shows that reason here too.
 * - Derivation rate limits are lifted (a capture is replayed at disk speed, not radio speed).
 * - Captures taken on a network interface (tshark / tcpdump where daemons exchange PDUs over the
 *   `udp` stack transport; the pcap's link type says which kind, see {@link CaptureDecoder.decode}):
 *   every UDP datagram on the selected port is one PduEnvelope. Such a capture does not say
 *   whether a datagram was sent or received, and holds every member's PDUs: each is decoded as a
 *   receiver would (direction rx, one receive state whose replay windows are per sender, i.e. per
 *   L2 source ID), and the frame carries the IP addresses and UDP ports so that a reader can tell
 *   who sent it. A datagram seen twice (e.g. `-i any` on a host with two daemons shows loopback
 *   traffic going out and coming in) is reported as `replay` the second time. Datagrams that are
 *   not IP, not UDP, on another port or IP fragments are skipped with that reason.
 * - Several keylog PGKs may share a group and PGK Index (PGK IDs 32 apart, or the same PGK ID
 *   from two runs): they are tried newest PGK ID first; the first that accepts wins. When none
 *   accepts, `replay` is reported if some candidate saw that COUNT verified before, else the
 *   newest candidate's reason.
 * - Source authentication (docs/pdcp.md): a keylog line with `source_auth` makes its candidate
 *   check the source-auth block as the keylog's writer would (its GMI, its pairwise keys, the
 *   members' public keys): PDUs of others by the tag addressed to it or the signature, its own
 *   PDUs (tx records, or its datagrams in an interface capture) by every tag they carry or their
 *   signature. A line written again after the members changed (same PGK, other keys) is one more
 *   candidate, tried after the earlier one.
 */
import type { AlgId } from '../crypto/types.js';
import { GroupKeyState } from '../keys/group-key-state.js';
import { DROP_REASONS, type DropReason } from '../pdcp/drop-reasons.js';
import { parseHeader, SDU_TYPE_NAMES, type PdcpHeader } from '../pdcp/pdu.js';
import { PdcpRxEntity, type RxEntityOptions } from '../pdcp/rx-entity.js';
import { decodePduEnvelope, type CastType } from '../wire/envelope.js';
import type { WireErrorCode } from '../wire/result.js';
import {
  DEFAULT_SL_BRIDGE_UDP_PORT,
  IP_UDP_SKIP_REASONS,
  isInterfaceLinkType,
  parseIpUdpFrame,
  type IpInfo,
  type IpUdpErrorCode,
  type IpUdpPartial,
  type IpUdpSkipReason,
  type UdpPorts,
} from './ip-udp.js';
import type { KeylogEntry } from './keylog.js';
import { LINKTYPE_USER0, isSlBridgeLinkType, type PcapRecord } from './pcap.js';
import { parseCaptureRecord, type CaptureDirection, type CaptureRecordErrorCode } from './record.js';

/** Why a frame was not deciphered although its record is well-formed. */
export type DecodeSkipReason =
  /** Broadcast or unicast: sl-bridge protects groupcast only; shown, not deciphered. */
  | 'not-groupcast'
  /** The record was cut by the snapshot length: the PDU is incomplete. */
  | 'truncated-capture'
  /** Interface captures: traffic that is not sl-bridge's (not IP, not UDP, another port, a fragment). */
  | IpUdpSkipReason;

export const DECODE_SKIP_REASONS: readonly DecodeSkipReason[] = ['not-groupcast', 'truncated-capture', ...IP_UDP_SKIP_REASONS];

/** Where a malformed frame went wrong: sl-bridge's capture record, or link / IP / UDP / PduEnvelope of an interface capture. */
export type MalformedLayer = 'capture-record' | 'link' | 'ip' | 'udp' | 'envelope';

/** Interface captures: the IP and UDP fields of the frame, as far as they were read. */
export interface FrameNetwork {
  ip?: IpInfo;
  udp?: UdpPorts;
  vlan?: number;
  /** Linux cooked captures (`-i any`): interface index (SLL2) and packet type (4 = outgoing). */
  interfaceIndex?: number;
  packetType?: number;
}

export interface DecodedFrame {
  frame: number;
  /** Byte offset of the record in the pcap file. */
  offset: number;
  timeNs: bigint;
  /** Present unless the capture record itself is malformed; always rx for interface captures. */
  direction?: CaptureDirection;
  /** Interface captures only: IP addresses, UDP ports and what the link layer said. */
  network?: FrameNetwork;
  castType?: CastType;
  l2SourceId?: number;
  l2DestinationId?: number;
  seq?: number;
  txTimeNs?: bigint;
  /** The clear PDCP header, when the PDU has at least 5 octets. */
  header?: PdcpHeader;
  pdu?: Uint8Array;
  /** Accepted frames: what vouched for the PDU under the keylog PGK that accepted it. */
  verifiedBy?: Verification;
  /** Accepted frames of groups with source authentication: the source-auth block verified too, in this mode. */
  sourceVerifiedBy?: 'pairwise-mac' | 'signature';
  outcome:
    | { kind: 'accepted'; sdu: Uint8Array; sduType: number; pgkId: number; ptkId: number; sn: number }
    | { kind: 'dropped'; reason: DropReason }
    /** `detail` says why, for the interface-capture reasons. */
    | { kind: 'skipped'; reason: DecodeSkipReason; detail?: string }
    | {
        kind: 'malformed';
        layer: MalformedLayer;
        code: CaptureRecordErrorCode | IpUdpErrorCode | WireErrorCode;
        message: string;
        /** Interface captures: octet offset of the problem in the frame. */
        at?: number;
      };
}

/**
 * What an accepted PDU was checked with: its MAC-I (integrity on); the inner identity block alone
 * (integrity off: Group ID and GMI deciphered and compared with the L2 IDs); or nothing
 * (profile lte-prose: deciphered, unchecked).
 */
export type Verification = 'mac-i' | 'identity-block' | 'none';

function verificationOf(entry: KeylogEntry): Verification {
  if (entry.nia !== null) return 'mac-i';
  return entry.profile === 'lte-prose' ? 'none' : 'identity-block';
}

export interface DecodeCounters {
  frames: number;
  accepted: number;
  dropped: Record<DropReason, number>;
  skipped: Record<DecodeSkipReason, number>;
  malformed: number;
}

interface Candidate {
  readonly entry: KeylogEntry;
  readonly rx: Record<CaptureDirection, PdcpRxEntity>;
}

/** Derivation budgets that never run dry while replaying a file. */
const UNLIMITED = { burst: Number.MAX_SAFE_INTEGER, ratePerSec: Number.MAX_SAFE_INTEGER };
const RX_OPTIONS: RxEntityOptions = {
  rejectOwnSource: false,
  maxPduBytes: 0xffff,
  knownSenderDerivations: UNLIMITED,
  newSenderDerivations: UNLIMITED,
  nextPtkDerivations: UNLIMITED,
};

export function sduTypeName(sduType: number): string {
  return SDU_TYPE_NAMES[sduType] ?? `reserved-${sduType}`;
}

export interface CaptureDecoderOptions {
  /** Interface captures: the UDP port of the sl-bridge traffic (default 5600); 0 = every UDP datagram. */
  udpPort?: number;
}

export class CaptureDecoder {
  readonly counters: DecodeCounters;
  private readonly udpPort: number;
  /** Candidates per group, newest PGK ID first. */
  private readonly byGroup = new Map<number, Candidate[]>();
  /** Receive path for groups the keylog does not hold (gives the daemon's reason ordering). */
  private readonly keyless: Record<CaptureDirection, PdcpRxEntity>;

  constructor(entries: readonly KeylogEntry[], options: CaptureDecoderOptions = {}) {
    this.udpPort = options.udpPort ?? DEFAULT_SL_BRIDGE_UDP_PORT;
    const dropped = {} as Record<DropReason, number>;
    for (const r of DROP_REASONS) dropped[r] = 0;
    const skipped = {} as Record<DecodeSkipReason, number>;
    for (const r of DECODE_SKIP_REASONS) skipped[r] = 0;
    this.counters = { frames: 0, accepted: 0, dropped, skipped, malformed: 0 };
    const empty = new GroupKeyState();
    this.keyless = { tx: new PdcpRxEntity(empty, RX_OPTIONS), rx: new PdcpRxEntity(empty, RX_OPTIONS) };
    for (const entry of entries) {
      const keys = new GroupKeyState();
      const nullAlg = entry.nea === 0 || entry.nia === 0;
      const sa = entry.sourceAuthKeys;
      keys.install({
        groupId: entry.groupId,
        // Own-source rejection is off; the GMI matters only to pick the pairwise tag addressed to us.
        gmi: sa?.gmi ?? 0,
        nea: entry.nea as AlgId,
        nia: entry.nia,
        profile: entry.profile,
        allowNullAlgorithms: nullAlg,
        pgks: [{ pgkId: entry.pgkId, pgk: entry.pgk, expiresAtMs: entry.expiresAtMs, pairwiseKeys: sa?.mode === 'pairwise-mac' ? sa.pairwiseKeys : undefined }],
        // No signing seed: a decoder verifies, it never signs.
        sourceAuth: sa === undefined ? undefined : sa.mode === 'pairwise-mac' ? { mode: sa.mode } : { mode: sa.mode, publicKeys: sa.publicKeys },
      });
      const list = this.byGroup.get(entry.groupId) ?? [];
      list.push({ entry, rx: { tx: new PdcpRxEntity(keys, RX_OPTIONS), rx: new PdcpRxEntity(keys, RX_OPTIONS) } });
      this.byGroup.set(entry.groupId, list);
    }
    for (const list of this.byGroup.values()) list.sort((a, b) => b.entry.pgkId - a.entry.pgkId);
  }

  /**
   * Decodes one pcap record of a file of link type `linkType`: LINKTYPE_USER0..15 (the default)
   * for sl-bridge's own captures, or one of the interface link types of ip-udp.ts. Never throws.
   */
  decode(record: PcapRecord, linkType = LINKTYPE_USER0): DecodedFrame {
    this.counters.frames++;
    const base = { frame: record.frame, offset: record.offset, timeNs: record.timeNs };
    if (!isSlBridgeLinkType(linkType)) return this.decodeInterfaceFrame(record, linkType, base);
    const parsed = parseCaptureRecord(record.data);
    if (!parsed.ok) {
      this.counters.malformed++;
      return { ...base, outcome: { kind: 'malformed', layer: 'capture-record', code: parsed.error.code, message: parsed.error.message } };
    }
    const r = parsed.value;
    const frame = this.pduFrame(base, r.direction, r);
    if (record.capturedLength < record.originalLength) {
      this.counters.skipped['truncated-capture']++;
      frame.outcome = { kind: 'skipped', reason: 'truncated-capture' };
      return frame;
    }
    return this.finish(frame, r.direction, record);
  }

  /** One frame of an interface capture: link, IP, UDP, then the PduEnvelope it carries, decoded as rx. */
  private decodeInterfaceFrame(record: PcapRecord, linkType: number, base: Pick<DecodedFrame, 'frame' | 'offset' | 'timeNs'>): DecodedFrame {
    if (!isInterfaceLinkType(linkType)) {
      this.counters.malformed++;
      return { ...base, outcome: { kind: 'malformed', layer: 'link', code: 'unsupported-link-type', message: `link type ${linkType} is not one this reader knows`, at: 0 } };
    }
    const parsed = parseIpUdpFrame(linkType, record.data, { udpPort: this.udpPort });
    if (parsed.kind === 'skipped') {
      this.counters.skipped[parsed.skip.reason]++;
      return { ...base, network: networkOf(parsed), outcome: { kind: 'skipped', reason: parsed.skip.reason, detail: parsed.skip.message } };
    }
    if (parsed.kind === 'malformed') {
      const network = networkOf(parsed);
      // Cut by the snapshot length: incomplete, not malformed.
      if (parsed.error.code === 'truncated' && record.capturedLength < record.originalLength) {
        this.counters.skipped['truncated-capture']++;
        return { ...base, network, outcome: { kind: 'skipped', reason: 'truncated-capture', detail: parsed.error.message } };
      }
      this.counters.malformed++;
      const { layer, code, message, at } = parsed.error;
      return { ...base, network, outcome: { kind: 'malformed', layer, code, message, at } };
    }
    const d = parsed.value;
    const network: FrameNetwork = { ...networkOf(d), udp: d.udp };
    const envelope = decodePduEnvelope(d.payload);
    if (!envelope.ok) {
      this.counters.malformed++;
      return {
        ...base,
        network,
        outcome: { kind: 'malformed', layer: 'envelope', code: envelope.error.code, message: `UDP payload: ${envelope.error.message}`, at: d.payloadOffset },
      };
    }
    const e = envelope.value;
    const frame = this.pduFrame(base, 'rx', e);
    frame.network = network;
    return this.finish(frame, 'rx', record);
  }

  private pduFrame(
    base: Pick<DecodedFrame, 'frame' | 'offset' | 'timeNs'>,
    direction: CaptureDirection,
    r: { castType: CastType; l2SourceId: number; l2DestinationId: number; seq: number | undefined; txTimeNs: bigint | undefined; pdu: Uint8Array },
  ): DecodedFrame {
    return {
      ...base,
      direction,
      castType: r.castType,
      l2SourceId: r.l2SourceId,
      l2DestinationId: r.l2DestinationId,
      seq: r.seq,
      txTimeNs: r.txTimeNs,
      header: parseHeader(r.pdu),
      pdu: r.pdu,
      outcome: { kind: 'skipped', reason: 'not-groupcast' },
    };
  }

  /** Groupcast: through the receive path of `direction`; else shown as not-groupcast. */
  private finish(frame: DecodedFrame, direction: CaptureDirection, record: PcapRecord): DecodedFrame {
    if (frame.castType !== 'groupcast') {
      this.counters.skipped['not-groupcast']++;
      return frame;
    }
    const nowMs = Number(record.timeNs / 1_000_000n);
    const { result, acceptedBy } = this.unprotect(frame.pdu!, frame.l2SourceId!, frame.l2DestinationId!, direction, nowMs);
    if (result.ok) {
      this.counters.accepted++;
      frame.outcome = { kind: 'accepted', sdu: result.sdu, sduType: result.sduType, pgkId: result.pgkId, ptkId: result.ptkId, sn: result.sn };
      if (acceptedBy !== undefined) {
        frame.verifiedBy = verificationOf(acceptedBy);
        if (acceptedBy.sourceAuthKeys !== undefined) frame.sourceVerifiedBy = acceptedBy.sourceAuthKeys.mode;
      }
    } else {
      this.counters.dropped[result.reason]++;
      frame.outcome = { kind: 'dropped', reason: result.reason };
    }
    return frame;
  }

  /** The receive path's result and, when accepted, the keylog entry whose PGK accepted it. */
  private unprotect(
    pdu: Uint8Array,
    src: number,
    dst: number,
    direction: CaptureDirection,
    nowMs: number,
  ): { result: ReturnType<PdcpRxEntity['unprotect']>; acceptedBy?: KeylogEntry } {
    const candidates = this.byGroup.get(dst);
    if (candidates === undefined) return { result: this.keyless[direction].unprotect(pdu, src, dst, nowMs) };
    const index = pdu.length > 0 ? pdu[0]! & 0x1f : -1;
    const matching = candidates.filter((c) => (c.entry.pgkId & 0x1f) === index);
    // No PGK of the group has this index: any of the group's entities gives the daemon's reason.
    if (matching.length === 0) return { result: candidates[0]!.rx[direction].unprotect(pdu, src, dst, nowMs) };
    let first: ReturnType<PdcpRxEntity['unprotect']> | undefined;
    let sawReplay = false;
    for (const c of matching) {
      const result = c.rx[direction].unprotect(pdu, src, dst, nowMs);
      if (result.ok) return { result, acceptedBy: c.entry };
      first ??= result;
      if (result.reason === 'replay') sawReplay = true;
    }
    return { result: sawReplay ? ({ ok: false, reason: 'replay' } as const) : first! };
  }
}

function networkOf(p: IpUdpPartial): FrameNetwork {
  const n: FrameNetwork = {};
  if (p.ip !== undefined) n.ip = p.ip;
  if (p.udp !== undefined) n.udp = p.udp;
  if (p.vlan !== undefined) n.vlan = p.vlan;
  if (p.interfaceIndex !== undefined) n.interfaceIndex = p.interfaceIndex;
  if (p.packetType !== undefined) n.packetType = p.packetType;
  return n;
}
