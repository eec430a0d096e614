/**
 * The processes behind `bench e2e`: the demo's testbed (bridge/demo/setup.ts: two operators'
 * PKIs, a home and a visited PKMF, UE configs) and, side by side on one machine,
 *
 *   stack "on":  a medium emulator + N daemons (`sl-bridge run`, NEA2/NIA2, keys from the PKMFs,
 *                `--metrics` so the bench can read their stage profiles)
 *   stack "off": a second medium emulator + N daemons with `--security off` (SDUs in clear)
 *
 * every one its own process (bridge/demo/children.ts), plus one probe application per daemon in
 * this process. Everything is stopped and the directory removed by `close()`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SourceAuthMode } from '../../src/keys/types.js';
import { hex24 } from '../../src/pkmf/identity.js';
import type { DaemonStatus } from '../daemon/daemon.js';
import { Child, ChildFailure, describeExit } from '../demo/children.js';
import { DEMO_GROUP, keysComplete, keysShortfall, writeDemoTestbed, type DemoTestbed } from '../demo/setup.js';
import type { ProfileSnapshot } from '../metrics/daemon-metrics.js';
import { parsePrometheusText } from '../metrics/prom-text.js';
import { writeYaml } from '../pkmf/testbed.js';
import { createZmqAppClient } from '../transport/zmq-app-client.js';
import { unixNowNs } from '../transport/clock.js';
import type { AppClientTransport } from '../transport/types.js';
import type { E2eAccounting, ProbeClient } from './e2e-traffic.js';
import type { SecurityMode } from './e2e-results.js';

const START_TIMEOUT_MS = 30_000;
const KEYS_TIMEOUT_MS = 30_000;

export interface E2eDaemon {
  id: string;
  child: Child;
  /** `http://127.0.0.1:PORT/metrics` when the daemon serves metrics (from its status lines). */
  metricsUrl: string | undefined;
  status: DaemonStatus | undefined;
}

export interface E2eStack {
  mode: SecurityMode;
  medium: Child;
  daemons: E2eDaemon[];
  clients: ProbeClient[];
}

export interface E2eTestbedOptions {
  dir: string;
  ues: number;
  /** Start the daemons with `--metrics` (stage profiles). */
  metrics: boolean;
  /** Progress lines. */
  say: (line: string) => void;
  /** Where each application's deliveries go (stack-qualified receiver key, e.g. "on:0"). */
  accounting: E2eAccounting;
  /** The security-on stack's source authentication (docs/pkmf.md); default none. */
  sourceAuth?: SourceAuthMode;
  /** Latency mode of every daemon (`run --keep-warm`), both stacks alike; 0: off. */
  keepWarmMs: number;
  /** Latency mode's busy-poll of every daemon (`run --busy-poll`), both stacks alike; 0: off. */
  busyPollUs: number;
}

export class E2eTestbed {
  readonly children: Child[] = [];
  readonly stacks: Record<SecurityMode, E2eStack> = {} as Record<SecurityMode, E2eStack>;
  private failure: ChildFailure | undefined;
  private testbed: DemoTestbed | undefined;
  private readonly transports: AppClientTransport[] = [];

  constructor(private readonly o: E2eTestbedOptions) {}

  /** Throws if a child died. */
  check(): void {
    if (this.failure) throw this.failure;
  }

  private spawn(name: string, args: string[], logFile: string): Child {
    const c = new Child(name, args, logFile);
    this.children.push(c);
    void c.exited.then((e) => {
      if (!c.stopping && !this.failure) this.failure = new ChildFailure(c, `${name} (pid ${c.pid}) died unexpectedly (${describeExit(e)})`);
    });
    return c;
  }

  private async medium(name: string, endpoint: string): Promise<Child> {
    const m = this.spawn(name, ['medium', '--endpoint', endpoint, '--stats-json', join(this.o.dir, `${name}-stats.json`)], join(this.o.dir, 'logs', `${name}.log`));
    await m.waitForLine('listening', (l) => (l.startsWith('medium: listening on') ? true : undefined), START_TIMEOUT_MS);
    return m;
  }

