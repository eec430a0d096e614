/**
 * Daemons started while their PKMF is down (`sl-bridge run` processes over `sl-bridge medium`):
 * they start, accept applications, refuse SDUs as `tx-no-keys` (counted, the application told),
 * retry the PKMF with backoff, and begin protecting as soon as keys arrive; nothing else needed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMediumProcess, type MediumProcess } from './fixtures/transport-medium-process.js';
import { DaemonProcess, DaemonTestbed, TestApp, waitUntil } from './fixtures/daemon-testbed.js';
import { tmpDir } from './fixtures/pkmf-testbed.js';

let t: ReturnType<typeof tmpDir>;
let bed: DaemonTestbed;
let medium: MediumProcess;
let a: DaemonProcess;
let b: DaemonProcess;
let appA: TestApp;
let appB: TestApp;

beforeAll(async () => {
  t = tmpDir('slb-daemon-pkmf-down-');
  bed = await DaemonTestbed.create(t.dir, 2);
  const endpoint = `ipc://${join(t.dir, 'medium.sock')}`;
  medium = await startMediumProcess(['--endpoint', endpoint]);
  a = new DaemonProcess(await bed.ue(1, endpoint));
  b = new DaemonProcess(await bed.ue(2, endpoint));
});

afterAll(async () => {
  await appA?.close();
  await appB?.close();
  await Promise.all([a?.stop(), b?.stop()]);
  medium?.child.kill('SIGKILL');
  await bed?.close();
  t?.cleanup();
});

describe('daemon started while the PKMF is down', () => {
  it('runs without keys, refuses SDUs as tx-no-keys, retries, and protects once the PKMF is up', async () => {
    // Up and attached, no keys: the PKMF has not been started.
    await Promise.all([a, b].map((d) => d.waitFor((s) => s.stack.linkUp && s.keys.consecutiveFailures >= 2, 'failed key requests')));
    appA = await new TestApp(a.ue.appEndpoint).open();
    appB = await new TestApp(b.ue.appEndpoint).open();
    await waitUntil(() => appA.transport.linkUp && appB.transport.linkUp, 'applications attached');
    for (let i = 0; i < 5; i++) appA.send('early');
    await waitUntil(() => appA.refusals.length === 5, 'five refusals');
    expect(new Set(appA.refusals.map((r) => r.reason))).toEqual(new Set(['tx-no-keys']));
    const waiting = await a.fresh();
    expect(waiting.keys.ready).toBe(false);
    expect(waiting.keys.lastError).toMatch(/^CONNECT/);
    expect(waiting.dropped['tx-no-keys']).toBe(5);
    expect(waiting.counters.pdusOut).toBe(0);

    // The PKMF comes up: both daemons get keys by themselves (backoff 0.2..0.5 s).
    await bed.startPkmf();
    await Promise.all([a, b].map((d) => d.waitFor((s) => s.keys.ready, 'keys')));
    for (let i = 0; i < 20; i++) appA.send('late');
    await waitUntil(() => appB.receivedFrom('late').length === 20, 'the protected SDUs');
    expect(appB.receivedFrom('late')).toEqual(Array.from({ length: 20 }, (_, i) => 5 + i));
    expect(appB.receivedFrom('early')).toEqual([]);
    const sa = await a.fresh();
    const sb = await b.fresh();
    expect(sa.counters.pdusOut).toBe(20);
    expect(sa.keys.groups[0]!.txPgkId).toBe(sb.keys.groups[0]!.pgkIds[0]);
    expect(sb.securityDrops).toBe(0);
    expect(a.running && b.running).toBe(true);
    // Key bytes never reach the log (at debug level), in hex or base64.
    const held = JSON.parse(readFileSync(join(t.dir, 'state', 'ue1', 'keys.json'), 'utf8')) as { groups: { pgks: { pgk: string }[] }[] };
    const pgk = held.groups[0]!.pgks[0]!.pgk;
    expect(pgk).toMatch(/^[0-9a-f]{64}$/);
    expect(a.log).toContain('group keys installed');
    expect(a.log).not.toContain(pgk);
    expect(a.log).not.toContain(Buffer.from(pgk, 'hex').toString('base64').slice(0, 20));
  });
});
