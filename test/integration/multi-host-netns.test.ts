/**
 * The multi-host layout of docs/deployment.md, with network namespaces as machines: `sl-bridge
 * init --host CORE` writes the testbed; the medium and the PKMF run in a core namespace on the
 * core's LAN address; three host namespaces, each reaching the core only through its own veth on
 * a bridge, run one `sl-bridge run` daemon and one `sl-bridge app ranging` attached to it over the
 * host's own loopback. Every daemon fetches its keys from the PKMF over TLS across the LAN (the
 * PKMF certificate checked against the address dialled) and every UE hears every other UE's
 * protected traffic through the medium, with no security drop. The namespaces are created and
 * removed by the test (root needed: CI runs as root).
 */
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { DaemonStatus } from '../../bridge/daemon/daemon.js';
import type { RangingStats } from '../../bridge/app/ranging.js';
import type { MediumStats } from '../../bridge/medium/server.js';
import { TESTBED_GROUP } from '../../bridge/testbed/generate.js';
import { hex24 } from '../../src/pkmf/identity.js';
import { Cleanups } from '../fixtures/integration-helpers.js';
import { MultiHostNetns, NsProcess, netnsProblem, tcpProbe } from '../fixtures/multi-host-netns.js';
import { BIN, writeYaml } from '../fixtures/pkmf-testbed.js';

const problem = process.platform !== 'linux' ? 'network namespaces need Linux' : netnsProblem();
if (problem) console.warn(`test/integration/multi-host-netns.test.ts skipped: ${problem}`);

const HOSTS = 3;
const BASE = 7400;
/** Ranging exchanges each UE must see from every other one before the run is stopped. */
const ENOUGH = 10;

interface UeYaml {
  app: { endpoint: string };
  stack: { endpoint: string };
  ue: { stateDir: string };
  keys: { stateDir: string; pkmf: { host: string; port: number; servername?: string } };
}

type AppLine = RangingStats & { event: 'stats' | 'final'; name: string };

