/**
 * Faults survived by a group of daemons (`sl-bridge run` processes over `sl-bridge medium`, real
 * ZeroMQ, real PKMF): the medium emulator killed (SIGKILL) and restarted mid-run, then one daemon
 * killed and restarted on its state. Traffic resumes by itself, nothing is lost beyond what was
 * sent while the path was down, nothing arrives twice, and the restarted daemon's new PDUs are
 * accepted (its PTK IDs continue above the old ones: no replay drops).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMediumProcess, type MediumProcess } from '../fixtures/transport-medium-process.js';
import { DaemonProcess, DaemonTestbed, TestApp, waitUntil, type UeFiles } from '../fixtures/daemon-testbed.js';
import { tmpDir } from '../fixtures/pkmf-testbed.js';

interface Ue {
  files: UeFiles;
  daemon: DaemonProcess;
  app: TestApp;
  /** Date.now() of each send, by sequence number; undefined if the app's transport refused it. */
  sentAt: (number | undefined)[];
}

let t: ReturnType<typeof tmpDir>;
let bed: DaemonTestbed;
let endpoint: string;
let medium: MediumProcess;
const ues: Ue[] = [];
let traffic: NodeJS.Timeout | undefined;

function startTraffic(): void {
  // About 100 SDUs/s per UE.
  traffic = setInterval(() => {
    for (const u of ues) {
      const { n, outcome } = u.app.send(u.files.name);
      u.sentAt[n] = outcome === 'accepted' ? Date.now() : undefined;
    }
  }, 10);
}

function stopTraffic(): void {
  clearInterval(traffic);
  traffic = undefined;
}

/**
 * What `receiver` lacks from `sender`: every sequence number the sender's application handed to
 * its daemon and the receiver never got. Also checks that nothing arrived twice.
 */
