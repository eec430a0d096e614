/**
 * The UE key client: keeps a UE's group keys (PGK, PGK ID, expiry, GMI, algorithms) from its
 * serving PKMF up to date, for the daemon's PDCP layer.
 *
 * - start(): loads the keys persisted in `stateDir` (those still valid are usable at once, so a
 *   restart without a reachable PKMF works until they expire), then asks the PKMF.
 * - Refresh: after each answer, the next request is scheduled with jitter inside the rollover
 *   window the PKMF announces (src/pkmf/refresh.ts), well before the newest PGK expires.
 * - Failures (PKMF down, TLS refused, timeouts, transient per-group codes such as
 *   HOME_NETWORK_UNREACHABLE): exponential backoff with jitter; the keys already held stay in use.
 *   Permanent per-group codes (NOT_A_MEMBER, UNKNOWN_GROUP, ...) drop that group's keys.
 * - current() holds every PGK not yet expired, each with its `activeFromMs`: a fetched successor
 *   PGK joins it at once, so receivers can verify a member whose clock runs a little ahead, and
 *   senders (GroupKeyState's selection) switch to it only at its activation time (halfway through
 *   the overlap, the same instant for every member); an expired PGK leaves it at its expiry. A
 *   'keys' event says so each time.
 * - Every change is persisted atomically to `<stateDir>/keys.json`, mode 0600, before 'keys'.
 * - Source authentication (src/pkmf/source-auth.ts): each request carries this UE's Ed25519 public
 *   key (bridge/pkmf/signing-key.ts, made once); answers carry the group's mode with pairwise keys
 *   or members' public keys, which current() hands on (with the signing seed for `signature`).
 *   A `signature` answer that binds another public key to this UE's GMI is refused.
 * - Membership (source authentication): members join (or take a fresh GMI) after this UE asked.
 *   While an answer reports members it does not cover yet (`pendingMembers`), the client asks
 *   again with exponential backoff (from `backoffBaseSec`, up to `maxDelaySec`); and
 *   refreshSoon() (the daemon calls it when PDUs from a member it does not know arrive) asks
 *   again soon, backing off up to `backoffMaxSec` while answers bring no new member.
 *
 * Events: 'keys' (GroupKeyMaterial[]) whenever current() changes; 'error' (KeyFetchError) for a
 * failed attempt, only if someone listens (it is logged either way); 'group-error'
 * ({groupId, code}) for a group the PKMF refused.
 */
import { EventEmitter } from 'node:events';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SecureContext } from 'node:tls';
import { pino, type Logger } from 'pino';
import type { GroupKeyMaterial } from '../../src/keys/types.js';
import type { GmiLedger } from '../../src/pdcp/ptk-allocator.js';
import type { IssuedGroupKeys, KeyRequestMsg, KeyResponseMsg } from '../../src/pkmf/codec.js';
import { ErrorCode, errorName, isTransient } from '../../src/pkmf/errors.js';
import { hex24 } from '../../src/pkmf/identity.js';
import type { HeldGroup } from '../../src/pkmf/key-state.js';
import { heldAt, parseKeyState, serializeKeyState, sourceAuthDigest, unexpired } from '../../src/pkmf/key-state.js';
import { policyViolation } from '../../src/pkmf/policy.js';
import { backoffDelayMs, nextRefreshAt } from '../../src/pkmf/refresh.js';
import { sourceAuthModeOf } from '../../src/pkmf/source-auth.js';
import { writeFileDurably } from '../state/durable-file.js';
import { loadOrCreateSigningKey, type SigningKey } from './signing-key.js';
import type { UeKeyConfig } from './ue-config.js';
import { KeyFetchError, requestKeys, ueSecureContext } from './ue-client.js';

export const KEY_STATE_FILE = 'keys.json';
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface KeyClientOptions {
  /** Default: Date.now. */
  now?: () => number;
  /** Uniform in [0, 1), for jitter and transaction IDs. Default: Math.random. */
  random?: () => number;
  /** Default: the global timers. */
  timers?: Timers;
  /** Default: pino at 'info' on stderr. */
  logger?: Logger;
  /**
   * The PTK state's GMI claims (src/pdcp/ptk-allocator.ts GmiLedger): each request tells the PKMF
   * the GMI the state holds (`held_gmi`); a GMI not held is claimed durably before its keys are
   * used; persisted keys for a GMI the state does not hold are dropped (their PTK ID marks are
   * gone, so sending under them could repeat a COUNT). Without one, every request asks for a fresh
   * GMI and nothing is claimed (`keys fetch` passes the daemon's state, or a read-only view of it).
   */
  ledger?: GmiLedger;
}

