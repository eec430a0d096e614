/**
 * The one crash-safe file replacement (bridge/state/durable-file.ts) that every durable file goes
 * through: content and mode, nothing reused from a file or symlink left at its temp path, the old
 * content intact when the disk refuses the new one halfway (a real short write then EFBIG, from
 * RLIMIT_FSIZE in a child process), and, traced by strace in a real process, the system calls in
 * their order: temp file created exclusively, fsynced, renamed over the file, directory fsynced.
 */
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileDurably } from '../../bridge/state/durable-file.js';

const HELPER = new URL('../../bridge/state/durable-file.ts', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'durable-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => join(dir, `f${n++}`);
const umask = process.umask();
const modeOf = (file: string): number => statSync(file).mode & 0o777;
/** Files of the test directory that belong to `file` other than itself (temp files left behind). */
const leftovers = (file: string): string[] => readdirSync(dir).filter((e) => e.startsWith(`${file.slice(dir.length + 1)}.`));

/**
 * Runs writeFileDurably(file, `bytes` zero bytes, mode) in a child process, with `wrap` in front
 * of node (a shell setting a limit, strace).
 */
function writeInChild(file: string, bytes: number, wrap: string[] = []): { status: number | null; stdout: string; stderr: string } {
  const script = `const { writeFileDurably } = await import(process.argv[1]);
try { writeFileDurably(process.argv[2], new Uint8Array(Number(process.argv[3])), 0o600); console.log('written'); }
catch (e) { console.log(e.code ?? String(e)); }`;
  const [cmd, ...args] = [...wrap, process.execPath, '--import', 'tsx', '--input-type=module', '-e', script, HELPER, file, String(bytes)];
  const r = spawnSync(cmd!, args, { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout.trim(), stderr: r.stderr };
}

describe('writeFileDurably', () => {
  it('writes the content with the mode asked for (under the umask) and leaves no temp file', () => {
    const key = fresh();
    const cert = fresh();
    writeFileDurably(key, Buffer.from('secret\n'), 0o600);
    writeFileDurably(cert, Buffer.from('public\n'), 0o644);
    expect(readFileSync(key, 'utf8')).toBe('secret\n');
    expect(readFileSync(cert, 'utf8')).toBe('public\n');
    expect(modeOf(key)).toBe(0o600 & ~umask);
    expect(modeOf(cert)).toBe(0o644 & ~umask);
    expect([...leftovers(key), ...leftovers(cert)]).toEqual([]);
  });

  it('replaces a file whole, and the new file does not inherit a looser mode', () => {
    const file = fresh();
    writeFileSync(file, 'old content, longer than the new one\n', { mode: 0o666 });
    writeFileDurably(file, Buffer.from('new\n'), 0o600);
    expect(readFileSync(file, 'utf8')).toBe('new\n');
    expect(modeOf(file)).toBe(0o600 & ~umask);
  });

  it('reuses neither a stale temp file nor a symlink planted at the temp path', () => {
    const file = fresh();
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, 'stale from a crashed process with this PID', { mode: 0o666 });
    writeFileDurably(file, Buffer.from('a'), 0o600);
    expect(modeOf(file)).toBe(0o600 & ~umask);
    expect(readFileSync(file, 'utf8')).toBe('a');

    const victim = fresh();
    writeFileSync(victim, 'must stay as it is');
    symlinkSync(victim, tmp);
    writeFileDurably(file, Buffer.from('b'), 0o600);
    expect(readFileSync(victim, 'utf8')).toBe('must stay as it is');
    expect(readFileSync(file, 'utf8')).toBe('b');
    expect(lstatSync(file).isFile()).toBe(true);
    expect(leftovers(file)).toEqual([]);
  });

  it('keeps the old content when the disk refuses the new one after a short write, and removes its temp file', () => {
    const file = fresh();
    writeFileSync(file, 'old\n');
    // RLIMIT_FSIZE of 8 blocks: the first write() of the 1 MiB comes back short, the next fails
    // with EFBIG (node ignores SIGXFSZ). Writing once without looping would rename a torn file in.
    const r = writeInChild(file, 1 << 20, ['sh', '-c', 'ulimit -f 8 && exec "$@"', 'sh']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('EFBIG');
    expect(readFileSync(file, 'utf8')).toBe('old\n');
    expect(leftovers(file)).toEqual([]);
    // Without the limit the same write goes through.
    expect(writeInChild(file, 1 << 20).stdout).toBe('written');
    expect(statSync(file).size).toBe(1 << 20);
  });

  const straceMissing = spawnSync('strace', ['-o', '/dev/null', 'true']).status !== 0;
  it.skipIf(straceMissing)('fsyncs the temp file before the rename and the directory after it (strace)', () => {
    const file = fresh();
    writeFileSync(file, 'old\n');
    const log = join(dir, 'strace.log');
    const r = writeInChild(file, 4096, ['strace', '-f', '-qq', '-o', log, '-e', 'trace=openat,fsync,fdatasync,rename,renameat,renameat2']);
    expect(r.stdout).toBe('written');
    // "PID  syscall(args) = result", keeping only the calls on the file, its temp file or its directory.
    const calls = readFileSync(log, 'utf8')
      .split('\n')
      .map((l) => l.replace(/^\d+\s+/, '').replace(/\)\s+= /, ') = '))
      .filter((l) => /^(openat|fsync|fdatasync|rename)/.test(l));
    const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    const tmp = `${esc(file)}\\.\\d+\\.tmp`;
    const find = (re: RegExp, from: number): number => {
      const i = calls.findIndex((l, k) => k >= from && re.test(l));
      expect(i, `no ${re} after call ${from} in:\n${calls.slice(from).join('\n')}`).toBeGreaterThanOrEqual(0);
      return i;
    };
    const open = find(new RegExp(`^openat\\(AT_FDCWD, "${tmp}", O_WRONLY\\|O_CREAT\\|O_EXCL[^)]*, 0600\\) = \\d+$`), 0);
    const tmpFd = /= (\d+)$/.exec(calls[open]!)![1]!;
    const sync = find(new RegExp(`^f(data)?sync\\(${tmpFd}\\) = 0$`), open + 1);
    const rename = find(new RegExp(`^rename(at2?)?\\(.*"${tmp}", .*"${esc(file)}"(, 0)?\\) = 0$`), sync + 1);
    const openDir = find(new RegExp(`^openat\\(AT_FDCWD, "${esc(dir)}", O_RDONLY[^)]*\\) = \\d+$`), rename + 1);
    const dirFd = /= (\d+)$/.exec(calls[openDir]!)![1]!;
    find(new RegExp(`^f(data)?sync\\(${dirFd}\\) = 0$`), openDir + 1);
    expect(statSync(file).size).toBe(4096);
  });
});