function cli(args: string[], opts: { namespace?: string; cwd?: string } = {}): { status: number | null; stdout: string; stderr: string } {
  const node = [process.execPath, BIN, ...args];
  const [cmd, ...rest] = opts.namespace === undefined ? node : ['ip', 'netns', 'exec', opts.namespace, ...node];
  const r = spawnSync(cmd!, rest, { cwd: opts.cwd, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

describe('sl-bridge init --host: bad values', () => {
  it.each([
    ['::1', /IPv6 addresses are not supported/],
    ['0.0.0.0', /0\.0\.0\.0 cannot be dialled/],
    ['10.1.2.300', /"10\.1\.2\.300" is not an IPv4 address/],
    ['core host', /expected an IPv4 address or a host name/],
  ])('--host %s is refused with status 2, the flag named and nothing written', (host, why) => {
    const dir = mkdtempSync(join(tmpdir(), 'slb-multihost-bad-'));
    cleanups.add('temporary directory', dir, (d) => rmSync(d, { recursive: true, force: true }));
    const r = cli(['init', join(dir, 'tb'), '--host', host]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--host <address>');
    expect(r.stderr).toMatch(why);
    expect(spawnSync('ls', [dir], { encoding: 'utf8' }).stdout).toBe('');
  });

  it('--help explains --host', () => {
    const r = cli(['init', '--help']);
    expect(r.status).toBe(0);
    // Help text is wrapped to the terminal width.
    expect(r.stdout.replace(/\s+/g, ' ')).toContain('--host <address> IPv4 address or host name of the machine that runs the medium and the PKMFs: they listen on it');
  });
});

describe.skipIf(problem !== undefined)(`a testbed over several hosts (network namespaces)${problem ? ` (skipped: ${problem})` : ''}`, () => {
  it('daemons in their own namespaces get keys from the PKMF and hear each other through the medium, both on the core, over TCP', async () => {
    const dir = cleanups.add('temporary directory', mkdtempSync(join(tmpdir(), 'slb-multihost-')), (d) => rmSync(d, { recursive: true, force: true }));
    const lan = cleanups.add('namespaces', MultiHostNetns.create(HOSTS), (l) => l.destroy());
    const core = lan.core.address;
    const started = (p: NsProcess): NsProcess => cleanups.add(p.label, p, (x) => x.stop('SIGTERM'));

    // The testbed as a user writes it for a core machine at `core`.
    const init = cli(['init', dir, '--ues', String(HOSTS), '--host', core, '--base-port', String(BASE)]);
    expect(init.status, init.stderr).toBe(0);
    const pkmfDoc = parse(readFileSync(join(dir, 'pkmf-op1.yaml'), 'utf8')) as { listen: { host: string; port: number } };
    expect(pkmfDoc.listen).toEqual({ host: core, port: BASE + 10 });
    const ues = Array.from({ length: HOSTS }, (_, i) => parse(readFileSync(join(dir, `ue${i + 1}.yaml`), 'utf8')) as UeYaml);
    ues.forEach((ue, i) => {
      expect(ue.stack.endpoint).toBe(`tcp://${core}:${BASE}`);
      // No servername: the certificate is checked against the address dialled.
      expect(ue.keys.pkmf).toEqual({ host: core, port: BASE + 10, requestTimeoutSec: 5 });
      expect(ue.app.endpoint).toBe(`tcp://127.0.0.1:${BASE + 101 + i}`);
    });
    const pkmfCert = new X509Certificate(readFileSync(join(dir, 'pki', 'op1', 'pkmf.crt')));
    expect(pkmfCert.subjectAltName).toContain(`IP Address:${core}`);
    expect(readFileSync(join(dir, 'START.md'), 'utf8')).toContain(`the medium and the PKMFs run on ${core}`);

    // The core: the medium and the PKMF, bound to the core's LAN address only.
    const medium = started(new NsProcess('medium', lan.core.name, ['medium', '--endpoint', ues[0]!.stack.endpoint, '--stats-json', 'medium-stats.json'], dir));
    const pkmf = started(new NsProcess('pkmf', lan.core.name, ['pkmf', '--config', 'pkmf-op1.yaml'], dir));
    await medium.waitUntil(() => medium.lines.some((l) => l.startsWith(`medium: listening on tcp://${core}:${BASE}`)), 'listening line');
    await pkmf.waitUntil(() => pkmf.lines.some((l) => l.includes('"PKMF listening"')), 'listening line');
    const listening = pkmf.json<{ msg: string; ue: unknown }>().find((l) => l.msg === 'PKMF listening')!;
    expect(JSON.stringify(listening.ue)).toContain(core);

    // A host reaches the core through its veth and nothing else: its only route is the LAN on
    // eth0, the core's ports answer there, and its own 127.0.0.1 has neither medium nor PKMF.
    for (const h of lan.hosts) {
      expect(MultiHostNetns.ipIn(h.name, ['-4', 'route', 'show']).trim().split('\n')).toEqual([expect.stringMatching(/^10\.203\.11\.0\/24 dev eth0 /)]);
      expect(MultiHostNetns.ipIn(h.name, ['-o', 'link', 'show']).trim().split('\n').map((l) => l.split(':')[1]!.trim().replace(/@.*/, ''))).toEqual(['lo', 'eth0']);
      expect(MultiHostNetns.ipIn(h.name, ['route', 'get', core])).toMatch(/ dev eth0 /);
    }
    const h1 = lan.hosts[0]!.name;
    expect(tcpProbe(h1, core, BASE)).toBe('connected');
    expect(tcpProbe(h1, core, BASE + 10)).toBe('connected');
    expect(tcpProbe(h1, '127.0.0.1', BASE)).toBe('ECONNREFUSED');
    expect(tcpProbe(h1, '127.0.0.1', BASE + 10)).toBe('ECONNREFUSED');
    expect(tcpProbe(h1, '10.203.12.1', BASE)).toBe('ENETUNREACH');

    // The name check is in force: the same PKMF checked against an address its certificate does
    // not name is refused before any Key Request (so no state is made for this probe).
    writeYaml(join(dir, 'probe.yaml'), {
      ...ues[0],
      ue: { ...ues[0]!.ue, stateDir: 'state/probe' },
      keys: { ...ues[0]!.keys, stateDir: 'state/probe', pkmf: { ...ues[0]!.keys.pkmf, servername: '10.203.11.99' } },
    });
    const wrongName = cli(['keys', 'fetch', '--config', 'probe.yaml'], { namespace: h1, cwd: dir });
    expect(wrongName.status).toBe(1);
    expect(wrongName.stderr).toMatch(/keys fetch: 10\.203\.11\.1:7410: TLS: .*10\.203\.11\.99/);
    expect(wrongName.stderr).toContain('keys.pkmf.servername');

    // One daemon per host, each with its ranging application on the host's own loopback.
    const daemons = lan.hosts.map((h, i) =>
      started(new NsProcess(`daemon ue${i + 1}`, h.name, ['run', '--profile', 'emulator', '--config', `ue${i + 1}.yaml`, '--status-interval', '0.2'], dir)),
    );
    const status = (d: NsProcess): DaemonStatus | undefined => d.json<DaemonStatus>().at(-1);
    for (const d of daemons) await d.waitUntil(() => status(d)?.keys.ready === true && status(d)?.stack.linkUp === true, 'keys and a medium link', 30_000);
    const ready = daemons.map((d) => status(d)!);
    const gmis = ready.map((s) => s.keys.groups[0]!.gmi!);
    expect(new Set(gmis).size).toBe(HOSTS);
    for (const s of ready) {
      expect(s.security).toBe('on');
      expect(s.keys.servingPlmn).toBe('001-01');
      expect(s.keys.groups[0]!.groupId).toBe(hex24(TESTBED_GROUP));
    }

    const apps = lan.hosts.map((h, i) =>
      started(
        new NsProcess(
          `app ue${i + 1}`,
          h.name,
          ['app', 'ranging', '--endpoint', ues[i]!.app.endpoint, '--group', `0x${hex24(TESTBED_GROUP)}`, '--rate', '20', '--stats-interval-ms', '200', '--name', `ue${i + 1}`],
          dir,
        ),
      ),
    );
    const others = (i: number): string[] => gmis.filter((_, j) => j !== i);
    const heardAll = (s: RangingStats | undefined, i: number): boolean =>
      s !== undefined && others(i).every((g) => (s.bySender[g]?.requests ?? 0) >= ENOUGH && (s.bySender[g]?.responses ?? 0) >= ENOUGH);
    for (const [i, a] of apps.entries()) await a.waitUntil(() => heardAll(a.json<AppLine>().at(-1), i), `${ENOUGH} requests and responses from every other UE`, 30_000);

    for (const a of apps) expect(await a.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    apps.forEach((a, i) => {
      const final = a.json<AppLine>().find((l) => l.event === 'final');
      expect(final, a.output()).toBeDefined();
      expect(heardAll(final, i)).toBe(true);
      expect(final!.refused).toEqual({});
      expect(final!.ignored).toBe(0);
      expect(Object.keys(final!.bySender).sort()).toEqual(others(i).sort());
    });

    // The daemons' own figures: everything arrived through PDCP with security on, nothing failed a check.
    for (const [i, d] of daemons.entries()) {
      const t = Date.now();
      await d.waitUntil(() => (status(d)?.timeMs ?? 0) > t, 'a status line after the applications stopped');
      const s = status(d)!;
      expect(s.securityDrops, d.output()).toBe(0);
      // Only deliveries to an application that had already stopped may be missing.
      expect(Object.keys(s.dropped).filter((r) => !r.startsWith('app-'))).toEqual([]);
      for (const g of others(i)) {
        const rx = s.rxBySender[g]!;
        expect(rx.delivered, `ue${i + 1} from ${g}`).toBeGreaterThanOrEqual(2 * ENOUGH);
        expect(rx.lost).toBe(0);
      }
      expect(s.latency.protect.count).toBeGreaterThan(0);
      expect(s.latency.unprotect.count).toBeGreaterThanOrEqual(others(i).reduce((n, g) => n + s.rxBySender[g]!.delivered, 0));
      expect(s.keys.groups[0]!.txPgkId).not.toBeNull();
    }
    for (const d of daemons) {
      expect(await d.stop('SIGTERM')).toEqual({ code: 0, signal: null });
      expect(d.json<DaemonStatus>().at(-1)?.event).toBe('final');
    }

    // The core's view: three attached daemons, nothing malformed or lost; one key issue per UE.
    expect(await medium.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    const m = JSON.parse(readFileSync(join(dir, 'medium-stats.json'), 'utf8')) as MediumStats;
    expect(m.hub.attaches).toBe(HOSTS);
    expect(m.malformed).toBe(0);
    expect(m.channel.lost).toBe(0);
    expect(m.channel.delivered).toBeGreaterThan(0);
    const issued = pkmf.json<{ msg: string; supi?: string }>().filter((l) => l.msg === 'issued new key material');
    expect(new Set(issued.map((l) => l.supi)).size).toBe(HOSTS);

    await cleanups.run();
    expect(lan.existing()).toEqual([]);
  }, 120_000);
});
