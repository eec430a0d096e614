/**
 * Attacks on running daemons (`sl-bridge run` processes over `sl-bridge medium`, real ZeroMQ, a
 * real PKMF over TLS), each written as the attacker would run it, from captures:
 *
 * - keystream reuse after state loss: a sender's state directory is deleted between two runs (new
 *   container, new disk, snapshot rollback), and two devices run with one certificate. The PKMF
 *   gives the same UE its GMI and PGK again; if the sender restarted its PTK IDs, both captures
 *   hold PDUs under one (GMI, PGK, PTK ID, SN), i.e. one keystream twice. Checked: no tuple twice.
 * - replay after the receiver restarts: every PDU recorded from the channel is injected again
 *   after the receiver was killed (SIGKILL) or stopped and started on its state. Checked: nothing
 *   recorded is delivered twice, and the sender's ongoing traffic resumes (within the documented
 *   bound after a crash, at once after a clean stop).
 */
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createZmqStackTransport } from '../../bridge/transport/zmq-stack.js';
import { parseCaptureRecord, type CaptureRecord } from '../../src/capture/record.js';
import { parsePcap } from '../../src/capture/pcap.js';
import type { PduEnvelope } from '../../src/wire/envelope.js';
import { startMediumProcess, type MediumProcess } from '../fixtures/transport-medium-process.js';
import { DaemonProcess, DaemonTestbed, GROUP, TestApp, waitUntil, type UeFiles } from '../fixtures/daemon-testbed.js';
import { tmpDir } from '../fixtures/pkmf-testbed.js';

/** Small, so that the crash bound is cheap to cross in a test (default 1024). */
const REPLAY_MARK_STEP = 16;

let t: ReturnType<typeof tmpDir>;
let bed: DaemonTestbed;
let endpoint: string;
let medium: MediumProcess;
const running: DaemonProcess[] = [];
const apps: TestApp[] = [];

function start(ue: UeFiles, pcap?: string): DaemonProcess {
  const d = new DaemonProcess(ue, pcap === undefined ? [] : ['--pcap', pcap]);
  running.push(d);
  return d;
}

async function app(ue: UeFiles): Promise<TestApp> {
  const a = await new TestApp(ue.appEndpoint).open();
  apps.push(a);
  await waitUntil(() => a.transport.linkUp, `${ue.name}'s application attached`);
  return a;
}

const ready = (d: DaemonProcess): Promise<unknown> => d.waitFor((s) => s.keys.ready && s.stack.linkUp, `${d.ue.name} ready`);
/** The daemon sees its application (after a restart, the application's socket reconnects by itself). */
const attached = (d: DaemonProcess): Promise<unknown> => d.waitFor((s) => s.app.peers > 0, `${d.ue.name}'s application attached`);

/** The records a daemon captured in one direction. */
function captured(pcap: string, direction: 'tx' | 'rx'): CaptureRecord[] {
  const out: CaptureRecord[] = [];
  for (const r of parsePcap(readFileSync(pcap)).records) {
    const rec = parseCaptureRecord(r.data);
    if (rec.ok && rec.value.direction === direction) out.push(rec.value);
  }
  return out;
}

/** (GMI, PGK Index, PTK ID, SN) of a groupcast PDU: with one PGK, what selects its keystream. */
const keystreamId = (r: CaptureRecord): string =>
  `${r.l2SourceId.toString(16)}/${r.pdu[0]! & 0x1f}/${(r.pdu[1]! << 8) | r.pdu[2]!}/${(r.pdu[3]! << 8) | r.pdu[4]!}`;

async function sendAll(a: TestApp, tag: string, n: number): Promise<number[]> {
  const sent: number[] = [];
  for (let i = 0; i < n; i++) {
    const { n: seq, outcome } = a.send(tag);
    expect(outcome).toBe('accepted');
    sent.push(seq);
    await new Promise((r) => setTimeout(r, 5));
  }
  return sent;
}

