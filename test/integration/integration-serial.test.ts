/**
 * Two `sl-bridge run` daemons (separate processes, real PKMF over TLS, real PKI) exchanging
 * protected PDUs over serial lines made by socat, with serial hw-profiles written by the test:
 *
 *   app1 -> daemon ue1 -> PTY pair 1 (a | ra) -> noisy relay -> PTY pair 2 (rb | b) -> daemon ue2 -> app2
 *   (and back)
 *
 * The relay (test/fixtures/serial-pty.ts) injects garbage and bit flips on the line; then the
 * cable of ue1 is pulled (socat killed) and plugged back (a new socat pair at the same paths).
 * Checked: SDUs arrive both ways byte for byte with the sender's GMI; noise costs at most one
 * frame per injection and shows up in the daemons' status lines as malformed envelopes and as
 * serial framing errors by code; no damaged PDU ever reaches the PDCP layer (zero MAC failures,
 * zero security drops); SDUs sent while the cable is out are refused to the application; traffic
 * resumes by itself after the pull, with nothing lost on the clean line; SIGTERM stops the daemons
 * cleanly and releases the devices; ue2's `--pcap` capture of the line decodes with its keylog.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DaemonStatus } from '../../bridge/daemon/daemon.js';
import { DaemonProcess, DaemonTestbed, TestApp, waitUntil } from '../fixtures/daemon-testbed.js';
import { Cleanups, stopDaemon, gmiOf, receivedFrom, sendSdus, strictlyIncreasing, streamSdus, streamUntil, ueConfig, profileFrom } from '../fixtures/integration-helpers.js';
import { BIN, tmpDir } from '../fixtures/pkmf-testbed.js';
import { NoisyRelay, PtyPair } from '../fixtures/serial-pty.js';

const cleanups = new Cleanups();
afterAll(() => cleanups.run());

interface Side {
  daemon: DaemonProcess;
  app: TestApp;
  gmi: string;
  tag: string;
}

let ue1: Side;
let ue2: Side;
let pty1: PtyPair;
let relay: NoisyRelay;
let workDir: string;

/** hw-profiles/serial-modem.yaml on a PTY link path. */
function serialProfile(file: string, device: string): string {
  // A PTY has no RTS/CTS lines to pause us; reopen fast so the test does not wait.
  return profileFrom('serial-modem', file, { device, flow_control: 'none', timing: { reopen_ms: 50 } });
}

const linkUp = (s: DaemonStatus): boolean => s.stack.linkUp;

beforeAll(async () => {
  const { dir, cleanup } = tmpDir('slb-int-serial-');
  cleanups.add('temp dir', dir, () => cleanup());
  workDir = dir;
  const tb = cleanups.add('testbed', await DaemonTestbed.create(dir, 2), (t) => t.close());
  await tb.startPkmf();

  // ue1 | a ==PTY pair 1== ra | relay | rb ==PTY pair 2== b | ue2
  pty1 = cleanups.add('PTY pair 1', await PtyPair.start(join(dir, 'a'), join(dir, 'ra')), (p) => p.kill());
  const pty2 = cleanups.add('PTY pair 2', await PtyPair.start(join(dir, 'rb'), join(dir, 'b')), (p) => p.kill());
  relay = cleanups.add('relay', new NoisyRelay(pty1.b, pty2.a, { seed: 7, garbage: 0.2, bitFlip: 0.2 }), (r) => r.close());
  relay.noisy = false;
  await relay.start();

  const start = async (n: number, device: string): Promise<Side> => {
    const ue = await ueConfig(tb, n);
    const profile = serialProfile(join(dir, `serial-ue${n}.yaml`), device);
    // ue2 also records its side of the line (`run --pcap --keylog`), decoded at the end.
    const capture = n === 2 ? ['--pcap', join(dir, 'ue2.pcap'), '--keylog', join(dir, 'ue2.keys')] : [];
    const daemon = cleanups.add(`daemon ue${n}`, new DaemonProcess(ue, ['--profile', profile, ...capture]), stopDaemon);
    return { daemon, app: undefined as unknown as TestApp, gmi: '', tag: `ue${n}` };
  };
  [ue1, ue2] = await Promise.all([start(1, pty1.a), start(2, pty2.b)]);
  for (const side of [ue1, ue2]) {
    const s = await side.daemon.waitFor((x) => x.keys.ready && linkUp(x), 'keys and the serial line', 30_000);
    expect(s.stack.kind).toBe('serial');
    side.gmi = gmiOf(s);
    side.app = cleanups.add(`app ${side.tag}`, await new TestApp(side.daemon.ue.appEndpoint).open(), (a) => a.close());
    await side.daemon.waitFor((x) => x.app.peers === 1, 'the application attached');
  }
  expect(ue1.gmi).not.toBe(ue2.gmi);
});

