/**
 * `sl-bridge demo`: the whole system on one machine, on built-in defaults, no radio.
 *
 *   1. a temporary directory with two operators' PKIs and configs (setup.ts);
 *   2. a home and a visited PKMF (`sl-bridge pkmf`), the medium emulator (`sl-bridge medium`) and
 *      N daemons (`sl-bridge run`), each its own process, started with this Node binary;
 *   3. once every daemon holds the group's keys, one ranging application per UE (bridge/app/, in
 *      this process) sends timestamped ranging requests to the group and answers the others';
 *   4. a live table (daemons report a JSON status line every second on their stdout), then a
 *      summary and optionally a JSON document (`--json`).
 *
 * Every child process and the temporary directory are removed on the way out, Ctrl-C included
 * (a second Ctrl-C kills at once). A child that dies is reported with the end of its log.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { RangingApp } from '../app/ranging.js';
import { writeJsonFile } from '../cli-error.js';
import { Child, ChildFailure, describeExit } from './children.js';
import { buildResult, summaryLines, tableLines, type DemoResult, type UeView } from './report.js';
import { SliceRecorder, machineCpuMs, type DemoSlices } from './slices.js';
import { DEMO_GROUP, DEMO_NEA, DEMO_NIA, keysComplete, keysShortfall, writeDemoTestbed, type DemoTestbed } from './setup.js';
import type { SourceAuthMode } from '../../src/keys/types.js';
import { hex24 } from '../../src/pkmf/identity.js';
import { shellWord } from '../testbed/shell.js';

/** The flags as bridge/commands/demo.ts parses them; the medium's flags stay text, passed on to it. */
export interface DemoFlags {
  ues: number;
  seconds: number;
  /** Seconds of traffic before the measured interval, left out of the latency figures. */
  warmup: number;
  rate: number;
  json?: string;
  loss?: string;
  delayMs?: string;
  jitterMs?: string;
  sduBytes?: number;
  pcap?: string;
  keylog?: string;
  security: 'on' | 'off';
  /** The group's source authentication (docs/pkmf.md); every UE then requires it. */
  sourceAuth: SourceAuthMode;
  keep?: boolean;
  /** Cut the measured interval into this many slices with figures of their own (JSON `slices`). */
  slices?: number;
}

const START_TIMEOUT_MS = 30_000;
const KEYS_TIMEOUT_MS = 30_000;
/** After the last request: at least this long for the PDUs in flight to arrive before counting... */
const DRAIN_MS = 500;
/** ...and until every daemon's counters stand still over two status lines, at most this long. */
const SETTLE_TIMEOUT_MS = 10_000;

class Interrupted extends Error {}

/** CPU time (user + system) of a process.cpuUsage() reading, ms. */
const cpuMsOf = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000;

