/**
 * What a PKMF does with one Key Request, whoever sent it: authorize and route (src/pkmf/
 * authorize.ts), issue locally from the store, or ask the home / owning PKMF over HTTP/2, then log.
 * Shared by the UE-facing TLS server and the inter-PKMF HTTP/2 server. Time and randomness are
 * injected.
 */
import type { Logger } from 'pino';
import type { GroupPolicy, PeerPolicy, Requester, RoutingTable } from '../../src/pkmf/authorize.js';
import { authorizeMember, homeOf, planRequest } from '../../src/pkmf/authorize.js';
import type { GroupResult, KeyResponseMsg } from '../../src/pkmf/codec.js';
import { ErrorCode, errorName } from '../../src/pkmf/errors.js';
import { hex24 } from '../../src/pkmf/identity.js';
import type { PeerKeyRequest } from '../../src/pkmf/json.js';
import { buildPeerKeyRequest, buildPeerKeyResponse, buildProblem, parsePeerKeyRequest, parsePeerKeyResponse, problemCause } from '../../src/pkmf/json.js';
import type { RandomBytes } from '../../src/pkmf/lifecycle.js';
import { KeyedRateLimiter } from '../../src/pkmf/rate-limit.js';
import type { ValidGroupRequest, ValidKeyRequest } from '../../src/pkmf/validate.js';
import type { PkmfConfig } from './config.js';
import { PeerClient, PeerUnreachableError } from './peer-client.js';
import { RequestStats, requestResult } from './request-stats.js';
import type { IssuanceLogEntry, PkmfStore } from './store.js';
import { ThrottledWarn } from './throttled-log.js';

export interface ServiceClock {
  now(): number;
  random: RandomBytes;
}

export interface ServiceStats {
  ueRequests: number;
  peerRequests: number;
  forwarded: number;
  peerUnreachable: number;
  /** UE Key Requests refused with RATE_LIMITED (per-SUPI token bucket). */
  rateLimited: number;
  /** Issuance-log rows deleted by age (the row-count bound trims on every write). */
  issuanceLogPruned: number;
  results: Record<string, number>;
}

export interface PeerAnswer {
  status: number;
  body: object;
  /** What the request got, as counted in {@link RequestStats} (`OK`, an error name, `MIXED`). */
  result: string;
}

export function routingTableOf(config: PkmfConfig): RoutingTable {
  const groups = new Map<number, GroupPolicy>();
  for (const g of config.groups) {
    groups.set(g.groupId, {
      groupId: g.groupId,
      nea: g.nea,
      nia: g.nia,
      profile: g.profile,
      allowNullAlgorithms: g.allowNullAlgorithms,
      pgk: { lifetimeMs: g.pgkLifetimeMs, overlapMs: g.pgkOverlapMs },
      members: new Set(g.members),
      operators: new Set(g.operators),
      sourceAuth: g.sourceAuth,
    });
  }
  const peers = new Map<string, PeerPolicy>();
  for (const p of config.peers) {
    peers.set(p.plmn, { plmn: p.plmn, roaming: p.roaming, groups: new Set(p.groups), reachable: p.url !== undefined });
  }
  return { plmn: config.plmn, groups, peers };
}

export class PkmfService {
  readonly table: RoutingTable;
  readonly stats: ServiceStats = { ueRequests: 0, peerRequests: 0, forwarded: 0, peerUnreachable: 0, rateLimited: 0, issuanceLogPruned: 0, results: {} };
  /** Answers per port and result, their handling time, keys issued, forwards (counted by the servers and here). */
  readonly requests = new RequestStats();
  private readonly peerClients = new Map<string, PeerClient>();
  /** Key Requests per UE (SUPI): a token bucket each. */
  private readonly ueLimiter: KeyedRateLimiter;
  private readonly rateLimitedWarn: ThrottledWarn;

  constructor(
    readonly config: PkmfConfig,
    private readonly store: PkmfStore,
    private readonly clock: ServiceClock,
    private readonly log: Logger,
  ) {
    this.table = routingTableOf(config);
    this.ueLimiter = new KeyedRateLimiter({ burst: config.limits.ueRequestBurst, perMinute: config.limits.ueRequestsPerMin });
    this.rateLimitedWarn = new ThrottledWarn(log, 'Key Requests refused: per-UE rate limit (RATE_LIMITED)', 'refused', config.limits.handshakeLogIntervalMs);
    for (const [peerIndex, p] of config.peers.entries()) {
      if (!p.url) continue;
      this.peerClients.set(
        p.plmn,
        new PeerClient({
          plmn: p.plmn,
          url: p.url,
          caPem: p.caPem,
          certPem: config.tls.certPem,
          keyPem: config.tls.keyPem,
          timeoutMs: config.limits.peerTimeoutMs,
          configNames: { peerIndex, ownPlmn: config.plmn, certFile: config.tls.certFile, keyFile: config.tls.keyFile, caFiles: p.caFiles },
        }),
      );
    }
  }