  private async daemon(id: string, config: string, mode: SecurityMode): Promise<E2eDaemon> {
    const args = ['run', '--config', config, '--status-interval', '1', '--security', mode, '--log-level', 'warn'];
    // Port 0: the daemon picks a free port and reports its URL in its status lines.
    if (this.o.metrics) args.push('--metrics', '127.0.0.1:0', '--metrics-log-interval', '0');
    if (this.o.keepWarmMs > 0) args.push('--keep-warm', String(this.o.keepWarmMs));
    if (this.o.busyPollUs > 0) args.push('--busy-poll', String(this.o.busyPollUs));
    const child = this.spawn(`daemon ${id}`, args, join(this.o.dir, 'logs', `${id}.log`));
    const d: E2eDaemon = { id, child, metricsUrl: undefined, status: undefined };
    child.onStatus((s) => {
      d.status = s;
      if (typeof s.metricsUrl === 'string') d.metricsUrl = s.metricsUrl;
    });
    return d;
  }

  async start(): Promise<void> {
    const { dir, ues, say } = this.o;
    const tb = (this.testbed = await writeDemoTestbed(dir, ues, this.o.sourceAuth));
    const pkmfs = tb.pkmfs.map((p) => this.spawn(p.name, ['pkmf', '--config', p.config], p.logFile));
    await Promise.all(pkmfs.map((c) => c.waitForLine('PKMF listening', (l) => (l.includes('"PKMF listening"') ? true : undefined), START_TIMEOUT_MS)));
    const offEndpoint = `ipc://${join(dir, 'medium-off.sock')}`;
    const [mediumOn, mediumOff] = await Promise.all([this.medium('medium-on', tb.mediumEndpoint), this.medium('medium-off', offEndpoint)]);
    say(`bench e2e: PKMFs and two medium emulators up (security on: ${tb.mediumEndpoint}; off: ${offEndpoint})`);

    const onDaemons = await Promise.all(tb.ues.map((ue) => this.daemon(`${ue.id}-on`, ue.config, 'on')));
    const offDaemons = await Promise.all(
      tb.ues.map((ue, i) => {
        const id = `${ue.id}-off`;
        const config = writeYaml(join(dir, `${id}.yaml`), {
          ue: { name: id, stateDir: join(dir, 'state', id), l2SourceId: hex24(0x000e01 + i) },
          app: { endpoint: `ipc://${join(dir, `${id}.sock`)}` },
          stack: { endpoint: offEndpoint },
          groups: [hex24(DEMO_GROUP)],
        });
        return this.daemon(id, config, 'off');
      }),
    );
    const all = [...onDaemons, ...offDaemons];
    await Promise.all(all.map((d) => d.child.waitForLine('ready', (l) => (l.includes('"event":"ready"') ? true : undefined), START_TIMEOUT_MS)));
    const keysBy = performance.now() + KEYS_TIMEOUT_MS;
    while (!all.every((d) => keysComplete(d.status, ues))) {
      this.check();
      if (performance.now() > keysBy) {
        const missing = all.filter((d) => !keysComplete(d.status, ues)).map((d) => `${d.id} (${keysShortfall(d.status, ues)})`);
        throw new Error(`no keys after ${KEYS_TIMEOUT_MS / 1000} s for ${missing.join(', ')}; logs in ${dir}/logs`);
      }
      await sleep(100);
    }
    say(`bench e2e: ${ues} daemons with security on (keys from the PKMFs) and ${ues} with security off running`);

    this.stacks.on = { mode: 'on', medium: mediumOn, daemons: onDaemons, clients: [] };
    this.stacks.off = { mode: 'off', medium: mediumOff, daemons: offDaemons, clients: [] };
    for (const mode of ['on', 'off'] as const) {
      const stack = this.stacks[mode];
      const endpoints = mode === 'on' ? tb.ues.map((u) => u.appEndpoint) : tb.ues.map((u) => `ipc://${join(dir, `${u.id}-off.sock`)}`);
      for (const [index, endpoint] of endpoints.entries()) {
        const transport = createZmqAppClient({ endpoint });
        this.transports.push(transport);
        const receiver = `${mode}:${index}`;
        await transport.open({
          frame: (m) => {
            if (m.kind === 'delivery') this.o.accounting.recordDelivery(receiver, m, unixNowNs());
          },
        });
        stack.clients.push({ index, transport, groupId: DEMO_GROUP });
      }
    }
    const attachBy = performance.now() + START_TIMEOUT_MS;
    while (!this.transports.every((t) => t.linkUp) || !all.every((d) => (d.status?.app.peers ?? 0) > 0)) {
      this.check();
      if (performance.now() > attachBy) throw new Error('the probe applications did not attach to their daemons');
      await sleep(50);
    }
  }

