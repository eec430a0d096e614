/**
 * The UE key client against a real PKMF over TLS on loopback, with an injected clock and timers
 * shared by the client and the PKMF (time only moves when the test says so): refresh inside the
 * rollover window with jitter, backoff while the PKMF is down, persisted keys (0600) carrying a
 * restart without a PKMF, expiry; and `sl-bridge keys fetch` / `keys show` output.
 */
import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pkmfConfigFromObject } from '../../bridge/pkmf/config.js';
import type { Timers } from '../../bridge/pkmf/key-client.js';
import { KeyClient } from '../../bridge/pkmf/key-client.js';
import type { RunningPkmf } from '../../bridge/pkmf/server.js';
import { startPkmf } from '../../bridge/pkmf/server.js';
import type { UeKeyConfig } from '../../bridge/pkmf/ue-config.js';
import { ueKeyConfigFromObject } from '../../bridge/pkmf/ue-config.js';
import type { GroupKeyMaterial } from '../../src/keys/types.js';
import { GroupKeyState } from '../../src/keys/group-key-state.js';
import type { OperatorPki } from '../fixtures/pkmf-testbed.js';
import { BIN, freePort, issueUe, makeOperatorPki, OP1, pkmfConfigDoc, supiOf, tmpDir, writeYaml } from '../fixtures/pkmf-testbed.js';

const exec = promisify(execFile);
const GROUP = 0x0c0001;
const SEC = 1000;
const silent = pino({ level: 'silent' });

/** Manual clock + timers: `advanceTo` fires due timers in order. */
class FakeClock implements Timers {
  private seq = 0;
  private pending = new Map<number, { at: number; fn: () => void }>();
  constructor(public t: number) {}
  now = (): number => this.t;
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.pending.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.pending.delete(h as number);
  }
  advanceTo(t: number): void {
    for (;;) {
      const due = [...this.pending].filter(([, v]) => v.at <= t).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.pending.delete(due[0]);
      this.t = Math.max(this.t, due[1].at);
      due[1].fn();
    }
    this.t = t;
  }
}

let t: ReturnType<typeof tmpDir>;
let op1: OperatorPki;
const supi = supiOf(OP1, 1);
let ueTls: { cert: string; key: string };
const started: { close(): Promise<void> }[] = [];
const clients: KeyClient[] = [];

beforeAll(async () => {
  t = tmpDir();
  op1 = await makeOperatorPki(join(t.dir, 'op1'), OP1);
  const f = await issueUe(op1, supi);
  ueTls = { cert: f.certFile, key: f.keyFile };
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.stop()));
  await Promise.all(started.splice(0).map((s) => s.close()));
});
afterAll(() => t?.cleanup());

async function pkmf(name: string, opts: { now?: () => number; port?: number; lifetimeSec?: number; overlapSec?: number } = {}): Promise<RunningPkmf> {
  const config = pkmfConfigFromObject(
    pkmfConfigDoc(op1, join(t.dir, `${name}.db`), {
      listen: { host: '127.0.0.1', port: opts.port ?? 0 },
      groups: [{ id: GROUP, nea: 3, nia: 3, members: [supi], pgkLifetimeSec: opts.lifetimeSec ?? 1000, pgkOverlapSec: opts.overlapSec ?? 400 }],
    }),
  );
  const p = await startPkmf(config, { logger: silent, ...(opts.now ? { now: opts.now } : {}) });
  started.push(p);
  return p;
}

function ueConfig(name: string, port: number, refresh: Record<string, number> = {}): UeKeyConfig {
  return ueKeyConfigFromObject(
    {
      homePlmn: OP1,
      tls: { ...ueTls, ca: op1.caCert },
      pkmf: { host: '127.0.0.1', port, servername: 'localhost', requestTimeoutSec: 5 },
      groups: [{ id: GROUP }],
      stateDir: join(t.dir, 'state', name),
      refresh: { minDelaySec: 1, jitter: 0.5, backoffBaseSec: 1, backoffMaxSec: 8, ...refresh },
    },
    { file: `${name}.yaml` },
  );
}

function client(config: UeKeyConfig, opts: ConstructorParameters<typeof KeyClient>[1]): KeyClient {
  const c = new KeyClient(config, { logger: silent, ...opts });
  clients.push(c);
  return c;
}

const ids = (k: GroupKeyMaterial[]): number[] => (k[0]?.pgks ?? []).map((p) => p.pgkId).sort((a, b) => a - b);