  close(): void {
    for (const c of this.peerClients.values()) c.close();
    this.rateLimitedWarn.close();
  }

  /**
   * Periodic upkeep (the PKMF's maintenance timer): deletes issuance-log rows older than
   * `issuanceLog.maxAgeMs` (and beyond `maxRows`) and forgets rate-limit buckets that are full.
   */
  housekeeping(): number {
    const now = this.clock.now();
    const { maxAgeMs, maxRows } = this.config.issuanceLog;
    const pruned = this.store.pruneIssuanceLog(now - maxAgeMs, maxRows);
    this.stats.issuanceLogPruned += pruned;
    this.ueLimiter.sweep(now);
    return pruned;
  }

  /** A validated Key Request from a UE whose certificate names `supi`. */
  async handleUeRequest(supi: string, req: ValidKeyRequest): Promise<KeyResponseMsg> {
    this.stats.ueRequests++;
    // Refused before any work or write: a UE looping on requests costs a map lookup each.
    if (!this.ueLimiter.tryTake(supi, this.clock.now())) {
      this.stats.rateLimited++;
      this.rateLimitedWarn.record(supi);
      return this.requestError(req.transactionId, ErrorCode.RATE_LIMITED);
    }
    const home = homeOf(this.table, supi);
    if (req.homePlmn !== undefined && home !== undefined && req.homePlmn !== home) {
      return this.requestError(req.transactionId, ErrorCode.MALFORMED_REQUEST);
    }
    const groups = await this.serve(supi, req.transactionId, req.groups, { kind: 'ue' }, this.config.plmn);
    return { transactionId: req.transactionId, error: ErrorCode.NONE, groups, servingPlmn: this.config.plmn };
  }

  requestError(transactionId: number, code: ErrorCode): KeyResponseMsg {
    this.count(errorName(code));
    return { transactionId, error: code, groups: [], servingPlmn: this.config.plmn };
  }

  /** The JSON body of a POST to the key request resource from the peer PKMF of `peerPlmn`. */
  async handlePeerRequest(peerPlmn: string, body: unknown): Promise<PeerAnswer> {
    this.stats.peerRequests++;
    const parsed = parsePeerKeyRequest(body);
    if (!parsed.ok) {
      this.count(errorName(ErrorCode.MALFORMED_REQUEST));
      return { status: 400, body: buildProblem(ErrorCode.MALFORMED_REQUEST, parsed.reason), result: errorName(ErrorCode.MALFORMED_REQUEST) };
    }
    const req = parsed.value;
    const plan = planRequest(this.table, req.supi, { kind: 'peer', plmn: peerPlmn }, req.groups.map((g) => g.groupId));
    if (plan.kind === 'reject') {
      this.logResults(req.transactionId, req.supi, peerPlmn, req.groups.map((g) => ({ groupId: g.groupId, ok: false, error: plan.code })));
      const problem = buildProblem(plan.code, plan.reason);
      return { status: problem.status, body: problem, result: errorName(plan.code) };
    }
    const groups = await this.serve(req.supi, req.transactionId, req.groups, { kind: 'peer', plmn: peerPlmn }, req.servingPlmn);
    return { status: 200, body: buildPeerKeyResponse({ transactionId: req.transactionId, groups }), result: requestResult(ErrorCode.NONE, groups) };
  }

  private async serve(
    supi: string,
    transactionId: number,
    groups: readonly ValidGroupRequest[],
    requester: Requester,
    servingPlmn: string,
  ): Promise<GroupResult[]> {
    const requesterName = requester.kind === 'ue' ? 'ue' : requester.plmn;
    const plan = planRequest(this.table, supi, requester, groups.map((g) => g.groupId));
    let results: GroupResult[];
    if (plan.kind === 'reject') {
      results = groups.map((g) => ({ groupId: g.groupId, ok: false, error: plan.code }));
    } else if (plan.kind === 'forward-home') {
      results = await this.forward(plan.plmn, { transactionId, supi, servingPlmn, groups: [...groups] }, ErrorCode.HOME_NETWORK_UNREACHABLE);
    } else {
      results = new Array<GroupResult>(groups.length);
      const toOwner = new Map<string, number[]>();
      plan.routes.forEach((route, i) => {
        const g = groups[i]!;
        if (route.route === 'error') results[i] = { groupId: g.groupId, ok: false, error: route.code };
        else if (route.route === 'local') results[i] = this.issueLocal(supi, plan.home, g);
        else toOwner.set(route.plmn, [...(toOwner.get(route.plmn) ?? []), i]);
      });
      await Promise.all(
        [...toOwner].map(async ([plmn, idx]) => {
          const sub = idx.map((i) => groups[i]!);
          const answers = await this.forward(plmn, { transactionId, supi, servingPlmn, groups: sub }, ErrorCode.OWNER_NETWORK_UNREACHABLE);
          idx.forEach((i, k) => (results[i] = answers[k]!));
        }),
      );
    }
    this.logResults(transactionId, supi, requesterName, results);
    return results;
  }