beforeAll(async () => {
  t = tmpDir('slb-hardening-');
  bed = await DaemonTestbed.create(t.dir, 3);
  await bed.startPkmf();
  endpoint = `ipc://${join(t.dir, 'medium.sock')}`;
  medium = await startMediumProcess(['--endpoint', endpoint]);
});

afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
  await Promise.all(running.map((d) => d.stop()));
  medium?.child.kill('SIGKILL');
  await bed?.close();
  t?.cleanup();
});

describe('no keystream reuse when a sender loses its state', () => {
  it('state directory deleted between two runs: no (GMI, PGK, PTK ID, SN) twice, and the receiver accepts the second run', async () => {
    const sender = await bed.ue(1, endpoint);
    const receiver = await bed.ue(2, endpoint);
    const rxd = start(receiver);
    await ready(rxd);
    const rxApp = await app(receiver);
    await attached(rxd);

    const run1 = start(sender, join(t.dir, 'run1.pcap'));
    await ready(run1);
    const app1 = await app(sender);
    await attached(run1);
    const first = await sendAll(app1, 'run1', 30);
    await waitUntil(() => rxApp.receivedFrom('run1').length === first.length, 'the receiver got run 1');
    await run1.stop();

    // The attacker's trigger, or an operator's new container: the state directory is gone.
    rmSync(join(t.dir, 'state', sender.name), { recursive: true, force: true });
    const run2 = start(sender, join(t.dir, 'run2.pcap'));
    await ready(run2);
    await attached(run2);
    const second = await sendAll(app1, 'run2', 30);
    await run2.stop();

    const ids1 = captured(join(t.dir, 'run1.pcap'), 'tx').map(keystreamId);
    const ids2 = captured(join(t.dir, 'run2.pcap'), 'tx').map(keystreamId);
    expect(ids1).toHaveLength(first.length);
    expect(ids2).toHaveLength(second.length);
    const reused = ids2.filter((id) => ids1.includes(id));
    expect(reused, 'PDUs of run 2 under a keystream of run 1').toEqual([]);
    // A fresh GMI: a new identity the receiver accepts, not a replay of the old one.
    expect(new Set(ids2.map((id) => id.split('/')[0])).size).toBe(1);
    expect(ids2[0]!.split('/')[0]).not.toBe(ids1[0]!.split('/')[0]);
    await waitUntil(() => rxApp.receivedFrom('run2').length === second.length, 'the receiver got run 2');
    const st = await rxd.fresh();
    expect(st.securityDrops, JSON.stringify(st.dropped)).toBe(0);
  });

  it('two devices with one certificate and separate state: no (GMI, PGK, PTK ID, SN) twice', async () => {
    const a = await bed.ue(3, endpoint);
    const b = await bed.ue(3, endpoint, { as: 'ue3-twin' });
    const da = start(a, join(t.dir, 'twin-a.pcap'));
    await ready(da);
    const db = start(b, join(t.dir, 'twin-b.pcap'));
    await ready(db);
    const [appA, appB] = [await app(a), await app(b)];
    await Promise.all([attached(da), attached(db)]);
    await Promise.all([sendAll(appA, 'twin-a', 30), sendAll(appB, 'twin-b', 30)]);
    await Promise.all([da.stop(), db.stop()]);
    const ida = captured(join(t.dir, 'twin-a.pcap'), 'tx').map(keystreamId);
    const idb = captured(join(t.dir, 'twin-b.pcap'), 'tx').map(keystreamId);
    expect(ida).toHaveLength(30);
    expect(idb).toHaveLength(30);
    expect(idb.filter((id) => ida.includes(id))).toEqual([]);
  });
});

