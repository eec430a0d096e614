/**
 * `sl-bridge demo` through the built CLI: a short run whose JSON shows every UE (the roaming one
 * too) receiving every other UE's traffic with zero security drops; a daemon that dies mid-run is
 * reported and everything is cleaned up; so is Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DemoResult } from '../../bridge/demo/report.js';
import { processAlive } from '../../bridge/state/ptk-high-water-file.js';
import { BIN, tmpDir } from '../fixtures/pkmf-testbed.js';

const t = tmpDir('slb-demo-test-');
afterAll(() => t.cleanup());

interface Run {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function demo(args: string[]): Run {
  const child = spawn(process.execPath, [BIN, 'demo', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  return { child, output: () => out, exited };
}

async function waitForOutput(run: Run, re: RegExp, timeoutMs = 60_000): Promise<RegExpExecArray> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const m = re.exec(run.output());
    if (m) return m;
    if (run.child.exitCode !== null) throw new Error(`demo exited before ${re}:\n${run.output()}`);
    if (Date.now() > end) throw new Error(`timed out waiting for ${re}:\n${run.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Child processes of `pid` with their command lines (Linux /proc). */
function childrenOf(pid: number): { pid: number; cmd: string }[] {
  const out: { pid: number; cmd: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push({ pid: Number(entry), cmd: readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ') });
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

describe('sl-bridge demo', () => {
  it('3 UEs, one roaming: every UE receives every other UE with zero security drops; JSON written, nothing left behind', async () => {
    const json = join(t.dir, 'demo.json');
    const run = demo(['--ues', '3', '--seconds', '3', '--rate', '20', '--json', json]);
    const dir = (await waitForOutput(run, /working directory (\S+)/))[1]!;
    const { code } = await run.exited;
    expect(code, run.output()).toBe(0);
    expect(run.output()).toContain('OK: every UE received every other UE');

    const r = JSON.parse(readFileSync(json, 'utf8')) as DemoResult;
    expect(r.ok).toBe(true);
    expect(r.allReceivedFromAll).toBe(true);
    expect(r.securityDrops).toBe(0);
    // The default 5 s warm-up: counted as traffic, left out of the round trips.
    expect(r.warmupSeconds).toBe(5);
    for (const u of r.ues) expect(u.ranging!.rttUs!.count).toBeLessThan(u.ranging!.responsesReceived);
    expect(r.ues.map((u) => [u.id, u.roaming, u.servingPlmn])).toEqual([
      ['ue1', false, '001-01'],
      ['ue2', false, '001-01'],
      ['ue3', true, '001-02'],
    ]);
    expect(new Set(r.ues.map((u) => u.gmi)).size).toBe(3);
    for (const u of r.ues) {
      expect(u.gmi).toMatch(/^[0-9a-f]{6}$/);
      expect(u.sent).toBeGreaterThan(0);
      expect(u.dropped).toEqual({});
      const others = r.ues.filter((o) => o !== u);
      // Everything each other UE sent reached this one (no loss configured on the medium).
      for (const o of others) expect(u.receivedFrom[o.id], `${u.id} from ${o.id}`).toBe(o.sent);
      expect(u.received).toBe(others.reduce((n, o) => n + o.sent, 0));
      expect(u.ranging!.responsesReceived).toBeGreaterThan(0);
      expect(u.latency!.protect.count).toBe(u.sent);
      expect(u.latency!.unprotect.count).toBe(u.received);
    }
    expect(r.processes.map((p) => p.name)).toEqual(expect.arrayContaining(['pkmf-op1', 'pkmf-op2', 'medium', 'daemon ue1', 'daemon ue3']));
    for (const p of r.processes) if (p.pid !== null && p.pid !== run.child.pid) expect(processAlive(p.pid), p.name).toBe(false);
    expect(existsSync(dir)).toBe(false);
  });

  it('reports a daemon that dies mid-run, stops the rest and cleans up', async () => {
    const run = demo(['--ues', '2', '--seconds', '60', '--rate', '10']);
    const dir = (await waitForOutput(run, /working directory (\S+)/))[1]!;
    await waitForOutput(run, /demo: ranging for/);
    const kids = childrenOf(run.child.pid!);
    expect(kids.length).toBe(5); // 2 PKMFs, medium, 2 daemons
    const victim = kids.find((k) => k.cmd.includes(' run ') && k.cmd.includes('ue2.yaml'))!;
    process.kill(victim.pid, 'SIGKILL');
    const { code } = await run.exited;
    expect(code).toBe(1);
    expect(run.output()).toContain(`daemon ue2 (pid ${victim.pid}) died unexpectedly (signal SIGKILL)`);
    expect(run.output()).toContain('--- last lines of');
    for (const k of kids) expect(processAlive(k.pid), k.cmd).toBe(false);
    expect(existsSync(dir)).toBe(false);
  });

  it('Ctrl-C ends the traffic early with a summary, stops everything and removes the working directory', async () => {
    const run = demo(['--ues', '2', '--seconds', '60', '--rate', '10']);
    const dir = (await waitForOutput(run, /working directory (\S+)/))[1]!;
    await waitForOutput(run, /demo: ranging for/);
    await new Promise((r) => setTimeout(r, 2000)); // some traffic first
    const kids = childrenOf(run.child.pid!);
    run.child.kill('SIGINT');
    const { code } = await run.exited;
    expect(code, run.output()).toBe(0);
    expect(run.output()).toContain('interrupted');
    // The traffic that ran is summarised.
    expect(run.output()).toMatch(/sl-bridge demo: 2 UEs, group 0d0001, .* for \d+\.\d s/);
    for (const k of kids) expect(processAlive(k.pid), k.cmd).toBe(false);
    expect(existsSync(dir)).toBe(false);
  });
  it('--keep keeps the directory and prints the commands it ran, which name files that exist', async () => {
    const run = demo(['--ues', '2', '--seconds', '1', '--keep']);
    expect((await run.exited).code).toBe(0);
    const out = run.output();
    const dir = /demo: kept (\S+) \(configs, logs, state\); the commands it ran/.exec(out)?.[1];
    expect(dir).toBeDefined();
    const commands = out.split('\n').filter((l) => l.startsWith('  sl-bridge '));
    // Two PKMFs, the medium, two daemons, two ranging applications.
    expect(commands.filter((l) => l.includes('sl-bridge pkmf --config'))).toHaveLength(2);
    expect(commands.filter((l) => l.includes('sl-bridge medium --endpoint'))).toHaveLength(1);
    expect(commands.filter((l) => l.includes('sl-bridge run --config'))).toHaveLength(2);
    expect(commands.filter((l) => l.includes('sl-bridge app ranging --endpoint'))).toHaveLength(2);
    for (const config of commands.flatMap((l) => [.../--config (\S+)/.exec(l)?.slice(1) ?? []])) expect(existsSync(config)).toBe(true);
    rmSync(dir!, { recursive: true, force: true });
  });
});
