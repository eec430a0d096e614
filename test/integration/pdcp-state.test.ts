/**
 * The durable PTK ID high-water-mark file (bridge/state): reload, refusal of damaged files,
 * monotonic marks, the allocator on top of it, and its one-process kernel lock
 * (bridge/state/state-lock.ts) raced for, held and SIGKILLed by real processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { FilePtkHighWaterStore, PtkStateError } from '../../bridge/state/ptk-high-water-file.js';
import { acquireStateLock, StateLockError } from '../../bridge/state/state-lock.js';
import { PTK_ID_SPACE, PtkIdAllocator } from '../../src/pdcp/index.js';

const dir = mkdtempSync(join(tmpdir(), 'pdcp-state-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => join(dir, `s${n++}`, 'ptk.json');
const A = { groupId: 0xabcdef, gmi: 0x000102, pgkId: 0xfffffffe, pgkTag: '00112233445566ff' };
const B = { groupId: 1, gmi: 2, pgkId: 3, pgkTag: 'ffeeddccbbaa9988' };

describe('FilePtkHighWaterStore', () => {
  it('persists marks across reopen, in a small JSON file', () => {
    const file = fresh();
    const s1 = new FilePtkHighWaterStore(file);
    expect(s1.load(A)).toBeUndefined();
    s1.save(A, 8);
    s1.save(B, PTK_ID_SPACE);
    s1.save(A, 16);
    expect(s1.saves).toBe(3);
    s1.close();
    const s2 = new FilePtkHighWaterStore(file);
    expect(s2.load(A)).toBe(16);
    expect(s2.load(B)).toBe(PTK_ID_SPACE);
    expect(s2.entries()).toHaveLength(2);
    expect(JSON.parse(readFileSync(file, 'utf8')).marks[`${0xabcdef}:${0x102}:${0xfffffffe}:00112233445566ff`]).toBe(16);
    expect(existsSync(`${file}.tmp`)).toBe(false);
    expect(existsSync(`${file}.${process.pid}.tmp`)).toBe(false);
    s2.close();
  });

  it('never lets a mark go down, nor past the PTK ID space', () => {
    const s = new FilePtkHighWaterStore(fresh());
    s.save(A, 10);
    expect(() => s.save(A, 9)).toThrow(/never go down/);
    expect(() => s.save(A, PTK_ID_SPACE + 1)).toThrow(RangeError);
    expect(s.load(A)).toBe(10);
    s.close();
  });

  it('refuses a damaged file instead of starting from zero', () => {
    for (const content of ['{"format":"sl-bridge/ptk-high-water/1","marks":{"1:2:3":', '{"format":"other","marks":{}}',
      '{"format":"sl-bridge/ptk-high-water/1","marks":{"1:2:3":70000}}', '{"format":"sl-bridge/ptk-high-water/1","marks":{"x":1}}']) {
      const file = fresh();
      new FilePtkHighWaterStore(file).close();
      writeFileSync(file, content);
      expect(() => new FilePtkHighWaterStore(file)).toThrow(PtkStateError);
      // The failed open released its lock.
      acquireStateLock(`${file}.lock`).release();
    }
  });

  it('discards a leftover temp file of an interrupted save', () => {
    const file = fresh();
    const s1 = new FilePtkHighWaterStore(file);
    s1.save(A, 4);
    s1.close();
    writeFileSync(`${file}.tmp`, '{"half":'); // an older version's temp file
    writeFileSync(`${file}.4242.tmp`, '{"half":'); // a crashed process's (PID 4242)
    writeFileSync(`${file}.keep.tmp`, 'not ours');
    const s2 = new FilePtkHighWaterStore(file);
    expect(s2.load(A)).toBe(4);
    expect(existsSync(`${file}.tmp`)).toBe(false);
    expect(existsSync(`${file}.4242.tmp`)).toBe(false);
    expect(existsSync(`${file}.keep.tmp`)).toBe(true);
    s2.close();
  });

  it('one store per file in a process; the lock file stays after close and is free', () => {
    const file = fresh();
    const s1 = new FilePtkHighWaterStore(file);
    expect(() => new FilePtkHighWaterStore(file)).toThrow(/already open in this process/);
    s1.close();
    s1.close();
    // Never deleted (a deleted lock file lets two processes "hold" two files), but free.
    expect(existsSync(`${file}.lock`)).toBe(true);
    expect(existsSync(`${file}.lock.owner`)).toBe(false);
    new FilePtkHighWaterStore(file).close();
    // The state directory is the owner's alone.
    expect(statSync(dirname(file)).mode & 0o777).toBe(0o700);
    expect(statSync(`${file}.lock`).mode & 0o777).toBe(0o600);
  });

  it('prune removes marks of PGKs no longer needed, durably', () => {
    const file = fresh();
    const s = new FilePtkHighWaterStore(file);
    s.save(A, 8);
    s.save(B, 8);
    expect(s.prune((space) => space.pgkId !== B.pgkId)).toBe(1);
    s.close();
    const s2 = new FilePtkHighWaterStore(file);
    expect([s2.load(A), s2.load(B)]).toEqual([8, undefined]);
    s2.close();
  });

  it('the allocator resumes above the file mark after a restart', () => {
    const file = fresh();
    const s1 = new FilePtkHighWaterStore(file);
    const a1 = new PtkIdAllocator(s1, { blockSize: 5 });
    expect([a1.allocate(A), a1.allocate(A)]).toEqual([1, 2]); // PTK ID 0 is never used
    s1.close(); // "crash": IDs 3..5 of the block are never used
    const s2 = new FilePtkHighWaterStore(file);
    const a2 = new PtkIdAllocator(s2, { blockSize: 5 });
    expect(a2.allocate(A)).toBe(6);
    expect(s2.load(A)).toBe(11);
    s2.close();
  });
});

// --- the one-process lock, with real processes ---------------------------------------------------

const CONTENDER = new URL('../fixtures/ptk-lock-contender.ts', import.meta.url).pathname;

/** A child process speaking the line protocol of test/fixtures/ptk-lock-contender.ts. */
class Contender {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  private readonly lines: string[] = [];
  private waiter: (() => void) | undefined;
  private stderr = '';

