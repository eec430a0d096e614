/**
 * Authorization and routing decisions of a PKMF: who may get which group's keys, and which PKMF
 * answers. Pure functions over a {@link RoutingTable} built from the PKMF's configuration.
 *
 * Model (docs/pkmf.md "Roaming and multi-operator groups"):
 * - Every group is owned by exactly one PLMN's PKMF, which holds its PGKs and assigns its GMIs.
 * - A UE always talks to its serving PKMF. If the UE's home PLMN (from its certified SUPI) is not
 *   the serving PKMF's, the serving (visited) PKMF forwards the whole request to the home PKMF
 *   ("roaming"); both sides need a roaming agreement with each other.
 * - The home PKMF answers groups it owns itself, and forwards groups owned by another operator to
 *   that owner ("multi-operator group"); the owner answers only if the group lists the UE's home
 *   PLMN as a partner operator. The owner accepts such a request only from the UE's home PKMF.
 */
import type { AlgId, HierarchyProfile } from '../crypto/types.js';
import type { SourceAuthMode } from '../keys/types.js';
import { ErrorCode } from './errors.js';
import { homePlmnOf } from './identity.js';
import type { PgkPolicy } from './lifecycle.js';

export interface GroupPolicy {
  groupId: number;
  nea: AlgId;
  nia: AlgId | null;
  profile: HierarchyProfile;
  allowNullAlgorithms: boolean;
  pgk: PgkPolicy;
  /** SUPIs of the members, of this PLMN or of partner operators. */
  members: ReadonlySet<string>;
  /** PLMNs ("MCC-MNC") whose PKMFs may fetch this group's keys for their own subscribers. */
  operators: ReadonlySet<string>;
  /** Who may send in whose name inside the group (src/pkmf/source-auth.ts). */
  sourceAuth: SourceAuthMode;
}

export interface PeerPolicy {
  plmn: string;
  /** Roaming agreement: this peer may relay its visiting UEs' requests to us and we ours to it. */
  roaming: boolean;
  /** Groups owned by this peer that our subscribers may request through us. */
  groups: ReadonlySet<number>;
  /** We can call this peer (it has a URL). */
  reachable: boolean;
}

export interface RoutingTable {
  plmn: string;
  groups: ReadonlyMap<number, GroupPolicy>;
  peers: ReadonlyMap<string, PeerPolicy>;
}

/** Who sent the request to this PKMF. */
export type Requester = { kind: 'ue' } | { kind: 'peer'; plmn: string };

export type GroupRoute =
  | { groupId: number; route: 'local' }
  | { groupId: number; route: 'owner'; plmn: string }
  | { groupId: number; route: 'error'; code: ErrorCode };

export type RequestPlan =
  /** Every group gets this code (e.g. no roaming agreement). */
  | { kind: 'reject'; code: ErrorCode; reason: string }
  /** Roaming UE at a visited PKMF: relay the whole request to its home PKMF. */
  | { kind: 'forward-home'; plmn: string }
  /** Per group: answer locally, ask the owner, or an error. */
  | { kind: 'groups'; home: string; routes: GroupRoute[] };

/** The UE's home PLMN among this PKMF's and its peers' PLMNs, or undefined. */
export function homeOf(table: RoutingTable, supi: string): string | undefined {
  return homePlmnOf(supi, [table.plmn, ...table.peers.keys()]);
}

export function planRequest(table: RoutingTable, supi: string, requester: Requester, groupIds: readonly number[]): RequestPlan {
  const home = homeOf(table, supi);
  if (home === undefined) return { kind: 'reject', code: ErrorCode.NO_ROAMING_AGREEMENT, reason: 'home network unknown' };

  if (requester.kind === 'ue') {
    if (home !== table.plmn) {
      const peer = table.peers.get(home);
      if (!peer?.roaming || !peer.reachable) {
        return { kind: 'reject', code: ErrorCode.NO_ROAMING_AGREEMENT, reason: `no roaming agreement with ${home}` };
      }
      return { kind: 'forward-home', plmn: home };
    }
    return { kind: 'groups', home, routes: groupIds.map((g) => routeAsHome(table, g)) };
  }

  const from = table.peers.get(requester.plmn);
  if (!from) return { kind: 'reject', code: ErrorCode.NO_ROAMING_AGREEMENT, reason: `${requester.plmn} is not a peer` };
  if (home === table.plmn) {
    // A visited PKMF relays a request of our roaming subscriber.
    if (!from.roaming) {
      return { kind: 'reject', code: ErrorCode.NO_ROAMING_AGREEMENT, reason: `no roaming agreement with ${requester.plmn}` };
    }
    return { kind: 'groups', home, routes: groupIds.map((g) => routeAsHome(table, g)) };
  }
  if (home === requester.plmn) {
    // The UE's home PKMF asks us, the owner, for groups of ours (multi-operator groups).
    return {
      kind: 'groups',
      home,
      routes: groupIds.map((groupId): GroupRoute =>
        table.groups.has(groupId) ? { groupId, route: 'local' } : { groupId, route: 'error', code: ErrorCode.UNKNOWN_GROUP },
      ),
    };
  }
  return {
    kind: 'reject',
    code: ErrorCode.NO_ROAMING_AGREEMENT,
    reason: `${requester.plmn} is neither this UE's home network nor relaying to it`,
  };
}

function routeAsHome(table: RoutingTable, groupId: number): GroupRoute {
  if (table.groups.has(groupId)) return { groupId, route: 'local' };
  for (const peer of table.peers.values()) {
    if (peer.groups.has(groupId) && peer.reachable) return { groupId, route: 'owner', plmn: peer.plmn };
  }
  return { groupId, route: 'error', code: ErrorCode.UNKNOWN_GROUP };
}

/**
 * May `supi` (whose home PLMN is `home`) have this group's keys, with these algorithms? Returns
 * NONE or the reason why not. `home` differs from the owner's PLMN for multi-operator members.
 * A `signature` group needs the member's public key (`canSign`): without it the member could
 * send nothing its receivers accept.
 */
export function authorizeMember(
  table: RoutingTable,
  group: GroupPolicy,
  supi: string,
  home: string,
  supportedNea: ReadonlySet<AlgId>,
  supportedNia: ReadonlySet<AlgId>,
  canSign = false,
): ErrorCode {
  if (home !== table.plmn && !group.operators.has(home)) return ErrorCode.NO_OPERATOR_AGREEMENT;
  if (!group.members.has(supi)) return ErrorCode.NOT_A_MEMBER;
  if (!supportedNea.has(group.nea)) return ErrorCode.ALGORITHM_NOT_SUPPORTED;
  if (group.nia !== null && !supportedNia.has(group.nia)) return ErrorCode.ALGORITHM_NOT_SUPPORTED;
  if (group.sourceAuth === 'signature' && !canSign) return ErrorCode.ALGORITHM_NOT_SUPPORTED;
  return ErrorCode.NONE;
}
