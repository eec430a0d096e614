/**
 * The PKMF's durable state in SQLite (better-sqlite3, WAL): groups, members, the GMI of each
 * (group, UE), PGKs and the issuance log.
 *
 * Durability: the connection runs with `synchronous = NORMAL` (WAL: a commit survives a crash of
 * the process, an fsync happens at checkpoints). A transaction that *creates* key material (a PGK
 * or a GMI) runs with `synchronous = FULL`, so nothing is handed out that a power loss could
 * un-create and the PKMF then re-create differently. Issuance-log rows ride on NORMAL: after a
 * power loss the last rows of the log may be missing, never a key. The issuance log is bounded: rows
 * beyond the newest `maxRows` and rows older than the configured age are deleted (`issuanceLog`).
 *
 * Other rows are never deleted: groups dropped from the config stay (flagged), so their PGK IDs keep
 * increasing if they come back; GMIs are never given to another UE of the group, and a retired
 * GMI (retired_gmis: its UE came back without PTK state for it) is never given to anyone again. Key bytes of PGKs
 * expired for more than a day are erased.
 *
 * Source authentication (src/pkmf/source-auth.ts): a `pairwise-mac` group's secret (group_secrets,
 * made durably on first issue) never leaves this module: the pairwise keys are derived here, per
 * answer, for the members the config lists that hold a GMI. Members' Ed25519 public keys
 * (signing_keys) are bound to (group, SUPI), so to the member's current GMI.
 */
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { hmacSha256Key } from '../../src/crypto/hmac-sha256.js';
import type { SourceAuthMode } from '../../src/keys/types.js';
import type { IssuedPgk } from '../../src/pkmf/codec.js';
import { PGK_BYTES } from '../../src/pkmf/codec.js';
import type { PgkMeta, PgkPolicy, RandomBytes } from '../../src/pkmf/lifecycle.js';
import { pickGmi, planPgks } from '../../src/pkmf/lifecycle.js';
import type { IssuedSourceAuth } from '../../src/pkmf/source-auth.js';
import { GROUP_SECRET_BYTES, pairwiseKeysOf, SIGNING_PUBLIC_KEY_BYTES } from '../../src/pkmf/source-auth.js';
import type { GroupConfig } from './config.js';

/**
 * 2 added retired_gmis (fresh GMI on state loss), 3 group_secrets and signing_keys (source
 * authentication); older databases are upgraded in place (the new tables start empty).
 */
