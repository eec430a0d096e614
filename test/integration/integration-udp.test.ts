/**
 * Three `sl-bridge run` daemons in three network namespaces joined by veth pairs on a bridge
 * (test/fixtures/udp-netns.ts), each with hw-profiles/oai-nr-sl-tun.yaml pointed at its veth
 * (UDP multicast), and the PKMF in a fourth namespace on the same link (TLS over the veths):
 *
 *   app1 --ipc--> daemon ue1 [ns u1: sl0 10.203.7.1] --+
 *   app2 --ipc--> daemon ue2 [ns u2: sl0 10.203.7.2] --+-- bridge [ns hub] -- PKMF [ns u4: 10.203.7.4]
 *   app3 --ipc--> daemon ue3 [ns u3: sl0 10.203.7.3] --+
 *
 * Every daemon sends protected PDUs to the group and receives every other member's, byte for byte,
 * with the sender's GMI; its own datagrams never come back to it; a non-member's garbage on the
 * group is counted as malformed. The namespaces are removed at the end, also after a failure
 * (checked). Needs root (CI runs as root); skipped with the reason printed otherwise.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DaemonProcess, DaemonTestbed, GROUP, TestApp, waitUntil } from '../fixtures/daemon-testbed.js';
import { Cleanups, gmiOf, profileFrom, receivedFrom, strictlyIncreasing, streamSdus, ueConfig } from '../fixtures/integration-helpers.js';
import { startNetnsPkmf } from '../fixtures/integration-netns.js';
import { pkmfConfigDoc, tmpDir, writeYaml } from '../fixtures/pkmf-testbed.js';
import { NetnsTestbed, netnsProblem } from '../fixtures/udp-netns.js';

const problem = process.platform !== 'linux' ? 'network namespaces need Linux' : netnsProblem();
if (problem) console.warn(`test/integration/integration-udp.test.ts skipped: ${problem}`);

const UES = 3;
const MCAST = { group: '239.255.77.1', port: 5600 };

interface Side {
  daemon: DaemonProcess;
  app: TestApp;
  gmi: string;
  tag: string;
}

const cleanups = new Cleanups();
let net: NetnsTestbed | undefined;
const sides: Side[] = [];

afterAll(async () => {
  await cleanups.run();
  if (net) {
    const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.startsWith(net!.id));
    if (left.length) throw new Error(`namespaces left behind: ${left.join(', ')}`);
  }
});

describe.skipIf(problem !== undefined)(`daemons over UDP multicast between network namespaces${problem ? ` (skipped: ${problem})` : ''}`, () => {
  beforeAll(async () => {
    const { dir, cleanup } = tmpDir('slb-int-udp-');
    cleanups.add('temp dir', dir, () => cleanup());
    const tb = cleanups.add('testbed', await DaemonTestbed.create(dir, UES), (t) => t.close());
    // Namespaces u1..u3 for the UEs, u4 for the PKMF; removed last (after every process in them).
    net = cleanups.add('namespaces', NetnsTestbed.create(UES + 1), (n) => n.destroy());
    const pkmfNs = net.ues[UES]!;

    const pkmfConfig = writeYaml(
      join(dir, 'pkmf.yaml'),
      pkmfConfigDoc(tb.op, join(dir, 'pkmf.db'), {
        listen: { host: pkmfNs.address, port: tb.pkmfPort },
        groups: [{ id: GROUP, nea: 2, nia: 2, members: tb.members }],
      }),
    );
    cleanups.add('PKMF', await startNetnsPkmf(pkmfNs.name, pkmfConfig), (p) => p.stop());

    const profile = profileFrom('oai-nr-sl-tun', join(dir, 'udp.yaml'), { ...MCAST, interface: NetnsTestbed.INTERFACE });
    const daemons = await Promise.all(
      Array.from({ length: UES }, async (_, i) => {
        const ue = await ueConfig(tb, i + 1, { pkmfHost: pkmfNs.address });
        return cleanups.add(`daemon ue${i + 1}`, new DaemonProcess(ue, ['--profile', profile], { namespace: net!.ues[i]!.name }), (d) => d.stop());
      }),
    );
    for (const daemon of daemons) {
      const s = await daemon.waitFor((x) => x.keys.ready && x.stack.linkUp, 'keys over the veth and the multicast group joined', 30_000);
      expect(s.stack.kind).toBe('udp');
      expect(s.stack.description).toContain(MCAST.group);
      const app = cleanups.add(`app ${daemon.ue.name}`, await new TestApp(daemon.ue.appEndpoint).open(), (a) => a.close());
      await daemon.waitFor((x) => x.app.peers === 1, 'the application attached');
      sides.push({ daemon, app, gmi: gmiOf(s), tag: daemon.ue.name });
    }
    expect(new Set(sides.map((s) => s.gmi)).size).toBe(UES);
  });

  it('every daemon receives every other member protected SDUs, intact and with the sender GMI', async () => {
    const perUe = 100;
    const outcomes = await Promise.all(sides.map((s) => streamSdus(s.app, s.tag, 0, perUe)));
    expect(outcomes).toEqual(sides.map(() => ({ accepted: perUe })));
    const complete = (rx: Side): boolean => sides.every((tx) => tx === rx || receivedFrom(rx.app, tx.tag, tx.gmi).numbers.length >= perUe);
    await waitUntil(() => sides.every(complete), `${perUe} SDUs from each member at each member`);

    for (const rx of sides) {
      // Own SDUs never come back (multicast loopback off, and the daemon would refuse them).
      expect(receivedFrom(rx.app, rx.tag, rx.gmi).numbers).toEqual([]);
      for (const tx of sides) {
        if (tx === rx) continue;
        const got = receivedFrom(rx.app, tx.tag, tx.gmi);
        expect(got.problems).toEqual([]);
        expect(got.numbers).toHaveLength(perUe);
        expect(strictlyIncreasing(got.numbers)).toBe(true);
      }
      const s = await rx.daemon.fresh();
      expect(s.counters.pdusOut).toBe(perUe);
      expect(s.counters.delivered).toBe(perUe * (UES - 1));
      expect(s.securityDrops).toBe(0);
      expect(s.dropped).toEqual({});
      expect(s.stack.udp?.ownFiltered).toBe(0);
      for (const tx of sides) {
        if (tx !== rx) expect(s.rxBySender[tx.gmi]).toMatchObject({ envelopes: perUe, delivered: perUe, lost: 0, duplicates: 0 });
      }
    }
  });

  it('counts a non-member datagram of garbage on the group as malformed in every daemon, and carries on', async () => {
    const before = await Promise.all(sides.map((s) => s.daemon.fresh()));
    // From the PKMF's namespace (not a group member): one datagram to the group on the shared link.
    const pkmfNs = net!.ues[UES]!;
    execFileSync(
      'ip',
      ['netns', 'exec', pkmfNs.name, 'socat', '-u', 'STDIN', `UDP4-DATAGRAM:${MCAST.group}:${MCAST.port},bind=${pkmfNs.address},ip-multicast-if=${pkmfNs.address}`],
      { input: Buffer.from('not an envelope: \x00\x01\x02\xff'), stdio: ['pipe', 'ignore', 'pipe'] },
    );
    await Promise.all(sides.map((s, i) => s.daemon.waitFor((x) => x.stack.counters.malformed === before[i]!.stack.counters.malformed + 1, 'the garbage counted')));
    // The group still works afterwards.
    await Promise.all(sides.map((s) => streamSdus(s.app, s.tag, 1000, 10)));
    await waitUntil(() => sides.every((rx) => sides.every((tx) => tx === rx || receivedFrom(rx.app, tx.tag, tx.gmi).numbers.length === 110)), 'traffic after the garbage');
    for (const rx of sides) {
      const s = await rx.daemon.fresh();
      expect(s.dropped).toEqual({ 'malformed-envelope': 1 });
      expect(s.securityDrops).toBe(0);
      for (const tx of sides) if (tx !== rx) expect(receivedFrom(rx.app, tx.tag, tx.gmi).problems).toEqual([]);
    }
  });

  it('stops each daemon cleanly on SIGTERM (exit 0, a final status line)', async () => {
    const stopped = await Promise.all(sides.map((s) => s.daemon.stop()));
    expect(stopped).toEqual(sides.map(() => ({ code: 0, signal: null })));
    for (const s of sides) {
      expect(s.daemon.final?.event).toBe('final');
      expect(s.daemon.final?.stack.linkUp).toBe(false);
    }
  });
});
