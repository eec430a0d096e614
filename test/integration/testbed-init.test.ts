/**
 * `sl-bridge init DIR --ues 3`, then DIR/testbed.sh start: within 20 s `status --json` shows every
 * UE receiving; `stop` leaves no process behind. Also what init refuses, and the roaming /
 * multi-operator layout (every UE's keys from the operator the config names).
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const BIN = new URL('../../bin/sl-bridge.js', import.meta.url).pathname;
const root = mkdtempSync(join(tmpdir(), 'sl-init-'));
// Fixed ports below the ephemeral range, different per run.
const BASE = 10_000 + (process.pid % 90) * 220;
const started: string[] = [];

afterAll(async () => {
  for (const dir of started) spawnSync(join(dir, 'testbed.sh'), ['stop'], { encoding: 'utf8' });
  rmSync(root, { recursive: true, force: true });
});

interface Status {
  ues: { id: string; running: boolean; sent: number; received: number }[];
}

async function status(dir: string): Promise<Status> {
  const { stdout } = await exec(join(dir, 'testbed.sh'), ['status', '--json']);
  return JSON.parse(stdout) as Status;
}

const pidsOf = (dir: string): number[] =>
  readdirSync(join(dir, 'run'))
    .filter((f) => f.endsWith('.pid'))
    .map((f) => Number(readFileSync(join(dir, 'run', f), 'utf8')));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('sl-bridge init', () => {
  it('writes a testbed that testbed.sh starts, reports on and stops without leaving a process', async () => {
    const dir = join(root, 'tb');
    const init = spawnSync(process.execPath, [BIN, 'init', dir, '--ues', '3', '--base-port', String(BASE)], { encoding: 'utf8' });
    expect(init.stderr).toBe('');
    expect(init.status).toBe(0);
    // Configs refer to the testbed's files relatively (the directory can be moved or copied).
    const ue1 = parse(readFileSync(join(dir, 'ue1.yaml'), 'utf8')) as { keys: { tls: { cert: string } }; app: { endpoint: string } };
    expect(ue1.keys.tls.cert).toBe('pki/op1/ue1.crt');
    expect(ue1.app.endpoint).toBe(`tcp://127.0.0.1:${BASE + 101}`);
    const startMd = readFileSync(join(dir, 'START.md'), 'utf8');
    const order = ['sl-bridge medium', 'sl-bridge pkmf', 'sl-bridge run', 'sl-bridge app ranging'].map((c) => startMd.indexOf(c));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);

    started.push(dir);
    const start = await exec(join(dir, 'testbed.sh'), ['start']);
    expect(start.stdout).toMatch(/testbed: started/);
    const pids = pidsOf(dir);
    expect(pids).toHaveLength(1 + 1 + 3 + 3);
    let s: Status = { ues: [] };
    const by = Date.now() + 20_000;
    while (Date.now() < by) {
      s = await status(dir);
      if (s.ues.length === 3 && s.ues.every((u) => u.running && u.received > 0)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(s.ues.map((u) => u.id)).toEqual(['ue1', 'ue2', 'ue3']);
    for (const u of s.ues) {
      expect(u.running).toBe(true);
      expect(u.sent).toBeGreaterThan(0);
      expect(u.received).toBeGreaterThan(0);
    }

    const stop = await exec(join(dir, 'testbed.sh'), ['stop']);
    expect(stop.stdout).toMatch(/stopped 8 processes/);
    expect(pids.filter(alive)).toEqual([]);
    expect((await status(dir)).ues.every((u) => !u.running)).toBe(true);
    // The daemons stopped cleanly: each wrote its final status line.
    for (const ue of ['ue1', 'ue2', 'ue3']) expect(readFileSync(join(dir, 'logs', `${ue}.jsonl`), 'utf8')).toMatch(/"event":"final"/);
  });

  it('spreads UEs over operators, serves the roaming one through the visited PKMF, and they all get keys', async () => {
    const dir = join(root, 'roam');
    const init = spawnSync(process.execPath, [BIN, 'init', dir, '--ues', '3', '--operators', '2', '--roaming', '--base-port', String(BASE + 110), '--rate', '0'], { encoding: 'utf8' });
    expect(init.status).toBe(0);
    const ue = (n: number): { keys: { homePlmn: string; pkmf: { port: number }; tls: { ca: string } } } =>
      parse(readFileSync(join(dir, `ue${n}.yaml`), 'utf8')) as never;
    expect(ue(2).keys.homePlmn).toBe('001-02');
    // ue3: a subscriber of 001-01 (home of odd UEs) served by 001-02's PKMF and trusting its CA.
    expect(ue(3).keys.homePlmn).toBe('001-01');
    expect(ue(3).keys.pkmf.port).toBe(BASE + 110 + 20);
    expect(ue(3).keys.tls.ca).toBe('pki/op2/ca.crt');
    started.push(dir);
    await exec(join(dir, 'testbed.sh'), ['start']);
    const by = Date.now() + 20_000;
    let ready = false;
    while (!ready && Date.now() < by) {
      ready = [1, 2, 3].every((n) => /"ready":true/.test(readFileSync(join(dir, 'logs', `ue${n}.jsonl`), 'utf8')));
      if (!ready) await new Promise((r) => setTimeout(r, 300));
    }
    expect(ready).toBe(true);
    await exec(join(dir, 'testbed.sh'), ['stop']);
  });

  it('refuses a non-empty directory without --force, bad flags, and a base port whose range does not fit', () => {
    const dir = join(root, 'full');
    spawnSync(process.execPath, [BIN, 'init', dir], { encoding: 'utf8' });
    writeFileSync(join(dir, 'mine.txt'), 'x');
    const again = spawnSync(process.execPath, [BIN, 'init', dir], { encoding: 'utf8' });
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/exists and is not empty \(--force/);
    expect(spawnSync(process.execPath, [BIN, 'init', dir, '--force'], { encoding: 'utf8' }).status).toBe(0);
    const ports = spawnSync(process.execPath, [BIN, 'init', join(root, 'p'), '--base-port', '65400'], { encoding: 'utf8' });
    expect(ports.status).toBe(2);
    expect(ports.stderr).toMatch(/--base-port: ports 65400\.\.65701 must lie within 1024\.\.65535/);
    const ues = spawnSync(process.execPath, [BIN, 'init', join(root, 'u'), '--ues', '0'], { encoding: 'utf8' });
    expect(ues.status).toBe(2);
    expect(ues.stderr).toMatch(/--ues/);
  });
});
