/**
 * The UDP stack transport between network namespaces joined by veth pairs on a bridge: each UE is
 * a child process (`ip netns exec NS node --import tsx test/fixtures/udp-peer.ts`) exchanging
 * PDCP-protected PDUs. Multicast with three UEs, one of which gets its interface address only
 * after it started and one whose address is flushed and re-added mid-run; broadcast, where our
 * own datagrams come back and must be filtered; IPv6 multicast; back-pressure on a rate-limited
 * interface, and a close with datagrams still queued. The
 * namespaces are created and removed by the test (it needs root: CI runs as root).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { UdpTransportOptions } from '../../bridge/transport/udp.js';
import { NetnsTestbed, UdpPeerProcess, netnsProblem } from '../fixtures/udp-netns.js';
import type { UdpPeerReport } from '../fixtures/udp-peer.js';
import { sleep } from '../fixtures/transport-helpers.js';

const problem = process.platform !== 'linux' ? 'network namespaces need Linux' : netnsProblem();
if (problem) console.warn(`test/integration/udp-netns.test.ts skipped: ${problem}`);

const GMIS = [0x00a001, 0x00b002, 0x00c003];
const hex = (gmi: number): string => gmi.toString(16);

let testbed: NetnsTestbed | undefined;
const peers: UdpPeerProcess[] = [];
afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.stop()));
  testbed?.destroy();
  testbed = undefined;
});

function startPeers(tb: NetnsTestbed, transport: Omit<UdpTransportOptions, 'interface'>, extra: Array<Partial<UdpTransportOptions>> = [], batch?: number): UdpPeerProcess[] {
  return tb.ues.map((ue, i) => {
    const p = new UdpPeerProcess(ue.name, {
      gmi: GMIS[i]!,
      transport: { interface: NetnsTestbed.INTERFACE, interfacePollMs: 100, ...transport, ...extra[i] },
      ...(batch ? { batch } : {}),
    });
    peers.push(p);
    return p;
  });
}

/** Sends `n` PDUs from every peer; returns each peer's send outcomes. */
async function round(ps: UdpPeerProcess[], n: number): Promise<Array<Record<string, number>>> {
  const marks = ps.map((p) => p.events.length);
  for (const p of ps) p.command(`go ${n}`);
  return Promise.all(ps.map(async (p, i) => (await p.next('sent', marks[i]!)).outcomes));
}

/** Polls the peers' reports until each has `expected(receiver, sender)` PDUs from every other peer. */
/**
 * Polls the peers' reports until every UE accepted `expected` PDUs from every other one (and
 * `alsoDone` holds for each report, e.g. its own looped-back datagrams have all come back), or
 * the time-out; the caller's assertions then say what is missing.
 */
async function settle(
  ps: UdpPeerProcess[],
  expected: (rx: number, tx: number) => number,
  alsoDone: (r: UdpPeerReport) => boolean = () => true,
  timeoutMs = 15_000,
): Promise<UdpPeerReport[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const reports = await Promise.all(ps.map((p) => p.report()));
    const done = reports.every(
      (r, rx) => alsoDone(r) && ps.every((_, tx) => tx === rx || (r.accepted[hex(GMIS[tx]!)]?.count ?? 0) >= expected(rx, tx)),
    );
    if (done || Date.now() > end) return reports;
    await sleep(100);
  }
}

