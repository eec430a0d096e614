/**
 * `sl-bridge interop oai`: sl-bridge over a real open-source sidelink stack. Two OpenAirInterface
 * NR sidelink UEs (EpiSci sl-release-1.0) over the RF simulator, each in its own network
 * namespace with its sl-bridge daemon; a PKMF reached over the namespaces' veth link; a ranging
 * application per UE. Two paths:
 *
 *   tun   OAI unchanged in behaviour: the daemons exchange their PDUs as UDP multicast on OAI's
 *         TUN interfaces (hw-profile oai-nr-sl-tun), so OAI carries them as ordinary IP. A capture
 *         on oaitun_ue1 must hold no plaintext SDU while `pdu decode` deciphers all of it.
 *   pdcp  OAI's sidelink PDCP goes through sl-bridge (patch 0002 + interop/oai-sl/glue/): IP
 *         packets from the TUN are protected by the daemon, and what OAI sends over the air are
 *         sl-bridge PDUs (hw-profile oai-nr-sl-zmq). Ping and ranging cross it; a PDU altered or
 *         repeated after OAI carried it is dropped (`mac-failure`, `replay`); OAI keeps running
 *         while a daemon is killed and restarted.
 *
 * Each path alternates security on / off in rounds (same OAI run, same machine, same minute), and
 * measures the bare stack with ping as the floor. The last line is
 *   oai interop: tun D/S delivered, pdcp D/S delivered
 * (D ranging SDUs delivered of S sent with security on).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { RangingApp, type RangingStats } from '../app/ranging.js';
import { CliError, writeJsonFile } from '../cli-error.js';
import type { DaemonStatus } from '../daemon/daemon.js';
import { runMetadata, type RunMetadata } from '../bench/run-metadata.js';
import { Child, ChildFailure, describeExit, slBridgeBin } from '../demo/children.js';
import { OaiNamespaces, netnsProblem } from './netns.js';
import { OAI_TUN, OaiPair, readOaiBuild, type OaiBuildInfo, type OaiPhyCounters } from './oai-ue.js';
import { OAI_GROUP, writeOaiTestbed, type OaiTestbed, type OaiUeFiles } from './oai-testbed.js';
import { StackRelay } from './stack-relay.js';
import { findPlaintext, summarizeCapture, type CaptureCheck } from './capture-check.js';
import { median, percentile } from '../../src/stats/percentile.js';
import { measureStalls, stallFloor, summarizeStalls, type FloorFigures, type StallSummary } from '../bench/stall-meter.js';

export type InteropPath = 'tun' | 'pdcp';
type Security = 'on' | 'off';

export interface OaiInteropOptions {
  /** A finished build (build.sh's output folder); without it build.sh runs (or finds its cache). */
  oaiBuild?: string;
  archives?: string;
  cache?: string;
  paths: InteropPath[];
  /** Ranging seconds per round and mode. */
  seconds: number;
  /** Ranging requests per second per UE. */
  rate: number;
  /** Rounds of (security on, security off) per path. */
  rounds: number;
  keep: boolean;
  json?: string;
  say: (line: string) => void;
}

export interface LatencyPair {
  p50Us: number;
  p99Us: number;
  count: number;
}

export interface RoundResult {
  path: InteropPath;
  round: number;
  security: Security;
  seconds: number;
  /** Ranging SDUs (requests + responses) sent by both apps, and delivered to the other one. */
  sent: number;
  delivered: number;
  /**
   * PDUs one daemon handed to the stack that the other daemon never received, both directions:
   * what was lost below sl-bridge (in OAI, between the two daemons). Ranging SDUs missing
   * (sent - delivered) are explained when they are no more than this.
   */
  lostBelow: number;
  /** Request round trip through both daemons and OAI, per requesting UE. */
  rtt: LatencyPair[];
  /** Ping over the TUN interfaces during the round (pdcp path: through sl-bridge). */
  ping: { sent: number; received: number; p50Ms: number | null };
  /** Per daemon: protect / unprotect call per packet (security on), drops. */
  daemons: { ue: string; protect: LatencyPair; unprotect: LatencyPair; securityDrops: number; dropped: Record<string, number> }[];
}

