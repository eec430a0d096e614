/**
 * The daemon core (src/daemon/) in-process: real PDCP entities and real keys, no sockets, time and
 * clocks injected. Two or more cores talk through an in-memory medium that stamps envelopes like a
 * stack transport; the sink records what a core hands to its transport and applications and
 * answers with the outcome a test sets. Covers what the daemon process tests check about the data
 * path (test/integration/daemon-*.test.ts, hardening-daemon.test.ts): refusals told to the
 * application, every drop under its reason, forged / replayed / tampered PDUs as security drops,
 * security off, sender accounting, transport refusals, internal errors, key withdrawal, pruning,
 * replay floors and restarts on durable state.
 */
import { describe, expect, it } from 'vitest';
import {
  DaemonCore,
  MAX_TRACKED_SENDERS,
  type DaemonLog,
  type DaemonSink,
  type PdcpSettings,
  type PdcpStateStore,
  type SecurityMode,
} from '../../src/daemon/index.js';
import type { GroupKeyMaterial, PgkRecord } from '../../src/keys/types.js';
import {
  DROP_REASONS,
  MemoryPtkHighWaterStore,
  MemoryReplayMarkStore,
  parseReplayMarkKey,
  parseSpaceKey,
  type HandoffStage,
  type PdcpProfiler,
  type PtkIdSpace,
  type ReplayMarkKey,
  type RxStage,
  type TxStage,
} from '../../src/pdcp/index.js';
import { hex24 } from '../../src/pkmf/identity.js';
import type { AppToDaemon } from '../../src/wire/app.js';
import type { OutgoingPdu, PduEnvelope } from '../../src/wire/envelope.js';
import { GROUP_ID, HOUR, NOW, RECEIVER_GMI, SENDER_GMI, hex, pgkRecord } from '../fixtures/pdcp-helpers.js';

const OTHER_GROUP = GROUP_ID ^ 0x000100;
const PDCP: PdcpSettings = { txGuardMs: 60_000, rxExpiryGraceMs: 30_000, ptkBlockSize: 8, snPerPtk: 0x10000, replayMarkStep: 64 };
const MAX_SDU_BYTES = 9000;
const text = (b: Uint8Array): string => Buffer.from(b).toString('latin1');

/** PTK ID marks and replay floors in memory, with pruning like the state file, and a failure switch. */
class MemoryPdcpState extends MemoryPtkHighWaterStore implements PdcpStateStore {
  readonly replay = new MemoryReplayMarkStore();
  fail: Error | undefined;
  override save(space: PtkIdSpace, highWater: number): void {
    if (this.fail) throw this.fail;
    super.save(space, highWater);
  }
  loadFloor(key: ReplayMarkKey): number | undefined {
    return this.replay.loadFloor(key);
  }
  raiseFloors(floors: readonly { key: ReplayMarkKey; floor: number }[]): void {
    if (this.fail) throw this.fail;
    this.replay.raiseFloors(floors);
  }
  settleFloors(floors: readonly { key: ReplayMarkKey; floor: number }[]): void {
    this.replay.settleFloors(floors);
  }
  prune(keep: (space: PtkIdSpace) => boolean): number {
    if (this.fail) throw this.fail;
    return dropWhere(this.marks, (k) => !keep(parseSpaceKey(k)!));
  }
  pruneReplayFloors(keep: (key: ReplayMarkKey) => boolean): number {
    return dropWhere(this.replay.floors, (k) => !keep(parseReplayMarkKey(k)!));
  }
  /** PGK IDs with a PTK ID mark / a replay floor. */
  markedPgks(): number[] {
    return [...this.marks.keys()].map((k) => parseSpaceKey(k)!.pgkId).sort();
  }
  flooredPgks(): number[] {
    return [...this.replay.floors.keys()].map((k) => parseReplayMarkKey(k)!.pgkId).sort();
  }
}

function dropWhere(map: Map<string, number>, gone: (key: string) => boolean): number {
  let n = 0;
  for (const k of [...map.keys()]) if (gone(k) && map.delete(k)) n++;
  return n;
}