describe.skipIf(problem !== undefined)(`UDP transport between network namespaces${problem ? ` (skipped: ${problem})` : ''}`, () => {
  it('multicast: three UEs exchange protected PDUs, a late interface joins, an address flush is survived', async () => {
    // UE 3 starts before its interface has an address, as with a stack that is still attaching.
    const tb = (testbed = NetnsTestbed.create(3, [2]));
    const ps = startPeers(tb, { mode: 'multicast', group: '239.255.77.9', port: 5600, ttl: 1, loopback: false });
    const ready = await Promise.all(ps.map((p) => p.next('ready', 0)));
    expect(ready.map((r) => r.linkUp)).toEqual([true, true, false]);
    expect(ready[2]!.lastError).toMatch(/sl0: no IPv4 address/);
    tb.addAddress(2);
    await ps[2]!.next('link', 0);

    const perPeer = 300;
    const outcomes = await round(ps, perPeer);
    for (const o of outcomes) expect(o).toEqual({ accepted: perPeer });
    let reports = await settle(ps, () => perPeer);
    reports.forEach((r, rx) => {
      for (let tx = 0; tx < 3; tx++) {
        if (tx === rx) continue;
        expect(r.accepted[hex(GMIS[tx]!)], `UE ${rx + 1} from UE ${tx + 1}`).toEqual({ count: perPeer, inOrder: true, max: perPeer - 1 });
      }
      expect(r.accepted[hex(GMIS[rx]!)]).toBeUndefined(); // never its own PDUs
      expect(r.drops).toEqual({});
      expect(r.counters.received).toBe(2 * perPeer);
      expect(r.counters.malformed).toBe(0);
      expect(r.counters.sent).toBe(perPeer);
      expect(r.counters.udp.ownFiltered).toBe(0); // multicast loopback off: nothing comes back
    });

    // UE 1's interface loses its address (stack restarting) and gets it back.
    const mark = ps[0]!.events.length;
    tb.removeAddress(0);
    expect(await ps[0]!.next('link', mark)).toEqual({ event: 'link', up: false });
    const [whileDown] = await round([ps[0]!], 10);
    expect(whileDown).toEqual({ 'no-peer': 10 });
    tb.addAddress(0);
    expect(await ps[0]!.next('link', mark + 1)).toEqual({ event: 'link', up: true });
    await round(ps, 100);
    reports = await settle(ps, () => perPeer + 100);
    reports.forEach((r, rx) => {
      for (let tx = 0; tx < 3; tx++) {
        if (tx === rx) continue;
        const got = r.accepted[hex(GMIS[tx]!)]!;
        expect(got.count, `UE ${rx + 1} from UE ${tx + 1} after the flush`).toBe(perPeer + 100);
        expect(got.inOrder).toBe(true);
        // UE 1's 10 PDUs refused while down used SDU numbers 300..309: the receivers see the gap.
        expect(got.max).toBe(tx === 0 ? perPeer + 110 - 1 : perPeer + 100 - 1);
      }
      expect(r.drops).toEqual({});
    });
    expect(reports[0]!.counters.linkUps).toBe(2);
    expect(reports[0]!.counters.linkDowns).toBe(1);
  });

  it('broadcast: every UE receives the others, and its own datagrams coming back are filtered', async () => {
    const tb = (testbed = NetnsTestbed.create(2));
    const ps = startPeers(tb, { mode: 'broadcast', group: tb.broadcastAddress, port: 5601 });
    await Promise.all(ps.map((p) => p.next('ready', 0)));
    const perPeer = 200;
    await round(ps, perPeer);
    // Our own broadcasts come back through the loopback path, not always before the others' PDUs.
    const reports = await settle(ps, () => perPeer, (r) => r.counters.udp.ownFiltered >= perPeer);
    reports.forEach((r, rx) => {
      const other = hex(GMIS[1 - rx]!);
      expect(r.accepted[other]).toEqual({ count: perPeer, inOrder: true, max: perPeer - 1 });
      expect(r.accepted[hex(GMIS[rx]!)]).toBeUndefined();
      expect(r.drops).toEqual({});
      // Linux loops a broadcast back to the sender's host: each of ours came back once.
      expect(r.counters.udp.ownFiltered).toBe(perPeer);
    });
  });

  it('IPv6 multicast: two UEs exchange protected PDUs', async () => {
    const tb = (testbed = NetnsTestbed.create(2, [0, 1]));
    tb.addIpv6Address(0);
    tb.addIpv6Address(1);
    const ps = startPeers(tb, { mode: 'multicast', group: 'ff12::5b:1', port: 5603 });
    const ready = await Promise.all(ps.map((p) => p.next('ready', 0)));
    expect(ready.map((r) => r.linkUp)).toEqual([true, true]);
    const perPeer = 100;
    await round(ps, perPeer);
    const reports = await settle(ps, () => perPeer);
    reports.forEach((r, rx) => {
      expect(r.accepted[hex(GMIS[1 - rx]!)]).toEqual({ count: perPeer, inOrder: true, max: perPeer - 1 });
      expect(r.drops).toEqual({});
      expect(r.counters.udp.ownFiltered).toBe(0);
    });
  });

  it('back-pressure: on a rate-limited interface a burst is cut at the queue limit as hwm, and what was accepted arrives', async () => {
    const tb = (testbed = NetnsTestbed.create(2));
    tb.tc(0, ['qdisc', 'add', 'dev', NetnsTestbed.INTERFACE, 'root', 'tbf', 'rate', '2mbit', 'burst', '4000', 'limit', '1000000']);
    const ps = startPeers(tb, { mode: 'multicast', group: '239.255.77.10', port: 5602 }, [{ sendBufferBytes: 4608, maxQueuedDatagrams: 16 }], 100_000);
    await Promise.all(ps.map((p) => p.next('ready', 0)));
    const burst = 500;
    const [outcome] = await round([ps[0]!], burst);
    const accepted = outcome!.accepted ?? 0;
    expect(accepted).toBeGreaterThan(0);
    expect(outcome!.hwm).toBe(burst - accepted);
    const [, rx] = await settle(ps, (r) => (r === 1 ? accepted : 0));
    const [tx] = await Promise.all([ps[0]!.report()]);
    expect(rx!.accepted[hex(GMIS[0]!)]!.count).toBe(accepted);
    expect(rx!.drops).toEqual({});
    expect(tx!.counters.sent).toBe(accepted);
    expect(tx!.counters.dropped.hwm).toBe(burst - accepted);

    // Another burst, and the sender closes while its queue is full: what was still queued is
    // moved from sent to dropped.closed, so sent + dropped still adds up to what was offered.
    const mark = ps[0]!.events.length;
    ps[0]!.command(`go ${burst}`);
    ps[0]!.command('exit');
    const final = await ps[0]!.next('report', mark);
    const c = final.counters;
    expect(Object.values(c.dropped).reduce((a, b) => a + b, 0) + c.sent).toBe(2 * burst);
    expect(c.dropped.closed).toBeGreaterThan(0);
    expect(c.udp.lostInFlight).toBe(c.dropped.closed);
    expect(c.sent).toBeGreaterThan(accepted);
  });
});