function missing(receiver: Ue, sender: Ue): { n: number; at: number }[] {
  const got = receiver.app.receivedFrom(sender.files.name);
  expect(new Set(got).size, `${receiver.files.name} got duplicates from ${sender.files.name}`).toBe(got.length);
  const have = new Set(got);
  const out: { n: number; at: number }[] = [];
  sender.sentAt.forEach((at, n) => {
    if (at !== undefined && !have.has(n)) out.push({ n, at });
  });
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** After the traffic stopped: waits until no application has received anything for 300 ms (at most 5 s). */
async function settle(): Promise<void> {
  const total = (): number => ues.reduce((n, u) => n + u.app.deliveries.length, 0);
  const end = Date.now() + 5000;
  let before = -1;
  while (Date.now() < end && total() !== before) {
    before = total();
    await sleep(300);
  }
}

beforeAll(async () => {
  t = tmpDir('slb-daemon-restart-');
  bed = await DaemonTestbed.create(t.dir, 3);
  await bed.startPkmf();
  endpoint = `ipc://${join(t.dir, 'medium.sock')}`;
  medium = await startMediumProcess(['--endpoint', endpoint]);
  for (let n = 1; n <= 3; n++) {
    // A crashed receiver drops up to replayMarkStep - 1 live PDUs of each sender after its restart
    // (the durable replay floors run that far ahead, docs/pdcp.md): 16 keeps that inside the
    // 300 ms of slack below at 100 PDUs/s.
    const files = await bed.ue(n, endpoint, { extra: { pdcp: { replayMarkStep: 16 } } });
    ues.push({ files, daemon: new DaemonProcess(files), app: new TestApp(files.appEndpoint), sentAt: [] });
  }
  await Promise.all(ues.map((u) => u.daemon.waitFor((s) => s.keys.ready && s.stack.linkUp, 'keys and the medium')));
  await Promise.all(ues.map((u) => u.app.open()));
  await waitUntil(() => ues.every((u) => u.app.transport.linkUp), 'applications attached');
});

afterAll(async () => {
  stopTraffic();
  await Promise.all(ues.map((u) => u.app.close()));
  await Promise.all(ues.map((u) => u.daemon.stop()));
  medium?.child.kill('SIGKILL');
  await bed?.close();
  t?.cleanup();
});

describe('a group of daemons survives restarts', () => {
  it('the medium emulator killed and restarted: traffic resumes, only what was sent while it was down is lost', async () => {
    startTraffic();
    await sleep(800);
    const killedAt = Date.now();
    medium.child.kill('SIGKILL');
    await medium.exited;
    await sleep(300);
    medium = await startMediumProcess(['--endpoint', endpoint]);
    const restartedAt = Date.now();
    await Promise.all(ues.map((u) => u.daemon.waitFor((s) => s.stack.linkUp && s.timeMs > restartedAt, 'the medium back')));
    // Every daemon has re-attached by now (status lines come every 0.2 s).
    const backAt = Date.now();
    await sleep(1200);
    stopTraffic();
    await settle();

    let lost = 0;
    for (const r of ues) {
      for (const s of ues) {
        if (r === s) continue;
        const gone = missing(r, s);
        lost += gone.length;
        // Lost: only what was in flight at the kill (1 s of slack for a loaded machine) or sent
        // before every daemon had re-attached.
        for (const g of gone) expect(g.at, `${r.files.name} lacks ${s.files.name}:${g.n}`).toBeGreaterThanOrEqual(killedAt - 1000);
        for (const g of gone) expect(g.at, `${r.files.name} lacks ${s.files.name}:${g.n}`).toBeLessThanOrEqual(backAt + 300);
        // Traffic after the restart did flow.
        expect(r.app.receivedFrom(s.files.name).filter((n) => (s.sentAt[n] ?? 0) > backAt + 300).length).toBeGreaterThan(0);
      }
    }
    expect(lost).toBeGreaterThan(0); // the outage was real
    for (const u of ues) {
      const st = await u.daemon.fresh();
      expect(st.securityDrops, JSON.stringify(st.dropped)).toBe(0);
    }
  });

  it('a daemon killed and restarted on its state: the others carry on, and its new PDUs are accepted (no replay drops)', async () => {
    const [u1, u2, u3] = ues as [Ue, Ue, Ue];
    const before = await u3.daemon.fresh();
    const gmi = before.keys.groups[0]!.gmi;
    const ptkBefore = before.keys.groups[0]!.txPtkId!;
    for (const u of ues) u.sentAt.length = 0;
    for (const u of ues) u.app.deliveries.length = 0;
    startTraffic();
    await sleep(600);
    const killedAt = Date.now();
    u3.daemon.child.kill('SIGKILL');
    await u3.daemon.exited;
    await sleep(300);
    u3.daemon = new DaemonProcess(u3.files);
    const st = await u3.daemon.waitFor((s) => s.keys.ready && s.stack.linkUp && s.app.peers > 0, 'the restarted daemon ready');
    const backAt = Date.now();
    await sleep(1200);
    stopTraffic();
    await settle();

    // ue1 <-> ue2: nothing lost at all while ue3 was away.
    expect(missing(u1, u2)).toEqual([]);
    expect(missing(u2, u1)).toEqual([]);
    // To and from ue3: only what was sent while it was down.
    for (const [r, s] of [[u1, u3], [u2, u3], [u3, u1], [u3, u2]] as [Ue, Ue][]) {
      for (const g of missing(r, s)) {
        expect(g.at, `${r.files.name} lacks ${s.files.name}:${g.n}`).toBeGreaterThanOrEqual(killedAt - 1000);
        expect(g.at, `${r.files.name} lacks ${s.files.name}:${g.n}`).toBeLessThanOrEqual(backAt + 300);
      }
      expect(r.app.receivedFrom(s.files.name).filter((n) => (s.sentAt[n] ?? 0) > backAt + 300).length).toBeGreaterThan(0);
    }
    // Same identity, PTK IDs continuing above the crashed process's (never a COUNT twice).
    const after = await u3.daemon.fresh();
    expect(st.keys.groups[0]!.gmi).toBe(gmi);
    expect(after.keys.groups[0]!.txPtkId!).toBeGreaterThan(ptkBefore);
    for (const u of ues) {
      const s = await u.daemon.fresh();
      expect(s.securityDrops, `${u.files.name}: ${JSON.stringify(s.dropped)}`).toBe(0);
    }
  });
});
