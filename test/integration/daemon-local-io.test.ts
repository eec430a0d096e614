/**
 * `sl-bridge run` and the files and sockets of the local machine (the local-I/O items of the
 * security-hardening issue), through the built CLI (`node bin/sl-bridge.js run`):
 * - the state directory is created 0700, and a group/world-accessible one is warned about;
 * - `ue.stateDir` / `keys.stateDir` naming a file is a config error (exit 2), not a stack trace;
 * - `--keylog` refuses a file another user owns or others can read (exit 1);
 * - a second daemon on an ipc:// application endpoint a live daemon holds exits 1 instead of
 *   taking the endpoint over, while a stale socket file of a dead daemon is reused; a tcp://
 *   endpoint in use is refused too.
 */
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DaemonProcess, TestApp } from '../fixtures/daemon-testbed.js';
import { BIN, freePort, issueUe, makeOperatorPki, OP1, supiOf, tmpDir, writeYaml } from '../fixtures/pkmf-testbed.js';

const exec = promisify(execFile);
const asRoot = process.getuid?.() === 0;
let t: ReturnType<typeof tmpDir>;
let keys: Record<string, unknown>;
let n = 0;

beforeAll(async () => {
  t = tmpDir('slb-daemon-local-io-');
  const op = await makeOperatorPki(join(t.dir, 'op1'), OP1);
  const cert = await issueUe(op, supiOf(OP1, 1));
  // Nothing listens on this port: the daemon runs without keys and retries in the background.
  keys = { homePlmn: OP1, tls: { cert: cert.certFile, key: cert.keyFile, ca: op.caCert }, pkmf: { port: await freePort() }, groups: [{ id: 0x000101 }] };
});
afterAll(() => t?.cleanup());

const daemons: DaemonProcess[] = [];
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((d) => d.stop('SIGKILL')));
});

/** A UE config in its own folder; `doc` is merged over a daemon with security on. */
function ueConfig(doc: Record<string, unknown> = {}): { dir: string; file: string; appEndpoint: string } {
  const dir = join(t.dir, `ue${n++}`);
  mkdirSync(dir, { recursive: true });
  const appEndpoint = `ipc://${join(dir, 'app.sock')}`;
  const file = writeYaml(join(dir, 'ue.yaml'), {
    app: { endpoint: appEndpoint },
    stack: { endpoint: `ipc://${join(dir, 'no-medium.sock')}` },
    keys: { ...keys, stateDir: 'state' },
    ...doc,
  });
  return { dir, file, appEndpoint };
}

function start(file: string, args: string[] = []): DaemonProcess {
  const d = new DaemonProcess({ name: 'ue', supi: '', config: file, appEndpoint: '' }, args);
  daemons.push(d);
  return d;
}

/** Runs `sl-bridge run` expecting it to fail at start: its exit status and stderr. */
async function runFails(args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    // A daemon that does start is killed after 5 s (and the test fails on its status 0/null).
    await exec(process.execPath, [BIN, 'run', ...args], { timeout: 5_000, killSignal: 'SIGKILL' });
    return { code: 0, stderr: '' };
  } catch (e) {
    const err = e as { code: number; stderr: string };
    return { code: err.code, stderr: err.stderr };
  }
}

const noStack = (stderr: string): void => {
  expect(stderr).not.toMatch(/\n\s+at /);
  expect(stderr.trim().split('\n')).toHaveLength(1);
};

describe('state directory', () => {
  it('is created 0700 (with any missing parent)', async () => {
    const { dir, file } = ueConfig({ ue: { stateDir: 'var/state' } });
    const d = start(file);
    await d.waitFor(() => true, 'the ready line');
    expect(statSync(join(dir, 'var/state')).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'var')).mode & 0o777).toBe(0o700);
    expect(existsSync(join(dir, 'var/state/ptk-high-water.json.lock'))).toBe(true);
  });

  it('an existing one that group or others can enter is warned about, and left as it is', async () => {
    const { dir, file } = ueConfig({ ue: { stateDir: 'state' } });
    mkdirSync(join(dir, 'state'));
    chmodSync(join(dir, 'state'), 0o755);
    const d = start(file);
    await d.waitFor(() => true, 'the ready line');
    const warning = d.log.split('\n').find((l) => l.includes('state directory'));
    expect(warning, d.log).toBeDefined();
    expect(JSON.parse(warning!)).toMatchObject({ level: 40, dir: join(dir, 'state'), mode: '0755' });
    expect(statSync(join(dir, 'state')).mode & 0o777).toBe(0o755);
  });

  it('ue.stateDir or keys.stateDir naming a file: exit 2 naming the file, the key and the path, no stack trace', async () => {
    const a = ueConfig({ ue: { stateDir: 'not-a-dir' } });
    writeFileSync(join(a.dir, 'not-a-dir'), 'x');
    const r1 = await runFails(['--config', a.file]);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toContain(`${a.file}: ue.stateDir: expected a directory`);
    expect(r1.stderr).toContain(join(a.dir, 'not-a-dir'));
    noStack(r1.stderr);

    // Inherited from the keys: section, and a path below a file.
    const b = ueConfig();
    writeFileSync(join(b.dir, 'state'), 'x');
    const r2 = await runFails(['--config', b.file]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain(`${b.file}: keys.stateDir: expected a directory`);
    noStack(r2.stderr);
    // The key client's own directory, when it is another one.
    const d = ueConfig({ ue: { stateDir: 'state' }, keys: { ...keys, stateDir: 'keys-file' } });
    writeFileSync(join(d.dir, 'keys-file'), 'x');
    const r4 = await runFails(['--config', d.file]);
    expect(r4.code).toBe(2);
    expect(r4.stderr).toContain(`${d.file}: keys.stateDir: expected a directory`);
    noStack(r4.stderr);
    const c = ueConfig({ ue: { stateDir: 'file/below' } });
    writeFileSync(join(c.dir, 'file'), 'x');
    const r3 = await runFails(['--config', c.file]);
    expect(r3.code).toBe(2);
    expect(r3.stderr).toContain(`${c.file}: ue.stateDir: expected a directory`);
    noStack(r3.stderr);
    // The files are untouched.
    expect(readFileSync(join(a.dir, 'not-a-dir'), 'utf8')).toBe('x');
  });
});

