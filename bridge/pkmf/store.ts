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
 */
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { IssuedPgk } from '../../src/pkmf/codec.js';
import { PGK_BYTES } from '../../src/pkmf/codec.js';
import type { PgkMeta, PgkPolicy, RandomBytes } from '../../src/pkmf/lifecycle.js';
import { pickGmi, planPgks } from '../../src/pkmf/lifecycle.js';
import type { GroupConfig } from './config.js';

/** 2 added retired_gmis (fresh GMI on state loss); a version-1 database is upgraded in place. */
const SCHEMA_VERSION = 2;
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
    else if (version.value === '1') {
      // Version 1 lacks only retired_gmis, which the SCHEMA above has just created.
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
   *
   * Fresh GMI on state loss: the member keeps its GMI only when it says it holds durable PTK ID
   * state for it (`heldGmi` equal to the stored one). Otherwise (no state: first start, lost
   * state; or another one: a second device with the same certificate) the stored GMI is retired
   * and a GMI never used in the group, by anyone, is assigned: the GMI is a KDF input of every
   * PTK, so every (PTK ID, SN) the member then sends is under new keys.
   */
  issue(groupId: number, supi: string, policy: PgkPolicy, now: number, random: RandomBytes, heldGmi?: number): Issued {
    const rows = this.stmt.pgksOf.all(groupId);
    const plan = planPgks(rows.map(meta), now, policy, random);
    const existing = this.stmt.gmiOf.get(groupId, supi);
    const keep = existing !== undefined && existing.gmi === heldGmi;
    const created = plan.create.length > 0 || !keep;
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
      return { gmi, pgks, renewAfterMs: plan.renewAfterMs, created, ...(retiredGmi === undefined ? {} : { retiredGmi }) };
    });
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
