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
 *
 * Events: 'keys' (GroupKeyMaterial[]) whenever current() changes; 'error' (KeyFetchError) for a
 * failed attempt, only if someone listens (it is logged either way); 'group-error'
 * ({groupId, code}) for a group the PKMF refused.
 */
import { EventEmitter } from 'node:events';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import type { SecureContext } from 'node:tls';
import { pino, type Logger } from 'pino';
import type { GroupKeyMaterial } from '../../src/keys/types.js';
import type { IssuedGroupKeys, KeyRequestMsg, KeyResponseMsg } from '../../src/pkmf/codec.js';
import { ErrorCode, errorName, isTransient } from '../../src/pkmf/errors.js';
import { hex24 } from '../../src/pkmf/identity.js';
import type { HeldGroup } from '../../src/pkmf/key-state.js';
import { parseKeyState, serializeKeyState, unexpired } from '../../src/pkmf/key-state.js';
import { backoffDelayMs, nextRefreshAt } from '../../src/pkmf/refresh.js';
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
}

export interface GroupStatus {
  groupId: number;
  /** ok: keys held; error: the PKMF refused (see `error`); pending: no answer yet. */
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
  private running = false;
  private inFlight: Promise<FetchReport> | undefined;
  private timer: unknown;
  private nextAttemptAt: number | undefined;
  private failures = 0;
  private lastAttemptMs: number | undefined;
  private lastSuccessMs: number | undefined;
  private lastError: KeyFetchError | undefined;
  private servingPlmn: string | undefined;
  private secureContext: SecureContext | undefined;
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
  }

  get stateFile(): string {
    return join(this.config.stateDir, KEY_STATE_FILE);
  }

  /** Loads persisted keys and starts fetching; resolves once the first attempt has finished. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
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
    return heldAt([...this.held.values()], this.now());
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
      groups: this.config.groups.map(({ groupId }): GroupStatus => {
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

  private buildRequest(): KeyRequestMsg {
    return {
      transactionId: Math.floor(this.random() * 0x1_0000_0000) >>> 0,
      homePlmn: this.config.homePlmn,
      groups: this.config.groups.map((g) => ({ groupId: g.groupId, supportedNea: [...g.supportedNea], supportedNia: [...g.supportedNia] })),
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
    const wanted = new Set(this.config.groups.map((g) => g.groupId));
    for (const r of response.groups) {
      if (!wanted.has(r.groupId)) continue;
      if (r.ok) {
        this.groupErrors.delete(r.groupId);
        const before = this.held.get(r.groupId);
        if (!before || !sameMaterial(before.material, r.material)) changed = true;
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
    if (changed) this.persist();
    this.dropExpired();
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

  private emitIfChanged(): void {
    const now = this.current();
    const signature = JSON.stringify(
      now.map((g) => [g.groupId, g.gmi, g.nea, g.nia, g.profile, g.pgks.map((p) => [p.pgkId, p.expiresAtMs, p.activeFromMs])]),
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
      const kept = unexpired(state.groups, this.now()).filter((g) => wanted.has(g.material.groupId));
      this.held = new Map(kept.map((g) => [g.material.groupId, g]));
      this.log.info({ groups: kept.map((g) => hex24(g.material.groupId)) }, 'loaded persisted keys');
    } catch (e) {
      this.log.warn({ file: this.stateFile, err: (e as Error).message }, 'persisted keys unreadable; ignoring them');
    }
  }

  private persist(): void {
    try {
      mkdirSync(this.config.stateDir, { recursive: true, mode: 0o700 });
      const tmp = `${this.stateFile}.${process.pid}.tmp`;
      const fd = openSync(tmp, 'w', 0o600);
      try {
        writeSync(fd, serializeKeyState({ supi: this.config.supi, savedAtMs: this.now(), groups: [...this.held.values()] }));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      chmodSync(tmp, 0o600);
      renameSync(tmp, this.stateFile);
    } catch (e) {
      this.log.error({ err: (e as Error).message, file: this.stateFile }, 'persisting keys failed');
    }
  }
}

/** Per group its PGKs not yet expired at `now`, with their activation times; groups left without any are left out. */
function heldAt(groups: readonly HeldGroup[], now: number): GroupKeyMaterial[] {
  const out: GroupKeyMaterial[] = [];
  for (const { material: m } of groups) {
    const pgks = m.pgks
      .filter((p) => p.expiresAtMs > now)
      .map((p) => ({ pgkId: p.pgkId, pgk: Uint8Array.from(p.pgk), expiresAtMs: p.expiresAtMs, activeFromMs: p.activeFromMs }));
    if (pgks.length > 0) {
      out.push({ groupId: m.groupId, gmi: m.gmi, nea: m.nea, nia: m.nia, profile: m.profile, allowNullAlgorithms: m.allowNullAlgorithms ?? false, pgks });
    }
  }
  return out;
}

function sameMaterial(a: GroupKeyMaterial, b: GroupKeyMaterial): boolean {
  if (a.gmi !== b.gmi || a.nea !== b.nea || a.nia !== b.nia || a.profile !== b.profile || a.pgks.length !== b.pgks.length) return false;
  return a.pgks.every((p, i) => p.pgkId === b.pgks[i]!.pgkId && p.expiresAtMs === b.pgks[i]!.expiresAtMs);
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
