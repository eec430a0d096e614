/**
 * The C stack shim (bridge/shims/c/, built by `make` into a temporary directory with ASan + UBSan)
 * as the stack under two `sl-bridge run` daemons, each with a ZeroMQ `role: bind` hw-profile
 * (hw-profiles/oai-nr-sl-zmq.yaml with a test endpoint):
 *
 *   app1 -> daemon ue1 (binds E1) <- shim example 1 (connects) --rx lines--> test --stdin--> shim example 2 -> daemon ue2 (binds E2) -> app2
 *   (and the other way round)
 *
 * Each shim example is a real C peer: it prints every PDU its daemon hands it and sends what it
 * reads on stdin; the test carries the printed PDUs to the other shim, as the radio between two
 * stacks would. Checked:
 * - what the shim receives are protected PDUs: header fields right (SDU type, PGK index of the
 *   daemon's PGK, its PTK ID, SNs 0, 1, 2...), length SDU + 15, neither the SDU nor the inner
 *   identity block in clear;
 * - the other daemon verifies and delivers every one, with the sender's GMI;
 * - a PDU altered on the way fails its MAC-I (and does not stop the real PDU with that COUNT),
 *   a replayed one is refused;
 * - the C side ends clean (counters, exit status, no sanitizer report);
 * - a shim in --echo mode, reflecting a daemon's own PDUs back to it, gets them refused (own-source).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DaemonProcess, DaemonTestbed, GROUP, TestApp, waitUntil } from '../fixtures/daemon-testbed.js';
import { Cleanups, stopDaemon, gmiOf, profileFrom, receivedFrom, sduFor, sendSdus, ueConfig } from '../fixtures/integration-helpers.js';
import { tmpDir } from '../fixtures/pkmf-testbed.js';

const SHIM_DIR = new URL('../../bridge/shims/c', import.meta.url).pathname;

interface RxLine {
  src: string;
  dst: string;
  cast: string;
  seq: number;
  pdu: Buffer;
}

/** `sl-bridge-shim-example --stdin`: prints what its daemon sends it, sends what the test writes. */
class ShimExample {
  readonly rx: RxLine[] = [];
  /** stdout lines that are not rx lines (none expected). */
  readonly unexpected: string[] = [];
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;
  private err = '';

  /** `receive`: PDUs to wait for after stdin ends; `'echo'`: send every PDU back, until SIGTERM. */
  constructor(binary: string, endpoint: string, mode: number | 'echo') {
    const role = mode === 'echo' ? ['--echo'] : ['--stdin', '--receive', String(mode)];
    this.child = spawn(binary, ['--endpoint', endpoint, ...role, '--timeout-ms', '30000', '--max-pdu-bytes', '9015'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.exited = new Promise((r) => this.child.once('exit', (code) => r(code)));
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      const m = /^rx src=([0-9a-f]{6}) dst=([0-9a-f]{6}) cast=(\w+) seq=(\d+) tx_time_ns=\d+ pdu=([0-9a-f]+)$/.exec(line);
      if (!m) return void this.unexpected.push(line);
      this.rx.push({ src: m[1]!, dst: m[2]!, cast: m[3]!, seq: Number(m[4]), pdu: Buffer.from(m[5]!, 'hex') });
    });
    this.child.stderr!.setEncoding('utf8').on('data', (s: string) => (this.err += s));
    // A write to a shim that already exited fails with EPIPE: recorded, not an unhandled error.
    this.child.stdin!.on('error', (e) => (this.err += `stdin: ${e.message}\n`));
  }

  get stderr(): string {
    return this.err;
  }

  /** The PDU goes to this shim's daemon, as if received over the air from `src`. */
  send(src: string, dst: string, pdu: Uint8Array): void {
    this.child.stdin!.write(`${src} ${dst} ${Buffer.from(pdu).toString('hex')}\n`);
  }

  /** Ends stdin (the example then waits for its --receive count), or signals it; returns its exit status and counters. */
  async finish(signal?: NodeJS.Signals): Promise<{ code: number | null; counters: Record<string, number> }> {
    this.child.stdin!.end();
    if (signal) this.child.kill(signal);
    const code = await this.exited;
    const line = this.err.split('\n').find((l) => l.startsWith('counters ')) ?? '';
    const counters = Object.fromEntries(
      line
        .slice('counters '.length)
        .split(' ')
        .filter((kv) => kv.includes('='))
        .map((kv) => [kv.split('=')[0]!, Number(kv.split('=')[1])]),
    );
    return { code, counters };
  }

  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}

interface Side {
  daemon: DaemonProcess;
  app: TestApp;
  shim: ShimExample;
  gmi: string;
  tag: string;
}