interface LogLine {
  level: 'info' | 'warn' | 'error';
  fields: object;
  message: string;
}

interface Delivered {
  from: number;
  group: number;
  sduType: number;
  sdu: string;
  seq: number;
  rxTimeNs: bigint;
}

/** One UE's core with a recording sink (the application peers are plain strings). */
class Ue {
  readonly core: DaemonCore<string>;
  readonly sent: OutgoingPdu[] = [];
  readonly delivered: Delivered[] = [];
  readonly refused: { appSeq: number; peer: string; reason: string }[] = [];
  readonly logs: LogLine[] = [];
  readonly installed: GroupKeyMaterial[] = [];
  /** What the stack transport / application socket answer (or throw). */
  sendOutcome: string | Error = 'accepted';
  deliverOutcome: string | Error = 'accepted';
  /** The medium's per-sender envelope sequence number. */
  seq = 0;
  /** The injected wall clock. */
  nowMs = NOW;
  private appSeq = 0;
  /** The injected monotonic clock: 1 µs per reading, read only by the core. */
  private perfMs = 0;

  constructor(
    readonly store: MemoryPdcpState | undefined,
    opts: { security?: SecurityMode; l2SourceId?: number; pdcp?: Partial<PdcpSettings>; profiler?: PdcpProfiler } = {},
  ) {
    const record =
      (level: LogLine['level']) =>
      (fields: object, message: string): void =>
        void this.logs.push({ level, fields, message });
    const log: DaemonLog = { info: record('info'), warn: record('warn'), error: record('error') };
    const answer = (outcome: string | Error): string => {
      if (outcome instanceof Error) throw outcome;
      return outcome;
    };
    const sink: DaemonSink<string> = {
      send: (pdu) => {
        this.sent.push(pdu);
        return answer(this.sendOutcome);
      },
      deliver: (e, sduType, sdu, rxTimeNs) => {
        const outcome = answer(this.deliverOutcome);
        this.delivered.push({ from: e.l2SourceId, group: e.l2DestinationId, sduType, sdu: text(sdu), seq: e.seq, rxTimeNs });
        return outcome;
      },
      refuse: (appSeq, peer, reason) => void this.refused.push({ appSeq, peer, reason }),
    };
    this.core = new DaemonCore<string>(
      {
        security: opts.security ?? 'on',
        groups: [GROUP_ID],
        l2SourceId: opts.l2SourceId,
        maxSduBytes: MAX_SDU_BYTES,
        maxPduBytes: 9100,
        pdcp: { ...PDCP, ...opts.pdcp },
        now: () => this.nowMs,
        store,
        log,
        perfNow: () => (this.perfMs += 0.001),
        profiler: opts.profiler,
        onKeysInstalled: (m) => void this.installed.push(m),
      },
      sink,
    );
  }

  /** An SDU from the application `peer` (undefined: a transport with no peer handle). */
  send(sdu: string, opts: { group?: number; sduType?: number; peer?: string | null; nowMs?: number; bytes?: Uint8Array } = {}): number {
    const appSeq = ++this.appSeq;
    const m: AppToDaemon = { kind: 'send', groupId: opts.group ?? GROUP_ID, sduType: opts.sduType ?? 1, sdu: opts.bytes ?? Buffer.from(sdu, 'latin1'), appSeq, appTimeNs: 0n };
    this.nowMs = opts.nowMs ?? NOW;
    this.core.onSdu(m, opts.peer === null ? undefined : (opts.peer ?? 'app'));
    return appSeq;
  }

  /** Takes what this UE handed to its transport, as the envelopes a medium would carry. */
  drain(): PduEnvelope[] {
    return this.sent.splice(0).map((p) => ({ ...p, txTimeNs: 1n, seq: ++this.seq }));
  }

  receive(envelopes: PduEnvelope[], nowMs = NOW): void {
    this.nowMs = nowMs;
    for (const e of envelopes) this.core.onEnvelope(e, 42n);
  }