describe('state directory rolled back to an older copy', () => {
  it('with keys.freshGmiOnStart: the run after the rollback repeats no keystream of the run before it', async () => {
    const sender = await bed.ue(1, endpoint, { as: 'rollback', keys: { freshGmiOnStart: true } });
    const stateDir = join(t.dir, 'state', sender.name);
    const session = async (pcap?: string): Promise<void> => {
      const d = start(sender, pcap);
      await ready(d);
      const a = await app(sender);
      await attached(d);
      await sendAll(a, 'rollback', 20);
      await d.stop();
    };
    await session();
    cpSync(stateDir, join(t.dir, 'snapshot'), { recursive: true }); // the VM snapshot
    await session(join(t.dir, 'after-snapshot.pcap'));
    rmSync(stateDir, { recursive: true, force: true });
    cpSync(join(t.dir, 'snapshot'), stateDir, { recursive: true }); // rolled back
    await session(join(t.dir, 'after-rollback.pcap'));
    const before = captured(join(t.dir, 'after-snapshot.pcap'), 'tx').map(keystreamId);
    const after = captured(join(t.dir, 'after-rollback.pcap'), 'tx').map(keystreamId);
    expect(before).toHaveLength(20);
    expect(after).toHaveLength(20);
    expect(after.filter((id) => before.includes(id))).toEqual([]);
  });
});

describe('no replay after the receiver restarts', () => {
  for (const how of ['SIGKILL', 'SIGTERM'] as const) {
    it(`receiver ${how === 'SIGKILL' ? 'killed' : 'stopped'} and restarted: recorded PDUs are not delivered again; live traffic resumes`, async () => {
      const tag = `replay-${how}`;
      const extra = { pdcp: { replayMarkStep: REPLAY_MARK_STEP } };
      const sender = await bed.ue(1, endpoint, { as: `sender-${how}` });
      const receiver = await bed.ue(2, endpoint, { as: `receiver-${how}`, extra });
      const txd = start(sender);
      let rxd = start(receiver);
      await Promise.all([ready(txd), ready(rxd)]);
      const [txApp, rxApp] = [await app(sender), await app(receiver)];
      await Promise.all([attached(txd), attached(rxd)]);
      // The attacker: a radio on the channel that records every groupcast PDU and sends them again.
      const recorded: PduEnvelope[] = [];
      const attacker = createZmqStackTransport({ role: 'connect', endpoint });
      await attacker.open({ frame: (e) => void (e.l2DestinationId === GROUP && recorded.push(e)) });
      await waitUntil(() => attacker.linkUp, 'the attacker attached to the medium');
      const before = await sendAll(txApp, tag, 25);
      await waitUntil(() => rxApp.receivedFrom(tag).length === before.length, 'the receiver got the first PDUs');
      await waitUntil(() => recorded.length >= before.length, 'the attacker recorded them');

      await rxd.stop(how);
      rxd = start(receiver);
      await ready(rxd);
      await attached(rxd);

      const replayed = recorded.splice(0);
      for (const r of replayed) {
        expect(attacker.send({ l2SourceId: r.l2SourceId, l2DestinationId: r.l2DestinationId, castType: r.castType, pdu: r.pdu })).toBe('accepted');
      }
      // Live traffic after the replays: more than one replay-mark step, so that it must cross the
      // floor a crash leaves (at most REPLAY_MARK_STEP - 1 of it may be dropped).
      const after = await sendAll(txApp, tag, REPLAY_MARK_STEP + 10);
      await waitUntil(() => rxApp.receivedFrom(tag).filter((n) => n >= before.length).length >= 10, 'live traffic resumed');
      // Everything offered reached the restarted receiver (it sends nothing itself).
      const st = await rxd.waitFor((s) => s.counters.envelopesIn >= replayed.length + after.length, 'every envelope received');
      await attacker.close();

      const got = rxApp.receivedFrom(tag);
      expect(new Set(got).size, 'an SDU delivered twice').toBe(got.length);
      const lost = after.filter((n) => !got.includes(n));
      if (how === 'SIGTERM') expect(lost, 'live PDUs dropped after a clean restart').toEqual([]);
      else expect(lost.length).toBeLessThan(REPLAY_MARK_STEP);
      expect(lost.every((n) => n < after[0]! + REPLAY_MARK_STEP)).toBe(true);
      expect(st.dropped.replay ?? 0).toBeGreaterThanOrEqual(replayed.length);
      expect(st.dropped['mac-failure'] ?? 0).toBe(0);
    });
  }
});
