/**
 * Hardening of the PKMF against unbounded growth: one subscriber requesting 64 groups in a loop
 * (each answer used to add 64 issuance-log rows, never pruned, with no per-UE rate limit), and
 * the issuance log bounded by age and by row count. Real TLS on loopback, real SQLite; the flood
 * is bounded in count and time.
 */
import { statSync } from 'node:fs';
import tls from 'node:tls';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pkmfConfigFromObject } from '../../bridge/pkmf/config.js';
import type { RunningPkmf } from '../../bridge/pkmf/server.js';
import { startPkmf } from '../../bridge/pkmf/server.js';
import type { IssuanceLogEntry } from '../../bridge/pkmf/store.js';
import { PkmfStore } from '../../bridge/pkmf/store.js';
import type { UeCredentials } from '../../bridge/pkmf/ue-client.js';
import { requestKeys } from '../../bridge/pkmf/ue-client.js';
import type { KeyRequestMsg, ServerMessage } from '../../src/pkmf/codec.js';
import { decodeServerFrame, encodeFrame, encodeKeyRequest, FrameDecoder } from '../../src/pkmf/codec.js';
import { ErrorCode, errorName, isTransient } from '../../src/pkmf/errors.js';
import type { OperatorPki } from '../fixtures/pkmf-testbed.js';
import { makeOperatorPki, OP1, pkmfConfigDoc, supiOf, tmpDir, ueCreds } from '../fixtures/pkmf-testbed.js';

const GROUPS = Array.from({ length: 64 }, (_, i) => 0x0f0001 + i);
const UE1 = supiOf(OP1, 1);
const UE2 = supiOf(OP1, 2);
const DAY = 86_400_000;
const silent = pino({ level: 'silent' });

let t: ReturnType<typeof tmpDir>;
let op1: OperatorPki;
let ue1: UeCredentials;
let ue2: UeCredentials;
const running: RunningPkmf[] = [];

beforeAll(async () => {
  t = tmpDir();
  op1 = await makeOperatorPki(join(t.dir, 'op1'), OP1);
  ue1 = await ueCreds(op1, UE1);
  ue2 = await ueCreds(op1, UE2);
  return () => t.cleanup();
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.close()));
});

async function start(name: string, extra: Record<string, unknown> = {}, opts: Parameters<typeof startPkmf>[1] = {}): Promise<{ pkmf: RunningPkmf; db: string }> {
  const db = join(t.dir, `${name}.db`);
  const config = pkmfConfigFromObject(
    pkmfConfigDoc(op1, db, { groups: GROUPS.map((id) => ({ id, members: id === GROUPS[0] ? [UE1, UE2] : [UE1] })), ...extra }),
  );
  const pkmf = await startPkmf(config, { logger: silent, ...opts });
  running.push(pkmf);
  return { pkmf, db };
}

const request = (groups: number[], held: ReadonlyMap<number, number> = new Map()): KeyRequestMsg => ({
  transactionId: Math.floor(Math.random() * 2 ** 32),
  homePlmn: OP1,
  groups: groups.map((groupId) => ({ groupId, supportedNea: [1, 2, 3], supportedNia: [1, 2, 3], ...(held.has(groupId) ? { heldGmi: held.get(groupId)! } : {}) })),
});

/** Rows of the issuance log, read through a second SQLite connection. */
function logRows(db: string): number {
  const d = new Database(db, { readonly: true, fileMustExist: true });
  try {
    return d.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM issuance_log').get()!.n;
  } finally {
    d.close();
  }
}

const fileBytes = (f: string): number => {
  try {
    return statSync(f).size;
  } catch {
    return 0;
  }
};
const dbBytes = (db: string): number => fileBytes(db) + fileBytes(`${db}-wal`);

/** A TLS connection of `creds` on which requests are sent one after the other. */
function connect(port: number, creds: UeCredentials): Promise<{ ask(r: KeyRequestMsg): Promise<ServerMessage>; close(): void }> {
  return new Promise((resolvePromise, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', cert: creds.certPem, key: creds.keyPem, ca: creds.caPem, minVersion: 'TLSv1.3' });
    const decoder = new FrameDecoder(1 << 20);
    let waiter: ((m: ServerMessage) => void) | undefined;
    socket.on('data', (c: Buffer) => {
      for (const f of decoder.push(c)) waiter?.(decodeServerFrame(f));
    });
    socket.once('error', reject);
    socket.once('secureConnect', () =>
      resolvePromise({
        ask: (r) =>
          new Promise((res, rej) => {
            waiter = res;
            socket.write(encodeFrame(encodeKeyRequest(r)));
            setTimeout(() => rej(new Error('no answer within 5 s')), 5_000).unref();
          }),
        close: () => socket.destroy(),
      }),
    );
  });
}

