/**
 * Source authentication inside a group, end to end with real processes (`sl-bridge pkmf`,
 * `sl-bridge medium`, `sl-bridge run`; the demo through its CLI):
 *
 * (a) `demo --source-auth pairwise-mac | signature`: 3 UEs, one roaming (its keys relayed by the
 *     visited PKMF as JSON), every UE receives every other UE, zero drops.
 * (b) An insider: a member that fetched its own keys from the real PKMF (the key client in this
 *     process) and holds a radio on the medium forges PDUs in another member's name (and in a
 *     non-member's), with a COUNT far ahead. With `none` the receiving daemon delivers the
 *     forgery as the victim's and then drops the victim's real PDUs as replays (the attack, shown
 *     so the checks below can fail); with `pairwise-mac` and `signature` it refuses them
 *     (`bad-source-tag`, `unknown-member`) and keeps delivering the victim's real PDUs.
 * (c) Removal: the insider is taken out of the groups (PKMF config change and restart); once the
 *     others have refreshed, PDUs it builds under the keys it still holds, in its own name, fail
 *     the source check, where they passed before.
 * (d) Membership news: a key client asks again while the PKMF reports members not joined yet,
 *     and at once (backing off) when told PDUs from an unknown member arrived, not hours later.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoResult } from '../../bridge/demo/report.js';
import { KeyClient } from '../../bridge/pkmf/key-client.js';
import { ueKeyConfigFromObject } from '../../bridge/pkmf/ue-config.js';
import { createZmqStackTransport } from '../../bridge/transport/zmq-stack.js';
import type { StackTransport } from '../../bridge/transport/types.js';
import type { GroupKeyMaterial, SourceAuthMode } from '../../src/keys/types.js';
import { protectManually, type ManualKeys } from '../../src/pdcp/manual.js';
import { MemoryPtkHighWaterStore } from '../../src/pdcp/ptk-allocator.js';
import { hex24 } from '../../src/pkmf/identity.js';
import { DaemonProcess, TestApp, waitUntil } from '../fixtures/daemon-testbed.js';
import { Cleanups } from '../fixtures/integration-helpers.js';
import { BIN, freePort, issueUe, makeOperatorPki, OP1, pkmfConfigDoc, spawnPkmf, supiOf, tmpDir, writeYaml, type OperatorPki, type PkmfProcess } from '../fixtures/pkmf-testbed.js';
import { startMediumProcess, type MediumProcess } from '../fixtures/transport-medium-process.js';

const exec = promisify(execFile);
const t = tmpDir('slb-source-auth-');
afterAll(() => t.cleanup());

describe('sl-bridge demo --source-auth', () => {
  it.each(['pairwise-mac', 'signature'] as const)('%s: 3 UEs, one roaming, every UE receives every other UE with zero drops', async (mode) => {
    const json = join(t.dir, `demo-${mode}.json`);
    const { stdout } = await exec(process.execPath, [BIN, 'demo', '--ues', '3', '--seconds', '3', '--rate', '20', '--source-auth', mode, '--json', json], { timeout: 120_000 });
    expect(stdout).toContain(`source authentication ${mode}`);
    const r = JSON.parse(readFileSync(json, 'utf8')) as DemoResult;
    expect(r.ok, r.problems.join('; ')).toBe(true);
    expect(r.algorithms).toEqual({ nea: 2, nia: 2, profile: 'pcr', sourceAuth: mode });
    expect(r.securityDrops).toBe(0);
    expect(r.ues.map((u) => [u.id, u.roaming, u.servingPlmn, u.sourceAuth])).toEqual([
      ['ue1', false, '001-01', mode],
      ['ue2', false, '001-01', mode],
      ['ue3', true, '001-02', mode],
    ]);
    for (const u of r.ues) {
      expect(u.sent).toBeGreaterThan(0);
      expect(u.dropped).toEqual({});
      for (const o of r.ues.filter((x) => x !== u)) expect(u.receivedFrom[o.id], `${u.id} from ${o.id}`).toBe(o.sent);
    }
  });
});

// --- (b) and (c): real PKMF, medium and daemons; the insider in this process ------------------

const G_NONE = 0x0e1001;
const G_PAIRWISE = 0x0e1002;
const G_SIGNATURE = 0x0e1003;
const MODE_OF: Record<number, SourceAuthMode> = { [G_NONE]: 'none', [G_PAIRWISE]: 'pairwise-mac', [G_SIGNATURE]: 'signature' };
const GROUPS = [G_NONE, G_PAIRWISE, G_SIGNATURE];
const [VICTIM, RECEIVER, INSIDER] = [1, 2, 3].map((n) => supiOf(OP1, n)) as [string, string, string];
/** Not a GMI of anyone in the groups (the PKMF's GMIs are random: checked below). */
const STRANGER = 0x00beef;
/** A COUNT far ahead of anything the victim sent: accepted, it would move the victim's replay window past its real PDUs. */
const FORGED_PTK_ID = 0xfff0;