  constructor(args: string[], wrap: string[] = []) {
    const node = [process.execPath, '--expose-gc', '--import', 'tsx', CONTENDER, ...args];
    const [cmd, ...rest] = [...wrap, ...node];
    this.child = spawn(cmd!, rest, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.exited = new Promise((r) => this.child.once('exit', (code) => r(code)));
    createInterface({ input: this.child.stdout! }).on('line', (l) => {
      this.lines.push(l);
      this.waiter?.();
    });
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    // A write to a contender that already exited fails with EPIPE: recorded, not an unhandled error.
    this.child.stdin!.on('error', (e) => (this.stderr += `stdin: ${e.message}\n`));
    void this.exited.then(() => this.waiter?.());
  }

  /** The next line it prints (rejects if it exits first). */
  async line(): Promise<string> {
    while (this.lines.length === 0) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`contender exited: ${this.stderr}`);
      await new Promise<void>((r) => (this.waiter = r));
      this.waiter = undefined;
    }
    return this.lines.shift()!;
  }

  send(cmd: string): void {
    this.child.stdin!.write(`${cmd}\n`);
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    await this.exited;
  }
}

describe('the one-process lock of the PTK state file (real processes)', () => {
  const live: Contender[] = [];
  afterEach(async () => {
    await Promise.all(live.splice(0).map((c) => c.kill()));
  });
  const start = (args: string[], wrap: string[] = []): Contender => {
    const c = new Contender(args, wrap);
    live.push(c);
    return c;
  };

  it('never has two holders when 8 processes race for it at the same moment (20 rounds)', { timeout: 120_000 }, async () => {
    const file = fresh();
    mkdirSync(dirname(file), { recursive: true });
    const ROUNDS = 20;
    const contenders = Array.from({ length: 8 }, () => start(['--state', file, '--rounds']));
    for (const c of contenders) expect(await c.line()).toBe('ready');
    const holdersPerRound: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // Every contender gets "go" at once; holders keep the lock until every contender has
      // answered, so two "got" in one round are two processes holding it at the same time.
      for (const c of contenders) c.send('go');
      const answers = await Promise.all(contenders.map((c) => c.line()));
      for (const a of answers) expect(a).toMatch(/^(got|busy .*in use by)/);
      holdersPerRound.push(answers.filter((a) => a === 'got').length);
      for (const c of contenders) c.send('release');
      for (const c of contenders) expect(await c.line()).toBe('released');
    }
    expect(holdersPerRound.filter((h) => h > 1), `holders per round: ${holdersPerRound.join(' ')}`).toEqual([]);
    // Someone always gets it: contenders that collide do not all give up.
    expect(holdersPerRound.filter((h) => h === 0), `holders per round: ${holdersPerRound.join(' ')}`).toEqual([]);
  });

  it('a live holder makes the next open fail with a PtkStateError naming the file; once it is SIGKILLed the lock is free', async () => {
    const file = fresh();
    const holder = start(['--state', file, '--hold']);
    expect(await holder.line()).toMatch(/^held \d+$/);
    let err: unknown;
    try {
      new FilePtkHighWaterStore(file).close();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PtkStateError);
    expect((err as PtkStateError).file).toBe(file);
    expect((err as Error).message).toMatch(/in use by another process/);
    // The lock module's own typed error names the lock file and, from the holder's note, its PID.
    let lockErr: unknown;
    try {
      acquireStateLock(`${file}.lock`).release();
    } catch (e) {
      lockErr = e;
    }
    expect(lockErr).toBeInstanceOf(StateLockError);
    expect(lockErr).toMatchObject({ path: `${file}.lock`, reason: 'held', code: 'ESTATELOCK' });
    expect((lockErr as Error).message).toMatch(new RegExp(`in use by another process \\(pid ${holder.child.pid} on host `));
    // Another process is refused the same way.
    const second = start(['--state', file, '--hold']);
    expect(await second.line()).toMatch(/^busy .*in use by another process/);
    expect(await second.exited).toBe(3);

    await holder.kill('SIGKILL');
    const next = start(['--state', file, '--hold']);
    expect(await next.line()).toMatch(/^held \d+$/);
  });

  it('a holder that dropped its store keeps the lock through full garbage collections (the lock is not tied to an object)', async () => {
    const file = fresh();
    const holder = start(['--state', file, '--hold', '--drop']);
    expect(await holder.line()).toMatch(/^held \d+$/);
    expect(() => new FilePtkHighWaterStore(file).close()).toThrow(/in use by another process/);
    await holder.kill('SIGKILL');
    new FilePtkHighWaterStore(file).close();
  });

  it('a lock file of another kind (the PID file of an older sl-bridge) is refused with a clear error, not overwritten', () => {
    const file = fresh();
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(`${file}.lock`, '4242\n');
    expect(() => acquireStateLock(`${file}.lock`)).toThrow(StateLockError);
    expect(() => new FilePtkHighWaterStore(file)).toThrow(/is not a lock file of this sl-bridge version .*remove it/);
    expect(readFileSync(`${file}.lock`, 'utf8')).toBe('4242\n');
  });

  it.skipIf(process.getuid?.() !== 0)('two holders that both run as PID 1 (two containers on one volume) do not both get it', async () => {
    const file = fresh();
    // --kill-child: the node inside dies with unshare (the test kills unshare).
    const asPid1 = ['unshare', '--pid', '--kill-child'];
    const first = start(['--state', file, '--hold'], asPid1);
    expect(await first.line()).toBe('held 1');
    const second = start(['--state', file, '--hold'], asPid1);
    expect(await second.line()).toMatch(/^busy .*in use by another process/);
  });
});