export interface GroupStatus {
  groupId: number;
  /** ok: keys held; error: the PKMF refused, or this UE refused its answer (see `error`); pending: no answer yet. */
  state: 'ok' | 'error' | 'pending';
  error?: string;
}

export interface KeyClientStatus {
  running: boolean;
  lastAttemptMs: number | undefined;
  lastSuccessMs: number | undefined;
  consecutiveFailures: number;
  nextAttemptAtMs: number | undefined;
  lastError: { code: string; message: string } | undefined;
  servingPlmn: string | undefined;
  /** Key Responses refused by the UE's algorithm policy (src/pkmf/policy.ts), per group answer. */
  policyRefusals: number;
  groups: GroupStatus[];
}

export interface FetchReport {
  ok: boolean;
  response?: KeyResponseMsg;
  error?: KeyFetchError;
}

const defaultTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export class KeyClient extends EventEmitter {
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly timers: Timers;
  private readonly log: Logger;
  private held = new Map<number, HeldGroup>();
  private readonly groupErrors = new Map<number, ErrorCode>();
  /** Groups whose last answer this UE refused, with why (policy, or a GMI it could not claim). */
  private readonly refused = new Map<number, string>();
  private policyRefusals = 0;
  private readonly ledger: GmiLedger | undefined;
  /** `freshGmiOnStart`: groups still to be answered with a fresh GMI since start(); asked without held_gmi. */
  private readonly freshDue = new Set<number>();
  private running = false;
  private inFlight: Promise<FetchReport> | undefined;
  private timer: unknown;
  private nextAttemptAt: number | undefined;
  private failures = 0;
  /** Consecutive answers reporting members not covered yet (source authentication); 0: none pending. */
  private pendingPolls = 0;
  /** refreshSoon() attempts since an answer last changed a group's membership. */
  private triggeredPolls = 0;
  private lastAttemptMs: number | undefined;
  private lastSuccessMs: number | undefined;
  private lastError: KeyFetchError | undefined;
  private servingPlmn: string | undefined;
  private secureContext: SecureContext | undefined;
  private signing: SigningKey | undefined;
  private emitted = '[]';

  constructor(
    readonly config: UeKeyConfig,
    opts: KeyClientOptions = {},
  ) {
    super();
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.timers = opts.timers ?? defaultTimers;
    this.log = opts.logger ?? pino({ level: 'info', base: { svc: 'keys' } }, pino.destination(2));
    this.ledger = opts.ledger;
  }

  get stateFile(): string {
    return join(this.config.stateDir, KEY_STATE_FILE);
  }

  /** Loads persisted keys and starts fetching; resolves once the first attempt has finished. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    if (this.config.freshGmiOnStart && this.ledger !== undefined) for (const g of this.config.groups) this.freshDue.add(g.groupId);
    this.signingKey(); // before the persisted keys: a signature group needs it to be usable
    this.loadPersisted();
    this.emitIfChanged();
    await this.attempt();
  }

  /** Stops all timers; an attempt in flight finishes but is not followed by another. */
  async stop(): Promise<void> {
    this.running = false;
    this.cancelTimer();
    this.nextAttemptAt = undefined;
    await this.inFlight?.catch(() => undefined);
  }

  /**
   * The keys held now: every group with its PGKs not yet expired, including successors not yet
   * active (their `activeFromMs` lies ahead: receive with them, do not send under them yet).
   */
  current(): GroupKeyMaterial[] {
    return heldAt([...this.held.values()], this.now(), this.signing?.seed);
  }

  status(): KeyClientStatus {
    const valid = new Set(this.current().map((g) => g.groupId));
    return {
      running: this.running,
      lastAttemptMs: this.lastAttemptMs,
      lastSuccessMs: this.lastSuccessMs,
      consecutiveFailures: this.failures,
      nextAttemptAtMs: this.nextAttemptAt,
      lastError: this.lastError ? { code: this.lastError.code, message: this.lastError.message } : undefined,
      servingPlmn: this.servingPlmn,
      policyRefusals: this.policyRefusals,
      groups: this.config.groups.map(({ groupId }): GroupStatus => {
        const refusal = this.refused.get(groupId);
        if (refusal !== undefined && !valid.has(groupId)) return { groupId, state: 'error', error: `REFUSED_BY_UE: ${refusal}` };
        const err = this.groupErrors.get(groupId);
        if (valid.has(groupId)) return err === undefined ? { groupId, state: 'ok' } : { groupId, state: 'ok', error: errorName(err) };
        return err === undefined ? { groupId, state: 'pending' } : { groupId, state: 'error', error: errorName(err) };
      }),
    };
  }

  /** One request now (also when not started: `sl-bridge keys fetch`). */
  fetchOnce(): Promise<FetchReport> {
    return this.attempt();
  }

  /**
   * Asks the PKMF again soon, to learn members that joined or took a fresh GMI since the last
   * answer (the daemon calls it when PDUs from a member it does not know arrive). The first ask
   * comes `backoffBaseSec` after the previous attempt; while answers bring no new member the
   * delay doubles up to `backoffMaxSec`, so a removed member that keeps sending costs at most one
   * request per `backoffMaxSec`.
   */
  refreshSoon(): void {
    if (!this.running || this.inFlight) return;
    const at = Math.max(this.now(), (this.lastAttemptMs ?? 0) + backoffDelayMs(this.triggeredPolls + 1, this.random, this.config.refresh));
    if (this.nextAttemptAt !== undefined && this.nextAttemptAt <= at) return;
    this.triggeredPolls++;
    this.nextAttemptAt = at;
    this.arm();
  }

  // -------------------------------------------------------------------------------------------

  private cancelTimer(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private attempt(): Promise<FetchReport> {
    if (this.inFlight) return this.inFlight;
    this.cancelTimer();
    this.inFlight = this.doAttempt().finally(() => {
      this.inFlight = undefined;
      this.schedule();
    });
    return this.inFlight;
  }

  /**
   * This UE's signing key, made on first need; undefined (logged) when the state directory cannot
   * give one: the request then goes without it, and only `signature` groups are refused.
   */
  private signingKey(): SigningKey | undefined {
    if (this.signing !== undefined) return this.signing;
    try {
      const loaded = loadOrCreateSigningKey(this.config.stateDir);
      if (loaded.replaced !== undefined) this.log.warn({ file: loaded.file, err: loaded.replaced }, 'signing key unreadable; made a new one');
      else if (loaded.created) this.log.info({ file: loaded.file }, 'made this UE\'s signing key (source authentication by signature)');
      this.signing = loaded.key;
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'no signing key; groups with source authentication by signature cannot be joined');
    }
    return this.signing;
  }

  private buildRequest(): KeyRequestMsg {
    const signingPublicKey = this.signingKey()?.publicKey;
    return {
      transactionId: Math.floor(this.random() * 0x1_0000_0000) >>> 0,
      homePlmn: this.config.homePlmn,
      groups: this.config.groups.map((g) => {
        const heldGmi = this.freshDue.has(g.groupId) ? undefined : this.ledger?.heldGmi(g.groupId);
        return {
          groupId: g.groupId,
          supportedNea: [...g.supportedNea],
          supportedNia: [...g.supportedNia],
          ...(heldGmi === undefined ? {} : { heldGmi }),
          ...(signingPublicKey === undefined ? {} : { signingPublicKey }),
        };
      }),
    };
  }

  private async doAttempt(): Promise<FetchReport> {
    this.lastAttemptMs = this.now();
    let response: KeyResponseMsg;
    try {
      this.secureContext ??= ueSecureContext(this.config.tls);
      response = await requestKeys(
        this.config.pkmf,
        { ...this.config.tls, secureContext: this.secureContext },
        this.buildRequest(),
        { timeoutMs: this.config.requestTimeoutMs, maxFrameBytes: this.config.maxFrameBytes },
      );
      if (response.error !== ErrorCode.NONE) {
        throw new KeyFetchError('CONNECTION_ERROR', `the PKMF refused the request: ${errorName(response.error)}`, response.error);
      }
    } catch (e) {
      const err = e instanceof KeyFetchError ? e : new KeyFetchError('CLOSED', (e as Error).message);
      this.failures++;
      this.lastError = err;
      this.log.warn({ code: err.code, err: err.message, failures: this.failures }, 'key request failed; keeping the keys held');
      if (this.listenerCount('error') > 0) this.emit('error', err);
      this.dropExpired();
      return { ok: false, error: err };
    }
    this.apply(response);
    return { ok: true, response };
  }

  private apply(response: KeyResponseMsg): void {
    const now = this.now();
    this.servingPlmn = response.servingPlmn;
    let changed = false;
    let transient = false;
    let membershipChanged = false;
    let pending = false;
    const wanted = new Map(this.config.groups.map((g) => [g.groupId, g]));
    for (const r of response.groups) {
      const policy = wanted.get(r.groupId);
      if (policy === undefined) continue;
      if (r.ok) {
        this.groupErrors.delete(r.groupId);
        const refusal = this.refusal(r.material, policy);
        if (refusal !== undefined) {
          // Nothing is sent on the group: keys held from before are dropped too, they came from
          // the same PKMF that now answers outside the policy.
          if (this.held.delete(r.groupId)) changed = true;
          continue;
        }
        this.refused.delete(r.groupId);
        this.freshDue.delete(r.groupId);
        const before = this.held.get(r.groupId);
        if (!before || !sameMaterial(before.material, r.material)) changed = true;
        if (before && sourceAuthDigest(before.material) !== sourceAuthDigest(r.material)) membershipChanged = true;
        if ((r.pendingMembers ?? 0) > 0) pending = true;
        this.held.set(r.groupId, { material: r.material, renewAfterMs: r.renewAfterMs });
        continue;
      }
      this.groupErrors.set(r.groupId, r.error);
      if (this.listenerCount('group-error') > 0) this.emit('group-error', { groupId: r.groupId, code: r.error });
      if (isTransient(r.error)) {
        transient = true;
        this.log.warn({ group: hex24(r.groupId), code: errorName(r.error) }, 'group keys not renewed (transient); keeping the keys held');
      } else {
        this.log.warn({ group: hex24(r.groupId), code: errorName(r.error) }, 'group keys refused');
        if (this.held.delete(r.groupId)) changed = true;
      }
    }
    this.lastSuccessMs = now;
    this.lastError = undefined;
    this.failures = transient ? this.failures + 1 : 0;
    // Members still joining: ask again soon while they do, backing off while nobody does.
    this.pendingPolls = !pending ? 0 : membershipChanged ? 1 : this.pendingPolls + 1;
    if (membershipChanged) this.triggeredPolls = 0;
    if (changed) this.persist();
    this.dropExpired();
  }

  /**
   * Why this UE refuses an answer for a group (logged and counted), or undefined: outside the
   * algorithm policy, a signature group that does not hold this UE's own public key, or a new GMI
   * that cannot be claimed durably in the PTK state.
   */
  private refusal(material: IssuedGroupKeys, policy: UeKeyConfig['groups'][number]): string | undefined {
    const group = hex24(material.groupId);
    const violation = policyViolation(material, policy);
    if (violation !== undefined) {
      this.policyRefusals++;
      this.refused.set(material.groupId, violation);
      this.log.error(
        { group, nea: material.nea, nia: material.nia, profile: material.profile, sourceAuth: sourceAuthModeOf(material.sourceAuth), reason: violation },
        'key response refused by the UE algorithm policy; nothing is sent on the group',
      );
      return violation;
    }
    const keyProblem = this.ownKeyProblem(material);
    if (keyProblem !== undefined) {
      this.refused.set(material.groupId, keyProblem);
      this.log.error({ group, gmi: hex24(material.gmi), reason: keyProblem }, 'key response refused: this UE could not sign in the group; nothing is sent on it');
      return keyProblem;
    }
    if (this.ledger !== undefined && this.ledger.heldGmi(material.groupId) !== material.gmi) {
      try {
        // Durable before any PDU is sent under the GMI: its PTK ID spaces start empty.
        this.ledger.claimGmi(material.groupId, material.gmi);
        this.log.info({ group, gmi: hex24(material.gmi) }, 'new GMI claimed in the PTK state');
      } catch (e) {
        const reason = `cannot record the new GMI in the PTK state: ${(e as Error).message}`;
        this.refused.set(material.groupId, reason);
        this.log.error({ group, gmi: hex24(material.gmi), err: (e as Error).message }, 'new GMI not claimed; its keys are not used');
        return reason;
      }
    }
    return undefined;
  }

  /** Drops expired PGKs (and groups left without any), then emits 'keys' if current() changed. */
  private dropExpired(): void {
    const kept = unexpired([...this.held.values()], this.now());
    const count = (gs: Iterable<HeldGroup>): number => [...gs].reduce((n, g) => n + g.material.pgks.length, 0);
    if (count(kept) !== count(this.held.values())) {
      this.held = new Map(kept.map((g) => [g.material.groupId, g]));
      this.persist();
    }
    this.emitIfChanged();
  }

  /**
   * Why this UE cannot send in `m`'s group although the PKMF answered, or undefined: a `signature`
   * group that binds no key, or another key, to this UE's GMI (its signatures would all be refused).
   */
  private ownKeyProblem(m: IssuedGroupKeys): string | undefined {
    if (m.sourceAuth?.mode !== 'signature') return undefined;
    const own = this.signingKey();
    if (own === undefined) return 'the group requires signatures and this UE has no signing key';
    const bound = m.sourceAuth.publicKeys.get(m.gmi);
    if (bound === undefined || Buffer.compare(Buffer.from(bound), Buffer.from(own.publicKey)) !== 0) {
      return `the PKMF bound another public key to this UE's GMI ${hex24(m.gmi)}`;
    }
    return undefined;
  }

  private emitIfChanged(): void {
    const now = this.current();
    const byGroup = new Map([...this.held.values()].map((g) => [g.material.groupId, sourceAuthDigest(g.material)]));
    const signature = JSON.stringify(
      now.map((g) => [g.groupId, g.gmi, g.nea, g.nia, g.profile, g.pgks.map((p) => [p.pgkId, p.expiresAtMs, p.activeFromMs]), byGroup.get(g.groupId)]),
    );
    if (signature === this.emitted) return;
    this.emitted = signature;
    this.emit('keys', now);
  }

  /** After an attempt: when to ask next (refresh window, or backoff after failures). */
  private schedule(): void {
    this.cancelTimer();
    if (!this.running) return;
    const now = this.now();
    const policy = this.config.refresh;
    const held = [...this.held.values()];
    const missing = this.config.groups.some((g) => !this.held.has(g.groupId) && !this.isPermanentlyRefused(g.groupId));
    let at: number;
    if (this.failures > 0 || (missing && this.lastSuccessMs === undefined)) {
      at = now + backoffDelayMs(Math.max(1, this.failures), this.random, policy);
      if (held.length > 0) at = Math.min(at, this.refreshAt(held, now));
    } else {
      at = this.refreshAt(held, now);
    }
    if (this.pendingPolls > 0) {
      at = Math.min(at, now + backoffDelayMs(this.pendingPolls, this.random, { ...policy, backoffMaxMs: Math.max(policy.backoffBaseMs, policy.maxDelayMs) }));
    }
    this.nextAttemptAt = at;
    this.arm();
  }

  /** Sets the timer for the next attempt, or earlier for a held PGK expiring. */
  private arm(): void {
    this.cancelTimer();
    if (!this.running || this.nextAttemptAt === undefined) return;
    const now = this.now();
    const changes = [...this.held.values()].flatMap((g) => g.material.pgks.map((p) => p.expiresAtMs)).filter((x) => x > now);
    const wakeAt = Math.min(this.nextAttemptAt, ...changes);
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, wakeAt - now));
    this.timer = this.timers.setTimeout(() => this.wake(), delay);
  }

  private refreshAt(held: HeldGroup[], now: number): number {
    return nextRefreshAt(
      held.map((g) => ({ renewAfterMs: g.renewAfterMs, newestExpiryMs: Math.max(...g.material.pgks.map((p) => p.expiresAtMs)) })),
      now,
      this.random,
      this.config.refresh,
    );
  }

  private isPermanentlyRefused(groupId: number): boolean {
    const e = this.groupErrors.get(groupId);
    return e !== undefined && !isTransient(e);
  }

  private wake(): void {
    this.timer = undefined;
    if (!this.running) return;
    this.dropExpired();
    if (this.nextAttemptAt !== undefined && this.now() >= this.nextAttemptAt) void this.attempt();
    else this.arm();
  }

  // --- persistence ----------------------------------------------------------------------------

  private loadPersisted(): void {
    let text: string;
    try {
      text = readFileSync(this.stateFile, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn({ err: (e as Error).message }, 'cannot read persisted keys');
      return;
    }
    try {
      const state = parseKeyState(text);
      if (state.supi !== this.config.supi) {
        this.log.warn({ file: this.stateFile, supi: state.supi }, 'persisted keys belong to another UE; ignoring them');
        return;
      }
      const wanted = new Set(this.config.groups.map((g) => g.groupId));
      const kept = unexpired(state.groups, this.now()).filter((g) => wanted.has(g.material.groupId) && this.holdsStateFor(g.material) && this.canSignIn(g.material));
      this.held = new Map(kept.map((g) => [g.material.groupId, g]));
      this.log.info({ groups: kept.map((g) => hex24(g.material.groupId)) }, 'loaded persisted keys');
    } catch (e) {
      this.log.warn({ file: this.stateFile, err: (e as Error).message }, 'persisted keys unreadable; ignoring them');
    }
  }

  /**
   * Persisted keys are used again only under a GMI the PTK state still holds: if that state was
   * lost (or belongs to another GMI), so were the marks of every PTK ID used under the old GMI.
   */
  private holdsStateFor(m: IssuedGroupKeys): boolean {
    if (this.freshDue.has(m.groupId)) return false; // a fresh GMI is due: persisted keys are for the old one
    if (this.ledger === undefined || this.ledger.heldGmi(m.groupId) === m.gmi) return true;
    this.log.warn({ group: hex24(m.groupId), gmi: hex24(m.gmi) }, 'persisted keys are for a GMI the PTK state does not hold (state lost?); asking the PKMF for a fresh GMI');
    return false;
  }

  /** Persisted keys of a `signature` group are used only with the signing key they were issued for. */
  private canSignIn(m: IssuedGroupKeys): boolean {
    const problem = this.ownKeyProblem(m);
    if (problem === undefined) return true;
    this.log.warn({ group: hex24(m.groupId), reason: problem }, 'persisted keys not used; asking the PKMF again');
    return false;
  }

  private persist(): void {
    try {
      mkdirSync(this.config.stateDir, { recursive: true, mode: 0o700 });
      const text = serializeKeyState({ supi: this.config.supi, savedAtMs: this.now(), groups: [...this.held.values()] });
      writeFileDurably(this.stateFile, Buffer.from(text), 0o600);
    } catch (e) {
      this.log.error({ err: (e as Error).message, file: this.stateFile }, 'persisting keys failed');
    }
  }
}

function sameMaterial(a: IssuedGroupKeys, b: IssuedGroupKeys): boolean {
  if (a.gmi !== b.gmi || a.nea !== b.nea || a.nia !== b.nia || a.profile !== b.profile || a.pgks.length !== b.pgks.length) return false;
  return a.pgks.every((p, i) => p.pgkId === b.pgks[i]!.pgkId && p.expiresAtMs === b.pgks[i]!.expiresAtMs) && sourceAuthDigest(a) === sourceAuthDigest(b);
}

/**
 * Reads what a key client persisted (for `sl-bridge keys show`), without any network: every held
 * PGK not yet expired, including a successor not yet active (see its `activeFromMs`).
 */
export function readPersistedKeys(config: UeKeyConfig, now = Date.now()): IssuedGroupKeys[] {
  const text = readFileSync(join(config.stateDir, KEY_STATE_FILE), 'utf8');
  const state = parseKeyState(text);
  if (state.supi !== config.supi) throw new Error(`the persisted keys belong to ${state.supi}, not ${config.supi}`);
  return unexpired(state.groups, now).map((g) => g.material);
}