const cleanups = new Cleanups();
let op: OperatorPki;
let pkmfPort: number;
let pkmf: PkmfProcess;
let medium: MediumProcess;
let victim: DaemonProcess;
let receiver: DaemonProcess;
let victimApp: TestApp;
let receiverApp: TestApp;
let insiderKeys: KeyClient;
let radio: StackTransport;
/** The insider's keys, as fetched from the PKMF while it was a member. */
let held: Map<number, GroupKeyMaterial>;

function pkmfConfig(members: Record<number, string[]>): string {
  return writeYaml(
    join(t.dir, 'pkmf.yaml'),
    pkmfConfigDoc(op, join(t.dir, 'pkmf.db'), {
      listen: { host: '127.0.0.1', port: pkmfPort },
      // The daemons refresh every second here.
      limits: { ueRequestBurst: 100, ueRequestsPerMin: 6000 },
      groups: GROUPS.map((id) => ({ id: hex24(id), nea: 2, nia: 2, sourceAuth: MODE_OF[id], members: members[id] })),
    }),
  );
}

/** The `keys:` section of UE n: all three groups; refreshed at least every second (removal, test c). */
async function keysSection(n: number, supi: string): Promise<Record<string, unknown>> {
  const cert = await issueUe(op, supi, { out: join(t.dir, 'op1', `ue${n}`) });
  return {
    homePlmn: OP1,
    tls: { cert: cert.certFile, key: cert.keyFile, ca: op.caCert },
    pkmf: { host: '127.0.0.1', port: pkmfPort, servername: 'localhost', requestTimeoutSec: 3 },
    groups: GROUPS.map((id) => ({ id: hex24(id) })),
    stateDir: join(t.dir, 'state', `ue${n}`),
    refresh: { backoffBaseSec: 0.2, backoffMaxSec: 0.5, minDelaySec: 0.2, maxDelaySec: 1 },
  };
}

async function startDaemon(n: number, supi: string): Promise<DaemonProcess> {
  const name = `ue${n}`;
  const appEndpoint = `ipc://${join(t.dir, `${name}.sock`)}`;
  const config = writeYaml(join(t.dir, `${name}.yaml`), {
    ue: { name, stateDir: join(t.dir, 'state', name) },
    app: { endpoint: appEndpoint },
    stack: { endpoint: medium.endpoints[0] },
    groups: GROUPS.map(hex24),
    keys: await keysSection(n, supi),
  });
  return cleanups.add(name, new DaemonProcess({ name, supi, config, appEndpoint }), (d) => d.stop());
}

const groupOf = (d: DaemonProcess, groupId: number) => d.latest?.keys.groups.find((g) => g.groupId === hex24(groupId));
const gmiIn = (d: DaemonProcess, groupId: number): number => parseInt(groupOf(d, groupId)!.gmi!, 16);
const dropped = (d: DaemonProcess, reason: string): number => d.latest?.dropped[reason] ?? 0;

/** Every source-authenticated group's keys at `d` cover all `n` members. */
const knowsMembers = (d: DaemonProcess, n: number): boolean => [G_PAIRWISE, G_SIGNATURE].every((id) => groupOf(d, id)?.members === n);

/**
 * A PDU built by the insider under the keys it holds: in `asGmi`'s name (L2 source and inner GMI)
 * with the insider's own source-authentication keys, since it has no other member's: its pairwise
 * key with each recipient, its own signing seed.
 */