const N = 40;
const cleanups = new Cleanups();
afterAll(() => cleanups.run());
let ue1: Side;
let ue2: Side;
let shimBinary: string;

beforeAll(async () => {
  const { dir, cleanup } = tmpDir('slb-int-shim-');
  cleanups.add('temp dir', dir, () => cleanup());
  const build = join(dir, 'build');
  shimBinary = join(build, 'sl-bridge-shim-example');
  const made = spawnSync('make', ['-C', SHIM_DIR, `BUILD_DIR=${build}`, 'WERROR=1', 'SANITIZE=1'], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`make failed (${made.status}):\n${made.stdout}\n${made.stderr}`);

  const tb = cleanups.add('testbed', await DaemonTestbed.create(dir, 2), (t) => t.close());
  await tb.startPkmf();
  const start = async (n: number): Promise<Side> => {
    const endpoint = `ipc://${join(dir, `stack${n}.sock`)}`;
    // ue1: a profile file with the test endpoint; ue2: the shipped profile by name, its endpoint
    // replaced by the UE config's stack.endpoint (both ways a user points a daemon at a shim).
    const ue = n === 1 ? await ueConfig(tb, n) : await ueConfig(tb, n, { stackEndpoint: endpoint });
    const profile = n === 1 ? profileFrom('oai-nr-sl-zmq', join(dir, 'shim.yaml'), { endpoint }) : 'oai-nr-sl-zmq';
    const daemon = cleanups.add(`daemon ue${n}`, new DaemonProcess(ue, ['--profile', profile]), stopDaemon);
    const ready = await daemon.waitFor((s) => s.keys.ready, 'keys', 30_000);
    expect(ready.stack.description).toBe(`zmq bind ${endpoint}`);
    const shim = cleanups.add(`shim ${n}`, new ShimExample(shimBinary, endpoint, N), (s) => s.kill());
    await daemon.waitFor((s) => s.stack.linkUp, 'the C shim to connect');
    const app = cleanups.add(`app ue${n}`, await new TestApp(ue.appEndpoint).open(), (a) => a.close());
    await daemon.waitFor((s) => s.app.peers === 1, 'the application attached');
    return { daemon, app, shim, gmi: gmiOf(ready), tag: `ue${n}` };
  };
  [ue1, ue2] = await Promise.all([start(1), start(2)]);
});

