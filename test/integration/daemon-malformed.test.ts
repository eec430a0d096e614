/**
 * Bad input from both sockets of a running daemon (`sl-bridge run`, real ZeroMQ, real PKMF):
 * garbage, multipart and incomplete envelopes from the stack side, forged / replayed / other-group
 * / unicast PDUs, garbage and refused SDUs from an application. Each is counted under its reason
 * and dropped; the daemons keep running and still carry the valid traffic that follows.
 *
 * The test plays the medium: it binds the ROUTER both daemons connect to, forwards every envelope
 * to the other peers like `sl-bridge medium`, and injects its own frames.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dealer, Router } from 'zeromq';
import { join } from 'node:path';
import { decodePduEnvelope, encodePduEnvelope, type PduEnvelope } from '../../src/wire/envelope.js';
import { encodeAppToDaemon } from '../../src/wire/app.js';
import { hex24 } from '../../src/pkmf/identity.js';
import { DaemonProcess, DaemonTestbed, GROUP, TestApp, waitUntil } from '../fixtures/daemon-testbed.js';
import { tmpDir } from '../fixtures/pkmf-testbed.js';

let t: ReturnType<typeof tmpDir>;
let bed: DaemonTestbed;
let router: Router;
const peers = new Set<string>();
const captured: PduEnvelope[] = [];
let a: DaemonProcess;
let b: DaemonProcess;
let appA: TestApp;
let appB: TestApp;

/** zeromq.js allows one send at a time per socket: every send goes through this chain. */
let sending: Promise<void> = Promise.resolve();
function send(frames: (Uint8Array | Buffer)[]): Promise<void> {
  sending = sending.then(() => router.send(frames));
  return sending;
}

async function forward(): Promise<void> {
  for await (const [id, ...frames] of router) {
    const key = id!.toString('hex');
    peers.add(key);
    if (frames.length === 1 && frames[0]!.length === 0) continue; // attach probe
    if (frames.length === 1) {
      const d = decodePduEnvelope(frames[0]!);
      if (d.ok) captured.push({ ...d.value, pdu: Uint8Array.from(d.value.pdu) });
    }
    for (const p of peers) if (p !== key) void send([Buffer.from(p, 'hex'), ...frames]);
  }
}

async function injectAll(...frames: Uint8Array[]): Promise<void> {
  for (const p of peers) await send([Buffer.from(p, 'hex'), ...frames]);
}

beforeAll(async () => {
  t = tmpDir('slb-daemon-malformed-');
  bed = await DaemonTestbed.create(t.dir, 2);
  await bed.startPkmf();
  const endpoint = `ipc://${join(t.dir, 'fake-medium.sock')}`;
  router = new Router({ linger: 0 });
  await router.bind(endpoint);
  void forward().catch(() => undefined);
  a = new DaemonProcess(await bed.ue(1, endpoint));
  b = new DaemonProcess(await bed.ue(2, endpoint), ['--metrics', '127.0.0.1:0']);
  await Promise.all([a, b].map((d) => d.waitFor((s) => s.keys.ready && s.stack.linkUp, 'keys and the medium')));
  appA = await new TestApp(a.ue.appEndpoint).open();
  appB = await new TestApp(b.ue.appEndpoint).open();
  await waitUntil(() => appA.transport.linkUp && appB.transport.linkUp && peers.size === 2, 'applications and peers attached');
});

afterAll(async () => {
  await appA?.close();
  await appB?.close();
  await Promise.all([a?.stop(), b?.stop()]);
  router?.close();
  await bed?.close();
  t?.cleanup();
});