function forge(groupId: number, asGmi: number, ptkId: number, sn: number, text: string): Uint8Array {
  const m = held.get(groupId)!;
  const now = Date.now();
  const pgk = m.pgks.filter((p) => (p.activeFromMs ?? 0) <= now && p.expiresAtMs > now).sort((a, b) => b.pgkId - a.pgkId)[0]!;
  const keys: ManualKeys = { profile: m.profile, pgk: pgk.pgk, pgkId: pgk.pgkId, groupId, memberId: asGmi, nea: m.nea, nia: m.nia };
  if (m.sourceAuth?.mode === 'pairwise-mac') {
    // Its keys for everyone else, as if they were asGmi's (asGmi's own entry cannot be there).
    const pairwiseKeys = new Map([...pgk.pairwiseKeys!].filter(([gmi]) => gmi !== asGmi));
    if (asGmi !== m.gmi) pairwiseKeys.set(m.gmi, new Uint8Array(16).fill(0x42));
    keys.sourceAuth = { mode: 'pairwise-mac', pairwiseKeys };
  } else if (m.sourceAuth?.mode === 'signature') {
    // Its own seed; the forger's local view binds it to asGmi (the receivers' does not).
    keys.sourceAuth = { mode: 'signature', signingSeed: m.sourceAuth.signingSeed!, publicKeys: new Map([...m.sourceAuth.publicKeys].filter(([gmi]) => gmi !== asGmi)) };
  }
  return protectManually(keys, ptkId, sn, 1, new TextEncoder().encode(text));
}

function transmit(groupId: number, asGmi: number, pdu: Uint8Array): void {
  expect(radio.send({ l2SourceId: asGmi, l2DestinationId: groupId, castType: 'groupcast', pdu })).toBe('accepted');
}

/** SDUs `tag`:0..count-1 from the victim's application to `groupId`; resolves once the receiver's daemon counted them in (delivered or dropped). */
async function victimSends(groupId: number, tag: string, count: number): Promise<void> {
  const before = receiver.latest!.counters.envelopesIn;
  for (let i = 0; i < count; i++) expect(victimApp.send(tag, groupId).outcome).toBe('accepted');
  await receiver.waitFor((s) => s.counters.envelopesIn >= before + count, `${count} envelopes of ${tag}`);
  await receiver.fresh();
}

beforeAll(async () => {
  op = await makeOperatorPki(join(t.dir, 'op1'), OP1);
  pkmfPort = await freePort();
  const all = [VICTIM, RECEIVER, INSIDER];
  pkmf = cleanups.add('pkmf', await spawnPkmf(pkmfConfig({ [G_NONE]: all, [G_PAIRWISE]: all, [G_SIGNATURE]: all })), (p) => p.kill());
  medium = cleanups.add('medium', await startMediumProcess(['--endpoint', `ipc://${join(t.dir, 'medium.sock')}`]), (m) => {
    m.child.kill('SIGTERM');
    return m.exited;
  });
  victim = await startDaemon(1, VICTIM);
  receiver = await startDaemon(2, RECEIVER);
  await Promise.all([victim, receiver].map((d) => d.waitFor((s) => s.keys.ready && s.stack.linkUp, 'keys and the medium')));

  // The insider: its own keys from the PKMF (it is a member; its GMIs held like a daemon's), and a radio on the medium.
  insiderKeys = new KeyClient(ueKeyConfigFromObject(await keysSection(3, INSIDER), { file: 'insider.yaml' }), {
    logger: pino({ level: 'silent' }),
    ledger: new MemoryPtkHighWaterStore(),
  });
  cleanups.add('insider keys', insiderKeys, (k) => k.stop());
  await insiderKeys.start();
  radio = cleanups.add('insider radio', createZmqStackTransport({ role: 'connect', endpoint: medium.endpoints[0]! }), (r) => r.close());
  await radio.open({ frame: () => undefined, malformed: () => undefined, link: () => undefined });

  // Everyone knows everyone: the daemons learn the insider by asking again (it joined after them).
  await Promise.all([victim, receiver].map((d) => d.waitFor((s) => s.keys.ready && knowsMembers(d, 3), 'all three members')));
  held = new Map(insiderKeys.current().map((g) => [g.groupId, g]));
  for (const id of GROUPS) {
    expect(held.get(id)?.sourceAuth?.mode ?? 'none').toBe(MODE_OF[id]);
    expect([gmiIn(victim, id), gmiIn(receiver, id), held.get(id)!.gmi]).not.toContain(STRANGER);
  }
  victimApp = cleanups.add('victim app', await new TestApp(victim.ue.appEndpoint).open(), (a) => a.close());
  receiverApp = cleanups.add('receiver app', await new TestApp(receiver.ue.appEndpoint).open(), (a) => a.close());
  await waitUntil(() => victimApp.transport.linkUp && receiverApp.transport.linkUp && radio.linkUp, 'applications and the radio attached');
  // Real traffic first: the victim's PDUs reach the receiver in every group.
  for (const id of GROUPS) {
    await victimSends(id, `warm-${id}`, 3);
    await waitUntil(() => receiverApp.receivedFrom(`warm-${id}`).length === 3, `warm-up in group ${hex24(id)}`);
  }
}, 120_000);