describe('--keylog', () => {
  it.skipIf(!asRoot)('refuses a file another user created first (exit 1), and writes nothing into it', async () => {
    const { dir, file } = ueConfig();
    const trap = join(dir, 'keys.log');
    writeFileSync(trap, '');
    chmodSync(trap, 0o600);
    chownSync(trap, 65534, 65534);
    const r = await runFails(['--config', file, '--keylog', trap]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(trap);
    expect(r.stderr).toMatch(/owned by uid 65534/);
    noStack(r.stderr);
    expect(statSync(trap).size).toBe(0);
  });

  it('refuses a file of ours that group or others can read (exit 1), and leaves it as it is', async () => {
    const { dir, file } = ueConfig();
    const loose = join(dir, 'keys.log');
    writeFileSync(loose, '');
    chmodSync(loose, 0o644);
    const r = await runFails(['--config', file, '--keylog', loose]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/readable or writable by group or others \(mode 0644\)/);
    noStack(r.stderr);
    expect(statSync(loose).size).toBe(0);
  });

  it('creates a new keylog 0600 and keeps appending to our own 0600 one', async () => {
    const { dir, file } = ueConfig();
    const keylog = join(dir, 'keys.log');
    for (let i = 0; i < 2; i++) {
      const d = start(file, ['--keylog', keylog]);
      await d.waitFor(() => true, 'the ready line');
      await d.stop('SIGTERM');
      expect(statSync(keylog).mode & 0o777).toBe(0o600);
    }
    expect(readFileSync(keylog, 'utf8')).toBe('# sl-bridge keylog 1\n');
  });
});

describe('application endpoint in use', () => {
  it('a second daemon on the ipc:// endpoint of a live one exits 1 and the first stays reachable', async () => {
    const first = ueConfig();
    const d1 = start(first.file);
    await d1.waitFor(() => true, 'the ready line');
    const second = ueConfig({ app: { endpoint: first.appEndpoint } });
    const r = await runFails(['--config', second.file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`transport: cannot bind ${first.appEndpoint}: in use (another process accepts connections`);
    noStack(r.stderr);
    // The first daemon still has its endpoint: an application attaches to it.
    const app = await new TestApp(first.appEndpoint).open();
    try {
      await d1.waitFor((s) => s.app.peers === 1, 'the application to attach to the first daemon');
    } finally {
      await app.close();
    }
  });

  it('the stale socket file of a SIGKILLed daemon is taken over', async () => {
    const { file, appEndpoint } = ueConfig();
    const d1 = start(file);
    await d1.waitFor(() => true, 'the ready line');
    await d1.stop('SIGKILL');
    expect(existsSync(appEndpoint.slice('ipc://'.length))).toBe(true);
    const d2 = start(file);
    await d2.waitFor(() => true, 'the ready line');
    const app = await new TestApp(appEndpoint).open();
    try {
      await d2.waitFor((s) => s.app.peers === 1, 'the application to attach to the new daemon');
    } finally {
      await app.close();
    }
  });

  it('an ipc:// endpoint naming a file that is not a socket: exit 1, the file is kept', async () => {
    const precious = join(t.dir, 'notes.txt');
    writeFileSync(precious, 'keep me');
    const r = await runFails(['--config', ueConfig({ app: { endpoint: `ipc://${precious}` } }).file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/exists and is not a socket/);
    noStack(r.stderr);
    expect(readFileSync(precious, 'utf8')).toBe('keep me');
  });

  it('a tcp:// endpoint in use: exit 1 with the address', async () => {
    const port = await freePort();
    const first = ueConfig({ app: { endpoint: `tcp://127.0.0.1:${port}` } });
    const d1 = start(first.file);
    await d1.waitFor(() => true, 'the ready line');
    const r = await runFails(['--config', ueConfig({ app: { endpoint: `tcp://127.0.0.1:${port}` } }).file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`tcp://127.0.0.1:${port}`);
    expect(r.stderr).toMatch(/in use/i);
    noStack(r.stderr);
  });
});