describe('key client refresh (injected clock)', () => {
  it('fetches the next PGK after the rollover at a jittered point, holds it at once, and every member sends with it from its activation', async () => {
    const clock = new FakeClock(1_000_000 * SEC);
    const T0 = clock.t;
    const server = await pkmf('refresh', { now: clock.now });
    const config = ueConfig('refresh', server.ueAddress.port);
    // Two UEs drawing different jitter: 0.2 and 0.8 of half the window before activation.
    const a = client(config, { now: clock.now, timers: clock, random: () => 0.2 });
    const b = client({ ...config, stateDir: join(t.dir, 'state', 'refresh-b') }, { now: clock.now, timers: clock, random: () => 0.8 });
    await a.start();
    await b.start();
    const [first] = ids(a.current());
    expect(ids(a.current())).toEqual([first]);
    expect(ids(b.current())).toEqual([first]);
    expect(a.current()[0]!.pgks[0]!.expiresAtMs).toBe(T0 + 1000 * SEC);
    // Lifetime 1000 s, overlap 400 s: rollover at 600 s, next PGK active at 800 s. Refreshes at
    // 600 + {0.2, 0.8} x 0.5 x 200 s.
    expect(a.status().nextAttemptAtMs).toBe(T0 + 620 * SEC);
    expect(b.status().nextAttemptAtMs).toBe(T0 + 680 * SEC);

    const events: GroupKeyMaterial[][] = [];
    a.on('keys', (k: GroupKeyMaterial[]) => events.push(k));
    const attempted = a.status().lastAttemptMs;
    clock.advanceTo(T0 + 619 * SEC);
    expect(a.status().lastAttemptMs).toBe(attempted);
    clock.advanceTo(T0 + 620 * SEC);
    // Fetched (the next refresh is now scheduled from the new PGK): held at once, for receiving,
    // with its activation time; senders do not use it yet.
    await expect.poll(() => a.status().nextAttemptAtMs! > T0 + 1000 * SEC).toBe(true);
    expect(a.status().lastAttemptMs).toBe(T0 + 620 * SEC);
    expect(ids(a.current())).toEqual([first, first! + 1]);
    expect(events.map(ids)).toEqual([[first, first! + 1]]);
    const successor = (c: KeyClient) => c.current()[0]!.pgks.find((p) => p.pgkId === first! + 1)!;
    expect(successor(a).activeFromMs).toBe(T0 + 800 * SEC);
    expect(a.current()[0]!.pgks.find((p) => p.pgkId === first)!.activeFromMs).toBe(T0);
    clock.advanceTo(T0 + 680 * SEC);
    await expect.poll(() => b.status().nextAttemptAtMs! > T0 + 1000 * SEC).toBe(true);
    expect(ids(b.current())).toEqual([first, first! + 1]);
    expect(successor(b).pgk).toEqual(successor(a).pgk);

    // Senders on both UEs switch at the activation instant, whenever each one fetched.
    const senderPgk = (c: KeyClient, at: number): number | undefined => {
      const state = new GroupKeyState({ txGuardMs: 0 });
      for (const g of c.current()) state.install(g);
      return state.selectTxPgk(GROUP, at)?.pgkId;
    };
    for (const c of [a, b]) {
      expect(senderPgk(c, T0 + 799 * SEC)).toBe(first);
      expect(senderPgk(c, T0 + 800 * SEC)).toBe(first! + 1);
    }
    clock.advanceTo(T0 + 800 * SEC);
    expect(events).toHaveLength(1); // activation changes what senders pick, not what is held

    // At the old PGK's expiry it leaves current() without any request.
    clock.advanceTo(T0 + 1000 * SEC);
    expect(ids(a.current())).toEqual([first! + 1]);
    expect(events.map(ids)).toEqual([[first, first! + 1], [first! + 1]]);
  });
});

