/**
 * The ranging application against daemons' application sockets over real ZeroMQ: three UEs, each
 * an application + a security-off bridge (test/fixtures/transport-passthrough-daemon.ts) attached
 * to the medium emulator. Requests reach every other member, each is answered by every other
 * member, round-trip times are measured from the echoed timestamps; refusals are counted; the
 * process (`sl-bridge app ranging`) runs and reports JSON.
 */
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RangingApp, type RangingStats } from '../../bridge/app/ranging.js';
import { MediumServer } from '../../bridge/medium/server.js';
import { NO_IMPAIRMENTS } from '../../src/medium/channel.js';
import { startPassthroughDaemon, type PassthroughDaemon } from '../fixtures/transport-passthrough-daemon.js';
import { sleep, tempDir, waitFor } from '../fixtures/transport-helpers.js';

const BIN = new URL('../../bin/sl-bridge.js', import.meta.url).pathname;

const GROUP = 0x00abcd;
const closers: Array<() => unknown> = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

async function testbed(n: number): Promise<{ daemons: PassthroughDaemon[]; appEndpoints: string[]; medium: MediumServer }> {
  const { dir, cleanup } = tempDir('slb-app-');
  closers.push(cleanup);
  const medium = new MediumServer({ endpoints: [`ipc://${dir}/medium.sock`], impairments: NO_IMPAIRMENTS, seed: 1 });
  await medium.start();
  closers.push(() => medium.stop());
  const daemons: PassthroughDaemon[] = [];
  const appEndpoints: string[] = [];
  for (let i = 0; i < n; i++) {
    const appEndpoint = `ipc://${dir}/ue${i + 1}.sock`;
    const d = await startPassthroughDaemon({ gmi: 0x000301 + i, appEndpoint, stackEndpoint: medium.endpoints[0]! });
    closers.push(() => d.close());
    daemons.push(d);
    appEndpoints.push(appEndpoint);
  }
  await waitFor(() => medium.peerCount === n, 'every daemon to attach to the medium');
  return { daemons, appEndpoints, medium };
}

describe('ranging application', () => {
  it('ranges among 3 UEs: every request reaches and is answered by every other member', async () => {
    const { daemons, appEndpoints } = await testbed(3);
    const apps = appEndpoints.map((endpoint) => new RangingApp({ endpoint, groupId: GROUP, ratePerSecond: 100, sduBytes: 128 }));
    for (const [i, app] of apps.entries()) {
      closers.push(() => app.close());
      await app.start();
      await waitFor(() => daemons[i]!.apps.peerCount === 1, 'the app to attach to its daemon');
    }
    for (const app of apps) app.startRequests();
    await sleep(1500);
    for (const app of apps) app.stopRequests();
    // Quiet once every request was answered by both others.
    const done = (): boolean => {
      const s = apps.map((a) => a.stats());
      return s.every((x) => x.responsesReceived === 2 * x.requestsSent) && s.every((x, i) => x.requestsReceived === s.filter((_, j) => j !== i).reduce((n, y) => n + y.requestsSent, 0));
    };
    await waitFor(done, 'every request to be answered');
    const stats = apps.map((a) => a.stats());
    for (const [i, s] of stats.entries()) {
      expect(s.requestsSent).toBeGreaterThan(10);
      expect(s.sendDropped).toEqual({});
      expect(s.refused).toEqual({});
      expect(s.ignored).toBe(0);
      // From each other member: all its requests, and its answers to all of ours.
      const others = stats.filter((_, j) => j !== i);
      expect(Object.keys(s.bySender).sort()).toEqual(['000301', '000302', '000303'].filter((_, j) => j !== i));
      for (const [j, o] of stats.entries()) {
        if (j === i) continue;
        const gmi = (0x000301 + j).toString(16).padStart(6, '0');
        expect(s.bySender[gmi]).toMatchObject({ requests: o.requestsSent, responses: s.requestsSent });
      }
      expect(s.responsesSent).toBe(s.requestsReceived);
      // Everybody hears every response (groupcast): those to others' requests are counted apart.
      expect(s.responsesForOthers).toBe(others.reduce((n, o) => n + o.requestsSent, 0));
      expect(s.rtt.count).toBe(s.responsesReceived);
      expect(s.oneWay.count).toBe(s.requestsReceived);
      expect(s.rtt.p50Us).toBeGreaterThan(0);
      expect(s.rtt.p99Us).toBeGreaterThanOrEqual(s.rtt.p50Us);
    }
  });

  it('counts SDUs the daemon refuses, by reason', async () => {
    const { daemons, appEndpoints } = await testbed(2);
    await daemons[0]!.stack.close(); // the daemon's stack side is gone: it refuses SDUs
    const app = new RangingApp({ endpoint: appEndpoints[0]!, groupId: GROUP, ratePerSecond: 0 });
    closers.push(() => app.close());
    await app.start();
    await waitFor(() => daemons[0]!.apps.peerCount === 1, 'the app to attach');
    for (let i = 0; i < 5; i++) expect(app.sendRequest()).toBe('accepted');
    await waitFor(() => app.stats().refused['transport-closed'] === 5, 'five refusals');
  });

  it('runs as a process and reports JSON lines', async () => {
    const { daemons, appEndpoints } = await testbed(2);
    const peer = new RangingApp({ endpoint: appEndpoints[1]!, groupId: GROUP, ratePerSecond: 0 });
    closers.push(() => peer.close());
    await peer.start();
    await waitFor(() => daemons[1]!.apps.peerCount === 1, 'the answering app');
    const child = spawn(process.execPath, [BIN, 'app', 'ranging', '--endpoint', appEndpoints[0]!, '--group', '0x00abcd', '--rate', '50', '--seconds', '1', '--stats-interval-ms', '300', '--name', 'ue1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(err).toBe('');
    expect(code).toBe(0);
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as RangingStats & { event: string; name: string });
    expect(lines.filter((l) => l.event === 'stats').length).toBeGreaterThanOrEqual(1);
    const final = lines[lines.length - 1]!;
    expect(final).toMatchObject({ event: 'final', name: 'ue1', groupId: GROUP });
    expect(final.requestsSent).toBeGreaterThan(10);
    expect(final.responsesReceived).toBe(final.requestsSent);
    expect(final.rtt.count).toBe(final.requestsSent);
    expect(peer.stats().requestsReceived).toBe(final.requestsSent);
  });

  it('rejects bad arguments of the process with status 2', async () => {
    const child = spawn(process.execPath, [BIN, 'app', 'ranging', '--endpoint', 'ipc:///nowhere', '--group', '0x1000000'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code).toBe(2);
    expect(err).toContain("option '--group <id>' argument '0x1000000' is invalid. expected a 24-bit Group ID (decimal or 0x-hex)");
  });

  it('exits with status 1 and says so when it never reaches its daemon', async () => {
    const endpoint = `ipc://${join(tmpdir(), `no-daemon-${process.pid}.sock`)}`;
    const child = spawn(process.execPath, [BIN, 'app', 'ranging', '--endpoint', endpoint, '--group', '0x00abcd', '--connect-timeout', '0.5'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code).toBe(1);
    expect(err).toContain(`never reached the daemon at ${endpoint} in 0.5 s`);
  });
});