  get dropped(): Record<string, number> {
    return Object.fromEntries(Object.entries(this.core.counters.dropped).filter(([, n]) => n > 0));
  }

  /** PDCP receive drops, zero counts left out. */
  get securityDrops(): Record<string, number> {
    const rx = this.core.rxCounters;
    return Object.fromEntries(DROP_REASONS.map((r) => [r, rx?.[r] ?? 0]).filter(([, n]) => n !== 0));
  }

  messages(level: LogLine['level']): string[] {
    return this.logs.filter((l) => l.level === level).map((l) => l.message);
  }
}

function material(gmi: number, pgks: PgkRecord[] = [pgkRecord(7)], over: Partial<GroupKeyMaterial> = {}): GroupKeyMaterial {
  return { groupId: GROUP_ID, gmi, nea: 2, nia: 2, profile: 'pcr', pgks, ...over };
}

function keyed(gmi: number, store = new MemoryPdcpState(), opts: ConstructorParameters<typeof Ue>[1] = {}): Ue {
  const ue = new Ue(store, opts);
  ue.core.installKeys([material(gmi)]);
  return ue;
}

/** A sender and a receiver with keys in one group. */
function pair(opts: ConstructorParameters<typeof Ue>[1] = {}): { a: Ue; b: Ue } {
  return { a: keyed(SENDER_GMI, undefined, opts), b: keyed(RECEIVER_GMI, undefined, opts) };
}