afterAll(() => cleanups.run());

describe('an insider forging PDUs in another member\'s name (real PKMF, medium and daemons)', () => {
  it('none: the forgery is delivered as the victim\'s, and the victim\'s real PDUs that follow are dropped as replays', async () => {
    const a = gmiIn(victim, G_NONE);
    const replays = dropped(receiver, 'replay');
    transmit(G_NONE, a, forge(G_NONE, a, FORGED_PTK_ID, 0, 'forged-none:0:'));
    await waitUntil(() => receiverApp.receivedFrom('forged-none').length === 1, 'the forgery delivered');
    const delivery = receiverApp.deliveries.find((d) => new TextDecoder().decode(d.sdu).startsWith('forged-none:'))!;
    expect(hex24(delivery.senderGmi)).toBe(hex24(a));
    await victimSends(G_NONE, 'after-none', 5);
    expect(receiverApp.receivedFrom('after-none')).toEqual([]);
    expect(dropped(receiver, 'replay') - replays).toBe(5);
  });

  it.each([
    ['pairwise-mac', G_PAIRWISE],
    ['signature', G_SIGNATURE],
  ] as const)('%s: forgeries are refused (bad-source-tag in a member\'s name, unknown-member in a stranger\'s), and the victim\'s real PDUs are still delivered', async (mode, groupId) => {
    const a = gmiIn(victim, groupId);
    const before = { bad: dropped(receiver, 'bad-source-tag'), unknown: dropped(receiver, 'unknown-member'), replay: dropped(receiver, 'replay'), delivered: receiver.latest!.counters.delivered };
    transmit(groupId, a, forge(groupId, a, FORGED_PTK_ID, 0, `forged-${mode}:0:`));
    transmit(groupId, STRANGER, forge(groupId, STRANGER, FORGED_PTK_ID, 0, `forged-${mode}:1:`));
    await receiver.waitFor((s) => (s.dropped['bad-source-tag'] ?? 0) === before.bad + 1 && (s.dropped['unknown-member'] ?? 0) === before.unknown + 1, 'both forgeries refused');
    expect(receiverApp.receivedFrom(`forged-${mode}`)).toEqual([]);
    expect(receiver.latest!.counters.delivered).toBe(before.delivered);
    // Refused before the replay window: the victim's next PDUs all arrive.
    await victimSends(groupId, `after-${mode}`, 5);
    await waitUntil(() => receiverApp.receivedFrom(`after-${mode}`).length === 5, `the victim's PDUs after the forgery (${mode})`);
    expect(dropped(receiver, 'replay')).toBe(before.replay);
  });
});

describe('a member removed from the group (PKMF config change and restart)', () => {
  it('can no longer produce PDUs that pass the source check at the others, once they refreshed', async () => {
    const own = (groupId: number, sn: number, tag: string): Uint8Array => forge(groupId, held.get(groupId)!.gmi, 1, sn, `${tag}:${sn}:`);
    await insiderKeys.stop(); // it keeps the keys it holds (`held`)
    // Still a member: its PDUs in its own name pass.
    for (const id of [G_PAIRWISE, G_SIGNATURE]) transmit(id, held.get(id)!.gmi, own(id, 0, `member-${id}`));
    await waitUntil(() => [G_PAIRWISE, G_SIGNATURE].every((id) => receiverApp.receivedFrom(`member-${id}`).length === 1), "the insider's own PDUs while a member").catch((e: Error) => {
      throw new Error(`${e.message}; the receiver dropped ${JSON.stringify(receiver.latest?.dropped)}`);
    });

    await pkmf.kill();
    const remaining = [VICTIM, RECEIVER];
    pkmf = cleanups.add('pkmf (restarted)', await spawnPkmf(pkmfConfig({ [G_NONE]: [VICTIM, RECEIVER, INSIDER], [G_PAIRWISE]: remaining, [G_SIGNATURE]: remaining })), (p) => p.kill());
    await Promise.all([victim, receiver].map((d) => d.waitFor(() => knowsMembers(d, 2), 'the removal, after a refresh', 20_000)));

    const unknown = dropped(receiver, 'unknown-member');
    for (const id of [G_PAIRWISE, G_SIGNATURE]) transmit(id, held.get(id)!.gmi, own(id, 1, `removed-${id}`));
    await receiver.waitFor((s) => (s.dropped['unknown-member'] ?? 0) === unknown + 2, "the removed member's PDUs refused");
    for (const id of [G_PAIRWISE, G_SIGNATURE]) expect(receiverApp.receivedFrom(`removed-${id}`)).toEqual([]);
    // The remaining members still talk.
    for (const id of [G_PAIRWISE, G_SIGNATURE]) {
      await victimSends(id, `remaining-${id}`, 3);
      await waitUntil(() => receiverApp.receivedFrom(`remaining-${id}`).length === 3, `the victim after the removal (${MODE_OF[id]})`);
    }
  });
});

