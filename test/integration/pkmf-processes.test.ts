/**
 * Done-when of issue 4, with real processes on loopback: two operators' PKMFs started with
 * `sl-bridge pkmf --config`, UEs fetching with `sl-bridge keys fetch`. A home UE, a roaming UE
 * (through the visited PKMF) and a subscriber of the second operator in a multi-operator group
 * get the same PGK ID and PGK with distinct GMIs; a PKMF killed with SIGKILL comes back with the
 * same PGKs and GMIs; a down home PKMF gives HOME_NETWORK_UNREACHABLE and the key client recovers.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyClient } from '../../bridge/pkmf/key-client.js';
import { loadUeKeyConfig } from '../../bridge/pkmf/ue-config.js';
import { FilePtkHighWaterStore, PTK_STATE_FILE } from '../../bridge/state/ptk-high-water-file.js';
import type { OperatorPki, PkmfProcess } from '../fixtures/pkmf-testbed.js';
import { BIN, freePort, issueUe, makeOperatorPki, OP1, OP2, pkmfConfigDoc, spawnPkmf, supiOf, tmpDir, writeYaml } from '../fixtures/pkmf-testbed.js';

const exec = promisify(execFile);
const GROUP = 0x0b0001; // owned by operator 1, open to operator 2's subscribers
const HOME_UE = supiOf(OP1, 1);
const ROAMING_UE = supiOf(OP1, 2); // operator 1 subscriber, served by operator 2's PKMF
const OTHER_OP_UE = supiOf(OP2, 1); // operator 2 subscriber, member of operator 1's group

interface FetchedGroup {
  groupId: string;
  gmi?: string;
  error?: string;
  pgks?: { pgkId: number; pgk: string; expiresAt: string }[];
}

let t: ReturnType<typeof tmpDir>;
let op1: OperatorPki;
let op2: OperatorPki;
let pkmf1: PkmfProcess;
let pkmf2: PkmfProcess;
let pkmf1Config: string;
const ueConfigs: Record<string, string> = {};

async function fetchKeys(supi: string): Promise<{ code: number; groups: FetchedGroup[]; servingPlmn?: string }> {
  try {
    const { stdout } = await exec(process.execPath, [BIN, 'keys', 'fetch', '--config', ueConfigs[supi]!, '--json', '--show-keys']);
    const j = JSON.parse(stdout) as { groups: FetchedGroup[]; servingPlmn: string };
    return { code: 0, groups: j.groups, servingPlmn: j.servingPlmn };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    if (!err.stdout) throw new Error(`keys fetch failed: ${err.stderr}`);
    return { code: err.code, groups: (JSON.parse(err.stdout) as { groups: FetchedGroup[] }).groups };
  }
}

beforeAll(async () => {
  t = tmpDir();
  op1 = await makeOperatorPki(join(t.dir, 'op1'), OP1);
  op2 = await makeOperatorPki(join(t.dir, 'op2'), OP2);
  const [ue1Port, peer1Port, ue2Port, peer2Port] = [await freePort(), await freePort(), await freePort(), await freePort()];

  pkmf1Config = writeYaml(
    join(t.dir, 'pkmf1.yaml'),
    pkmfConfigDoc(op1, join(t.dir, 'pkmf1.db'), {
      listen: { host: '127.0.0.1', port: ue1Port },
      peerListen: { host: '127.0.0.1', port: peer1Port },
      limits: { peerTimeoutSec: 2 },
      groups: [{ id: GROUP, nea: 2, nia: 2, members: [HOME_UE, ROAMING_UE, OTHER_OP_UE], operators: [OP2] }],
      peers: [{ plmn: OP2, url: `https://127.0.0.1:${peer2Port}`, ca: op2.caCert, roaming: true }],
    }),
  );
  const pkmf2Config = writeYaml(
    join(t.dir, 'pkmf2.yaml'),
    pkmfConfigDoc(op2, join(t.dir, 'pkmf2.db'), {
      listen: { host: '127.0.0.1', port: ue2Port },
      peerListen: { host: '127.0.0.1', port: peer2Port },
      limits: { peerTimeoutSec: 2 },
      peers: [{ plmn: OP1, url: `https://127.0.0.1:${peer1Port}`, ca: op1.caCert, roaming: true, groups: [GROUP] }],
    }),
  );
  [pkmf1, pkmf2] = await Promise.all([spawnPkmf(pkmf1Config), spawnPkmf(pkmf2Config)]);

  const ue = async (supi: string, op: OperatorPki, servingPort: number, servingCa: string): Promise<void> => {
    const f = await issueUe(op, supi);
    ueConfigs[supi] = writeYaml(join(t.dir, `${supi}.yaml`), {
      keys: {
        homePlmn: op.plmn,
        tls: { cert: f.certFile, key: f.keyFile, ca: servingCa },
        pkmf: { host: '127.0.0.1', port: servingPort, servername: 'localhost', requestTimeoutSec: 5 },
        groups: [{ id: GROUP, nea: [1, 2, 3], nia: [1, 2, 3] }],
        stateDir: join(t.dir, 'state', supi),
        refresh: { backoffBaseSec: 0.2, backoffMaxSec: 0.5, minDelaySec: 0.1 },
      },
    });
  };
  await ue(HOME_UE, op1, ue1Port, op1.caCert);
  await ue(ROAMING_UE, op1, ue2Port, op2.caCert);
  await ue(OTHER_OP_UE, op2, ue2Port, op2.caCert);
});

afterAll(async () => {
  await Promise.all([pkmf1?.kill(), pkmf2?.kill()]);
  t?.cleanup();
});

describe('two operators\' PKMFs as processes', () => {
  let before: Record<string, FetchedGroup>;

  it('home, roaming and other-operator UEs get the same PGK ID and PGK, with distinct GMIs', async () => {
    const [home, roaming, other] = await Promise.all([fetchKeys(HOME_UE), fetchKeys(ROAMING_UE), fetchKeys(OTHER_OP_UE)]);
    expect(home.servingPlmn).toBe(OP1);
    expect(roaming.servingPlmn).toBe(OP2);
    expect(other.servingPlmn).toBe(OP2);
    const groups = [home, roaming, other].map((r) => r.groups[0]!);
    for (const g of groups) {
      expect(g.error).toBeUndefined();
      expect(g.groupId).toBe('0b0001');
      expect(g.pgks).toHaveLength(1);
      expect(g.pgks![0]!.pgk).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(new Set(groups.map((g) => g.pgks![0]!.pgkId)).size).toBe(1);
    expect(new Set(groups.map((g) => g.pgks![0]!.pgk)).size).toBe(1);
    expect(new Set(groups.map((g) => g.gmi)).size).toBe(3);
    before = { [HOME_UE]: groups[0]!, [ROAMING_UE]: groups[1]!, [OTHER_OP_UE]: groups[2]! };
    // Neither PKMF logged an error, nor any key bytes.
    for (const p of [pkmf1, pkmf2]) {
      expect(p.output()).not.toContain('"level":50');
      expect(p.output()).not.toContain(groups[0]!.pgks![0]!.pgk);
      expect(p.output()).not.toContain(Buffer.from(groups[0]!.pgks![0]!.pgk, 'hex').toString('base64'));
    }
  });

  it('a PKMF killed with SIGKILL and restarted serves the same PGKs and GMIs', async () => {
    await pkmf1.kill('SIGKILL');
    pkmf1 = await spawnPkmf(pkmf1Config);
    const after = await Promise.all([HOME_UE, ROAMING_UE, OTHER_OP_UE].map((s) => fetchKeys(s)));
    [HOME_UE, ROAMING_UE, OTHER_OP_UE].forEach((supi, i) => {
      const g = after[i]!.groups[0]!;
      expect(g.gmi).toBe(before[supi]!.gmi);
      expect(g.pgks).toEqual(before[supi]!.pgks);
    });
  });

  it('with the home PKMF down, roaming UEs get HOME_NETWORK_UNREACHABLE and recover when it is back', async () => {
    await pkmf1.kill('SIGTERM');
    const [roaming, other] = await Promise.all([fetchKeys(ROAMING_UE), fetchKeys(OTHER_OP_UE)]);
    expect(roaming.code).toBe(1);
    expect(roaming.groups).toEqual([{ groupId: '0b0001', error: 'HOME_NETWORK_UNREACHABLE' }]);
    expect(other.groups).toEqual([{ groupId: '0b0001', error: 'OWNER_NETWORK_UNREACHABLE' }]);

    // The key client of the roaming UE keeps its (persisted) keys and retries with backoff.
    // Its PDCP state (where `keys fetch` claimed the GMI) is the ledger, as in the daemon.
    const config = loadUeKeyConfig(ueConfigs[ROAMING_UE]!);
    const ledger = new FilePtkHighWaterStore(join(config.stateDir, PTK_STATE_FILE));
    const client = new KeyClient(config, { logger: pino({ level: 'silent' }), ledger });
    const groupErrors: string[] = [];
    client.on('group-error', (e: { code: number }) => groupErrors.push(String(e.code)));
    await client.start();
    try {
      expect(client.current()[0]!.pgks[0]!.pgkId).toBe(before[ROAMING_UE]!.pgks![0]!.pgkId);
      expect(client.status().groups[0]).toMatchObject({ state: 'ok', error: 'HOME_NETWORK_UNREACHABLE' });
      await expect.poll(() => groupErrors.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(2); // retried
      pkmf1 = await spawnPkmf(pkmf1Config);
      await expect.poll(() => client.status().groups[0]!.error, { timeout: 15_000, interval: 100 }).toBeUndefined();
      expect(client.status().groups[0]!.state).toBe('ok');
      expect(client.current()[0]!.gmi.toString(16).padStart(6, '0')).toBe(before[ROAMING_UE]!.gmi);
    } finally {
      await client.stop();
      ledger.close();
    }
  });
});