  /** `/profile.json` of every daemon of a stack that serves metrics (undefined for the others). */
  async profiles(mode: SecurityMode): Promise<Array<ProfileSnapshot | undefined>> {
    return Promise.all(
      this.stacks[mode].daemons.map(async (d) => {
        if (!d.metricsUrl) return undefined;
        try {
          const res = await fetch(d.metricsUrl.replace(/\/metrics$/, '/profile.json'));
          return res.ok ? ((await res.json()) as ProfileSnapshot) : undefined;
        } catch {
          return undefined;
        }
      }),
    );
  }

  /**
   * Drops so far of a stack: its daemons' `slbridge_dropped_total{reason}` (scraped from
   * /metrics, summed) plus what the probe applications' sockets refused after accepting
   * (`probe-app-<reason>`). Null when a daemon does not serve metrics.
   */
  async drops(mode: SecurityMode): Promise<Record<string, number> | null> {
    const out: Record<string, number> = {};
    const add = (k: string, v: number): void => {
      if (v !== 0) out[k] = (out[k] ?? 0) + v;
    };
    for (const d of this.stacks[mode].daemons) {
      const text = await this.metricsText(d).catch(() => undefined);
      if (text === undefined) return null;
      const fam = parsePrometheusText(text).find((f) => f.name === 'slbridge_dropped_total');
      for (const s of fam?.samples ?? []) add(s.labels.reason ?? 'unknown', s.value);
    }
    for (const c of this.stacks[mode].clients) for (const [r, v] of Object.entries(c.transport.counters.dropped)) add(`probe-app-${r}`, v);
    return out;
  }

  /** The Prometheus text of one daemon (for the end-of-run check). */
  async metricsText(d: E2eDaemon): Promise<string | undefined> {
    if (!d.metricsUrl) return undefined;
    const res = await fetch(d.metricsUrl);
    return res.ok ? res.text() : undefined;
  }

  /** CPU ms so far of a stack's daemons and its medium (Linux /proc; null elsewhere). */
  cpuMs(mode: SecurityMode): { daemons: number; medium: number } | null {
    const stack = this.stacks[mode];
    const ds = stack.daemons.map((d) => d.child.cpuMs());
    const m = stack.medium.cpuMs();
    if (m === undefined || ds.some((v) => v === undefined)) return null;
    return { daemons: ds.reduce((a: number, v) => a + v!, 0), medium: m };
  }

  /** Stops everything; returns each medium's final statistics (`--stats-json`) when written. */
  async close(): Promise<Partial<Record<SecurityMode, unknown>>> {
    await Promise.all(this.transports.map((t) => t.close().catch(() => undefined)));
    const daemons = [...(this.stacks.on?.daemons ?? []), ...(this.stacks.off?.daemons ?? [])].map((d) => d.child);
    await Promise.all(daemons.map((c) => c.stop('SIGTERM', 3_000)));
    await Promise.all(this.children.map((c) => c.stop('SIGTERM', 3_000)));
    const stats: Partial<Record<SecurityMode, unknown>> = {};
    for (const mode of ['on', 'off'] as const) {
      try {
        stats[mode] = JSON.parse(readFileSync(join(this.o.dir, `medium-${mode}-stats.json`), 'utf8'));
      } catch {
        /* not written (the medium did not stop cleanly) */
      }
    }
    return stats;
  }

  /** Kills everything at once (the process is exiting). */
  kill(): void {
    for (const c of this.children) c.kill();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
