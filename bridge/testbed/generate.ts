/**
 * A whole local testbed written into a directory: each operator's PKI (CA, PKMF certificate, UE
 * certificates), one PKMF config per operator (every pair of operators with a roaming agreement,
 * the group owned by operator 1 and open to the other operators' subscribers), and one UE config
 * per UE. `sl-bridge init` writes one for people (relative paths, fixed ports from a base, TCP
 * endpoints; with `host`, the medium and the PKMFs on that machine's address, so daemons on other
 * hosts reach them: docs/deployment.md); the demo and `bench e2e` write one for a run (absolute
 * paths, free ports, IPC endpoints).
 *
 * UEs are subscribers of operator 1, or (`spread`) UE i's of operator ((i - 1) mod K) + 1 (members
 * of a multi-operator group). With `roaming`, the last UE is served by the next operator's PKMF
 * (its keys come through that visited PKMF, which asks the home one).
 */
import { mkdirSync } from 'node:fs';
import { createServer, isIPv4 } from 'node:net';
import { join, relative } from 'node:path';
import type { SourceAuthMode } from '../../src/keys/types.js';
import { hex24 } from '../../src/pkmf/identity.js';
import { issueUe, makeOperatorPki, writeYaml, type OperatorPki } from '../pkmf/testbed.js';
import { LOOPBACK_HOST, testbedHostProblem } from './host.js';

/** The testbed's ranging group, owned by operator 1. */
export const TESTBED_GROUP = 0x0d0001;
export const TESTBED_NEA = 2;
export const TESTBED_NIA = 2;
export const MAX_OPERATORS = 9;

export interface TestbedUe {
  /** ue1, ue2, ... */
  id: string;
  supi: string;
  roaming: boolean;
  homePlmn: string;
  servingPlmn: string;
  config: string;
  appEndpoint: string;
  /** `HOST:PORT` for `run --metrics` (fixed-port testbeds only). */
  metrics?: string;
  logFile: string;
}

export interface TestbedPkmf {
  /** pkmf-op1, pkmf-op2, ... */
  name: string;
  plmn: string;
  config: string;
  /** `HOST:PORT` for `pkmf --metrics` (fixed-port testbeds only). */
  metrics?: string;
  logFile: string;
}

export interface Testbed {
  dir: string;
  profile: string;
  group: number;
  pkmfs: TestbedPkmf[];
  mediumEndpoint: string;
  /** `HOST:PORT` for `medium --metrics` (fixed-port testbeds only). */
  mediumMetrics?: string;
  mediumStatsFile: string;
  mediumLog: string;
  ues: TestbedUe[];
}

