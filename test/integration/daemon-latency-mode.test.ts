/**
 * Latency mode's busy-poll in `sl-bridge run` (bridge/daemon/busy-poll.ts), through the built CLI
 * over `sl-bridge medium`, a real PKMF and real ZeroMQ: a daemon with `--keep-warm 0.2
 * --busy-poll 100000` spins only after messages (none while idle), each spell lasts at least its
 * window, its passes stop with it while the 1 ms timer's go on, and PDUs still flow both ways. The
 * flags that do not go together are refused before anything starts.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DaemonStatus } from '../../bridge/daemon/daemon.js';
import { DaemonProcess, DaemonTestbed, TestApp, waitUntil } from '../fixtures/daemon-testbed.js';
import { BIN, tmpDir } from '../fixtures/pkmf-testbed.js';
import { startMediumProcess, type MediumProcess } from '../fixtures/transport-medium-process.js';

const exec = promisify(execFile);
const WINDOW_US = 100_000;

let t: ReturnType<typeof tmpDir>;
let bed: DaemonTestbed;
let medium: MediumProcess;
const daemons: DaemonProcess[] = [];
const apps: TestApp[] = [];

beforeAll(async () => {
  t = tmpDir('slb-daemon-latency-mode-');
  bed = await DaemonTestbed.create(t.dir, 2);
  await bed.startPkmf();
  const endpoint = `ipc://${join(t.dir, 'medium.sock')}`;
  medium = await startMediumProcess(['--endpoint', endpoint]);
});

afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
  await Promise.all(daemons.map((d) => d.stop('SIGKILL')));
  medium?.child.kill('SIGKILL');
  if (medium) await medium.exited;
  await bed?.close();
  t?.cleanup();
});

const busy = (s: DaemonStatus): NonNullable<DaemonStatus['busyPoll']> => {
  expect(s.busyPoll, 'a busy-poll daemon reports busyPoll').toBeDefined();
  return s.busyPoll!;
};

describe('run --keep-warm 0.2 --busy-poll 100000', () => {
  it('spins after messages only, for at least the window, and traffic flows', async () => {
    const endpoint = `ipc://${join(t.dir, 'medium.sock')}`;
    const fast = new DaemonProcess(await bed.ue(1, endpoint), ['--keep-warm', '0.2', '--busy-poll', String(WINDOW_US)]);
    const plain = new DaemonProcess(await bed.ue(2, endpoint));
    daemons.push(fast, plain);
    await Promise.all([fast, plain].map((d) => d.waitFor((s) => s.keys.ready, 'keys')));

    // Idle, with keys: the timer warms, the loop sleeps.
    const idle = await fast.fresh();
    expect(idle.keepWarm).toMatchObject({ everyMs: 0.2 });
    expect(idle.keepWarm!.passes).toBeGreaterThan(0);
    expect(busy(idle)).toMatchObject({ windowUs: WINDOW_US, spells: 0, passes: 0, spinningMs: 0, spinning: false });

    const [a1, a2] = [new TestApp(fast.ue.appEndpoint), new TestApp(plain.ue.appEndpoint)];
    apps.push(a1, a2);
    await Promise.all([a1.open(), a2.open()]);
    await Promise.all([fast, plain].map((d) => d.waitFor((s) => s.app.peers === 1, 'the application')));

    // One SDU each way: the busy-polling daemon sends and receives as any other.
    expect(a1.send('fast').outcome).toBe('accepted');
    await waitUntil(() => a2.receivedFrom('fast').length === 1, 'the SDU of the busy-polling UE');
    expect(a2.send('plain').outcome).toBe('accepted');
    await waitUntil(() => a1.receivedFrom('plain').length === 1, 'the SDU for the busy-polling UE');

    // The messages started spells (the application's SDU; the peer's PDU and the medium's copy
    // of our own may each find the loop asleep again or extend a spell), and each spell ran
    // passes and lasted at least its window.
    const spun = await fast.waitFor((s) => busy(s).spells >= 1 && !busy(s).spinning, 'the end of the spells');
    const b = busy(spun);
    expect(b.spells).toBeLessThanOrEqual(3);
    expect(b.passes).toBeGreaterThan(0);
    expect(b.spinningMs).toBeGreaterThanOrEqual((b.spells * WINDOW_US) / 1000 - 0.1);

    // Asleep again: the spin's passes and time stand still, the timer's passes go on.
    const later = await fast.waitFor((s) => s.timeMs > spun.timeMs + 500, 'a status line 0.5 s later');
    expect(busy(later)).toMatchObject({ spells: b.spells, passes: b.passes, spinningMs: b.spinningMs, spinning: false });
    expect(later.keepWarm!.passes).toBeGreaterThan(spun.keepWarm!.passes);
    expect(later.securityDrops).toBe(0);

    // A daemon without the flags reports no busy-poll.
    expect((await plain.fresh()).busyPoll).toBeUndefined();
  });
});

describe('latency mode flags of run', () => {
  async function runFails(args: string[]): Promise<{ code: number; stderr: string }> {
    try {
      await exec(process.execPath, [BIN, 'run', '--config', join(t.dir, 'none.yaml'), ...args], { timeout: 10_000 });
      return { code: 0, stderr: '' };
    } catch (e) {
      const err = e as { code: number; stderr: string };
      return { code: err.code, stderr: err.stderr };
    }
  }

  it('--busy-poll without --keep-warm, and --keep-warm under 1 ms without --busy-poll: exit 2 before reading the config', async () => {
    const spin = await runFails(['--busy-poll', '1000']);
    expect(spin.code).toBe(2);
    expect(spin.stderr).toContain('run: --busy-poll needs --keep-warm MS');
    const fast = await runFails(['--keep-warm', '0.5']);
    expect(fast.code).toBe(2);
    expect(fast.stderr).toContain('run: --keep-warm below 1 ms needs --busy-poll US');
    const bad = await runFails(['--keep-warm', '0.5', '--busy-poll', '0.5']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("option '--busy-poll <us>' argument '0.5' is invalid");
  });
});