export interface PathResult {
  path: InteropPath;
  linkedAfterS: number;
  /** OAI threads found in a real-time scheduling class once linked (patch 0001 leaves none). */
  realtimeThreads: number;
  /** Bare OAI, no sl-bridge on the way (tun path: before the daemons start). */
  floorPing: { sent: number; received: number; p50Ms: number | null; p99Ms: number | null };
  rounds: RoundResult[];
  /** Security-on ranging SDUs: delivered of sent. */
  delivered: number;
  sent: number;
  /** Median over rounds of each mode's RTT p50 / p99 (ms), and the on-off difference or "not measurable". */
  rtt: Record<Security, { p50Ms: number; p99Ms: number; roundsP50Ms: number[] }> & { differenceP50Ms: number | 'not measurable' };
  oai: [OaiPhyCounters | undefined, OaiPhyCounters | undefined];
  capture?: CaptureCheck;
  attacks?: { tampered: number; macFailures: number; replayed: number; replayDrops: number };
  restart?: { oaiKeptRunning: boolean; deliveredAfterRestart: number; pingAfterRestart: number };
  glue?: string[];
  problems: string[];
}

export interface OaiInteropResult {
  ok: boolean;
  /** When and where it ran, which sl-bridge (version, commit) and the settings: the benches' run metadata. */
  run: RunMetadata;
  machine: {
    /** This machine's stalls, measured before OAI starts (bench stalls), and the floor they put under a 50 µs computation. */
    stalls: StallSummary;
    floor50us: FloorFigures;
  };
  oai: { dir: string; meta: OaiBuildInfo['meta'] };
  settings: { seconds: number; rate: number; rounds: number; group: string };
  paths: PathResult[];
  line: string;
}

const START_TIMEOUT_MS = 30_000;
const STALL_METER_MS = 2_000;
/** After the last request: OAI's latency spikes to ~150 ms; wait for what is in flight. */
const DRAIN_MS = 1_500;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number): number | null => (xs.length === 0 ? null : percentile([...xs].sort((a, b) => a - b), p));
const round1 = (v: number): number => Math.round(v * 10) / 10;