describe('two daemons over a serial line (socat PTYs, serial hw-profiles)', () => {
  it('carries protected SDUs both ways through line noise; damaged frames are counted, never delivered', async () => {
    relay.noisy = true;
    // Both apps stream at once, so frames cross on the line in both directions, in batches of 3
    // every 6 ms so that the relay reads many chunks (noise hits a chunk, not a frame). At least
    // 150 SDUs each, and on until the relay has damaged each direction at least 8 times (a loaded
    // machine coalesces chunks, so the number of injections per SDU varies).
    const minInjections = 8;
    const injected = (): number => Math.min(...Object.values(relay.stats).map((n) => n.garbageInsertions + n.bitFlips));
    let perSide = 0;
    while ((perSide < 150 || injected() < minInjections) && perSide < 3000) {
      expect([sendSdus(ue1.app, ue1.tag, perSide, 3), sendSdus(ue2.app, ue2.tag, perSide, 3)]).toEqual([{ accepted: 3 }, { accepted: 3 }]);
      perSide += 3;
      await new Promise((r) => setTimeout(r, 6));
    }
    // Every SDU was protected and handed to the serial line (nothing refused for queue space).
    await Promise.all([ue1, ue2].map((u) => u.daemon.waitFor((s) => s.counters.pdusOut === perSide, `${u.tag}: ${perSide} PDUs sent`)));
    await new Promise((r) => setTimeout(r, 300)); // the line drains
    relay.noisy = false;

    const directions = [
      { tx: ue1, rx: ue2, noise: relay.stats.leftToRight },
      { tx: ue2, rx: ue1, noise: relay.stats.rightToLeft },
    ];
    for (const { tx, rx, noise } of directions) {
      const got = receivedFrom(rx.app, tx.tag, tx.gmi);
      const injections = noise.garbageInsertions + noise.bitFlips;
      const status = await rx.daemon.fresh();
      const what = `${tx.tag} -> ${rx.tag} (${injections} injections, ${got.numbers.length} of ${perSide} delivered)`;
      // The noise really happened on this line, and really cost frames.
      expect(injections, what).toBeGreaterThanOrEqual(minInjections);
      expect(got.numbers.length, what).toBeLessThan(perSide);
      // Each injection costs at most one frame; everything else arrives intact, in order, once.
      expect(got.problems, what).toEqual([]);
      expect(got.numbers.length, what).toBeGreaterThanOrEqual(perSide - injections);
      expect(strictlyIncreasing(got.numbers), what).toBe(true);
      // The damage is visible in the receiving daemon's status line, as malformed envelopes...
      expect(status.stack.counters.malformed, what).toBeGreaterThan(0);
      expect(status.dropped['malformed-envelope'], what).toBe(status.stack.counters.malformed);
      expect(status.stack.counters.received, what).toBe(got.numbers.length);
      // ...and never as a PDCP drop: no damaged PDU got past the CRC to fail its MAC-I.
      expect(status.dropped['mac-failure'] ?? 0, what).toBe(0);
      expect(status.securityDrops, what).toBe(0);
      expect(status.counters.delivered, what).toBe(got.numbers.length);
      // Every envelope that came through the framing was verified and delivered.
      expect(status.rxBySender[tx.gmi]?.envelopes, what).toBe(got.numbers.length);
      expect(status.rxBySender[tx.gmi]?.delivered, what).toBe(got.numbers.length);
      // Frames lost to noise show up as sequence gaps of that sender (all but a lost tail).
      expect(status.rxBySender[tx.gmi]?.lost, what).toBeGreaterThan(0);
      expect(status.rxBySender[tx.gmi]?.lost, what).toBeLessThanOrEqual(perSide - got.numbers.length);
      // ...broken down by framing error: every one was caught by the framing (CRC-32, COBS).
      const serial = status.stack.serial!;
      expect(Object.keys(serial.errors).length, what).toBeGreaterThan(0);
      expect(Object.keys(serial.errors).every((code) => ['crc-mismatch', 'cobs-invalid', 'too-short', 'too-long', 'truncated', 'empty'].includes(code)), what).toBe(true);
      expect(Object.values(serial.errors).reduce((a, b) => a + b, 0), what).toBe(status.stack.counters.malformed);
      expect(serial.discardedBytes, what).toBeGreaterThan(0);
      expect(serial.frames, what).toBe(got.numbers.length);
    }
  });

  it('resumes by itself after a cable pull (the PTY pair killed and recreated at the same paths) in the middle of traffic', async () => {
    const before1 = receivedFrom(ue1.app, ue2.tag, ue2.gmi).numbers.length;
    const before2 = receivedFrom(ue2.app, ue1.tag, ue1.gmi).numbers.length;
    const refusedBefore = ue1.app.refusals.length;
    // Both apps keep streaming (3 SDUs every 10 ms) from before the pull until 300 ms after ue1 reopened.
    let done = false;
    const streaming = Promise.all([streamUntil(ue1.app, ue1.tag, 1000, () => done), streamUntil(ue2.app, ue2.tag, 1000, () => done)]);
    await new Promise((r) => setTimeout(r, 100));
    const pulledAt = Date.now();
    await pty1.kill(); // ue1's cable: socat SIGKILLed, the link paths dangle
    const down = await ue1.daemon.waitFor((s) => !linkUp(s) && s.timeMs > pulledAt, 'ue1 to notice the pull');
    expect(down.stack.counters.linkDowns).toBe(1);
    expect(down.stack.lastError).toMatch(/lost|cannot open/);
    await new Promise((r) => setTimeout(r, 300)); // a few failed reopen attempts, SDUs refused meanwhile
    await pty1.restart(); // the cable plugged back in
    await ue1.daemon.waitFor((s) => linkUp(s) && s.stack.counters.linkUps === 2, 'ue1 to reopen the line');
    await waitUntil(() => relay.attached, 'the relay to reopen its end');
    await new Promise((r) => setTimeout(r, 300));
    done = true;
    const [sent1] = await streaming;

    // While the cable was out ue1 refused SDUs to its application (never queued to go out stale);
    // the status counts those plus the frames that were on their way out when the line went.
    const refused = ue1.app.refusals.slice(refusedBefore);
    expect(refused.length).toBeGreaterThan(0);
    expect(new Set(refused.map((r) => r.reason))).toEqual(new Set(['tx-transport-no-peer']));
    const up = await ue1.daemon.fresh();
    expect(up.dropped['tx-transport-no-peer']).toBe(refused.length + up.stack.serial!.lostInFlight);
    expect(up.stack.serial!.openFailures).toBeGreaterThan(0);
    expect(up.stack.lastError).toBeNull();
    const refusedSeqs = new Set(refused.map((r) => r.appSeq));
    const at2 = receivedFrom(ue2.app, ue1.tag, ue1.gmi);
    expect(at2.numbers.filter((n) => refusedSeqs.has(n))).toEqual([]); // a refused SDU never turns up later
    // What got through around the pull arrived intact, in order, once; nothing was refused by PDCP.
    for (const got of [at2, receivedFrom(ue1.app, ue2.tag, ue2.gmi)]) {
      expect(got.problems).toEqual([]);
      expect(strictlyIncreasing(got.numbers)).toBe(true);
    }
    const [mid1, mid2] = [receivedFrom(ue1.app, ue2.tag, ue2.gmi).numbers.length, at2.numbers.length];
    expect(mid1).toBeGreaterThan(before1);
    expect(mid2).toBeGreaterThan(before2);
    // The stream itself resumed: SDUs sent after the last refusal were delivered.
    const lastRefused = Math.max(...refusedSeqs);
    expect(lastRefused).toBeLessThan(1000 + sent1 - 1);
    await waitUntil(() => receivedFrom(ue2.app, ue1.tag, ue1.gmi).numbers.includes(1000 + sent1 - 1), 'the last SDU of the stream');
    expect(receivedFrom(ue2.app, ue1.tag, ue1.gmi).numbers.filter((n) => n > lastRefused).length).toBeGreaterThan(10);

    // A clean line now: every SDU after the pull arrives, both ways, intact.
    const after = 50;
    expect(await Promise.all([streamSdus(ue1.app, ue1.tag, 2000, after), streamSdus(ue2.app, ue2.tag, 2000, after)])).toEqual([
      { accepted: after },
      { accepted: after },
    ]);
    await waitUntil(
      () => receivedFrom(ue1.app, ue2.tag, ue2.gmi).numbers.length === mid1 + after && receivedFrom(ue2.app, ue1.tag, ue1.gmi).numbers.length === mid2 + after,
      `${after} SDUs each way after the pull`,
    );
    for (const { tx, rx } of [
      { tx: ue1, rx: ue2 },
      { tx: ue2, rx: ue1 },
    ]) {
      const got = receivedFrom(rx.app, tx.tag, tx.gmi);
      expect(got.problems).toEqual([]);
      expect(got.numbers.slice(-after)).toEqual(Array.from({ length: after }, (_, i) => 2000 + i));
      const s = await rx.daemon.fresh();
      expect(s.securityDrops).toBe(0);
      expect(s.dropped['replay'] ?? 0).toBe(0);
    }
    // ue1's PDCP state carried on: ue2 accepted its PDUs after the pull (SNs continue, no restart).
    expect((await ue2.daemon.fresh()).rxBySender[ue1.gmi]?.restarts).toBe(0);
  });

  it('stops each daemon cleanly on SIGTERM (exit 0, a final status line, the device released)', async () => {
    for (const side of [ue1, ue2]) {
      expect(await side.daemon.stop()).toEqual({ code: 0, signal: null });
      expect(side.daemon.final?.event).toBe('final');
      expect(side.daemon.final?.stack.linkUp).toBe(false);
    }
    // The devices are free again: opened exclusively while the daemons ran, released at the stop.
    const { SerialPort } = await import('serialport');
    const port = new SerialPort({ path: pty1.a, baudRate: 921600, autoOpen: false, lock: true });
    await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
    await new Promise<void>((resolve) => port.close(() => resolve()));
  });

  it("ue2's capture of the serial line holds every PDU it sent and received, all deciphered with its keylog", () => {
    const final = ue2.daemon.final!;
    const r = spawnSync(process.execPath, [BIN, 'pdu', 'decode', '--pcap', join(workDir, 'ue2.pcap'), '--keylog', join(workDir, 'ue2.keys'), '--json'], { encoding: 'utf8', maxBuffer: 64 << 20 });
    expect(r.status, r.stderr).toBe(0);
    const frames = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { direction: string; l2SourceId: string; sdu?: string });
    const tx = frames.filter((f) => f.direction === 'tx');
    const rx = frames.filter((f) => f.direction === 'rx');
    expect(tx).toHaveLength(final.counters.pdusOut);
    expect(rx).toHaveLength(final.stack.counters.received);
    expect(new Set(tx.map((f) => f.l2SourceId))).toEqual(new Set([ue2.gmi]));
    expect(new Set(rx.map((f) => f.l2SourceId))).toEqual(new Set([ue1.gmi]));
    expect(frames.filter((f) => f.sdu === undefined)).toEqual([]);
    expect(r.stderr.trim()).toBe(`${frames.length} frames: ${frames.length} deciphered and verified, 0 dropped`);
  });
});
