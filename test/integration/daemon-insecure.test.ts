/**
 * `sl-bridge run --security off` (the baseline of issue 7's security-cost measurement): the same
 * sockets and path with no PDCP and no PKMF; the SDU travels in clear in the envelope, the
 * daemon says so in its log and status, and malformed clear PDUs are counted.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Router } from 'zeromq';
import { decodePduEnvelope, encodePduEnvelope, type PduEnvelope } from '../../src/wire/envelope.js';
import { DaemonProcess, GROUP, TestApp, waitUntil, type UeFiles } from '../fixtures/daemon-testbed.js';
import { tmpDir, writeYaml } from '../fixtures/pkmf-testbed.js';

let t: ReturnType<typeof tmpDir>;
let router: Router;
const peers = new Set<string>();
const captured: PduEnvelope[] = [];
let a: DaemonProcess;
let b: DaemonProcess;

function ue(n: number, stackEndpoint: string): UeFiles {
  const name = `ue${n}`;
  const appEndpoint = `ipc://${join(t.dir, `${name}.sock`)}`;
  const config = writeYaml(join(t.dir, `${name}.yaml`), {
    ue: { name, stateDir: join(t.dir, 'state', name), l2SourceId: 0x00aa00 + n },
    app: { endpoint: appEndpoint },
    stack: { endpoint: stackEndpoint },
    groups: [GROUP],
  });
  return { name, supi: '', config, appEndpoint };
}

beforeAll(async () => {
  t = tmpDir('slb-daemon-insecure-');
  const endpoint = `ipc://${join(t.dir, 'fake-medium.sock')}`;
  router = new Router({ linger: 0 });
  await router.bind(endpoint);
  void (async () => {
    let sending: Promise<void> = Promise.resolve();
    for await (const [id, ...frames] of router) {
      const key = id!.toString('hex');
      peers.add(key);
      if (frames.length !== 1 || frames[0]!.length === 0) continue;
      const d = decodePduEnvelope(frames[0]!);
      if (d.ok) captured.push({ ...d.value, pdu: Uint8Array.from(d.value.pdu) });
      for (const p of peers) if (p !== key) sending = sending.then(() => router.send([Buffer.from(p, 'hex'), frames[0]!]));
    }
  })().catch(() => undefined);
  a = new DaemonProcess(ue(1, endpoint), ['--security', 'off']);
  b = new DaemonProcess(ue(2, endpoint), ['--security', 'off']);
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  router?.close();
  t?.cleanup();
});

describe('security off', () => {
  it('carries the SDU in clear over the same path, without keys, and says so', async () => {
    await Promise.all([a, b].map((d) => d.waitFor((s) => s.stack.linkUp && s.keys.ready, 'the medium')));
    const appA = await new TestApp(a.ue.appEndpoint).open();
    const appB = await new TestApp(b.ue.appEndpoint).open();
    await waitUntil(() => appA.transport.linkUp && appB.transport.linkUp && peers.size === 2, 'attached');
    for (let i = 0; i < 10; i++) appA.send('clear');
    await waitUntil(() => appB.receivedFrom('clear').length === 10, 'the SDUs');
    expect(appB.deliveries[0]!.senderGmi).toBe(0x00aa01);
    // On the wire: one octet SDU type, then the SDU itself; nothing protected.
    expect(captured[0]!.l2SourceId).toBe(0x00aa01);
    expect(captured[0]!.l2DestinationId).toBe(GROUP);
    expect(Buffer.from(captured[0]!.pdu).toString('latin1')).toBe('\u0001clear:0');

    // A clear PDU with a reserved SDU type or no SDU is counted, not delivered.
    const bad = (pdu: Uint8Array): Buffer => Buffer.from(encodePduEnvelope({ ...captured[0]!, pdu }));
    for (const p of peers) await router.send([Buffer.from(p, 'hex'), bad(Uint8Array.of(7, 1, 2))]);
    for (const p of peers) await router.send([Buffer.from(p, 'hex'), bad(Uint8Array.of(1))]);
    const sb = await b.waitFor((s) => (s.dropped['rx-insecure-malformed'] ?? 0) === 2, 'the malformed clear PDUs');
    expect(sb.security).toBe('off');
    expect(sb.counters.delivered).toBe(10);
    expect(sb.securityDrops).toBe(0);
    expect(b.log).toContain('SECURITY OFF');
    await appA.close();
    await appB.close();
  });
});
