/**
 * The demo's child processes (`node bin/sl-bridge.js pkmf|medium|run ...`): started with the same
 * Node binary, their output kept in a log file, their stdout read line by line, an unexpected
 * exit reported, and all of them stopped on the way out (SIGTERM, then SIGKILL), also when the
 * demo itself is interrupted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, type WriteStream } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { DaemonStatus } from '../daemon/daemon.js';

/** bin/sl-bridge.js of this installation, found from this module (sources or dist/). */
export function slBridgeBin(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ['../..', '../../..']) {
    const bin = resolve(here, up, 'bin/sl-bridge.js');
    if (existsSync(bin)) return bin;
  }
  throw new Error(`bin/sl-bridge.js not found above ${here}`);
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** How to start a child other than `node bin/sl-bridge.js ARGS` in this namespace. */
export interface ChildSpawnOptions {
  /** Run this program with `args` instead of sl-bridge. */
  program?: string;
  /** A command prefix, e.g. `ip netns exec NS` (which execs, so the PID is the program's). */
  prefix?: readonly string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export class Child {
  readonly process: ChildProcess;
  readonly exited: Promise<ChildExit>;
  /** Resolves once the process exited and its output streams are closed. */
  private readonly closed: Promise<void>;
  /** Set once the process has exited. */
  exit: ChildExit | undefined;
  /** performance.now() at spawn, for CPU percentages. */
  readonly startedAt = performance.now();
  /** True once stop() was asked: an exit after that is expected. */
  stopping = false;
  private readonly log: WriteStream;
  private readonly lineListeners = new Set<(line: string) => void>();
  private stopped: Promise<ChildExit> | undefined;

  constructor(
    readonly name: string,
    /** What it runs: `sl-bridge` arguments, or with `how.program` that program's. */
    readonly args: readonly string[],
    readonly logFile: string,
    how: ChildSpawnOptions = {},
  ) {
    this.log = createWriteStream(logFile, { flags: 'a' });
    this.log.on('error', () => undefined); // a log that cannot be written must not stop the demo
    const command = how.program !== undefined ? [how.program, ...args] : [process.execPath, slBridgeBin(), ...args];
    const [file, ...rest] = [...(how.prefix ?? []), ...command] as [string, ...string[]];
    this.process = spawn(file, rest, { stdio: ['ignore', 'pipe', 'pipe'], ...(how.env ? { env: how.env } : {}), ...(how.cwd ? { cwd: how.cwd } : {}) });
    this.exited = new Promise((r) =>
      this.process.once('exit', (code, signal) => {
        this.exit = { code, signal };
        r(this.exit);
      }),
    );
    this.closed = new Promise((r) => this.process.once('close', () => r()));
    // An error spawning (or signalling) is reported by the exit that follows.
    this.process.on('error', (e) => this.log.write(`[demo] process error: ${e.message}\n`));
    this.process.stderr!.pipe(this.log, { end: false });
    const lines = createInterface({ input: this.process.stdout! });
    lines.on('line', (line) => {
      this.log.write(`${line}\n`);
      for (const l of this.lineListeners) l(line);
    });
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** Calls `fn` with every stdout line from now on; returns the unsubscribe function. */
  onLine(fn: (line: string) => void): () => void {
    this.lineListeners.add(fn);
    return () => this.lineListeners.delete(fn);
  }

  /** Calls `fn` with every status line (`sl-bridge run --status-interval`) the child prints. */
  onStatus(fn: (status: DaemonStatus) => void): () => void {
    return this.onLine((line) => {
      if (!line.startsWith('{')) return;
      let s: DaemonStatus;
      try {
        s = JSON.parse(line) as DaemonStatus;
      } catch {
        return; // not a status line
      }
      if (s.event) fn(s);
    });
  }

  /** Resolves with the first stdout line `match` accepts (its return value), or rejects on exit / timeout. */
  waitForLine<T>(what: string, match: (line: string) => T | undefined, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolvePromise, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        off();
      };
      const timer = setTimeout(() => {
        done();
        reject(new ChildFailure(this, `${this.name} did not report ${what} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      const off = this.onLine((line) => {
        const v = match(line);
        if (v === undefined) return;
        done();
        resolvePromise(v);
      });
      void this.exited.then(() => {
        done();
        reject(new ChildFailure(this, `${this.name} exited (${describeExit(this.exit!)}) before reporting ${what}`));
      });
    });
  }

  /** Signals the process (SIGTERM by default) and waits for it; SIGKILL after `graceMs`. */
  stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5_000): Promise<ChildExit> {
    this.stopped ??= this.doStop(signal, graceMs);
    return this.stopped;
  }

  private async doStop(signal: NodeJS.Signals, graceMs: number): Promise<ChildExit> {
    this.stopping = true;
    if (this.running) this.process.kill(signal);
    const timer = setTimeout(() => {
      if (this.running) this.process.kill('SIGKILL');
    }, graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    await this.closed;
    await new Promise<void>((r) => this.log.end(() => r()));
    return exit;
  }

  /** SIGKILL now, without waiting (the last resort on the way out). */
  kill(): void {
    this.stopping = true;
    if (this.running) this.process.kill('SIGKILL');
  }

  /** Last lines of its log, for an error report. */
  tail(lines = 15): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** CPU time used so far, ms (Linux /proc; undefined elsewhere or once exited). */
  cpuMs(): number | undefined {
    return this.pid === undefined || !this.running ? undefined : procCpuMs(this.pid);
  }
}

/** A child that died or did not start: carries its name and the end of its log. */
export class ChildFailure extends Error {
  constructor(
    readonly child: Child,
    message: string,
  ) {
    super(message);
    this.name = 'ChildFailure';
  }
}

export function describeExit(e: ChildExit): string {
  return e.signal ? `signal ${e.signal}` : `exit status ${e.code}`;
}

/** utime + stime of a process from /proc/PID/stat, in ms (clock ticks of 10 ms, USER_HZ = 100). */
export function procCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(join('/proc', String(pid), 'stat'), 'utf8');
    // Fields after the command name (which is in parentheses and may contain spaces).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime (14th), stime (15th)
    return Number.isFinite(ticks) ? ticks * 10 : undefined;
  } catch {
    return undefined;
  }
}