describe('members learned as they join or take a fresh GMI (key clients against a real PKMF)', () => {
  it('asks again while members are pending, and soon after refreshSoon(), backing off while nothing changes', async () => {
    const [x, y] = [supiOf(OP1, 11), supiOf(OP1, 12)];
    const group = 0x0e1004;
    const own = await spawnPkmf(
      writeYaml(join(t.dir, 'pkmf-d.yaml'), pkmfConfigDoc(op, join(t.dir, 'pkmf-d.db'), { groups: [{ id: hex24(group), sourceAuth: 'pairwise-mac', members: [x, y] }] })),
    );
    cleanups.add('pkmf (d)', own, (p) => p.kill());
    /** The clock reading of the client's last decision. */
    let lastNow = 0;
    const client = async (n: number, supi: string): Promise<KeyClient> => {
      const keys: Record<string, unknown> = { ...(await keysSection(n, supi)), groups: [{ id: hex24(group) }], pkmf: { host: '127.0.0.1', port: own.uePort, servername: 'localhost' } };
      // Default refresh bounds (the next rollover is hours away); backoff from 2 s. Random 0.5:
      // the n-th backoff is exactly 0.75 * 2 s * 2^(n-1).
      keys.refresh = { backoffBaseSec: 2, backoffMaxSec: 30 };
      const now = (): number => (lastNow = Date.now());
      const c = new KeyClient(ueKeyConfigFromObject(keys, { file: `ue${n}.yaml` }), { logger: pino({ level: 'silent' }), ledger: new MemoryPtkHighWaterStore(), random: () => 0.5, now });
      return cleanups.add(`key client ${n}`, c, (k) => k.stop());
    };
    const peersOf = (c: KeyClient): number[] => [...(c.current()[0]?.pgks[0]?.pairwiseKeys?.keys() ?? [])];
    const sinceLastAttempt = (c: KeyClient): number => c.status().nextAttemptAtMs! - c.status().lastAttemptMs!;
    /** refreshSoon() schedules the next ask `delayMs` after the last one (or now, if that is past). */
    const refreshSoonAfter = (c: KeyClient, delayMs: number): void => {
      c.refreshSoon();
      expect(c.status().nextAttemptAtMs).toBe(Math.max(lastNow, c.status().lastAttemptMs! + delayMs));
    };

    const cx = await client(11, x);
    await cx.start();
    expect(peersOf(cx)).toEqual([]); // alone: y has not asked yet (pending)
    expect(sinceLastAttempt(cx)).toBeLessThan(60_000); // asks again soon (1.5 s after the answer), not at the rollover
    const cy = await client(12, y);
    await cy.start();
    const yGmi = cy.current()[0]!.gmi;
    await waitUntil(() => peersOf(cx).includes(yGmi), 'x learns y while y is pending', 20_000);
    // Nobody pending any more: the next ask is the rollover's, hours away.
    await waitUntil(() => sinceLastAttempt(cx) > 3600_000, 'x back on its rollover schedule');

    // y loses its state: a fresh GMI, which x has no reason to ask about...
    await cy.stop();
    const cy2 = await client(13, y);
    await cy2.start();
    const yGmi2 = cy2.current()[0]!.gmi;
    expect(yGmi2).not.toBe(yGmi);
    expect(sinceLastAttempt(cx)).toBeGreaterThan(3600_000);
    // ...until its PDUs arrive unknown and the daemon calls refreshSoon().
    refreshSoonAfter(cx, 1500);
    await waitUntil(() => peersOf(cx).includes(yGmi2), "x learns y's fresh GMI", 20_000);
    expect(peersOf(cx)).not.toContain(yGmi);
    // Asked again and nothing new came (a removed member that keeps sending): the delay doubles.
    const asked = cx.status().lastAttemptMs;
    refreshSoonAfter(cx, 1500);
    await waitUntil(() => cx.status().lastAttemptMs !== asked && sinceLastAttempt(cx) > 3600_000, 'the second ask', 20_000);
    refreshSoonAfter(cx, 3000);
  });
});