describe('daemon core, security on', () => {
  it('carries SDUs between two cores, protected, with per-sender accounting and status figures', () => {
    const { a, b } = pair();
    expect(a.core.keysReady && b.core.keysReady).toBe(true);
    for (let i = 0; i < 5; i++) a.send(`m${i}`);
    const envelopes = a.drain();
    expect(envelopes).toHaveLength(5);
    expect(envelopes[0]).toMatchObject({ l2SourceId: SENDER_GMI, l2DestinationId: GROUP_ID, castType: 'groupcast' });
    expect(text(envelopes[0]!.pdu)).not.toContain('m0'); // ciphered
    b.receive(envelopes);

    expect(b.delivered.map((d) => d.sdu)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(b.delivered[0]).toMatchObject({ from: SENDER_GMI, group: GROUP_ID, sduType: 1, seq: 1, rxTimeNs: 42n });
    expect(a.core.counters).toMatchObject({ sdusIn: 5, pdusOut: 5, envelopesIn: 0, delivered: 0 });
    expect(b.core.counters).toMatchObject({ sdusIn: 0, pdusOut: 0, envelopesIn: 5, delivered: 5 });
    expect(a.refused).toEqual([]);
    expect(a.dropped).toEqual({});
    expect(b.securityDrops).toEqual({});

    const fa = a.core.figures();
    const fb = b.core.figures();
    expect(fa.groups).toEqual([{ groupId: hex24(GROUP_ID), gmi: hex24(SENDER_GMI), pgkIds: [7], txPgkId: 7, txPtkId: 1, pgkExpiresAtMs: NOW + HOUR }]);
    expect(fb.groups[0]).toMatchObject({ gmi: hex24(RECEIVER_GMI), txPgkId: null, txPtkId: null });
    expect(fb.rxBySender).toEqual({ [hex24(SENDER_GMI)]: { envelopes: 5, delivered: 5, lost: 0, duplicates: 0, reordered: 0, restarts: 0 } });
    expect(fa.pdcp).toMatchObject({ ptksStarted: 1 });
    expect(fb.pdcp).toMatchObject({ derivations: 1, cachedEngines: 1, replayWindows: 1 });
    // The injected clock advances 1 µs per reading: the histograms hold only the entity call.
    expect(fa.latency.protect).toMatchObject({ count: 5, p50Us: 1, maxUs: 1 });
    expect(fb.latency.unprotect).toMatchObject({ count: 5, p50Us: 1 });
    expect(fa.latency.unprotect.count).toBe(0);
  });

  it('refuses SDUs for a group it does not carry, and before keys (tx-no-keys), telling the application', () => {
    const a = new Ue(new MemoryPdcpState());
    expect(a.core.keysReady).toBe(false);
    expect(a.core.figures().groups).toEqual([{ groupId: hex24(GROUP_ID), gmi: null, pgkIds: [], txPgkId: null, txPtkId: null, pgkExpiresAtMs: null }]);
    const early = [a.send('early'), a.send('', { bytes: new Uint8Array(0) })]; // without keys, that comes first
    const unknown = a.send('x', { group: OTHER_GROUP });
    a.send('no peer to tell', { peer: null });
    expect(a.refused).toEqual([
      { appSeq: early[0], peer: 'app', reason: 'tx-no-keys' },
      { appSeq: early[1], peer: 'app', reason: 'tx-no-keys' },
      { appSeq: unknown, peer: 'app', reason: 'tx-unknown-group' },
    ]);
    expect(a.dropped).toEqual({ 'tx-no-keys': 3, 'tx-unknown-group': 1 });
    expect(a.core.counters).toMatchObject({ sdusIn: 4, pdusOut: 0 });
    expect(a.sent).toEqual([]);

    // Keys arrive: the next SDU is protected, nothing was queued.
    a.core.installKeys([material(SENDER_GMI)]);
    expect(a.core.keysReady).toBe(true);
    a.send('late');
    expect(a.drain()).toHaveLength(1);
    expect(a.core.counters.pdusOut).toBe(1);
  });

  it('drops envelopes that are not groupcast, for other groups, or before keys, none of them as security drops', () => {
    const a = keyed(SENDER_GMI);
    const b = new Ue(new MemoryPdcpState());
    a.send('x');
    const [real] = a.drain();
    b.receive([real!]); // no keys yet: a wait for the PKMF, not a security event
    expect(b.dropped).toEqual({ 'rx-no-keys': 1 });
    expect(b.core.figures().rxBySender).toEqual({}); // dropped before any per-sender work

    b.core.installKeys([material(RECEIVER_GMI)]);
    b.receive([
      { ...real!, castType: 'unicast' },
      { ...real!, castType: 'broadcast' },
      { ...real!, l2DestinationId: OTHER_GROUP },
    ]);
    expect(b.dropped).toEqual({ 'rx-no-keys': 1, 'rx-not-groupcast': 2, 'rx-other-group': 1 });
    expect(b.securityDrops).toEqual({});
    b.receive([real!]);
    expect(b.delivered.map((d) => d.sdu)).toEqual(['x']);
    expect(b.core.counters).toMatchObject({ envelopesIn: 5, delivered: 1 });
  });

  it('counts forged, tampered, replayed, truncated, spoofed and looped-back PDUs as PDCP drops and never delivers them', () => {
    const { a, b } = pair();
    a.send('first');
    a.send('second');
    const [first, second] = a.drain();
    b.receive([first!]);
    const forgedSn = Uint8Array.from(first!.pdu);
    forgedSn[4]! ^= 100; // a COUNT not seen yet under the original MAC-I
    const tampered = Uint8Array.from(second!.pdu);
    tampered[tampered.length - 6]! ^= 0x01; // one bit of the ciphertext
    b.receive([
      { ...first!, pdu: forgedSn },
      { ...second!, pdu: tampered },
      first!, // replay
      { ...first!, pdu: Uint8Array.of(0x21, 0, 0) },
      { ...first!, l2SourceId: 0x00c0de }, // another member's name on a real PDU
    ]);
    a.receive([first!]); // our own PDU looped back
    expect(b.securityDrops).toEqual({ 'mac-failure': 3, replay: 1, truncated: 1 });
    expect(a.securityDrops).toEqual({ 'own-source': 1 });
    expect(b.delivered.map((d) => d.sdu)).toEqual(['first']);
    expect(a.delivered).toEqual([]);
    // The genuine second PDU still gets through after all that.
    b.receive([second!]);
    expect(b.delivered.map((d) => d.sdu)).toEqual(['first', 'second']);
    expect(b.core.rxCounters!.accepted).toBe(2);
    expect(b.core.figures().rxBySender[hex24(SENDER_GMI)]).toMatchObject({ envelopes: 6, delivered: 2 });
    expect(b.dropped['internal-error'] ?? 0).toBe(0);
  });

  it('checks key validity against the injected wall clock', () => {
    const { a, b } = pair();
    a.send('x');
    a.send('y');
    const [x, y] = a.drain();
    b.receive([x!], NOW + HOUR + PDCP.rxExpiryGraceMs); // the PGK expired longer ago than the grace
    b.receive([y!], NOW + HOUR + PDCP.rxExpiryGraceMs - 1);
    expect(b.securityDrops).toEqual({ 'expired-pgk': 1 });
    expect(b.delivered.map((d) => d.sdu)).toEqual(['y']);
  });

  it('counts a PDU only when the transport accepted it, and tells the application the transport refusal', () => {
    const { a } = pair();
    a.sendOutcome = 'no-peer';
    const n = a.send('x');
    a.send('y', { peer: null });
    expect(a.refused).toEqual([{ appSeq: n, peer: 'app', reason: 'tx-transport-no-peer' }]);
    expect(a.core.counters).toMatchObject({ sdusIn: 2, pdusOut: 0 });
    expect(a.dropped).toEqual({}); // the transport counts its own refusals (tx-transport-*)
    a.sendOutcome = 'accepted';
    a.send('z');
    expect(a.core.counters.pdusOut).toBe(1);
  });

  it('counts a delivery only when the application socket took it', () => {
    const { a, b } = pair();
    a.send('x');
    a.send('y');
    const [x, y] = a.drain();
    b.deliverOutcome = 'hwm';
    b.receive([x!]);
    b.deliverOutcome = 'accepted';
    b.receive([y!]);
    expect(b.core.counters).toMatchObject({ envelopesIn: 2, delivered: 1 });
    expect(b.core.rxCounters!.accepted).toBe(2);
    expect(b.core.figures().rxBySender[hex24(SENDER_GMI)]).toMatchObject({ envelopes: 2, delivered: 1 });
  });

  it('counts an unexpected exception on the data path as internal-error, logs it and carries on', () => {
    const { a, b } = pair();
    a.sendOutcome = new Error('transport bug');
    expect(() => a.send('x')).not.toThrow();
    a.drain(); // the transport had it when it threw
    b.deliverOutcome = new TypeError('socket bug');
    a.sendOutcome = 'accepted';
    a.send('y');
    expect(() => b.receive(a.drain())).not.toThrow();
    expect(a.dropped).toEqual({ 'internal-error': 1 });
    expect(b.dropped).toEqual({ 'internal-error': 1 });
    expect(a.messages('error')).toEqual(['internal error on the data path (dropped, carrying on)']);
    expect(JSON.stringify(a.logs[a.logs.length - 1]!.fields)).toContain('transport bug');
    b.deliverOutcome = 'accepted';
    a.send('z');
    b.receive(a.drain());
    expect(b.delivered.map((d) => d.sdu)).toEqual(['z']);
    expect(b.core.counters.delivered).toBe(1);
  });

  it('sends nothing when the PTK ID mark cannot be made durable, and refuses bad SDUs and unusable keys', () => {
    const store = new MemoryPdcpState();
    const a = keyed(SENDER_GMI, store);
    store.fail = new Error('ENOSPC: no space left on device');
    const n = a.send('x');
    expect(a.refused).toEqual([{ appSeq: n, peer: 'app', reason: 'tx-ptk-state' }]);
    expect(a.sent).toEqual([]);
    expect(a.messages('error')).toEqual(['PTK ID reservation failed; SDU not sent']);
    store.fail = undefined;
    a.send('x');
    expect(a.drain()).toHaveLength(1);

    a.send('', { bytes: new Uint8Array(MAX_SDU_BYTES + 1) });
    a.send('', { bytes: new Uint8Array(0) });
    a.send('x', { sduType: 5 });
    a.send('x', { nowMs: NOW + HOUR }); // the only PGK expired (or inside its guard time)
    expect(a.refused.slice(1).map((r) => r.reason)).toEqual(['tx-invalid-sdu', 'tx-invalid-sdu', 'tx-invalid-sdu', 'tx-no-usable-pgk']);
    expect(a.dropped).toEqual({ 'tx-ptk-state': 1, 'tx-invalid-sdu': 3, 'tx-no-usable-pgk': 1 });
    expect(a.sent).toEqual([]);
  });

  it('installs keys for carried groups only, keeps what it held when material is refused, withdraws groups left out, never logs key bytes', () => {
    const a = new Ue(new MemoryPdcpState());
    a.core.installKeys([material(SENDER_GMI, undefined, { groupId: OTHER_GROUP })]);
    expect(a.core.keysReady).toBe(false);
    expect(a.installed).toEqual([]);

    a.core.installKeys([material(SENDER_GMI)]);
    expect(a.core.keysReady).toBe(true);
    expect(a.installed.map((m) => m.groupId)).toEqual([GROUP_ID]);
    expect(a.messages('info')).toEqual(['group keys installed']);

    a.core.installKeys([material(SENDER_GMI, [pgkRecord(8)], { nea: 0 })]); // NEA0 not allowed
    expect(a.messages('error')).toEqual(['key material refused; keeping what was held']);
    expect(a.core.figures().groups[0]!.pgkIds).toEqual([7]);
    a.send('still protected');
    expect(a.drain()).toHaveLength(1);

    a.core.installKeys([]);
    expect(a.messages('warn')).toEqual(['group keys withdrawn (expired or refused)']);
    expect(a.core.keysReady).toBe(false);
    const n = a.send('after');
    expect(a.refused).toEqual([{ appSeq: n, peer: 'app', reason: 'tx-no-keys' }]);
    const logged = JSON.stringify(a.logs);
    for (const id of [7, 8]) {
      expect(logged).not.toContain(hex(pgkRecord(id).pgk));
      expect(logged).not.toContain(Buffer.from(pgkRecord(id).pgk).toString('base64').slice(0, 20));
    }
  });

  it('prunes expired PGKs from the key state and their PTK ID marks and replay floors from the durable state', () => {
    const { a, b } = pair();
    a.send('under 7');
    const later = [pgkRecord(7), pgkRecord(8, NOW + 3 * HOUR)];
    a.core.installKeys([material(SENDER_GMI, later)]);
    b.core.installKeys([material(RECEIVER_GMI, later)]);
    a.send('under 8');
    b.receive(a.drain());
    expect(b.delivered.map((d) => d.sdu)).toEqual(['under 7', 'under 8']);
    expect(a.store!.markedPgks()).toEqual([7, 8]);
    expect(b.store!.flooredPgks()).toEqual([7, 8]);

    a.core.prune(NOW + HOUR); // 7 expired, but still within the receivers' grace
    expect(a.core.figures().groups[0]!.pgkIds).toEqual([8, 7]);
    for (const ue of [a, b]) ue.core.prune(NOW + HOUR + PDCP.rxExpiryGraceMs);
    expect(a.core.figures().groups[0]!.pgkIds).toEqual([8]);
    expect(a.store!.markedPgks()).toEqual([8]);
    expect(b.store!.flooredPgks()).toEqual([8]);

    // A store that cannot write: logged, not thrown, retried on the next tick.
    a.store!.fail = new Error('EROFS');
    expect(() => a.core.prune(NOW + 2 * HOUR)).not.toThrow();
    expect(a.messages('warn')).toEqual(['pruning the PDCP state file failed (retried later)']);
  });

  it('tracks up to MAX_TRACKED_SENDERS senders, and counts envelope sequence gaps as lost', () => {
    const b = keyed(RECEIVER_GMI);
    const junk = (l2SourceId: number, seq: number): PduEnvelope => ({ l2SourceId, l2DestinationId: GROUP_ID, castType: 'groupcast', pdu: Uint8Array.of(0x21, 0, 0), txTimeNs: 0n, seq });
    b.receive([1, 2, 5, 4].map((seq) => junk(0x00d001, seq)));
    expect(b.core.figures().rxBySender[hex24(0x00d001)]).toEqual({ envelopes: 4, delivered: 0, lost: 1, duplicates: 0, reordered: 1, restarts: 0 });
    b.receive(Array.from({ length: MAX_TRACKED_SENDERS + 10 }, (_, i) => junk(0x100000 + i, 1)));
    expect(Object.keys(b.core.figures().rxBySender)).toHaveLength(MAX_TRACKED_SENDERS);
    expect(b.core.counters.envelopesIn).toBe(4 + MAX_TRACKED_SENDERS + 10);
    expect(b.securityDrops).toEqual({ truncated: 4 + MAX_TRACKED_SENDERS + 10 });
  });

  it('raises replay floors on the timer, logs a failing store once, and settles exact floors on a clean stop', async () => {
    const step = 4;
    const a = keyed(SENDER_GMI);
    const b = keyed(RECEIVER_GMI, undefined, { pdcp: { replayMarkStep: step } });
    // Floors are COUNTs: PTK ID * 65536 + SN.
    const floor = (): number => [...b.store!.replay.floors.values()][0]! - 0x10000 * a.core.figures().groups[0]!.txPtkId!;
    for (let i = 0; i < 3; i++) a.send(`m${i}`);
    b.receive(a.drain());
    expect(floor()).toBe(step); // saved before the first COUNT was accepted
    await b.core.extendReplayFloors(); // SN 2 is within step / 2 of the floor
    expect(floor()).toBe(2 + step);

    b.store!.fail = new Error('EIO');
    a.send('m3');
    a.send('m4'); // below the floor: accepted without a write
    b.receive(a.drain());
    expect(b.delivered).toHaveLength(5);
    await b.core.extendReplayFloors();
    await b.core.extendReplayFloors();
    expect(b.messages('error')).toEqual(['cannot write replay floors; PDUs that reach their floor are dropped (replay-state-error)']);
    b.store!.fail = undefined;
    await b.core.extendReplayFloors();
    expect(b.messages('info').filter((m) => m.startsWith('replay'))).toEqual(['replay floors written again']);
    expect(floor()).toBe(4 + step);

    await b.core.settleReplayMarks();
    expect(floor()).toBe(5); // one past the highest COUNT accepted
  });

  it('restarted on its durable state: a receiver drops every recorded PDU as a replay, a sender continues above its PTK IDs', async () => {
    const a = keyed(SENDER_GMI);
    const b = keyed(RECEIVER_GMI);
    for (let i = 0; i < 5; i++) a.send(`run1-${i}`);
    const recorded = a.drain();
    b.receive(recorded);
    const ptkBefore = a.core.figures().groups[0]!.txPtkId!;
    await b.core.settleReplayMarks();

    const b2 = keyed(RECEIVER_GMI, b.store);
    b2.receive(recorded); // the attacker replays the whole capture
    expect(b2.delivered).toEqual([]);
    expect(b2.securityDrops).toEqual({ replay: 5 });

    const a2 = keyed(SENDER_GMI, a.store);
    a2.seq = a.seq;
    a2.send('run2');
    const [next] = a2.drain();
    expect(a2.core.figures().groups[0]!.txPtkId!).toBeGreaterThan(ptkBefore);
    b2.receive([next!]);
    expect(b2.delivered.map((d) => d.sdu)).toEqual(['run2']);
    expect(b2.securityDrops).toEqual({ replay: 5 });
  });

  it('times the hand-offs around the entity calls for the profiler, one PDU in sampleEvery per direction', () => {
    const handoffs: { direction: 'tx' | 'rx'; ns: number }[] = [];
    const profiler: PdcpProfiler = {
      nowNs: () => 0,
      tx: (stage: TxStage | HandoffStage, ns) => void (stage === 'handoff' && handoffs.push({ direction: 'tx', ns })),
      rx: (stage: RxStage | HandoffStage, ns) => void (stage === 'handoff' && handoffs.push({ direction: 'rx', ns })),
      sampleEvery: 2,
    };
    const { a, b } = pair({ profiler });
    for (let i = 0; i < 4; i++) a.send(`m${i}`);
    b.receive(a.drain());
    expect(b.delivered).toHaveLength(4);
    // Readings 1 µs apart: arrival -> entity call (1 µs) plus entity return -> sink done (1 µs).
    expect(handoffs).toEqual([
      { direction: 'tx', ns: 2000 },
      { direction: 'tx', ns: 2000 },
      { direction: 'rx', ns: 2000 },
      { direction: 'rx', ns: 2000 },
    ]);
  });

  it('needs the durable PDCP state', () => {
    expect(() => new Ue(undefined)).toThrow(/store/);
  });
});

describe('daemon core, security off', () => {
  it('carries the SDU in clear (SDU type octet + SDU) under the configured L2 source ID, with no keys', () => {
    const a = new Ue(undefined, { security: 'off', l2SourceId: 0x00aa01 });
    const b = new Ue(undefined, { security: 'off', l2SourceId: 0x00aa02 });
    expect(a.core.keysReady).toBe(true);
    for (let i = 0; i < 3; i++) a.send(`clear:${i}`);
    const envelopes = a.drain();
    expect(envelopes[0]).toMatchObject({ l2SourceId: 0x00aa01, l2DestinationId: GROUP_ID, castType: 'groupcast' });
    expect(text(envelopes[0]!.pdu)).toBe('\u0001clear:0');
    b.receive(envelopes);
    expect(b.delivered.map((d) => [d.from, d.sduType, d.sdu])).toEqual([0, 1, 2].map((i) => [0x00aa01, 1, `clear:${i}`]));
    expect(b.core.counters).toMatchObject({ envelopesIn: 3, delivered: 3 });
    expect(b.core.figures().rxBySender[hex24(0x00aa01)]).toMatchObject({ envelopes: 3, delivered: 3 });
    expect(a.core.figures().groups[0]).toEqual({ groupId: hex24(GROUP_ID), gmi: hex24(0x00aa01), pgkIds: [], txPgkId: null, txPtkId: null, pgkExpiresAtMs: null });
    expect(a.core.figures().pdcp).toEqual({ ptksStarted: 0, derivations: 0, cachedEngines: 0, replayWindows: 0 });
    expect(a.core.figures().latency.protect.count).toBe(3);
    expect(b.core.rxCounters).toBeUndefined();
  });

  it('counts clear PDUs with a reserved SDU type, no SDU, or its own L2 source as rx-insecure-malformed', () => {
    const a = new Ue(undefined, { security: 'off', l2SourceId: 0x00aa01 });
    const b = new Ue(undefined, { security: 'off', l2SourceId: 0x00aa02 });
    a.send('ok');
    const [real] = a.drain();
    b.receive([{ ...real!, pdu: Uint8Array.of(7, 1, 2) }, { ...real!, pdu: Uint8Array.of(1) }, { ...real!, l2SourceId: 0x00aa02 }]);
    a.receive([real!]);
    expect(b.dropped).toEqual({ 'rx-insecure-malformed': 3 });
    expect(a.dropped).toEqual({ 'rx-insecure-malformed': 1 });
    expect(b.delivered).toEqual([]);
    b.receive([real!]);
    expect(b.delivered.map((d) => d.sdu)).toEqual(['ok']);
  });

  it('without a configured L2 source ID, refuses SDUs until keys give it a GMI', () => {
    const a = new Ue(undefined, { security: 'off' });
    expect(a.core.keysReady).toBe(false);
    a.send('early');
    expect(a.refused.map((r) => r.reason)).toEqual(['tx-no-keys']);
    a.core.installKeys([material(SENDER_GMI)]);
    a.send('late');
    const [e] = a.drain();
    expect(e).toMatchObject({ l2SourceId: SENDER_GMI });
    expect(text(e!.pdu)).toBe('\u0001late');
  });
});