describe('the C stack shim as the peer of sl-bridge daemons (zmq role: bind)', () => {
  it('carries protected PDUs from daemon to shim and back into the other daemon, which verifies and delivers them', async () => {
    for (const [tx, rx] of [
      [ue1, ue2],
      [ue2, ue1],
    ] as const) {
      const what = `${tx.tag} -> shim -> shim -> ${rx.tag}`;
      expect(sendSdus(tx.app, tx.tag, 0, N), what).toEqual({ accepted: N });
      await waitUntil(() => tx.shim.rx.length === N, `${what}: ${N} PDUs at the shim`);
      const st = await tx.daemon.fresh();
      const group = st.keys.groups[0]!;
      const gid = GROUP.toString(16).padStart(6, '0');

      // What the stack gets from the daemon: protected PDUs with the header in clear.
      tx.shim.rx.forEach((r, sn) => {
        const sdu = sduFor(tx.tag, sn);
        expect([r.src, r.dst, r.cast, r.seq], what).toEqual([tx.gmi, gid, 'groupcast', sn]);
        expect(r.pdu.length, what).toBe(sdu.length + 15); // header 5 + identity 6 + SDU + MAC-I 4
        expect(r.pdu[0]! >> 5, what).toBe(1); // SDU type non-IP
        expect(r.pdu[0]! & 31, what).toBe(group.txPgkId! & 31); // PGK index
        expect(r.pdu.readUInt16BE(1), what).toBe(group.txPtkId); // PTK ID
        expect(r.pdu.readUInt16BE(3), what).toBe(sn); // SN
        // The body is ciphered: no trace of the SDU, and the inner identity block is not in clear.
        expect(r.pdu.indexOf(Buffer.from(sdu.subarray(0, 8))), what).toBe(-1);
        expect(r.pdu.subarray(5, 11).equals(Buffer.from(gid + tx.gmi, 'hex')), what).toBe(false);
      });

      // The "radio": every PDU handed to the other stack, which gives it to its daemon.
      for (const r of tx.shim.rx) rx.shim.send(r.src, r.dst, r.pdu);
      await waitUntil(() => receivedFrom(rx.app, tx.tag, tx.gmi).numbers.length === N, `${what}: ${N} SDUs delivered`);
      const got = receivedFrom(rx.app, tx.tag, tx.gmi);
      expect(got.problems, what).toEqual([]);
      expect(got.numbers, what).toEqual(Array.from({ length: N }, (_, i) => i));
      const rs = await rx.daemon.fresh();
      expect(rs.securityDrops, what).toBe(0);
      expect(rs.rxBySender[tx.gmi], what).toMatchObject({ envelopes: N, delivered: N, lost: 0 });
    }
  });

  it('refuses a PDU altered on the way (MAC-I) without harm to the real one, and a replayed one; the shims end clean', async () => {
    const before = await ue2.daemon.fresh();
    expect(sendSdus(ue1.app, ue1.tag, N, 1)).toEqual({ accepted: 1 });
    await waitUntil(() => ue1.shim.rx.length === N + 1, 'one more PDU at shim 1');
    const original = ue1.shim.rx[N]!;
    const altered = Buffer.from(original.pdu);
    altered[5 + 6 + 3]! ^= 0x01; // one bit of the ciphered SDU
    ue2.shim.send(original.src, original.dst, altered);
    await ue2.daemon.waitFor((s) => s.dropped['mac-failure'] === 1, 'the altered PDU refused');
    // The forgery did not touch the replay window: the real PDU with that COUNT still gets through...
    ue2.shim.send(original.src, original.dst, original.pdu);
    await waitUntil(() => receivedFrom(ue2.app, ue1.tag, ue1.gmi).numbers.length === N + 1, 'the real PDU delivered');
    // ...once.
    ue2.shim.send(original.src, original.dst, original.pdu);
    await ue2.daemon.waitFor((s) => s.dropped['replay'] === 1, 'the replay refused');
    const s = await ue2.daemon.fresh();
    expect(s.dropped).toEqual({ 'mac-failure': 1, replay: 1 });
    expect(s.securityDrops).toBe(2);
    expect(s.counters.envelopesIn).toBe(before.counters.envelopesIn + 3);
    expect(s.counters.delivered).toBe(before.counters.delivered + 1);
    const got = receivedFrom(ue2.app, ue1.tag, ue1.gmi);
    expect(got.problems).toEqual([]);
    expect(got.numbers).toEqual(Array.from({ length: N + 1 }, (_, i) => i));

    // Both shims: received their N, sent what the test gave them, nothing malformed, no sanitizer report.
    for (const [side, sent, received] of [
      [ue1, N, N + 1],
      [ue2, N + 3, N],
    ] as const) {
      const { code, counters } = await side.shim.finish();
      expect(code, side.shim.stderr).toBe(0);
      expect(counters).toMatchObject({ sent, received, malformed: 0, dropped_no_peer: 0, dropped_hwm: 0, dropped_queue_full: 0 });
      expect(side.shim.unexpected).toEqual([]);
      expect(side.shim.stderr).not.toMatch(/AddressSanitizer|UndefinedBehaviorSanitizer|runtime error|LeakSanitizer/);
    }
    // The daemons saw their shim go away.
    await Promise.all([ue1, ue2].map((side) => side.daemon.waitFor((x) => !x.stack.linkUp, 'the shim gone')));
  });

  it('a stack that loops the daemon its own PDUs back (--echo) gets them refused as own-source, never delivered', async () => {
    const endpoint = ue1.daemon.latest!.stack.description.replace(/^zmq bind /, '');
    const echo = cleanups.add('echo shim', new ShimExample(shimBinary, endpoint, 'echo'), (e) => e.kill());
    await ue1.daemon.waitFor((s) => s.stack.linkUp, 'the echo shim to connect');
    const before = await ue1.daemon.fresh();
    const deliveredBefore = ue1.app.deliveries.length;
    expect(sendSdus(ue1.app, ue1.tag, 100, 5)).toEqual({ accepted: 5 });
    await waitUntil(() => echo.rx.length === 5, 'the echo shim to get 5 PDUs');
    const s = await ue1.daemon.waitFor((x) => x.dropped['own-source'] === 5, 'the reflected PDUs refused');
    expect(s.counters.envelopesIn).toBe(before.counters.envelopesIn + 5);
    expect(s.counters.delivered).toBe(before.counters.delivered);
    expect(ue1.app.deliveries.length).toBe(deliveredBefore);
    expect(s.dropped).toEqual({ 'own-source': 5 });
    const { code, counters } = await echo.finish('SIGTERM');
    expect(code, echo.stderr).toBe(0);
    expect(counters).toMatchObject({ sent: 5, received: 5, malformed: 0 });
    expect(echo.stderr).not.toMatch(/AddressSanitizer|UndefinedBehaviorSanitizer|runtime error|LeakSanitizer/);
  });
});