const SCHEMA_VERSION = 3;
const ERASE_AFTER_EXPIRY_MS = 86_400_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS groups (
  group_id INTEGER PRIMARY KEY CHECK (group_id BETWEEN 0 AND 16777215),
  nea INTEGER NOT NULL, nia INTEGER, profile TEXT NOT NULL, allow_null INTEGER NOT NULL,
  pgk_lifetime_ms INTEGER NOT NULL, pgk_overlap_ms INTEGER NOT NULL,
  configured INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS members (
  group_id INTEGER NOT NULL REFERENCES groups(group_id), supi TEXT NOT NULL,
  PRIMARY KEY (group_id, supi)
);
CREATE TABLE IF NOT EXISTS gmis (
  group_id INTEGER NOT NULL REFERENCES groups(group_id), supi TEXT NOT NULL,
  gmi INTEGER NOT NULL CHECK (gmi BETWEEN 1 AND 16777214), assigned_at_ms INTEGER NOT NULL,
  PRIMARY KEY (group_id, supi), UNIQUE (group_id, gmi)
);
CREATE TABLE IF NOT EXISTS retired_gmis (
  group_id INTEGER NOT NULL REFERENCES groups(group_id), gmi INTEGER NOT NULL, supi TEXT NOT NULL,
  assigned_at_ms INTEGER NOT NULL, retired_at_ms INTEGER NOT NULL,
  PRIMARY KEY (group_id, gmi)
);
CREATE TABLE IF NOT EXISTS pgks (
  group_id INTEGER NOT NULL REFERENCES groups(group_id),
  pgk_id INTEGER NOT NULL CHECK (pgk_id BETWEEN 0 AND 4294967295),
  pgk BLOB, created_at_ms INTEGER NOT NULL, active_from_ms INTEGER NOT NULL, expires_at_ms INTEGER NOT NULL,
  PRIMARY KEY (group_id, pgk_id)
);
CREATE TABLE IF NOT EXISTS group_secrets (
  group_id INTEGER PRIMARY KEY REFERENCES groups(group_id),
  secret BLOB NOT NULL CHECK (length(secret) = ${GROUP_SECRET_BYTES}), created_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS signing_keys (
  group_id INTEGER NOT NULL REFERENCES groups(group_id), supi TEXT NOT NULL,
  public_key BLOB NOT NULL CHECK (length(public_key) = ${SIGNING_PUBLIC_KEY_BYTES}), bound_at_ms INTEGER NOT NULL,
  PRIMARY KEY (group_id, supi)
);
CREATE TABLE IF NOT EXISTS issuance_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, transaction_id INTEGER,
  supi TEXT NOT NULL, group_id INTEGER NOT NULL, requester TEXT NOT NULL, result TEXT NOT NULL,
  gmi INTEGER, pgk_ids TEXT
);
`;

export interface Issued {
  gmi: number;
  pgks: IssuedPgk[];
  renewAfterMs: number;
  /** True when this call created a PGK or the GMI. */
  created: boolean;
  /** The GMI this call retired (the UE did not hold durable state for it), if any. */
  retiredGmi?: number;
  /** The group's source authentication for this member (its pairwise keys are on `pgks`); absent: none. */
  sourceAuth?: IssuedSourceAuth;
  /** With source authentication: configured members `sourceAuth` does not cover yet (no GMI, or no public key bound). */
  pendingMembers: number;
  /** This call bound a new or another signing public key to the member. */
  keyBound: boolean;
}

/** What a Key Request says about source authentication, and what the group requires. */
export interface SourceAuthRequest {
  mode: SourceAuthMode;
  /** The requester's Ed25519 public key: bound to it in the group whatever the mode, so a later switch to `signature` finds it. */
  signingPublicKey?: Uint8Array | undefined;
}

export interface IssuanceLogEntry {
  atMs: number;
  transactionId: number;
  supi: string;
  groupId: number;
  /** 'ue' or the PLMN of the peer PKMF that asked. */
  requester: string;
  /** 'OK' or an ErrorCode name. */
  result: string;
  gmi?: number;
  pgkIds?: number[];
}

interface PgkRow {
  pgk_id: number;
  pgk: Buffer | null;
  active_from_ms: number;
  expires_at_ms: number;
}

const meta = (r: PgkRow): PgkMeta => ({ pgkId: r.pgk_id, expiresAtMs: r.expires_at_ms, activeFromMs: r.active_from_ms });

export class PkmfStore {
  private readonly db: Database.Database;
  private readonly stmt;

  private constructor(readonly file: string) {
    mkdirSync(dirname(file), { recursive: true });
    // PGKs are stored in the clear: the database file is readable by its owner only.
    closeSync(openSync(file, 'a', 0o600));
    chmodSync(file, 0o600);
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    const version = this.db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'schema_version'").get();
    if (!version) this.db.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', ?)").run(String(SCHEMA_VERSION));
    else if (version.value === '1' || version.value === '2') {
      // Older versions lack only tables (retired_gmis; group_secrets, signing_keys), which the SCHEMA above has just created.
      this.db.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'").run(String(SCHEMA_VERSION));
    } else if (version.value !== String(SCHEMA_VERSION)) {
      throw new Error(`${file}: database schema version ${version.value}, this PKMF needs ${SCHEMA_VERSION}`);
    }
    this.stmt = {
      upsertGroup: this.db.prepare(
        `INSERT INTO groups (group_id, nea, nia, profile, allow_null, pgk_lifetime_ms, pgk_overlap_ms, configured, updated_at_ms)
         VALUES (@groupId, @nea, @nia, @profile, @allowNull, @lifetimeMs, @overlapMs, 1, @now)
         ON CONFLICT (group_id) DO UPDATE SET nea = excluded.nea, nia = excluded.nia, profile = excluded.profile,
           allow_null = excluded.allow_null, pgk_lifetime_ms = excluded.pgk_lifetime_ms,
           pgk_overlap_ms = excluded.pgk_overlap_ms, configured = 1, updated_at_ms = excluded.updated_at_ms`,
      ),
      unconfigureAll: this.db.prepare('UPDATE groups SET configured = 0'),
      deleteMembers: this.db.prepare('DELETE FROM members'),
      insertMember: this.db.prepare('INSERT INTO members (group_id, supi) VALUES (?, ?)'),
      pgksOf: this.db.prepare<[number], PgkRow>('SELECT pgk_id, pgk, active_from_ms, expires_at_ms FROM pgks WHERE group_id = ? ORDER BY pgk_id'),
      insertPgk: this.db.prepare(
        'INSERT INTO pgks (group_id, pgk_id, pgk, created_at_ms, active_from_ms, expires_at_ms) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      gmiOf: this.db.prepare<[number, string], { gmi: number; assigned_at_ms: number }>('SELECT gmi, assigned_at_ms FROM gmis WHERE group_id = ? AND supi = ?'),
      gmiTaken: this.db.prepare<[number, number, number, number], { one: number }>(
        'SELECT 1 AS one FROM gmis WHERE group_id = ? AND gmi = ? UNION ALL SELECT 1 FROM retired_gmis WHERE group_id = ? AND gmi = ?',
      ),
      insertGmi: this.db.prepare('INSERT INTO gmis (group_id, supi, gmi, assigned_at_ms) VALUES (?, ?, ?, ?)'),
      deleteGmi: this.db.prepare('DELETE FROM gmis WHERE group_id = ? AND supi = ?'),
      retireGmi: this.db.prepare('INSERT INTO retired_gmis (group_id, gmi, supi, assigned_at_ms, retired_at_ms) VALUES (?, ?, ?, ?, ?)'),
      retiredCount: this.db.prepare<[number], { n: number }>('SELECT COUNT(*) AS n FROM retired_gmis WHERE group_id = ?'),
      secretOf: this.db.prepare<[number], { secret: Buffer }>('SELECT secret FROM group_secrets WHERE group_id = ?'),
      insertSecret: this.db.prepare('INSERT INTO group_secrets (group_id, secret, created_at_ms) VALUES (?, ?, ?)'),
      signingKeyOf: this.db.prepare<[number, string], { public_key: Buffer }>('SELECT public_key FROM signing_keys WHERE group_id = ? AND supi = ?'),
      bindSigningKey: this.db.prepare(
        `INSERT INTO signing_keys (group_id, supi, public_key, bound_at_ms) VALUES (?, ?, ?, ?)
         ON CONFLICT (group_id, supi) DO UPDATE SET public_key = excluded.public_key, bound_at_ms = excluded.bound_at_ms`,
      ),
      memberCount: this.db.prepare<[number], { n: number }>('SELECT COUNT(*) AS n FROM members WHERE group_id = ?'),
      // The group's members as configured now, with a GMI (they asked at least once) and their public key if bound.
      membersWithGmi: this.db.prepare<[number], { gmi: number; public_key: Buffer | null }>(
        `SELECT g.gmi AS gmi, k.public_key AS public_key FROM members m
         JOIN gmis g ON g.group_id = m.group_id AND g.supi = m.supi
         LEFT JOIN signing_keys k ON k.group_id = m.group_id AND k.supi = m.supi
         WHERE m.group_id = ? ORDER BY g.gmi`,
      ),
      log: this.db.prepare(
        `INSERT INTO issuance_log (at_ms, transaction_id, supi, group_id, requester, result, gmi, pgk_ids)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      // Issuance-log bounds: ids only grow (AUTOINCREMENT), so "all but the newest N" is an id range.
      logTrimIds: this.db.prepare('DELETE FROM issuance_log WHERE id <= ?'),
      logMaxId: this.db.prepare<[], { id: number | null }>('SELECT MAX(id) AS id FROM issuance_log'),
      logPruneAge: this.db.prepare('DELETE FROM issuance_log WHERE at_ms < ?'),
      erase: this.db.prepare('UPDATE pgks SET pgk = NULL WHERE pgk IS NOT NULL AND expires_at_ms < ?'),
    };
  }

  static open(file: string): PkmfStore {
    return new PkmfStore(file);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** Makes the stored groups and member lists those of the config (one transaction). */
  syncGroups(groups: readonly GroupConfig[], now: number): void {
    this.db.transaction(() => {
      this.stmt.unconfigureAll.run();
      this.stmt.deleteMembers.run();
      for (const g of groups) {
        this.stmt.upsertGroup.run({
          groupId: g.groupId,
          nea: g.nea,
          nia: g.nia,
          profile: g.profile,
          allowNull: g.allowNullAlgorithms ? 1 : 0,
          lifetimeMs: g.pgkLifetimeMs,
          overlapMs: g.pgkOverlapMs,
          now,
        });
        for (const supi of g.members) this.stmt.insertMember.run(g.groupId, supi);
      }
    })();
  }

  private withDurableCommit<T>(durable: boolean, fn: () => T): T {
    if (!durable) return this.db.transaction(fn).immediate();
    this.db.pragma('synchronous = FULL');
    try {
      return this.db.transaction(fn).immediate();
    } finally {
      this.db.pragma('synchronous = NORMAL');
    }
  }

  /**
   * The member's GMI and the group's valid PGKs at `now`, creating (durably, before returning)
   * the next PGK when a rollover is due, and the GMI unless `heldGmi` is the one the member has.
   * With `auth`: binds the member's public key, and answers the group's source authentication as
   * of this transaction (the member's own GMI and key included): per PGK its pairwise keys with
   * every other configured member holding a GMI (the group secret made, durably, on first need),
   * or every such member's public key.
   *
   * Fresh GMI on state loss: the member keeps its GMI only when it says it holds durable PTK ID
   * state for it (`heldGmi` equal to the stored one). Otherwise (no state: first start, lost
   * state; or another one: a second device with the same certificate) the stored GMI is retired
   * and a GMI never used in the group, by anyone, is assigned: the GMI is a KDF input of every
   * PTK, so every (PTK ID, SN) the member then sends is under new keys.
   */
  issue(groupId: number, supi: string, policy: PgkPolicy, now: number, random: RandomBytes, heldGmi?: number, auth: SourceAuthRequest = { mode: 'none' }): Issued {
    const rows = this.stmt.pgksOf.all(groupId);
    const plan = planPgks(rows.map(meta), now, policy, random);
    const existing = this.stmt.gmiOf.get(groupId, supi);
    const keep = existing !== undefined && existing.gmi === heldGmi;
    const secretDue = auth.mode === 'pairwise-mac' && this.stmt.secretOf.get(groupId) === undefined;
    const created = plan.create.length > 0 || !keep || secretDue;
    // Single-threaded and synchronous from the read above to the commit: nothing can interleave.
    return this.withDurableCommit(created, () => {
      const newKeys = new Map<number, { meta: PgkMeta; pgk: Buffer }>();
      for (const p of plan.create) newKeys.set(p.pgkId, { meta: p, pgk: this.insertPgk(groupId, p, now, random) });
      let gmi: number;
      let retiredGmi: number | undefined;
      if (keep) gmi = existing.gmi;
      else {
        if (existing !== undefined) {
          this.stmt.deleteGmi.run(groupId, supi);
          this.stmt.retireGmi.run(groupId, existing.gmi, supi, existing.assigned_at_ms, now);
          retiredGmi = existing.gmi;
        }
        gmi = pickGmi((g) => this.stmt.gmiTaken.get(groupId, g, groupId, g) !== undefined, random);
        this.stmt.insertGmi.run(groupId, supi, gmi, now);
      }
      const byId = new Map(rows.map((r) => [r.pgk_id, r]));
      const pgks: IssuedPgk[] = plan.validIds.map((id) => {
        const fresh = newKeys.get(id);
        if (fresh) return { ...fresh.meta, pgk: Uint8Array.from(fresh.pgk) };
        const row = byId.get(id)!;
        if (!row.pgk) throw new Error(`PGK ${id} of group ${groupId} is valid but its key bytes are erased`);
        return { ...meta(row), pgk: Uint8Array.from(row.pgk) };
      });
      const keyBound = auth.signingPublicKey !== undefined && this.bindSigningKey(groupId, supi, auth.signingPublicKey, now);
      if (secretDue) {
        const secret = Buffer.from(random(GROUP_SECRET_BYTES));
        if (secret.length !== GROUP_SECRET_BYTES) throw new RangeError('random: returned a short group secret');
        this.stmt.insertSecret.run(groupId, secret, now);
      }
      const { sourceAuth, pendingMembers } = this.sourceAuthFor(groupId, gmi, auth.mode, pgks);
      return {
        gmi,
        pgks,
        renewAfterMs: plan.renewAfterMs,
        created,
        keyBound,
        pendingMembers,
        ...(retiredGmi === undefined ? {} : { retiredGmi }),
        ...(sourceAuth === undefined ? {} : { sourceAuth }),
      };
    });
  }

  /** Binds `publicKey` to (group, SUPI) unless it is bound already; true when it changed something. */
  private bindSigningKey(groupId: number, supi: string, publicKey: Uint8Array, now: number): boolean {
    const bound = this.stmt.signingKeyOf.get(groupId, supi);
    if (bound !== undefined && Buffer.compare(bound.public_key, publicKey) === 0) return false;
    this.stmt.bindSigningKey.run(groupId, supi, Buffer.from(publicKey), now);
    return true;
  }

  /**
   * Inside issue()'s transaction: the member `gmi`'s view of the group's source authentication
   * (pairwise keys set on `pgks`), and how many configured members it leaves out.
   */
  private sourceAuthFor(groupId: number, gmi: number, mode: SourceAuthMode, pgks: IssuedPgk[]): { sourceAuth?: IssuedSourceAuth; pendingMembers: number } {
    if (mode === 'none') return { pendingMembers: 0 };
    const members = this.stmt.membersWithGmi.all(groupId);
    const configured = this.stmt.memberCount.get(groupId)!.n;
    if (mode === 'signature') {
      const publicKeys = new Map<number, Uint8Array>();
      for (const m of members) if (m.public_key !== null) publicKeys.set(m.gmi, Uint8Array.from(m.public_key));
      return { sourceAuth: { mode, publicKeys }, pendingMembers: configured - publicKeys.size };
    }
    // Keyed once per answer: each pairwise key is then one HMAC of a short input.
    const secret = hmacSha256Key(this.stmt.secretOf.get(groupId)!.secret);
    const gmis = members.map((m) => m.gmi);
    for (const p of pgks) p.pairwiseKeys = pairwiseKeysOf(secret, groupId, p.pgkId, gmi, gmis);
    return { sourceAuth: { mode }, pendingMembers: configured - members.length };
  }

  /** Creates due PGKs of every configured group ahead of requests, and erases long-expired ones. */
  maintain(groups: readonly GroupConfig[], now: number, random: RandomBytes): number {
    let created = 0;
    for (const g of groups) {
      const rows = this.stmt.pgksOf.all(g.groupId);
      const plan = planPgks(rows.map(meta), now, { lifetimeMs: g.pgkLifetimeMs, overlapMs: g.pgkOverlapMs }, random);
      if (plan.create.length === 0) continue;
      this.withDurableCommit(true, () => {
        for (const p of plan.create) this.insertPgk(g.groupId, p, now, random);
      });
      created += plan.create.length;
    }
    this.stmt.erase.run(now - ERASE_AFTER_EXPIRY_MS);
    return created;
  }

  private insertPgk(groupId: number, p: PgkMeta, now: number, random: RandomBytes): Buffer {
    const pgk = Buffer.from(random(PGK_BYTES));
    if (pgk.length !== PGK_BYTES) throw new RangeError('random: returned a short PGK');
    this.stmt.insertPgk.run(groupId, p.pgkId, pgk, now, p.activeFromMs, p.expiresAtMs);
    return pgk;
  }

  /**
   * Appends issuance-log rows; with `maxRows`, the oldest rows beyond the newest `maxRows` are
   * deleted in the same transaction (a cheap id-range delete), so the table never exceeds it.
   */
  log(entries: readonly IssuanceLogEntry[], bounds: { maxRows?: number } = {}): void {
    if (entries.length === 0) return;
    this.db.transaction(() => {
      let last = 0;
      for (const e of entries) {
        const r = this.stmt.log.run(e.atMs, e.transactionId, e.supi, e.groupId, e.requester, e.result, e.gmi ?? null, e.pgkIds ? e.pgkIds.join(',') : null);
        last = Number(r.lastInsertRowid);
      }
      if (bounds.maxRows !== undefined && last > bounds.maxRows) this.stmt.logTrimIds.run(last - bounds.maxRows);
    })();
  }

  /** Deletes issuance-log rows older than `olderThanMs` and beyond the newest `maxRows`; returns how many. */
  pruneIssuanceLog(olderThanMs: number, maxRows: number): number {
    return this.db.transaction(() => {
      let deleted = this.stmt.logPruneAge.run(olderThanMs).changes;
      const maxId = this.stmt.logMaxId.get()?.id ?? null;
      if (maxId !== null && maxId > maxRows) deleted += this.stmt.logTrimIds.run(maxId - maxRows).changes;
      return deleted;
    })();
  }

  // --- read-only views (tests, diagnostics) ---------------------------------------------------

  pgkIds(groupId: number): PgkMeta[] {
    return this.stmt.pgksOf.all(groupId).map(meta);
  }

  gmiOf(groupId: number, supi: string): number | undefined {
    return this.stmt.gmiOf.get(groupId, supi)?.gmi;
  }

  retiredGmiCount(groupId: number): number {
    return this.stmt.retiredCount.get(groupId)!.n;
  }

  issuanceLog(limit = 100): IssuanceLogEntry[] {
    return this.db
      .prepare<[number], { at_ms: number; transaction_id: number; supi: string; group_id: number; requester: string; result: string; gmi: number | null; pgk_ids: string | null }>(
        'SELECT * FROM issuance_log ORDER BY id DESC LIMIT ?',
      )
      .all(limit)
      .map((r) => ({
        atMs: r.at_ms,
        transactionId: r.transaction_id,
        supi: r.supi,
        groupId: r.group_id,
        requester: r.requester,
        result: r.result,
        ...(r.gmi === null ? {} : { gmi: r.gmi }),
        ...(r.pgk_ids === null ? {} : { pgkIds: r.pgk_ids.split(',').map(Number) }),
      }));
  }
}
