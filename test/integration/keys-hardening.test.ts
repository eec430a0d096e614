/**
 * The key client against a real PKMF over TLS on loopback, attacked through its answers:
 * - downgrade: a PKMF the UE trusts (any roaming partner's, through a visited network) answers a
 *   group with integrity off, or as lte-prose, or allowing null algorithms: the UE refuses it,
 *   counts it, and sends nothing on the group (src/pkmf/policy.ts);
 * - fresh GMI on state loss: every request carries the GMI the PTK state holds (held_gmi); a UE
 *   without PTK state gets a GMI never used before, the old one is retired at the PKMF, and keys
 *   persisted for a GMI the PTK state does not hold are not used again.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pkmfConfigFromObject } from '../../bridge/pkmf/config.js';
import { KeyClient } from '../../bridge/pkmf/key-client.js';
import { startPkmf, type RunningPkmf } from '../../bridge/pkmf/server.js';
import { PkmfStore } from '../../bridge/pkmf/store.js';
import { ueKeyConfigFromObject, type UeKeyConfig } from '../../bridge/pkmf/ue-config.js';
import { FilePtkHighWaterStore } from '../../bridge/state/ptk-high-water-file.js';
import type { GroupKeyMaterial } from '../../src/keys/types.js';
import { MemoryPtkHighWaterStore } from '../../src/pdcp/ptk-allocator.js';
import { policyViolation } from '../../src/pkmf/policy.js';
import type { OperatorPki } from '../fixtures/pkmf-testbed.js';
import { BIN, issueUe, makeOperatorPki, OP1, pkmfConfigDoc, supiOf, tmpDir, writeYaml } from '../fixtures/pkmf-testbed.js';

const GROUP = 0x0d0001;
const silent = pino({ level: 'silent' });
const supi = supiOf(OP1, 7);

let t: ReturnType<typeof tmpDir>;
let op1: OperatorPki;
let ueTls: { cert: string; key: string };
const started: RunningPkmf[] = [];
const clients: KeyClient[] = [];
const stores: FilePtkHighWaterStore[] = [];

beforeAll(async () => {
  t = tmpDir('slb-keys-hardening-');
  op1 = await makeOperatorPki(join(t.dir, 'op1'), OP1);
  const f = await issueUe(op1, supi);
  ueTls = { cert: f.certFile, key: f.keyFile };
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.stop()));
  await Promise.all(started.splice(0).map((s) => s.close()));
  for (const s of stores.splice(0)) s.close();
});
afterAll(() => t?.cleanup());

async function pkmf(name: string, group: Record<string, unknown>): Promise<RunningPkmf> {
  const config = pkmfConfigFromObject(
    pkmfConfigDoc(op1, join(t.dir, `${name}.db`), {
      listen: { host: '127.0.0.1', port: 0 },
      groups: [{ id: GROUP, members: [supi], ...group }],
    }),
  );
  const p = await startPkmf(config, { logger: silent });
  started.push(p);
  return p;
}

function ueConfig(name: string, port: number, group: Record<string, unknown> = {}): UeKeyConfig {
  return ueKeyConfigFromObject(
    {
      homePlmn: OP1,
      tls: { ...ueTls, ca: op1.caCert },
      pkmf: { host: '127.0.0.1', port, servername: 'localhost', requestTimeoutSec: 5 },
      groups: [{ id: GROUP, ...group }],
      stateDir: join(t.dir, 'state', name),
    },
    { file: `${name}.yaml` },
  );
}

function client(config: UeKeyConfig, opts: ConstructorParameters<typeof KeyClient>[1] = {}): KeyClient {
  const c = new KeyClient(config, { logger: silent, ...opts });
  clients.push(c);
  return c;
}

describe('the UE algorithm policy refuses a downgrade by the PKMF', () => {
  const downgrades: [string, Record<string, unknown>][] = [
    ['integrity off (pcr)', { nea: 2, nia: 'off', allowNoIntegrity: true }],
    ['profile lte-prose (no integrity)', { profile: 'lte-prose', nea: 2, allowNoIntegrity: true }],
  ];
  for (const [what, group] of downgrades) {
    it(`${what}: not installed, counted, the group reported refused; accepted only when the UE config allows it`, async () => {
      const server = await pkmf(`downgrade-${what.length}`, group);
      const c = client(ueConfig('downgrade', server.ueAddress.port), { ledger: new MemoryPtkHighWaterStore() });
      const seen: GroupKeyMaterial[][] = [];
      c.on('keys', (k: GroupKeyMaterial[]) => seen.push(k));
      const report = await c.fetchOnce();
      expect(report.ok).toBe(true); // the PKMF answered; the UE refused the answer
      expect(c.current()).toEqual([]);
      expect(seen.flat()).toEqual([]);
      const st = c.status();
      expect(st.policyRefusals).toBe(1);
      expect(st.groups).toEqual([{ groupId: GROUP, state: 'error', error: expect.stringMatching(/^REFUSED_BY_UE: .*integrity/) }]);

      const allowed = client(ueConfig('downgrade-allowed', server.ueAddress.port, { allowNoIntegrity: true }), { ledger: new MemoryPtkHighWaterStore() });
      await allowed.fetchOnce();
      expect(allowed.current().map((g) => g.nia)).toEqual([null]);
      expect(allowed.status().policyRefusals).toBe(0);
    });
  }

  it('the policy check itself: ciphering or integrity not offered, null algorithms, integrity off', () => {
    const base = { supportedNea: [1, 2, 3] as const, supportedNia: [2] as const, allowNoIntegrity: false, allowNullAlgorithms: false };
    const material = (m: Partial<GroupKeyMaterial>): GroupKeyMaterial => ({ groupId: GROUP, gmi: 5, nea: 2, nia: 2, profile: 'pcr', pgks: [], ...m });
    const policy = { ...base, supportedNea: [...base.supportedNea], supportedNia: [...base.supportedNia] };
    expect(policyViolation(material({}), policy)).toBeUndefined();
    expect(policyViolation(material({ nea: 0 }), policy)).toMatch(/NEA0.*did not offer/);
    expect(policyViolation(material({ nia: 1 }), policy)).toMatch(/NIA1.*did not offer/);
    expect(policyViolation(material({ nia: 0 }), policy)).toMatch(/NIA0/);
    expect(policyViolation(material({ nia: null }), policy)).toMatch(/integrity off/);
    expect(policyViolation(material({ profile: 'lte-prose', nia: null }), policy)).toMatch(/integrity off \(profile lte-prose\)/);
    expect(policyViolation(material({ allowNullAlgorithms: true }), policy)).toMatch(/null algorithms/);
    expect(policyViolation(material({ nia: null }), { ...policy, allowNoIntegrity: true })).toBeUndefined();
    expect(policyViolation(material({ allowNullAlgorithms: true }), { ...policy, allowNullAlgorithms: true })).toBeUndefined();
  });

  it('a UE config listing NEA0 or NIA0 without allowNullAlgorithms is refused with the key named', () => {
    expect(() => ueConfig('null-nea', 1, { nea: [0, 2] })).toThrow(/groups\[0\]\.nea.*allowNullAlgorithms/);
    expect(() => ueConfig('null-nia', 1, { nia: [0] })).toThrow(/groups\[0\]\.nia.*allowNullAlgorithms/);
    expect(ueConfig('null-ok', 1, { nea: [0, 2], allowNullAlgorithms: true }).groups[0]!.supportedNea).toEqual([0, 2]);
  });
});

describe('UE credentials checked at load time', () => {
  it('a tls.key that is not the key of tls.cert is a config error naming the key (it used to start and retry forever)', async () => {
    const other = await issueUe(op1, supiOf(OP1, 8));
    const doc = (key: string): unknown => ({
      homePlmn: OP1,
      tls: { cert: ueTls.cert, key, ca: op1.caCert },
      pkmf: { host: '127.0.0.1', port: 1, servername: 'localhost' },
      groups: [{ id: GROUP }],
      stateDir: join(t.dir, 'state', 'mismatch'),
    });
    expect(() => ueKeyConfigFromObject(doc(other.keyFile), { file: 'ue.yaml' })).toThrow(/ue\.yaml: keys\.tls\.key: expected the private key of the certificate/);
    expect(() => ueKeyConfigFromObject(doc(op1.caCert), { file: 'ue.yaml' })).toThrow(/keys\.tls\.key: expected a PEM private key/);
    expect(ueKeyConfigFromObject(doc(ueTls.key), { file: 'ue.yaml' }).supi).toBe(supi);
    // Through the CLI: exit status 2 and the same message.
    const file = writeYaml(join(t.dir, 'mismatch.yaml'), { keys: doc(other.keyFile) });
    const r = spawnSync(process.execPath, [BIN, 'keys', 'fetch', '--config', file], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/keys\.tls\.key: expected the private key of the certificate/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack
  });
});

describe('fresh GMI when the PTK state is lost', () => {
  it('held_gmi keeps the GMI; a UE without PTK state gets a GMI never used before and the old one is retired', async () => {
    const server = await pkmf('gmi', { nea: 2, nia: 2 });
    const config = ueConfig('gmi', server.ueAddress.port);
    const ledger = new MemoryPtkHighWaterStore();
    const first = client(config, { ledger });
    await first.fetchOnce();
    const gmi = first.current()[0]!.gmi;
    expect(ledger.heldGmi(GROUP)).toBe(gmi); // claimed before use
    await first.fetchOnce();
    expect(first.current()[0]!.gmi).toBe(gmi); // held_gmi said so: kept

    // The state directory is lost: a new ledger, no persisted keys.
    rmSync(config.stateDir, { recursive: true, force: true });
    const again = client(config, { ledger: new MemoryPtkHighWaterStore() });
    await again.fetchOnce();
    const fresh = again.current()[0]!.gmi;
    expect(fresh).not.toBe(gmi);

    // And the first device, which still holds its state: never handed the fresh GMI, nor its old
    // one back (retired); it gets a third one.
    await first.fetchOnce();
    const third = first.current()[0]!.gmi;
    expect([gmi, fresh]).not.toContain(third);
    expect(ledger.heldGmi(GROUP)).toBe(third);
    await server.close();
    started.splice(started.indexOf(server), 1);
    const db = PkmfStore.open(join(t.dir, 'gmi.db'));
    expect(db.gmiOf(GROUP, supi)).toBe(third);
    expect(db.retiredGmiCount(GROUP)).toBe(2);
    db.close();
  });

  it('keys persisted for a GMI the PTK state does not hold are not used after a restart', async () => {
    const server = await pkmf('persisted', { nea: 2, nia: 2 });
    const config = ueConfig('persisted', server.ueAddress.port);
    const stateFile = join(config.stateDir, 'ptk-high-water.json');
    const store = new FilePtkHighWaterStore(stateFile);
    stores.push(store);
    const c = client(config, { ledger: store });
    await c.start();
    await c.stop();
    const gmi = c.current()[0]!.gmi;
    expect(store.heldGmi(GROUP)).toBe(gmi);
    store.close();
    stores.splice(0);
    await server.close();
    started.splice(0);

    // Same state directory: the persisted keys are used again (the PKMF is down).
    const same = new FilePtkHighWaterStore(stateFile);
    stores.push(same);
    const back = client(config, { ledger: same });
    await back.start();
    expect(back.current().map((g) => g.gmi)).toEqual([gmi]);
    await back.stop();
    same.close();
    stores.splice(0);

    // The PTK state lost, keys.json kept (e.g. restored from an older backup): not used.
    rmSync(stateFile);
    const lost = new FilePtkHighWaterStore(stateFile);
    stores.push(lost);
    const after = client(config, { ledger: lost });
    await after.start();
    expect(after.current()).toEqual([]);
  });
});