describe('malformed input to a running daemon', () => {
  it('counts and drops each bad envelope and SDU under its reason, keeps running and still delivers', async () => {
    // A first valid SDU A -> B, captured on its way through the "medium".
    appA.send('a');
    await waitUntil(() => appB.receivedFrom('a').length === 1 && captured.length === 1, 'the first SDU');
    const real = captured[0]!;
    const gmiA = real.l2SourceId;

    // Stack side: not protobuf, multipart, no cast type, an empty-ish PDU, other group, unicast,
    // a forged SN, and the real PDU again (replay).
    const env = (over: Partial<PduEnvelope>): Uint8Array => encodePduEnvelope({ ...real, ...over });
    // A forged COUNT (SN + 100, not seen yet, so it passes the replay pre-check) under the
    // original MAC-I.
    const forged = Uint8Array.from(real.pdu);
    forged[4]! ^= 100;
    await injectAll(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f));
    await injectAll(env({}), env({}));
    await injectAll(env({}).subarray(0, 8));
    await injectAll(env({ pdu: Uint8Array.of(0x21, 0, 0) }));
    await injectAll(env({ l2DestinationId: GROUP ^ 0x000100 }));
    await injectAll(env({ castType: 'unicast' }));
    await injectAll(env({ pdu: forged }));
    await injectAll(env({}));

    // Application side: garbage bytes, a multipart message, an SDU over 9000 bytes, a reserved
    // SDU type (encoded by hand: the encoder refuses it), and an SDU for a group not carried.
    const raw = new Dealer({ linger: 0 });
    raw.connect(a.ue.appEndpoint);
    await raw.send(Buffer.from('definitely not protobuf'));
    await raw.send([Buffer.from('a'), Buffer.from('b')]);
    await raw.send(encodeAppToDaemon({ kind: 'send', groupId: GROUP, sduType: 1, sdu: new Uint8Array(9001), appSeq: 1, appTimeNs: 0n }));
    const reserved = encodeAppToDaemon({ kind: 'send', groupId: GROUP, sduType: 4, sdu: Uint8Array.of(1), appSeq: 2, appTimeNs: 0n });
    // SendSdu.sdu_type is field 2 (tag 0x10) inside field 1: set its value 4 -> 5.
    reserved[reserved.indexOf(0x10) + 1] = 5;
    await raw.send(reserved);
    appA.send('a', GROUP ^ 0x000100);
    await waitUntil(() => appA.refusals.length === 1, 'the refusal');
    expect(appA.refusals[0]).toMatchObject({ kind: 'refused', reason: 'tx-unknown-group' });

    // Valid traffic afterwards is carried in full, both ways.
    for (let i = 0; i < 50; i++) {
      appA.send('a');
      appB.send('b');
    }
    await waitUntil(() => appB.receivedFrom('a').length === 51 && appA.receivedFrom('b').length === 50, 'the valid traffic');
    expect(appB.receivedFrom('a')).toEqual(Array.from({ length: 51 }, (_, i) => (i < 1 ? 0 : i + 1)));
    expect(appB.deliveries.every((d) => d.senderGmi === gmiA)).toBe(true);

    const sb = await b.fresh();
    expect(sb.dropped).toMatchObject({
      'malformed-envelope': 3, // not protobuf, multipart, cut short
      truncated: 1,
      'rx-other-group': 1,
      'rx-not-groupcast': 1,
      'mac-failure': 1,
      replay: 1,
    });
    expect(sb.counters.delivered).toBe(51);
    const sa = await a.fresh();
    // A saw the same injections (it is a peer of the fake medium too), except that the real PDU
    // is its own: own-source, not replay / mac-failure.
    expect(sa.dropped).toMatchObject({ 'malformed-envelope': 3, 'malformed-sdu': 4, 'tx-unknown-group': 1, 'own-source': 2, truncated: 1 });
    expect(sa.counters.sdusIn).toBe(1 + 1 + 50);
    expect(a.running && b.running).toBe(true);
    // Nothing on the data path threw.
    expect(sa.dropped['internal-error'] ?? 0).toBe(0);
    expect(sb.dropped['internal-error'] ?? 0).toBe(0);
    raw.close();

    // The same counters on the daemon's Prometheus endpoint, with the receive hand-off timed.
    const text = await (await fetch(sb.metricsUrl!)).text();
    const sample = (reason: string): number => Number(new RegExp(`^slbridge_dropped_total\\{[^}]*reason="${reason}"[^}]*\\} (\\d+)$`, 'm').exec(text)?.[1]);
    expect(sample('mac-failure')).toBe(1);
    expect(sample('malformed-envelope')).toBe(3);
    expect(sample('tx-no-keys')).toBe(0);
    expect(text).toMatch(/^slbridge_delivered_total\{[^}]*\} 51$/m);
    expect(text).toMatch(/slbridge_stage_seconds_count\{[^}]*direction="rx"[^}]*stage="handoff"[^}]*\} [1-9]/);
    // Health gauges, per-sender series, build info and the event loop (issue 15).
    const value = (re: RegExp): number => Number(re.exec(text)?.[1]);
    expect(value(/^slbridge_stack_link_up\{[^}]*\} (\d+)$/m)).toBe(1);
    expect(value(/^slbridge_keys_ready\{[^}]*\} (\d+)$/m)).toBe(1);
    const expiry = value(/^slbridge_pgk_expiry_seconds\{[^}]*group="[0-9a-f]{6}"[^}]*\} ([\d.e+-]+)$/m);
    expect(expiry).toBeGreaterThan(0);
    expect(expiry).toBeLessThanOrEqual(86_400 * 2);
    const sender = hex24(gmiA);
    expect(value(new RegExp(`^slbridge_sender_delivered_total\\{[^}]*sender="${sender}"[^}]*\\} (\\d+)$`, 'm'))).toBe(51);
    expect(value(new RegExp(`^slbridge_sender_envelopes_total\\{[^}]*sender="${sender}"[^}]*\\} (\\d+)$`, 'm'))).toBeGreaterThanOrEqual(51);
    expect(text).toMatch(/^slbridge_sender_lost_total\{/m);
    expect(text).toMatch(/^slbridge_build_info\{[^}]*version="[^"]+"[^}]*\} 1$/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds\{/m);
  });
});