  private issueLocal(supi: string, home: string, g: ValidGroupRequest): GroupResult {
    const group = this.table.groups.get(g.groupId)!;
    const verdict = authorizeMember(this.table, group, supi, home, g.supportedNea, g.supportedNia, g.signingPublicKey !== undefined);
    if (verdict !== ErrorCode.NONE) return { groupId: g.groupId, ok: false, error: verdict };
    try {
      const auth = { mode: group.sourceAuth, signingPublicKey: g.signingPublicKey };
      const issued = this.store.issue(g.groupId, supi, group.pgk, this.clock.now(), this.clock.random, g.heldGmi, auth);
      this.requests.issued(g.groupId);
      if (issued.created) {
        const retired = issued.retiredGmi === undefined ? {} : { retiredGmi: hex24(issued.retiredGmi), heldGmi: g.heldGmi === undefined ? null : hex24(g.heldGmi) };
        this.log.info({ group: hex24(g.groupId), supi, gmi: hex24(issued.gmi), pgkIds: issued.pgks.map((p) => p.pgkId), ...retired }, 'issued new key material');
      }
      if (issued.keyBound) this.log.info({ group: hex24(g.groupId), supi, gmi: hex24(issued.gmi) }, "bound the member's signing public key");
      return {
        groupId: g.groupId,
        ok: true,
        material: {
          groupId: g.groupId,
          gmi: issued.gmi,
          nea: group.nea,
          nia: group.nia,
          profile: group.profile,
          allowNullAlgorithms: group.allowNullAlgorithms,
          pgks: issued.pgks,
          ...(issued.sourceAuth === undefined ? {} : { sourceAuth: issued.sourceAuth }),
        },
        renewAfterMs: issued.renewAfterMs,
        ...(issued.pendingMembers > 0 ? { pendingMembers: issued.pendingMembers } : {}),
      };
    } catch (e) {
      this.log.error({ err: e, group: hex24(g.groupId), supi }, 'issuing key material failed');
      return { groupId: g.groupId, ok: false, error: ErrorCode.INTERNAL_ERROR };
    }
  }

  /** Asks the peer of `plmn`; every group gets `unreachable` when it cannot be asked. */
  private async forward(plmn: string, req: PeerKeyRequest, unreachable: ErrorCode): Promise<GroupResult[]> {
    const client = this.peerClients.get(plmn);
    if (!client) return refuseAll(req, unreachable);
    this.stats.forwarded++;
    const results = await this.askPeer(client, plmn, req, unreachable);
    this.requests.forwarded(plmn, requestResult(ErrorCode.NONE, results));
    return results;
  }

  private async askPeer(client: PeerClient, plmn: string, req: PeerKeyRequest, unreachable: ErrorCode): Promise<GroupResult[]> {
    try {
      const reply = await client.postKeyRequest(buildPeerKeyRequest(req));
      if (reply.status === 200) {
        const parsed = parsePeerKeyResponse(reply.body, req.groups.map((g) => g.groupId));
        if (parsed.ok && parsed.value.transactionId === req.transactionId) return parsed.value.groups;
        this.log.warn({ peer: plmn, reason: parsed.ok ? 'transaction ID mismatch' : parsed.reason }, 'peer PKMF answered with a malformed body');
        return refuseAll(req, ErrorCode.INTERNAL_ERROR);
      }
      const cause = problemCause(reply.body);
      this.log.warn({ peer: plmn, status: reply.status, cause: cause === undefined ? undefined : errorName(cause) }, 'peer PKMF refused the request');
      return refuseAll(req, cause ?? ErrorCode.INTERNAL_ERROR);
    } catch (e) {
      if (!(e instanceof PeerUnreachableError)) throw e;
      this.stats.peerUnreachable++;
      this.log.warn({ peer: plmn, err: e.message }, 'peer PKMF unreachable');
      return refuseAll(req, unreachable);
    }
  }

  private count(result: string): void {
    this.stats.results[result] = (this.stats.results[result] ?? 0) + 1;
  }

  private logResults(transactionId: number, supi: string, requester: string, results: readonly GroupResult[]): void {
    const now = this.clock.now();
    const entries: IssuanceLogEntry[] = results.map((r) => {
      const result = r.ok ? 'OK' : errorName(r.error);
      this.count(result);
      return r.ok
        ? { atMs: now, transactionId, supi, groupId: r.groupId, requester, result, gmi: r.material.gmi, pgkIds: r.material.pgks.map((p) => p.pgkId) }
        : { atMs: now, transactionId, supi, groupId: r.groupId, requester, result };
    });
    try {
      this.store.log(entries, { maxRows: this.config.issuanceLog.maxRows });
    } catch (e) {
      this.log.error({ err: e }, 'writing the issuance log failed');
    }
  }
}

function refuseAll(req: PeerKeyRequest, code: ErrorCode): GroupResult[] {
  return req.groups.map((g) => ({ groupId: g.groupId, ok: false, error: code }));
}