/** Runs interop/oai-sl/build.sh (which finds its cache in seconds) and returns the build folder. */
export async function buildOai(o: Pick<OaiInteropOptions, 'archives' | 'cache' | 'say'>): Promise<string> {
  const script = resolve(dirname(slBridgeBin()), '..', 'interop', 'oai-sl', 'build.sh');
  const args = [script];
  if (o.archives) args.push('--archives', o.archives);
  if (o.cache) args.push('--cache', o.cache);
  const child = spawn('bash', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let last = '';
  createInterface({ input: child.stdout }).on('line', (l) => {
    if (l.trim() !== '') last = l.trim();
  });
  createInterface({ input: child.stderr }).on('line', (l) => o.say(`  ${l}`));
  const code = await new Promise<number | null>((r) => child.once('close', r));
  if (code !== 0) throw new CliError(`interop/oai-sl/build.sh failed (exit status ${code}); its output is above`, 1);
  return last;
}

class DaemonRun {
  status: DaemonStatus | undefined;
  final: DaemonStatus | undefined;
  constructor(
    readonly ue: OaiUeFiles,
    readonly child: Child,
  ) {
    child.onStatus((s) => {
      if (s.event === 'final') this.final = s;
      this.status = s;
    });
  }
}

export async function runOaiInterop(o: OaiInteropOptions): Promise<OaiInteropResult> {
  const say = o.say;
  const { say: _say, ...flags } = o;
  const run = runMetadata('interop oai', flags);
  const problem = netnsProblem();
  if (problem) throw new CliError(`interop oai: ${problem}`, 1);
  const buildDir = o.oaiBuild ?? (await buildOai(o));
  const build = readOaiBuild(buildDir);
  say(`interop: OAI ${build.meta.oaiCommit?.slice(0, 7) ?? '?'} from ${build.dir}`);
  const patched = (build.meta.patches ?? []).some((p) => p.startsWith('0002-'));
  if (o.paths.includes('pdcp') && !patched) {
    throw new CliError(`interop oai: the pdcp path needs an OAI built with patches/0002-sl-bridge-pdcp.patch; ${build.dir} lacks it (rebuild with interop/oai-sl/build.sh)`, 1);
  }

  say(`interop: measuring this machine's stalls for ${STALL_METER_MS / 1000} s (before OAI starts)`);
  const trace = measureStalls({ durationMs: STALL_METER_MS });
  const stalls = summarizeStalls(trace);
  const floor50us = stallFloor(trace, 50);
  say(`interop: machine floor: ${stalls.lost_pct}% of the time lost to stalls; a 50 us computation takes p50 ${floor50us.p50} / p99 ${floor50us.p99} us here`);

  const dir = mkdtempSync(join(tmpdir(), 'sl-bridge-oai-'));
  const children: Child[] = [];
  let ns: OaiNamespaces | undefined;
  let pair: OaiPair | undefined;
  const cleanupNow = (): void => {
    for (const c of children) c.kill();
    for (const u of pair?.ues ?? []) u.kill();
    ns?.destroy();
  };
  process.on('exit', cleanupNow);
  const result: OaiInteropResult = {
    ok: false,
    run,
    machine: { stalls, floor50us },
    oai: { dir: build.dir, meta: build.meta },
    settings: { seconds: o.seconds, rate: o.rate, rounds: o.rounds, group: OAI_GROUP.toString(16).padStart(6, '0') },
    paths: [],
    line: '',
  };
  const spawnIn = (name: string, nsName: string, args: string[], logFile: string): Child => {
    const c = new Child(name, args, logFile, { prefix: OaiNamespaces.exec(nsName) });
    children.push(c);
    return c;
  };

  try {
    for (const path of o.paths) {
      ns = OaiNamespaces.create();
      const tb = await writeOaiTestbed(join(dir, path), ns);
      mkdirSync(join(tb.dir, 'logs'), { recursive: true });
      const pkmf = spawnIn('pkmf', ns.ues[0].name, ['pkmf', '--config', tb.pkmfConfig], tb.pkmfLog);
      await pkmf.waitForLine('PKMF listening', (l) => (l.includes('"PKMF listening"') ? true : undefined), START_TIMEOUT_MS);
      const r = path === 'tun' ? await tunPath(tb, ns) : await pdcpPath(tb, ns);
      result.paths.push(r);
      await pkmf.stop();
      ns.destroy();
      ns = undefined;
    }
  } finally {
    await Promise.all(children.map((c) => c.stop('SIGTERM', 3_000)));
    if (pair) await pair.stop();
    ns?.destroy();
    process.off('exit', cleanupNow);
    if (o.keep) say(`interop: kept ${dir} (configs, logs, captures)`);
    else rmSync(dir, { recursive: true, force: true });
  }
  const byPath = (p: InteropPath): string => {
    const r = result.paths.find((x) => x.path === p);
    return r ? `${p} ${r.delivered}/${r.sent} delivered` : `${p} not run`;
  };
  result.line = `oai interop: ${byPath('tun')}, ${byPath('pdcp')}`;
  result.ok = result.paths.length === o.paths.length && result.paths.every((p) => p.problems.length === 0);
  if (o.json) writeJsonFile(o.json, result);
  return result;

  // ---------------------------------------------------------------------------------------

  /** `stackUp: false` before OAI runs on the pdcp path (the daemon binds; OAI's glue connects). */
  async function startDaemons(tb: OaiTestbed, path: InteropPath, security: Security, tag: string, extra: (i: number) => string[] = () => [], stackUp = true): Promise<DaemonRun[]> {
    const runs = tb.ues.map((ue, i) => {
      const args =
        path === 'tun'
          ? ['run', '--profile', ue.tunProfile, '--config', ue.tunConfig]
          : ['run', '--profile', 'oai-nr-sl-zmq', '--config', ue.pdcpConfig];
      args.push('--status-interval', '0.5', '--security', security, ...extra(i));
      return new DaemonRun(ue, spawnIn(`daemon ${ue.id}`, ue.ns, args, ue.logFile(tag)));
    });
    await waitDaemons(runs, security, stackUp);
    return runs;
  }

  async function waitDaemons(runs: DaemonRun[], security: Security, stackUp: boolean): Promise<void> {
    const by = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      for (const d of runs) if (!d.child.running) throw new ChildFailure(d.child, `${d.child.name} exited (${describeExit(d.child.exit!)})`);
      if (runs.every((d) => d.status && (security === 'off' || d.status.keys.ready) && (!stackUp || d.status.stack.linkUp))) return;
      if (Date.now() > by) {
        const why = runs.map((d) => `${d.ue.id}: ${d.status ? `keys ${d.status.keys.ready ? 'ready' : (d.status.keys.lastError ?? 'pending')}, stack ${d.status.stack.linkUp ? 'up' : (d.status.stack.lastError ?? 'down')}` : 'no status'}`);
        throw new ChildFailure(runs[0]!.child, `the daemons were not ready within ${START_TIMEOUT_MS / 1000} s (${why.join('; ')})`);
      }
      await sleep(100);
    }
  }

  async function stopDaemons(runs: DaemonRun[]): Promise<DaemonStatus[]> {
    await Promise.all(runs.map((d) => d.child.stop('SIGTERM', 5_000)));
    for (const d of runs) children.splice(children.indexOf(d.child), 1);
    return runs.map((d) => d.final ?? d.status!);
  }

  /** Ranging through both daemons for `seconds`, with a ping every 0.5 s alongside. */
  async function rangingRound(tb: OaiTestbed, daemons: DaemonRun[], path: InteropPath, round: number, security: Security): Promise<{ r: RoundResult; apps: RangingStats[] }> {
    const apps = tb.ues.map((ue) => new RangingApp({ endpoint: ue.appEndpoint, groupId: OAI_GROUP, ratePerSecond: o.rate }));
    await Promise.all(apps.map((a) => a.start()));
    const by = Date.now() + START_TIMEOUT_MS;
    // Attached: our app (and, on the pdcp path, OAI's glue) to each daemon.
    const wantPeers = path === 'pdcp' ? 2 : 1;
    while (!apps.every((a) => a.connected) || !daemons.every((d) => (d.status?.app.peers ?? 0) >= wantPeers)) {
      if (Date.now() > by) throw new Error(`the ranging applications (and OAI's glue) did not attach to the daemons (${daemons.map((d) => `${d.ue.id}: ${d.status?.app.peers ?? 0} peers`).join(', ')})`);
      pair!.check();
      await sleep(50);
    }
    for (const a of apps) a.startRequests();
    const pinging = pair!.ping(1, Math.max(1, Math.floor(o.seconds * 2)), 0.5);
    await sleep(o.seconds * 1000);
    for (const a of apps) a.stopRequests();
    const ping = await pinging;
    await sleep(DRAIN_MS);
    pair!.check();
    const stats = apps.map((a) => a.stats());
    await Promise.all(apps.map((a) => a.close()));
    const finals = await stopDaemons(daemons);
    const sent = stats.reduce((n, s) => n + s.requestsSent + s.responsesSent, 0);
    const delivered = stats.reduce((n, s) => n + s.requestsReceived + s.responsesReceived + s.responsesForOthers, 0);
    const lat = (f: { p50Us: number; p99Us: number; count: number }): LatencyPair => ({ p50Us: f.p50Us, p99Us: f.p99Us, count: f.count });
    const r: RoundResult = {
      path,
      round,
      security,
      seconds: o.seconds,
      sent,
      delivered,
      lostBelow: Math.max(0, finals[0]!.counters.pdusOut - finals[1]!.counters.envelopesIn) + Math.max(0, finals[1]!.counters.pdusOut - finals[0]!.counters.envelopesIn),
      rtt: stats.map((s) => lat(s.rtt)),
      ping: { sent: ping.sent, received: ping.received, p50Ms: pct(ping.rttMs, 50) },
      daemons: finals.map((s) => ({ ue: s.ue, protect: lat(s.latency.protect), unprotect: lat(s.latency.unprotect), securityDrops: s.securityDrops, dropped: s.dropped })),
    };
    say(
      `interop: ${path} round ${round} security ${security}: ${delivered}/${sent} ranging SDUs delivered (${r.lostBelow} PDUs lost below sl-bridge), RTT p50 ${r.rtt.map((x) => (x.p50Us / 1000).toFixed(1)).join(' / ')} ms, ` +
        `ping ${ping.received}/${ping.sent}` +
        (security === 'on' ? `, protect p50 ${r.daemons.map((d) => d.protect.p50Us).join(' / ')} us, unprotect p50 ${r.daemons.map((d) => d.unprotect.p50Us).join(' / ')} us` : ''),
    );
    return { r, apps: stats };
  }

  function summarizeRounds(p: PathResult): void {
    const on = p.rounds.filter((r) => r.security === 'on');
    p.sent = on.reduce((n, r) => n + r.sent, 0);
    p.delivered = on.reduce((n, r) => n + r.delivered, 0);
    const mode = (s: Security): { p50Ms: number; p99Ms: number; roundsP50Ms: number[] } => {
      const rs = p.rounds.filter((r) => r.security === s);
      const p50s = rs.map((r) => median(r.rtt.map((x) => x.p50Us)) / 1000);
      const p99s = rs.map((r) => median(r.rtt.map((x) => x.p99Us)) / 1000);
      return { p50Ms: round1(median(p50s)), p99Ms: round1(median(p99s)), roundsP50Ms: p50s.map(round1) };
    };
    const onF = mode('on');
    const offF = mode('off');
    // Noise: the spread of the rounds of each mode. A difference inside it is not measurable.
    const spread = (xs: number[]): number => (xs.length ? Math.max(...xs) - Math.min(...xs) : Infinity);
    const diff = onF.p50Ms - offF.p50Ms;
    const noise = Math.max(spread(onF.roundsP50Ms), spread(offF.roundsP50Ms));
    p.rtt = { on: onF, off: offF, differenceP50Ms: p.rounds.length >= 4 && Math.abs(diff) > noise ? round1(diff) : 'not measurable' };
    const cost = (k: 'protect' | 'unprotect'): string => {
      const v = on.flatMap((r) => r.daemons.map((d) => d[k].p50Us));
      return v.length ? `${round1(median(v))} us` : '-';
    };
    say(
      `interop: ${p.path} summary: ${p.delivered}/${p.sent} protected ranging SDUs delivered; RTT p50/p99 on ${onF.p50Ms}/${onF.p99Ms} ms, ` +
        `off ${offF.p50Ms}/${offF.p99Ms} ms (median of ${on.length} rounds each), on - off p50: ${typeof p.rtt.differenceP50Ms === 'number' ? `${p.rtt.differenceP50Ms} ms` : 'not measurable'}; ` +
        `per packet protect ${cost('protect')}, unprotect ${cost('unprotect')} (p50)`,
    );
    if (p.sent === 0) p.problems.push(`${p.path}: no ranging SDU was sent with security on`);
    for (const r of p.rounds) {
      if (r.sent - r.delivered > r.lostBelow) p.problems.push(`${p.path} round ${r.round} security ${r.security}: ${r.sent - r.delivered} ranging SDUs missing, only ${r.lostBelow} PDUs lost below sl-bridge`);
    }
    for (const r of p.rounds) {
      for (const d of r.daemons) if (d.securityDrops > 0 && r.security === 'on') p.problems.push(`${p.path} round ${r.round}: ${d.ue} had ${d.securityDrops} security drops ${JSON.stringify(d.dropped)}`);
    }
  }

  async function floorPing(): Promise<PathResult['floorPing']> {
    const f = await pair!.ping(1, 20, 0.2);
    return { sent: f.sent, received: f.received, p50Ms: pct(f.rttMs, 50), p99Ms: pct(f.rttMs, 99) };
  }

  function newPath(path: InteropPath, linkedAfterS: number, floor: PathResult['floorPing']): PathResult {
    const realtimeThreads = pair!.realtimeThreads();
    return {
      path,
      linkedAfterS: round1(linkedAfterS),
      realtimeThreads,
      floorPing: floor,
      rounds: [],
      delivered: 0,
      sent: 0,
      rtt: { on: { p50Ms: NaN, p99Ms: NaN, roundsP50Ms: [] }, off: { p50Ms: NaN, p99Ms: NaN, roundsP50Ms: [] }, differenceP50Ms: 'not measurable' },
      oai: [undefined, undefined],
      problems: realtimeThreads > 0 ? [`${path}: ${realtimeThreads} OAI threads run in a real-time class (SCHED_FIFO/RR); patch 0001 with OAI_NO_RT should leave none`] : [],
    };
  }

  async function tunPath(tb: OaiTestbed, n: OaiNamespaces): Promise<PathResult> {
    say('interop: tun path: two OAI UEs over the RF simulator, sl-bridge over UDP multicast on their TUN interfaces');
    pair = await OaiPair.start(build, n, { logDir: join(tb.dir, 'logs') });
    const linked = await pair.waitLinked();
    const floor = await floorPing();
    say(`interop: tun: OAI linked after ${linked.toFixed(0)} s; bare OAI ping ${floor.received}/${floor.sent}, p50 ${floor.p50Ms} ms`);
    const p = newPath('tun', linked, floor);
    tb.ues.forEach((u, i) => OaiNamespaces.ipIn(u.ns, ['link', 'set', OAI_TUN[i]!.iface, 'multicast', 'on']));
    const capture = join(tb.dir, 'oaitun_ue1.pcap');
    const keylog = join(tb.dir, 'ue1.keys');
    for (let round = 1; round <= o.rounds; round++) {
      for (const security of ['on', 'off'] as const) {
        const first = round === 1 && security === 'on';
        const daemons = await startDaemons(tb, 'tun', security, `tun-${round}-${security}`, (i) => (first && i === 0 ? ['--keylog', keylog] : []));
        let tshark: Child | undefined;
        if (first) {
          tshark = new Child('tshark', ['-i', OAI_TUN[0].iface, '-F', 'pcap', '-w', capture, '-f', 'udp port 5600'], join(tb.dir, 'logs', 'tshark.log'), {
            program: 'tshark',
            prefix: OaiNamespaces.exec(tb.ues[0].ns),
          });
          children.push(tshark);
          await waitForFile(tshark, capture);
        }
        const { r } = await rangingRound(tb, daemons, 'tun', round, security);
        p.rounds.push(r);
        if (tshark) {
          await tshark.stop('SIGINT', 5_000);
          children.splice(children.indexOf(tshark), 1);
          p.capture = await checkTunCapture(capture, keylog);
          say(
            `interop: tun capture on oaitun_ue1: ${p.capture.datagrams} datagrams, ${p.capture.accepted} deciphered by pdu decode, ` +
              `${p.capture.plaintextFound} plaintext SDUs found in the raw capture (of ${p.capture.sdusChecked} checked)`,
          );
          if (p.capture.datagrams === 0 || p.capture.accepted !== p.capture.datagrams) p.problems.push(`tun capture: ${p.capture.accepted} of ${p.capture.datagrams} datagrams deciphered`);
          if (p.capture.plaintextFound > 0) p.problems.push(`tun capture: ${p.capture.plaintextFound} plaintext SDUs in the capture`);
        }
      }
    }
    p.oai = pair.phyCounters();
    await pair.stop();
    pair = undefined;
    summarizeRounds(p);
    return p;
  }

  async function pdcpPath(tb: OaiTestbed, n: OaiNamespaces): Promise<PathResult> {
    say("interop: pdcp path: OAI's sidelink PDCP through sl-bridge (patch 0002), PDUs on the air are sl-bridge PDUs");
    // UE 2's glue goes through a relay (the attacker's place, after the air); UE 1's directly.
    const relayEndpoint = `ipc://${join(tb.dir, 'ue2-relay.sock')}`;
    const relay = new StackRelay(relayEndpoint, tb.ues[1].stackEndpoint);
    await relay.open();
    try {
      let daemons = await startDaemons(tb, 'pdcp', 'on', 'pdcp-start', undefined, false);
      const glueEnv = (ue: OaiUeFiles, stack: string): Record<string, string> => ({
        SLB_STACK_ENDPOINT: stack,
        SLB_APP_ENDPOINT: ue.appEndpoint,
        SLB_GROUP_ID: `0x${OAI_GROUP.toString(16).padStart(6, '0')}`,
      });
      pair = await OaiPair.start(build, n, { logDir: join(tb.dir, 'logs'), env: [glueEnv(tb.ues[0], tb.ues[0].stackEndpoint), glueEnv(tb.ues[1], relayEndpoint)] });
      const linked = await pair.waitLinked();
      say(`interop: pdcp: ping crosses OAI through sl-bridge after ${linked.toFixed(0)} s`);
      await stopDaemons(daemons);
      const p = newPath('pdcp', linked, { sent: 0, received: 0, p50Ms: null, p99Ms: null });
      for (let round = 1; round <= o.rounds; round++) {
        for (const security of ['on', 'off'] as const) {
          daemons = await startDaemons(tb, 'pdcp', security, `pdcp-${round}-${security}`);
          const { r } = await rangingRound(tb, daemons, 'pdcp', round, security);
          p.rounds.push(r);
        }
      }

      // Attacks after the air: one PDU altered, one repeated, on their way to UE 2's daemon.
      daemons = await startDaemons(tb, 'pdcp', 'on', 'pdcp-attack');
      const before = daemons[1]!.status!;
      // Traffic from UE 1 up to UE 2's daemon, then one PDU altered on its way.
      await pair.ping(0, 3, 0.3);
      relay.tamperWithNext();
      await pair.ping(0, 3, 0.3);
      await sleep(1_000);
      relay.replayLast();
      await sleep(1_000);
      const after = daemons[1]!.status!;
      const delta = (k: string): number => (after.dropped[k] ?? 0) - (before.dropped[k] ?? 0);
      p.attacks = { tampered: relay.counts.tampered, macFailures: delta('mac-failure'), replayed: relay.counts.replayed, replayDrops: delta('replay') };
      say(`interop: pdcp attacks after the air: ${p.attacks.tampered} PDU altered -> ${p.attacks.macFailures} mac-failure; ${p.attacks.replayed} repeated -> ${p.attacks.replayDrops} replay`);
      if (p.attacks.macFailures !== p.attacks.tampered || p.attacks.tampered === 0) p.problems.push(`pdcp: ${p.attacks.tampered} altered PDUs gave ${p.attacks.macFailures} mac-failure drops`);
      if (p.attacks.replayDrops !== p.attacks.replayed || p.attacks.replayed === 0) p.problems.push(`pdcp: ${p.attacks.replayed} repeated PDUs gave ${p.attacks.replayDrops} replay drops`);

      // A daemon killed under traffic (a ping crossing it) and restarted: OAI carries on.
      const during = pair.ping(0, 12, 0.25, 56, 1);
      await sleep(1_000);
      daemons[1]!.child.kill();
      await daemons[1]!.child.exited;
      children.splice(children.indexOf(daemons[1]!.child), 1);
      await during;
      pair.check();
      await stopDaemons([daemons[0]!]);
      daemons = await startDaemons(tb, 'pdcp', 'on', 'pdcp-restart');
      const { r: afterRestart } = await rangingRound(tb, daemons, 'pdcp', o.rounds + 1, 'on');
      p.restart = { oaiKeptRunning: pair.ues.every((u) => u.running), deliveredAfterRestart: afterRestart.delivered, pingAfterRestart: afterRestart.ping.received };
      if (!p.restart.oaiKeptRunning || afterRestart.delivered === 0) p.problems.push(`pdcp: after a daemon restart OAI ${p.restart.oaiKeptRunning ? 'ran' : 'died'} and ${afterRestart.delivered} ranging SDUs were delivered`);
      say(`interop: pdcp: daemon killed and restarted, OAI kept running: ${p.restart.oaiKeptRunning}; after it ${afterRestart.delivered}/${afterRestart.sent} delivered, ping ${afterRestart.ping.received}/${afterRestart.ping.sent}`);
      p.oai = pair.phyCounters();
      await pair.stop();
      p.glue = pair.ues.map((u) => glueLine(u.logFile));
      pair = undefined;
      summarizeRounds(p);
      return p;
    } finally {
      await relay.close();
    }
  }
}