describe('key client failures (injected clock)', () => {
  it('backs off exponentially while the PKMF is down, then gets keys once it is up', async () => {
    const clock = new FakeClock(5_000_000 * SEC);
    const port = await freePort();
    const c = client(ueConfig('backoff', port), { now: clock.now, timers: clock, random: () => 0.5 });
    const errors: string[] = [];
    c.on('error', (e: { code: string }) => errors.push(e.code));
    await c.start();
    expect(c.current()).toEqual([]);
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const s = c.status();
      delays.push(s.nextAttemptAtMs! - s.lastAttemptMs!);
      const n = errors.length;
      clock.advanceTo(s.nextAttemptAtMs!);
      await expect.poll(() => errors.length).toBe(n + 1);
    }
    // base 1 s, cap 8 s, half fixed + half random (0.5): 0.75 x 1, 2, 4, 8, 8 s.
    expect(delays).toEqual([750, 1500, 3000, 6000, 6000]);
    expect(new Set(errors)).toEqual(new Set(['CONNECT']));
    expect(c.status().consecutiveFailures).toBe(6);

    await pkmf('backoff', { now: clock.now, port });
    const got = new Promise<GroupKeyMaterial[]>((r) => c.once('keys', r));
    clock.advanceTo(c.status().nextAttemptAtMs!);
    expect((await got)[0]).toMatchObject({ groupId: GROUP, nea: 3, nia: 3 });
    expect(c.status().consecutiveFailures).toBe(0);
  });

  it('persists keys 0600 and keeps working on them after a restart without a PKMF, until they expire', async () => {
    const clock = new FakeClock(7_000_000 * SEC);
    const server = await pkmf('persist', { now: clock.now });
    const config = ueConfig('persist', server.ueAddress.port);
    const first = client(config, { now: clock.now, timers: clock, random: () => 0.5 });
    await first.start();
    const held = first.current();
    await first.stop();
    await server.close();

    const file = join(config.stateDir, 'keys.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(config.stateDir).mode & 0o777).toBe(0o700);
    const onDisk = JSON.parse(readFileSync(file, 'utf8'));
    expect(onDisk.groups[0].pgks[0].pgk).toBe(Buffer.from(held[0]!.pgks[0]!.pgk).toString('hex'));

    clock.advanceTo(clock.t + 100 * SEC);
    const second = client(config, { now: clock.now, timers: clock, random: () => 0.5 });
    const events: GroupKeyMaterial[][] = [];
    second.on('keys', (k: GroupKeyMaterial[]) => events.push(k));
    const errors: string[] = [];
    second.on('error', (e: { code: string }) => errors.push(e.code));
    await second.start();
    expect(errors).toEqual(['CONNECT']);
    expect(second.current()).toEqual(held);
    expect(events[0]).toEqual(held);

    clock.advanceTo(held[0]!.pgks[0]!.expiresAtMs);
    await expect.poll(() => events.length).toBeGreaterThanOrEqual(2);
    expect(second.current()).toEqual([]);
    expect(events[events.length - 1]).toEqual([]);
  });
});

describe('sl-bridge keys fetch / show', () => {
  it('prints group, GMI, algorithms, PGK IDs and expiries, key bytes only with --show-keys', async () => {
    const server = await pkmf('cli');
    const stateDir = join(t.dir, 'state', 'cli');
    const file = writeYaml(join(t.dir, 'ue-cli.yaml'), {
      keys: {
        homePlmn: OP1,
        tls: { ...ueTls, ca: op1.caCert },
        pkmf: { host: '127.0.0.1', port: server.ueAddress.port, servername: 'localhost' },
        groups: [{ id: GROUP }, { id: 0x0c0fff }],
        stateDir,
      },
    });
    const plain = (await exec(process.execPath, [BIN, 'keys', 'fetch', '--config', file])).stdout;
    const persisted = JSON.parse(readFileSync(join(stateDir, 'keys.json'), 'utf8'));
    const g = persisted.groups[0];
    const gmi = g.gmi.toString(16).padStart(6, '0');
    expect(plain).toContain(`group 0c0001  GMI ${gmi}  NEA 3 (ZUC)  NIA 3 (ZUC)  profile pcr`);
    expect(plain).toContain(`PGK ID ${g.pgks[0].pgkId} `);
    expect(plain).toContain(`expires ${new Date(g.pgks[0].expiresAtMs).toISOString()}`);
    expect(plain).toContain('group 0c0fff  error UNKNOWN_GROUP');
    expect(plain).not.toContain(g.pgks[0].pgk);

    const shown = (await exec(process.execPath, [BIN, 'keys', 'fetch', '--config', file, '--show-keys'])).stdout;
    expect(shown).toContain(`PGK ${g.pgks[0].pgk}`);

    await server.close();
    const offline = (await exec(process.execPath, [BIN, 'keys', 'show', '--config', file])).stdout;
    expect(offline).toContain(`GMI ${gmi}`);
    expect(offline).not.toContain(g.pgks[0].pgk);
    const err = (await exec(process.execPath, [BIN, 'keys', 'fetch', '--config', file]).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(/keys fetch: 127\.0\.0\.1:\d+: CONNECT: .*ECONNREFUSED/);
  });
});