export async function runDemo(flags: DemoFlags): Promise<void> {
  const { ues: ueCount, seconds, rate, sduBytes = 0, security, sourceAuth, warmup } = flags;
  const mediumArgs: string[] = [];
  if (flags.loss !== undefined) mediumArgs.push('--loss', flags.loss);
  if (flags.delayMs !== undefined) mediumArgs.push('--delay-ms', flags.delayMs);
  if (flags.jitterMs !== undefined) mediumArgs.push('--jitter-ms', flags.jitterMs);

  const out = process.stdout;
  const tty = out.isTTY === true;
  const say = (line: string): void => void out.write(`${line}\n`);
  const dir = mkdtempSync(join(tmpdir(), 'sl-bridge-demo-'));
  const children: Child[] = [];
  const apps: RangingApp[] = [];
  let failure: ChildFailure | undefined;
  let interrupts = 0;
  let wake: (() => void) | undefined;

  const cleanupNow = (): void => {
    for (const c of children) c.kill();
    if (!flags.keep) rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = (): void => {
    interrupts++;
    if (interrupts > 1) {
      cleanupNow();
      process.exit(130);
    }
    say('\ndemo: interrupted; stopping (Ctrl-C again to kill everything at once)');
    wake?.();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', cleanupNow);

  const spawnChild = (name: string, args: string[], logFile: string): Child => {
    const c = new Child(name, args, logFile);
    children.push(c);
    void c.exited.then((e) => {
      if (c.stopping || failure) return;
      failure = new ChildFailure(c, `${name} (pid ${c.pid}) died unexpectedly (${describeExit(e)})`);
      wake?.();
    });
    return c;
  };
  /** Throws if a child died, or (`startup`) Ctrl-C was pressed before the traffic started. */
  const check = (startup = true): void => {
    if (failure) throw failure;
    if (startup && interrupts > 0) throw new Interrupted();
  };
  /** Waits up to `ms`, returning early on a death or Ctrl-C. */
  const pause = (ms: number): Promise<void> =>
    new Promise<void>((r) => {
      const t = setTimeout(done, ms);
      wake = done;
      function done(): void {
        clearTimeout(t);
        wake = undefined;
        r();
      }
    });

  let tb: DemoTestbed | undefined;
  const views: UeView[] = [];
  let result: DemoResult | undefined;
  let trafficSeconds = 0;
  const startedAt = new Date();
  const demoCpu0 = process.cpuUsage();
  const demoT0 = performance.now();
  try {
    say(`demo: ${ueCount} UEs (${ueCount - 1} at home, 1 roaming), working directory ${dir}`);
    if (security === 'off') say('demo: SECURITY OFF: SDUs go in clear, no PDCP protection (a baseline for latency comparisons)');
    else if (sourceAuth !== 'none') say(`demo: source authentication ${sourceAuth}: receivers accept a PDU only from the member it names`);
    tb = await writeDemoTestbed(dir, ueCount, sourceAuth);
    check();

    // PKMFs: home (owns the group) and visited (serves the roaming UE through the home PKMF).
    const pkmfs = tb.pkmfs.map((p) => spawnChild(p.name, ['pkmf', '--config', p.config], p.logFile));
    const listening = await Promise.all(
      pkmfs.map((c) =>
        c.waitForLine(
          'PKMF listening',
          (line) => {
            if (!line.includes('"PKMF listening"')) return undefined;
            const j = JSON.parse(line) as { plmn: string; ue: { host: string; port: number } };
            return `${j.plmn} on ${j.ue.host}:${j.ue.port}`;
          },
          START_TIMEOUT_MS,
        ),
      ),
    );
    say(`demo: home PKMF ${listening[0]}, visited PKMF ${listening[1]} (roaming agreement)`);

    const medium = spawnChild('medium', ['medium', '--endpoint', tb.mediumEndpoint, '--stats-json', tb.mediumStatsFile, ...mediumArgs], tb.mediumLog);
    const mediumLine = await medium.waitForLine('listening', (l) => (l.startsWith('medium: listening on') ? l.slice('medium: '.length) : undefined), START_TIMEOUT_MS);
    say(`demo: medium emulator ${mediumLine}`);

    const daemons = tb.ues.map((ue, i) => {
      const view: UeView = { ue, status: undefined, app: undefined };
      views.push(view);
      const args = ['run', '--config', ue.config, '--status-interval', '1', '--security', security];
      if (i === 0 && flags.pcap) args.push('--pcap', resolve(flags.pcap));
      if (i === 0 && flags.keylog) args.push('--keylog', resolve(flags.keylog));
      const c = spawnChild(`daemon ${ue.id}`, args, ue.logFile);
      c.onStatus((s) => (view.status = s));
      return c;
    });
    await Promise.all(daemons.map((c) => c.waitForLine('ready', (l) => (l.includes('"event":"ready"') ? true : undefined), START_TIMEOUT_MS)));
    say(`demo: ${daemons.length} daemons running; fetching keys`);

    const keysBy = performance.now() + KEYS_TIMEOUT_MS;
    while (!views.every((v) => keysComplete(v.status, ueCount))) {
      check();
      if (performance.now() > keysBy) {
        const missing = views.filter((v) => !keysComplete(v.status, ueCount)).map((v) => `${v.ue.id} (${keysShortfall(v.status, ueCount)})`);
        throw new Error(`no keys after ${KEYS_TIMEOUT_MS / 1000} s for ${missing.join(', ')}; logs in ${dir}/logs (run with --keep to look at them)`);
      }
      await pause(100);
    }
    for (const v of views) {
      const g = v.status!.keys.groups[0]!;
      const members = g.members === undefined ? '' : `, source authentication ${g.sourceAuth} (${g.members} members)`;
      say(`demo: ${v.ue.id} ${v.ue.supi} GMI ${g.gmi} PGK ${g.pgkIds[0]} via ${v.status!.keys.servingPlmn ?? '?'}${v.ue.roaming ? ' (roaming)' : ''}${members}`);
    }

    const recorder =
      flags.slices === undefined
        ? undefined
        : new SliceRecorder(flags.slices, seconds, {
            apps: () => apps.map((a) => a.stats()),
            cpu: () => ({ daemons: daemons.map((c) => c.cpuMs()), medium: medium.cpuMs(), pkmfs: pkmfs.map((c) => c.cpuMs()), apps: cpuMsOf(process.cpuUsage()) }),
            machineCpuMs,
          });
    const onRoundTrip = recorder && ((ns: number): void => recorder.roundTrip(ns));
    // One ranging application per UE; all start sending together once all are attached.
    for (const v of views) apps.push(new RangingApp({ endpoint: v.ue.appEndpoint, groupId: DEMO_GROUP, ratePerSecond: rate, sduBytes, onRoundTrip }));
    await Promise.all(apps.map((a) => a.start()));
    const attachBy = performance.now() + START_TIMEOUT_MS;
    while (!apps.every((a) => a.connected) || !views.every((v) => (v.status?.app.peers ?? 0) > 0)) {
      check();
      if (performance.now() > attachBy) throw new Error('the ranging applications did not attach to their daemons');
      await pause(50);
    }
    say(
      `demo: ranging for ${seconds} s at ${rate} requests/s per UE (every UE answers every request it hears)` +
        `${warmup > 0 ? ` after a ${warmup} s warm-up left out of the latency figures` : ''}${tty ? '' : '; a status block every 5 s'}`,
    );
    for (const a of apps) a.startRequests();
    if (warmup > 0) {
      // The first traffic is what every process meets cold (JIT, first key derivations, socket
      // buffers); with many UEs on a few cores it takes seconds, and it would be most of the p99.
      await pause(warmup * 1000);
      check(false);
      for (const a of apps) a.resetLatency();
    }
    const t0 = performance.now();
    const cpuAtStart = children.map((c) => c.cpuMs());
    const daemonCpuAtStart = daemons.map((c) => c.cpuMs());
    const demoCpuAtStart = process.cpuUsage();
    recorder?.start(t0);

    let drawn = 0;
    let nextPlain = 5;
    const draw = (elapsed: number): void => {
      views.forEach((v, i) => {
        v.app = apps[i]!.stats();
        const cpu = daemons[i]!.cpuMs();
        const at = daemonCpuAtStart[i];
        if (cpu !== undefined && at !== undefined && elapsed > 0) v.rangingCpuPercent = (cpu - at) / (elapsed * 10);
      });
      const lines = [`t = ${elapsed.toFixed(0)} / ${seconds} s`, ...tableLines(views)];
      if (tty) {
        out.write(`${drawn > 0 ? `\x1b[${drawn}A` : ''}${lines.map((l) => `\x1b[2K${l}`).join('\n')}\n`);
        drawn = lines.length;
      } else if (elapsed >= nextPlain) {
        nextPlain += 5;
        say(lines.join('\n'));
      }
    };
    for (;;) {
      const elapsed = (performance.now() - t0) / 1000;
      draw(elapsed);
      // Ctrl-C during the traffic ends it early, with the summary of what ran.
      if (elapsed >= seconds || interrupts > 0) break;
      check(false);
      await pause(Math.min(1000, (seconds - elapsed) * 1000, (recorder?.nextCutMs ?? Infinity) - performance.now()));
      recorder?.cutIfDue(performance.now());
    }
    for (const a of apps) a.stopRequests();
    const trafficMs = performance.now() - t0;
    const slices: DemoSlices | undefined = recorder?.finish(t0 + trafficMs);
    trafficSeconds = trafficMs / 1000;
    const cpuAtEnd = children.map((c) => c.cpuMs());
    const demoTrafficCpu = process.cpuUsage(demoCpuAtStart);
    await pause(DRAIN_MS);
    // A loaded machine may still have PDUs queued somewhere: wait until two successive status
    // lines of every daemon, both produced after the drain, show the same counters.
    const settledAfter = Date.now();
    const last = new Map<UeView, { timeMs: number; counters: string; stable: boolean }>();
    const settleBy = performance.now() + SETTLE_TIMEOUT_MS;
    while (performance.now() < settleBy) {
      check(false);
      for (const v of views) {
        const s = v.status;
        const seen = last.get(v);
        if (!s || s.timeMs <= settledAfter || s.timeMs === seen?.timeMs) continue;
        const counters = JSON.stringify([s.counters, s.dropped]);
        last.set(v, { timeMs: s.timeMs, counters, stable: seen?.counters === counters });
      }
      if (views.every((v) => last.get(v)?.stable === true)) break;
      await pause(250);
    }
    for (const [i, v] of views.entries()) v.app = apps[i]!.stats();
    await Promise.all(apps.map((a) => a.close()));
    apps.length = 0;

    // CPU of every process while the traffic ran (and over its whole life), then a clean stop
    // (the daemons print their final status).
    const pct = (ms: number | undefined, wallMs: number): number | null => (ms === undefined ? null : Math.round((ms / wallMs) * 1000) / 10);
    const processes: DemoResult['processes'] = children.map((c, i) => {
      const cpuMs = c.cpuMs();
      const atStart = cpuAtStart[i];
      const atEnd = cpuAtEnd[i];
      return {
        name: c.name,
        pid: c.pid ?? null,
        cpuMs: cpuMs ?? null,
        cpuPercent: pct(cpuMs, performance.now() - c.startedAt),
        trafficCpuPercent: atEnd === undefined || atStart === undefined ? null : pct(atEnd - atStart, trafficMs),
      };
    });
    processes.push({
      name: 'demo (ranging apps)',
      pid: process.pid,
      cpuMs: Math.round(cpuMsOf(process.cpuUsage(demoCpu0))),
      cpuPercent: pct(cpuMsOf(process.cpuUsage(demoCpu0)), performance.now() - demoT0),
      trafficCpuPercent: pct(cpuMsOf(demoTrafficCpu), trafficMs),
    });
    await Promise.all(daemons.map((c) => c.stop()));
    await medium.stop();
    let mediumStats: unknown = null;
    try {
      mediumStats = JSON.parse(readFileSync(tb.mediumStatsFile, 'utf8'));
    } catch {
      /* not written: reported as null */
    }
    await Promise.all(pkmfs.map((c) => c.stop()));
    const unclean = [...daemons, medium, ...pkmfs].filter((c) => c.exit && c.exit.code !== 0);
    result = buildResult({
      views,
      startedAt,
      seconds: Math.round(trafficSeconds * 10) / 10,
      warmupSeconds: warmup,
      rate,
      group: hex24(DEMO_GROUP),
      algorithms: security === 'on' ? { nea: DEMO_NEA, nia: DEMO_NIA, profile: 'pcr', sourceAuth } : { nea: 0, nia: 0, profile: 'security off', sourceAuth: 'none' },
      medium: mediumStats,
      processes,
      problems: unclean.map((c) => `${c.name} did not stop cleanly (${describeExit(c.exit!)})`),
      slices,
    });
  } catch (e) {
    if (e instanceof Interrupted) {
      say('demo: stopped before the traffic started; no summary');
    } else if (e instanceof ChildFailure) {
      say(`\ndemo: ${e.message}\n--- last lines of ${e.child.logFile} ---\n${e.child.tail()}\n---`);
      process.exitCode = 1;
    } else {
      say(`\ndemo: ${(e as Error).message}`);
      process.exitCode = 1;
    }
  } finally {
    await Promise.all(apps.map((a) => a.close().catch(() => undefined)));
    await Promise.all(children.map((c) => c.stop('SIGTERM', 3_000)));
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', cleanupNow);
    if (flags.keep) {
      say(`demo: kept ${dir} (configs, logs, state); the commands it ran (from any directory):`);
      for (const c of children) say(`  sl-bridge ${c.args.map(shellWord).join(' ')}`);
      if (tb) for (const ue of tb.ues) say(`  sl-bridge app ranging --endpoint ${ue.appEndpoint} --group 0x${hex24(tb.group)} --rate ${rate} --name ${ue.id}  # in-process in the demo`);
    } else rmSync(dir, { recursive: true, force: true });
  }
  if (!result) return;
  say(summaryLines(result, views).join('\n'));
  if (flags.json) {
    writeJsonFile(flags.json, result);
    say(`demo: wrote ${flags.json}`);
  }
  if (!result.ok) process.exitCode = 1;
}
