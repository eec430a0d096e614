/**
 * Two OpenAirInterface NR sidelink UEs (EpiSci `sl-release-1.0`, built by interop/oai-sl/build.sh)
 * over the RF simulator, one per network namespace: UE 1 is the SyncRef UE and the RF simulator
 * server (`sl_sync_ref.conf`, TUN `oaitun_ue1` = 10.0.0.1), UE 2 syncs to it over the veth link
 * (`sl_ue1.conf`, `oaitun_ue2` = 10.0.0.2). The command lines are those of the branch's
 * doc/episys/README_SL.md; `OAI_NO_RT=1` (our patch 0001) keeps OAI's threads off real-time
 * priorities so that two simulated UEs on a small host leave the CPU to everything else.
 *
 * The TUN interfaces get their addresses within seconds, but IP only crosses once UE 2 has
 * synchronised (~25-45 s): `waitLinked` pings until an answer comes back.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Child, ChildFailure, describeExit } from '../demo/children.js';
import { OaiNamespaces } from './netns.js';

export interface OaiBuildInfo {
  /** The cache entry (interop/oai-sl/build.sh's last line). */
  dir: string;
  /** bin/: nr-uesoftmodem and the libraries it dlopen()s. */
  bin: string;
  /** NR-SIDELINK config files. */
  conf: string;
  /** build.json as written by build.sh (commits, patches, timings). */
  meta: { oaiCommit?: string; patches?: string[] } & Record<string, unknown>;
}

export function readOaiBuild(dir: string): OaiBuildInfo {
  const bin = join(dir, 'bin');
  const conf = join(dir, 'src/openairinterface5g/targets/PROJECTS/NR-SIDELINK/CONF');
  for (const f of [join(bin, 'nr-uesoftmodem'), join(bin, 'librfsimulator.so'), join(conf, 'sl_sync_ref.conf'), join(conf, 'sl_ue1.conf')]) {
    if (!existsSync(f)) throw new Error(`${dir} is not an OAI build of interop/oai-sl/build.sh: ${f} is missing`);
  }
  let meta: OaiBuildInfo['meta'] = {};
  try {
    meta = JSON.parse(readFileSync(join(dir, 'build.json'), 'utf8')) as OaiBuildInfo['meta'];
  } catch {
    /* older entry: no metadata */
  }
  return { dir, bin, conf, meta };
}

/** OAI's nice level (the daemons, PKMF and applications run at 0). */
export const OAI_NICE = 10;

export const OAI_TUN = [
  { iface: 'oaitun_ue1', address: '10.0.0.1' },
  { iface: 'oaitun_ue2', address: '10.0.0.2' },
] as const;

/** OAI's own per-UE PHY counters, from its last periodic statistics block. */
export interface OaiPhyCounters {
  psschTx: number;
  psschRxOk: number;
  psschRxNotOk: number;
}

export function lastPsschStats(log: string): OaiPhyCounters | undefined {
  // [NR_PHY]   [UE0] 128:19 PSSCH Stats: TX 12938, RX ok 12944, RX not ok (0/0/0/0)
  const re = /PSSCH Stats: TX (\d+), RX ok (\d+), RX not ok \(([\d/]+)\)/g;
  let m: RegExpExecArray | null;
  let last: RegExpExecArray | undefined;
  while ((m = re.exec(log)) !== null) last = m;
  if (!last) return undefined;
  return { psschTx: Number(last[1]), psschRxOk: Number(last[2]), psschRxNotOk: last[3]!.split('/').reduce((n, v) => n + Number(v), 0) };
}

export interface PingResult {
  sent: number;
  received: number;
  rttMs: number[];
}

export function parsePing(out: string): PingResult {
  const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
  const rttMs = [...out.matchAll(/time=([\d.]+) ms/g)].map((x) => Number(x[1]));
  return { sent: m ? Number(m[1]) : 0, received: m ? Number(m[2]) : 0, rttMs };
}

export interface OaiPairOptions {
  logDir: string;
  /** Extra environment per UE (e.g. the sl-bridge glue's SLB_* variables). */
  env?: [Record<string, string>, Record<string, string>];
}

export class OaiPair {
  readonly ues: [Child, Child];

  private constructor(
    readonly build: OaiBuildInfo,
    readonly ns: OaiNamespaces,
    ues: [Child, Child],
  ) {
    this.ues = ues;
  }