function glueLine(logFile: string): string {
  try {
    const lines = readFileSync(logFile, 'utf8').split('\n').filter((l) => l.includes('sl-bridge glue:'));
    const last = lines.at(-1);
    return last === undefined ? '(no glue line)' : last.slice(last.indexOf('sl-bridge glue:')).trim();
  } catch {
    return '(no log)';
  }
}


async function waitForFile(c: Child, file: string): Promise<void> {
  const by = Date.now() + 15_000;
  for (;;) {
    try {
      if (readFileSync(file).length >= 24) return;
    } catch {
      /* not yet */
    }
    if (!c.running) throw new ChildFailure(c, `${c.name} exited (${describeExit(c.exit!)})`);
    if (Date.now() > by) throw new ChildFailure(c, `${c.name} did not start capturing`);
    await sleep(100);
  }
}

/** `pdu decode` on the TUN capture with UE 1's keylog, and a search of the raw file for every SDU it deciphered. */
async function checkTunCapture(capture: string, keylog: string): Promise<CaptureCheck> {
  const out = await new Promise<string>((res, rej) => {
    const c = spawn(process.execPath, [slBridgeBin(), 'pdu', 'decode', '--pcap', capture, '--keylog', keylog, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let s = '';
    let e = '';
    c.stdout.on('data', (d: Buffer) => (s += d.toString()));
    c.stderr.on('data', (d: Buffer) => (e += d.toString()));
    c.once('close', (code) => (code === 0 ? res(s) : rej(new Error(`pdu decode exited ${code}: ${e.trim()}`))));
  });
  const summary = summarizeCapture(out);
  return { ...summary, plaintextFound: findPlaintext(readFileSync(capture), summary.sdus), sdus: [] };
}
