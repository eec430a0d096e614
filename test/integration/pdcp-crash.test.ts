/**
 * Crash safety of PTK ID allocation with real processes (issue 3, docs/protocol.md 5): a sender child
 * protects PDUs as fast as it can and is killed with SIGKILL at random moments, then restarted on
 * its persisted state. Across every PDU it ever emitted, no (PGK ID, GMI, PTK ID, SN) may appear
 * twice, each restart must resume above every PTK ID used before, and an exhausted PGK is never
 * used again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const FIXTURE = new URL('../fixtures/pdcp-crash-sender.ts', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'pdcp-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Tuple {
  pgkId: number;
  gmi: number;
  ptkId: number;
  sn: number;
}

/** Complete lines only: what follows the last newline may be a write cut short by SIGKILL. */
function parseEmitted(text: string, file: string): Tuple[] {
  const lines = text.split('\n');
  lines.pop();
  return lines.map((line, i) => {
    const m = /^(\d+) (\d+) (\d+) (\d+)$/.exec(line);
    if (!m) throw new Error(`${file}:${i + 1}: malformed line ${JSON.stringify(line)}`);
    return { pgkId: Number(m[1]), gmi: Number(m[2]), ptkId: Number(m[3]), sn: Number(m[4]) };
  });
}

function startSender(args: string[]): { child: ChildProcess; ready: Promise<void>; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ready = new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready\n') || out.includes('stopped:')) resolve();
    });
    void exited.then((code) => reject(new Error(`sender exited (${code}) before it was ready: ${stderr}`)));
  });
  return { child, ready, exited };
}

/** Finds (PGK ID, GMI, PTK ID, SN) tuples emitted more than once over all runs. */
function duplicates(runs: Tuple[][]): number {
  const seen = new Map<string, Set<number>>();
  let dup = 0;
  for (const run of runs) {
    for (const t of run) {
      const space = `${t.pgkId}:${t.gmi}`;
      let counts = seen.get(space);
      if (counts === undefined) seen.set(space, (counts = new Set()));
      const count = t.ptkId * 0x10000 + t.sn;
      if (counts.has(count)) dup++;
      else counts.add(count);
    }
  }
  return dup;
}

const RUNS = 55;
const SEED_MARK = 0x10000 - 600; // the newest PGK (0x41) runs out of PTK IDs within the test

describe('PTK ID allocation survives SIGKILL (real processes)', () => {
  it(`never repeats a (PGK ID, GMI, PTK ID, SN) over ${RUNS} kills and restarts`, { timeout: 180_000 }, async () => {
    const state = join(dir, 'ptk-state.json');
    const runs: Tuple[][] = [];
    for (let i = 0; i < RUNS; i++) {
      const outFile = join(dir, `run-${i}.txt`);
      const sender = startSender([
        '--state', state, '--out', outFile, '--sn-per-ptk', '16', '--block', '4', '--seed-mark', String(SEED_MARK),
      ]);
      await sender.ready;
      // Random moment: anywhere in the next 0-120 ms of sending (a durable save happens every
      // 64 PDUs, so many kills land in or around one).
      await new Promise((r) => setTimeout(r, Math.random() * 120));
      sender.child.kill('SIGKILL');
      await sender.exited;
      runs.push(parseEmitted(readFileSync(outFile, 'utf8'), outFile));
    }

    const total = runs.reduce((n, r) => n + r.length, 0);
    expect(total).toBeGreaterThan(RUNS * 64);
    expect(duplicates(runs)).toBe(0);

    // Each restart resumes strictly above every PTK ID used before, per PGK.
    const maxPtk = new Map<number, number>();
    for (const run of runs) {
      const firstInRun = new Map<number, number>();
      for (const t of run) if (!firstInRun.has(t.pgkId)) firstInRun.set(t.pgkId, t.ptkId);
      for (const [pgkId, first] of firstInRun) {
        expect(first).toBeGreaterThan(maxPtk.get(pgkId) ?? -1);
      }
      for (const t of run) maxPtk.set(t.pgkId, Math.max(maxPtk.get(t.pgkId) ?? -1, t.ptkId));
      // SN runs 0..15 in each PTK ID (snPerPtk 16), PTK IDs only go up within a run.
      for (let k = 1; k < run.length; k++) {
        const a = run[k - 1]!;
        const b = run[k]!;
        if (a.pgkId === b.pgkId && a.ptkId === b.ptkId) expect(b.sn).toBe(a.sn + 1);
        else if (a.pgkId === b.pgkId) expect(b.ptkId).toBeGreaterThan(a.ptkId);
      }
    }

    // The seeded PGK 0x41 started above the seed mark, got exhausted, and was never used after
    // the sender moved to PGK 0x40.
    const all = runs.flat();
    expect(all.filter((t) => t.pgkId === 0x41).every((t) => t.ptkId >= SEED_MARK)).toBe(true);
    const firstOld = all.findIndex((t) => t.pgkId === 0x40);
    expect(firstOld).toBeGreaterThan(0);
    expect(all.slice(firstOld).some((t) => t.pgkId === 0x41)).toBe(false);
    expect(all.every((t) => t.gmi === 0xab)).toBe(true);
  });

  it('the duplicate check catches COUNT reuse when nothing is persisted (control)', { timeout: 60_000 }, async () => {
    const runs: Tuple[][] = [];
    for (let i = 0; i < 2; i++) {
      const outFile = join(dir, `control-${i}.txt`);
      const sender = startSender(['--memory-store', '--out', outFile]);
      await sender.ready;
      await new Promise((r) => setTimeout(r, 30));
      sender.child.kill('SIGKILL');
      await sender.exited;
      runs.push(parseEmitted(readFileSync(outFile, 'utf8'), outFile));
    }
    expect(duplicates(runs)).toBeGreaterThan(0);
  });
});
