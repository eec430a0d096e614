/**
 * Daemons started while their PKMF is down (`sl-bridge run` processes over `sl-bridge medium`):
 * they start, accept applications, refuse SDUs as `tx-no-keys` (counted, the application told),
 * retry the PKMF with backoff, and begin protecting as soon as keys arrive; nothing else needed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dealer } from 'zeromq';
import { encodePduEnvelope } from '../../src/wire/envelope.js';
import { startMediumProcess, type MediumProcess } from '../fixtures/transport-medium-process.js';
import { DaemonProcess, DaemonTestbed, GROUP, TestApp, waitUntil } from '../fixtures/daemon-testbed.js';
import { tmpDir } from '../fixtures/pkmf-testbed.js';

let t: ReturnType<typeof tmpDir>;
let bed: DaemonTestbed;
let medium: MediumProcess;
let a: DaemonProcess;
let b: DaemonProcess;
let appA: TestApp;
let appB: TestApp;
let endpoint: string;

beforeAll(async () => {
  t = tmpDir('slb-daemon-pkmf-down-');
  bed = await DaemonTestbed.create(t.dir, 2);
  endpoint = `ipc://${join(t.dir, 'medium.sock')}`;
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

    // A member that already has keys (here: a raw peer on the medium) sends on the group. Without
    // keys yet, that is a wait for the PKMF, not a security event (a restarted daemon sees this
    // until its keys are back): counted as rx-no-keys, no security drop.
    const peer = new Dealer({ linger: 0 });
    peer.connect(endpoint);
    await peer.send(Buffer.alloc(0)); // attach
    const deadline = Date.now() + 15_000;
    for (let seq = 1; ((await b.fresh()).counters.envelopesIn ?? 0) === 0; seq++) {
      if (Date.now() > deadline) throw new Error('timed out waiting for b to receive the envelope');
      await peer.send(encodePduEnvelope({ l2SourceId: 0x00abcd, l2DestinationId: GROUP, castType: 'groupcast', pdu: Uint8Array.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11), txTimeNs: 1n, seq }));
      await new Promise((r) => setTimeout(r, 100));
    }
    peer.close();
    const keyless = await b.fresh();
    expect(keyless.securityDrops, JSON.stringify(keyless.dropped)).toBe(0);
    expect(keyless.dropped['rx-no-keys']).toBe(keyless.counters.envelopesIn);

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