  /** Starts the SyncRef UE, then (2 s later, as EpiSci's guide does) the other one. */
  static async start(build: OaiBuildInfo, ns: OaiNamespaces, o: OaiPairOptions): Promise<OaiPair> {
    const common = ['--sa', '--sl-mode', '2', '--rfsim', '--thread-pool', '-1,-1,-1,-1', '--rfsimulator.serverportsl', '4048'];
    const spawnUe = (i: 0 | 1, args: string[]): Child => {
      const cwd = join(o.logDir, `oai-ue${i + 1}`);
      mkdirSync(cwd, { recursive: true });
      return new Child(`oai ue${i + 1}`, args, join(o.logDir, `oai-ue${i + 1}.log`), {
        program: join(build.bin, 'nr-uesoftmodem'),
        // Below the daemons' priority: OAI's simulated PHY threads never sleep, and at equal priority
        // every wake-up of a daemon or an application waits behind them for a time slice.
        prefix: [...OaiNamespaces.exec(ns.ues[i].name), 'nice', '-n', String(OAI_NICE)],
        env: { ...process.env, OAI_NO_RT: '1', LD_LIBRARY_PATH: build.bin, ...(o.env?.[i] ?? {}) },
        cwd,
      });
    };
    const ue1 = spawnUe(0, ['-O', join(build.conf, 'sl_sync_ref.conf'), ...common, '--sync-ref', '--rfsimulator.serveraddrsl', 'server']);
    await new Promise((r) => setTimeout(r, 2_000));
    const ue2 = spawnUe(1, ['-O', join(build.conf, 'sl_ue1.conf'), ...common, '--rfsimulator.serveraddrsl', ns.ues[0].address]);
    return new OaiPair(build, ns, [ue1, ue2]);
  }

  /** Throws a ChildFailure if a UE has exited. */
  check(): void {
    for (const u of this.ues) if (!u.running) throw new ChildFailure(u, `${u.name} exited (${describeExit(u.exit!)})`);
  }

  /** Pings UE 1 from UE 2 over the TUN interfaces until one answer comes back; returns seconds taken. */
  async waitLinked(timeoutMs = 120_000): Promise<number> {
    const t0 = Date.now();
    for (;;) {
      this.check();
      if (OaiNamespaces.address(this.ns.ues[1].name, OAI_TUN[1].iface) !== undefined) {
        const r = await this.ping(1, 1, 0.2, 56, 1);
        if (r.received > 0) return (Date.now() - t0) / 1000;
      }
      if (Date.now() - t0 > timeoutMs) {
        throw new ChildFailure(this.ues[1], `the OAI UEs did not pass IP over the sidelink within ${timeoutMs / 1000} s (no sync?)`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** `ping` from UE `from` (0 or 1) to the other UE's TUN address, over the TUN interface. */
  ping(from: 0 | 1, count: number, intervalS = 0.2, size = 56, waitS = 2): Promise<PingResult> {
    const to = OAI_TUN[from === 0 ? 1 : 0].address;
    const [ip, ...args] = [...OaiNamespaces.exec(this.ns.ues[from].name), 'ping', '-n', '-I', OAI_TUN[from].iface, '-c', String(count), '-i', String(intervalS), '-s', String(size), '-W', String(waitS), to];
    // ping exits 1 when answers are missing: its output still counts them.
    return new Promise((res) => execFile(ip!, args, { timeout: (count * intervalS + waitS + 10) * 1000 }, (_e, stdout) => res(parsePing(String(stdout)))));
  }

  /** Both UEs' PHY counters, read from their logs. */
  phyCounters(): [OaiPhyCounters | undefined, OaiPhyCounters | undefined] {
    const read = (c: Child): OaiPhyCounters | undefined => {
      try {
        return lastPsschStats(readFileSync(c.logFile, 'utf8'));
      } catch {
        return undefined;
      }
    };
    return [read(this.ues[0]), read(this.ues[1])];
  }

  /**
   * Threads of both UEs in a real-time class (SCHED_FIFO / SCHED_RR). Patch 0001 with OAI_NO_RT
   * must leave none: one spinning real-time thread per core starves the daemons (docs/oai.md).
   */
  realtimeThreads(): number {
    let n = 0;
    for (const u of this.ues) {
      if (u.pid === undefined || !u.running) continue;
      let tids: string[] = [];
      try {
        tids = readdirSync(`/proc/${u.pid}/task`);
      } catch {
        continue;
      }
      for (const tid of tids) {
        try {
          const stat = readFileSync(`/proc/${u.pid}/task/${tid}/stat`, 'utf8');
          // Field 41 (policy), counted after the parenthesised command name (field 2).
          const policy = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38]);
          if (policy === 1 || policy === 2) n++;
        } catch {
          /* thread gone */
        }
      }
    }
    return n;
  }

  /** SIGINT (OAI's clean exit, ~7 s with the glue's last counters), SIGKILL after 15 s. */
  async stop(): Promise<void> {
    await Promise.all(this.ues.map((u) => u.stop('SIGINT', 15_000)));
  }
}
