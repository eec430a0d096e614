/**
 * The demo's testbed, written into a temporary directory: two operators' PKIs, a home and a
 * visited PKMF config (roaming agreement both ways), and one UE config per UE. UE 1..N-1 are
 * subscribers of the home operator served at home; UE N is a home subscriber roaming in the
 * visited network, so its keys come through the visited PKMF (which asks the home PKMF).
 */
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { hex24 } from '../../src/pkmf/identity.js';
import { issueUe, makeOperatorPki, writeYaml, type OperatorPki } from '../pkmf/testbed.js';

export const HOME_PLMN = '001-01';
export const VISITED_PLMN = '001-02';
/** The demo's ranging group, owned by the home operator. */
export const DEMO_GROUP = 0x0d0001;
export const DEMO_NEA = 2;
export const DEMO_NIA = 2;

export interface DemoUe {
  /** ue1, ue2, ... */
  id: string;
  supi: string;
  roaming: boolean;
  homePlmn: string;
  servingPlmn: string;
  config: string;
  appEndpoint: string;
  logFile: string;
}

export interface DemoPkmf {
  name: 'pkmf-home' | 'pkmf-visited';
  plmn: string;
  config: string;
  logFile: string;
}

export interface DemoTestbed {
  dir: string;
  pkmfs: DemoPkmf[];
  mediumEndpoint: string;
  mediumStatsFile: string;
  mediumLog: string;
  ues: DemoUe[];
}

/** A TCP port on 127.0.0.1 free a moment ago (the PKMFs must know each other's ports up front). */
export function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolvePromise(port));
    });
  });
}

export function supiOf(plmn: string, n: number): string {
  return `imsi-${plmn.replace('-', '')}${String(n).padStart(10, '0')}`;
}

export async function writeDemoTestbed(dir: string, ueCount: number): Promise<DemoTestbed> {
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const [home, visited] = await Promise.all([makeOperatorPki(join(dir, 'pki-home'), HOME_PLMN), makeOperatorPki(join(dir, 'pki-visited'), VISITED_PLMN)]);
  const ports = { homeUe: await freePort(), homePeer: await freePort(), visitedUe: await freePort(), visitedPeer: await freePort() };
  const ues = Array.from({ length: ueCount }, (_, i) => {
    const n = i + 1;
    const roaming = ueCount >= 2 && n === ueCount;
    return { n, id: `ue${n}`, supi: supiOf(HOME_PLMN, n), roaming };
  });

  const pkmf = (op: OperatorPki, name: DemoPkmf['name'], doc: Record<string, unknown>): DemoPkmf => ({
    name,
    plmn: op.plmn,
    logFile: join(dir, 'logs', `${name}.log`),
    config: writeYaml(join(dir, `${name}.yaml`), {
      plmn: op.plmn,
      database: join(dir, `${name}.db`),
      tls: { cert: op.pkmfCert, key: op.pkmfKey, ca: op.caCert },
      logLevel: 'info',
      limits: { peerTimeoutSec: 3 },
      ...doc,
    }),
  });
  const pkmfs = [
    pkmf(home, 'pkmf-home', {
      listen: { host: '127.0.0.1', port: ports.homeUe },
      peerListen: { host: '127.0.0.1', port: ports.homePeer },
      groups: [{ id: DEMO_GROUP, nea: DEMO_NEA, nia: DEMO_NIA, profile: 'pcr', members: ues.map((u) => u.supi) }],
      peers: [{ plmn: VISITED_PLMN, url: `https://127.0.0.1:${ports.visitedPeer}`, ca: visited.caCert, roaming: true }],
    }),
    pkmf(visited, 'pkmf-visited', {
      listen: { host: '127.0.0.1', port: ports.visitedUe },
      peerListen: { host: '127.0.0.1', port: ports.visitedPeer },
      peers: [{ plmn: HOME_PLMN, url: `https://127.0.0.1:${ports.homePeer}`, ca: home.caCert, roaming: true }],
    }),
  ];

  const mediumEndpoint = `ipc://${join(dir, 'medium.sock')}`;
  const demoUes: DemoUe[] = [];
  for (const u of ues) {
    const cert = await issueUe(home, u.supi, { out: join(dir, 'pki-home', u.id) });
    const serving = u.roaming ? { op: visited, port: ports.visitedUe } : { op: home, port: ports.homeUe };
    const appEndpoint = `ipc://${join(dir, `${u.id}.sock`)}`;
    const config = writeYaml(join(dir, `${u.id}.yaml`), {
      ue: { name: u.id, stateDir: join(dir, 'state', u.id) },
      app: { endpoint: appEndpoint },
      stack: { endpoint: mediumEndpoint },
      groups: [hex24(DEMO_GROUP)],
      keys: {
        homePlmn: HOME_PLMN,
        tls: { cert: cert.certFile, key: cert.keyFile, ca: serving.op.caCert },
        pkmf: { host: '127.0.0.1', port: serving.port, servername: 'localhost', requestTimeoutSec: 5 },
        groups: [{ id: hex24(DEMO_GROUP), nea: [1, 2, 3], nia: [1, 2, 3] }],
        stateDir: join(dir, 'state', u.id),
        // A PKMF that is not up yet is retried quickly.
        refresh: { backoffBaseSec: 0.2, backoffMaxSec: 1 },
      },
    });
    demoUes.push({ id: u.id, supi: u.supi, roaming: u.roaming, homePlmn: HOME_PLMN, servingPlmn: serving.op.plmn, config, appEndpoint, logFile: join(dir, 'logs', `${u.id}.log`) });
  }
  return { dir, pkmfs, mediumEndpoint, mediumStatsFile: join(dir, 'medium-stats.json'), mediumLog: join(dir, 'logs', 'medium.log'), ues: demoUes };
}