describe('one subscriber flooding the PKMF', () => {
  it('64-group requests in a loop: refused beyond the per-UE rate with RATE_LIMITED (transient), the DB stays bounded, another UE is served', async () => {
    const { pkmf, db } = await start('flood');
    const port = pkmf.ueAddress.port;
    const c = await connect(port, ue1);
    const outcomes: Record<string, number> = {};
    const t0 = performance.now();
    let requests = 0;
    let otherServed = 0;
    // The GMIs held, sent back as held_gmi: the cheapest request for the PKMF, so the fastest flood.
    const held = new Map<number, number>();
    // Bounded: 3 s and 10,000 requests, whichever comes first.
    while (performance.now() - t0 < 3_000 && requests < 10_000) {
      const m = await c.ask(request(GROUPS, held));
      requests++;
      if (m.kind !== 'key-response') throw new Error(`connection error ${m.code}: ${m.message}`);
      for (const g of m.response.groups) if (g.ok) held.set(g.groupId, g.material.gmi);
      const name = m.response.error === ErrorCode.NONE ? (m.response.groups.every((g) => g.ok) ? 'OK' : 'PARTIAL') : errorName(m.response.error);
      outcomes[name] = (outcomes[name] ?? 0) + 1;
      // Meanwhile another subscriber of the same PKMF gets its keys.
      if (requests % 1_000 === 250) {
        const other = await requestKeys({ host: '127.0.0.1', port, servername: 'localhost' }, ue2, request([GROUPS[0]!]));
        if (other.error === ErrorCode.NONE && other.groups[0]?.ok) otherServed++;
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    c.close();
    const rows = logRows(db);
    const bytes = dbBytes(db);
    console.log(
      `[growth] ${requests} requests of 64 groups from one UE in ${seconds.toFixed(1)} s: ${JSON.stringify(outcomes)}; ` +
        `issuance_log ${rows} rows, database + WAL ${(bytes / 1e6).toFixed(2)} MB`,
    );

    // Defaults: a burst of 20 requests, then 30 a minute.
    const allowed = 20 + Math.ceil(seconds * 0.5) + 1;
    expect(outcomes.OK ?? 0).toBeGreaterThanOrEqual(1);
    expect(outcomes.OK ?? 0).toBeLessThanOrEqual(allowed);
    const limited = outcomes.RATE_LIMITED ?? 0;
    expect(limited).toBe(requests - (outcomes.OK ?? 0));
    expect(isTransient(ErrorCode.RATE_LIMITED)).toBe(true);
    expect(pkmf.service.stats.rateLimited).toBe(limited);
    // Refused requests write nothing: at most 64 rows per answered request (+ the other UE's).
    expect(rows).toBeLessThanOrEqual(allowed * 64 + 10);
    expect(bytes).toBeLessThan(8e6);
    // The other subscriber, with its own budget, got its keys during the flood and after it.
    const after = await requestKeys({ host: '127.0.0.1', port, servername: 'localhost' }, ue2, request([GROUPS[0]!]));
    expect(after.groups[0]?.ok).toBe(true);
    if (requests >= 250) expect(otherServed).toBeGreaterThanOrEqual(1);
  });

  it('the issuance log is pruned by age (default 30 days) by the maintenance timer', async () => {
    let now = Date.UTC(2030, 0, 1);
    const { pkmf, db } = await start('age', {}, { now: () => now, maintenanceIntervalMs: 50 });
    const port = pkmf.ueAddress.port;
    const a = await requestKeys({ host: '127.0.0.1', port, servername: 'localhost' }, ue1, request(GROUPS.slice(0, 4)));
    expect(a.groups.every((g) => g.ok)).toBe(true);
    expect(logRows(db)).toBe(4);
    now += 29 * DAY;
    const b = await requestKeys({ host: '127.0.0.1', port, servername: 'localhost' }, ue2, request([GROUPS[0]!]));
    expect(b.groups[0]?.ok).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(logRows(db)).toBe(5);
    now += 2 * DAY; // the first four rows are 31 days old, the last 2 days
    await expect.poll(() => logRows(db), { timeout: 5_000, interval: 50 }).toBe(1);
    expect(pkmf.store.issuanceLog(10)).toEqual([expect.objectContaining({ supi: UE2 })]);
  });

  it('the issuance log keeps at most maxRows rows, the newest', () => {
    const store = PkmfStore.open(join(t.dir, 'rows.db'));
    try {
      const entry = (i: number): IssuanceLogEntry => ({ atMs: 1_000 + i, transactionId: i, supi: UE1, groupId: GROUPS[0]!, requester: 'ue', result: 'OK', gmi: 5, pgkIds: [7] });
      for (let batch = 0; batch < 50; batch++) {
        store.log(
          Array.from({ length: 100 }, (_, i) => entry(batch * 100 + i)),
          { maxRows: 1_000 },
        );
      }
      const rows = store.issuanceLog(10_000);
      expect(rows).toHaveLength(1_000);
      expect(rows[0]!.transactionId).toBe(4_999);
      expect(rows.at(-1)!.transactionId).toBe(4_000);
      // By age: everything before atMs 4_500 goes.
      expect(store.pruneIssuanceLog(1_000 + 4_500, 1_000)).toBe(500);
      expect(store.issuanceLog(10_000)).toHaveLength(500);
    } finally {
      store.close();
    }
  });
});