export interface TestbedOptions {
  dir: string;
  ues: number;
  /** Operators (PKMFs), at least 1; `roaming` needs 2. */
  operators: number;
  roaming: boolean;
  /** UEs spread over the operators as home subscribers (else all of operator 1). */
  spread: boolean;
  /** The daemons' hw-profile (name or file); its `transport.endpoint` is overridden by the medium's. */
  profile?: string;
  /**
   * `base`: fixed ports from a base (medium base, operator k's PKMF base + 10k / + 10k + 1, UE i's
   * application base + 100 + i and metrics base + 200 + i, the medium's metrics base + 300,
   * operator k's PKMF metrics base + 300 + k), TCP endpoints, paths relative to DIR.
   * `free`: ports free a moment ago, IPC endpoints in DIR, absolute paths.
   */
  ports: { base: number } | 'free';
  /**
   * The group's source authentication (default none); with a mode, every UE also requires it
   * (`keys.groups[].sourceAuth`), so a PKMF answering without it is refused.
   */
  sourceAuth?: SourceAuthMode;
  /**
   * Address of the machine running the medium and the PKMFs (fixed ports only; default
   * 127.0.0.1): they listen on it, daemons and peer PKMFs dial it, and every PKMF certificate
   * names it (IP or DNS SAN, beside localhost, 127.0.0.1 and ::1), so a UE checks the PKMF
   * against the address it dials.
   */
  host?: string;
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

export function plmnOf(operator: number): string {
  return `001-${String(operator).padStart(2, '0')}`;
}

export function supiOf(plmn: string, n: number): string {
  return `imsi-${plmn.replace('-', '')}${String(n).padStart(10, '0')}`;
}

/** The highest port a fixed-port testbed of this size uses. */
export function lastPort(base: number, ues: number, operators: number): number {
  return Math.max(base + 10 * operators + 1, base + 200 + ues, base + 300 + operators);
}

export async function writeTestbed(o: TestbedOptions): Promise<Testbed> {
  if (!Number.isInteger(o.operators) || o.operators < 1 || o.operators > MAX_OPERATORS) throw new RangeError(`operators: expected 1 to ${MAX_OPERATORS}`);
  if (o.roaming && o.operators < 2) throw new RangeError('roaming needs at least 2 operators');
  const { dir } = o;
  const fixed = o.ports !== 'free';
  const base = o.ports === 'free' ? 0 : o.ports.base;
  const host = o.host ?? LOOPBACK_HOST;
  const hostProblem = testbedHostProblem(host);
  if (hostProblem !== undefined) throw new RangeError(`host: ${hostProblem}`);
  if (!fixed && host !== LOOPBACK_HOST) throw new RangeError('host: only with fixed ports (IPC endpoints do not leave the machine)');
  const remote = host !== LOOPBACK_HOST;
  // The loopback names stay, so the same PKI also serves a daemon on the medium's machine that dials 127.0.0.1.
  const pkmfNames = remote ? (isIPv4(host) ? { ips: [host, LOOPBACK_HOST, '::1'] } : { dns: [host, 'localhost'] }) : {};
  /** How a config refers to a file in the testbed. */
  const ref = (file: string): string => (fixed ? relative(dir, file) || '.' : file);
  const port = async (offset: number): Promise<number> => (fixed ? base + offset : freePort());
  mkdirSync(join(dir, 'logs'), { recursive: true });

  const ops: { k: number; pki: OperatorPki; uePort: number; peerPort: number }[] = [];
  for (let k = 1; k <= o.operators; k++) {
    const pki = await makeOperatorPki(join(dir, 'pki', `op${k}`), plmnOf(k), pkmfNames);
    ops.push({ k, pki, uePort: await port(10 * k), peerPort: await port(10 * k + 1) });
  }
  const owner = ops[0]!;
  const ues = Array.from({ length: o.ues }, (_, i) => {
    const n = i + 1;
    const home = o.spread ? ops[i % ops.length]! : owner;
    const roaming = o.roaming && n === o.ues;
    const serving = roaming ? ops[home.k % ops.length]! : home;
    // Numbered per operator, so the SUPIs of one operator are 1, 2, ...
    const supi = supiOf(home.pki.plmn, o.spread ? Math.floor(i / ops.length) + 1 : n);
    return { n, id: `ue${n}`, supi, home, serving, roaming };
  });
  const others = ops.slice(1).map((op) => op.pki.plmn);
  const sourceAuth = o.sourceAuth ?? 'none';

  const pkmfs = ops.map((op): TestbedPkmf => {
    const name = `pkmf-op${op.k}`;
    const peers = ops
      .filter((p) => p !== op)
      .map((p) => ({
        plmn: p.pki.plmn,
        url: `https://${host}:${p.peerPort}`,
        ca: ref(p.pki.caCert),
        roaming: true,
        ...(p === owner ? { groups: [hex24(TESTBED_GROUP)] } : {}),
      }));
    const doc: Record<string, unknown> = {
      plmn: op.pki.plmn,
      database: ref(join(dir, 'state', `${name}.db`)),
      listen: { host, port: op.uePort },
      peerListen: { host, port: op.peerPort },
      tls: { cert: ref(op.pki.pkmfCert), key: ref(op.pki.pkmfKey), ca: ref(op.pki.caCert) },
      logLevel: 'info',
      limits: { peerTimeoutSec: 3 },
      ...(op === owner
        ? {
            groups: [
              {
                id: hex24(TESTBED_GROUP),
                nea: TESTBED_NEA,
                nia: TESTBED_NIA,
                profile: 'pcr',
                members: ues.map((u) => u.supi),
                ...(others.length > 0 ? { operators: others } : {}),
                ...(sourceAuth === 'none' ? {} : { sourceAuth }),
              },
            ],
          }
        : {}),
      ...(peers.length > 0 ? { peers } : {}),
    };
    mkdirSync(join(dir, 'state'), { recursive: true });
    return {
      name,
      plmn: op.pki.plmn,
      config: writeYaml(join(dir, `${name}.yaml`), doc),
      ...(fixed ? { metrics: `127.0.0.1:${base + 300 + op.k}` } : {}),
      logFile: join(dir, 'logs', `${name}.log`),
    };
  });

  const mediumEndpoint = fixed ? `tcp://${host}:${base}` : `ipc://${join(dir, 'medium.sock')}`;
  const testbedUes: TestbedUe[] = [];
  for (const u of ues) {
    const cert = await issueUe(u.home.pki, u.supi, { out: join(dir, 'pki', `op${u.home.k}`, u.id) });
    const appEndpoint = fixed ? `tcp://127.0.0.1:${base + 100 + u.n}` : `ipc://${join(dir, `${u.id}.sock`)}`;
    const stateDir = ref(join(dir, 'state', u.id));
    const config = writeYaml(join(dir, `${u.id}.yaml`), {
      ue: { name: u.id, stateDir },
      app: { endpoint: appEndpoint },
      // Only the emulator profile reaches the medium; other profiles name their stack themselves.
      ...(o.profile === undefined || o.profile === 'emulator' ? { stack: { endpoint: mediumEndpoint } } : {}),
      groups: [hex24(TESTBED_GROUP)],
      keys: {
        homePlmn: u.home.pki.plmn,
        // The UE trusts the CA of the operator serving it (its own certificate stays its home's).
        tls: { cert: ref(cert.certFile), key: ref(cert.keyFile), ca: ref(u.serving.pki.caCert) },
        // Off the loopback, no servername: the UE checks the PKMF certificate against the address it dials.
        pkmf: { host, port: u.serving.uePort, ...(remote ? {} : { servername: 'localhost' }), requestTimeoutSec: 5 },
        groups: [{ id: hex24(TESTBED_GROUP), nea: [1, 2, 3], nia: [1, 2, 3], ...(sourceAuth === 'none' ? {} : { sourceAuth: [sourceAuth] }) }],
        stateDir,
        // A PKMF that is not up yet is retried quickly.
        refresh: { backoffBaseSec: 0.2, backoffMaxSec: 1 },
      },
    });
    testbedUes.push({
      id: u.id,
      supi: u.supi,
      roaming: u.roaming,
      homePlmn: u.home.pki.plmn,
      servingPlmn: u.serving.pki.plmn,
      config,
      appEndpoint,
      ...(fixed ? { metrics: `127.0.0.1:${base + 200 + u.n}` } : {}),
      logFile: join(dir, 'logs', `${u.id}.log`),
    });
  }
  return {
    dir,
    profile: o.profile ?? 'emulator',
    group: TESTBED_GROUP,
    pkmfs,
    mediumEndpoint,
    ...(fixed ? { mediumMetrics: `127.0.0.1:${base + 300}` } : {}),
    mediumStatsFile: join(dir, 'medium-stats.json'),
    mediumLog: join(dir, 'logs', 'medium.log'),
    ues: testbedUes,
  };
}
