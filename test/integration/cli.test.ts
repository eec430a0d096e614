import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { LOG_LEVELS } from '../../bridge/config/log-levels.js';
import { UE_A, conversation, material, writeCapture, writeKeylog } from '../fixtures/capture-helpers.js';

const BIN = new URL('../../bin/sl-bridge.js', import.meta.url).pathname;

describe('sl-bridge CLI', () => {
  it('prints help listing every command', () => {
    const out = execFileSync(process.execPath, [BIN, '--help'], { encoding: 'utf8' });
    for (const cmd of ['demo', 'run', 'medium', 'pkmf', 'ca', 'keys', 'pdu', 'vectors', 'bench']) {
      expect(out).toMatch(new RegExp(`^\\s+${cmd}\\b`, 'm'));
    }
  });

  it('--version names the package version and the commit it runs', () => {
    const root = new URL('../..', import.meta.url).pathname;
    const head = execFileSync('git', ['-C', root, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    const version = (JSON.parse(execFileSync(process.execPath, ['-p', 'JSON.stringify(require("./package.json"))'], { cwd: root, encoding: 'utf8' })) as { version: string }).version;
    // From another directory: the commit comes from the installation, not the working directory.
    const out = execFileSync(process.execPath, [BIN, '--version'], { cwd: tmpdir(), encoding: 'utf8' }).trim();
    expect(out).toMatch(new RegExp(`^${version.replace(/\./g, '\\.')} \\(commit ${head.slice(0, 12)}(-dirty)?\\)$`));
  });

  it('rejects an unknown command with a non-zero status', () => {
    let status = 0;
    try {
      execFileSync(process.execPath, [BIN, 'no-such-command'], { stdio: 'pipe' });
    } catch (e) {
      status = (e as { status: number }).status;
    }
    expect(status).not.toBe(0);
  });

  it.each([
    [['medium', '--loss', '2'], "option '--loss <p>' argument '2' is invalid. expected a probability such as 0.1 or 10%"],
    [['medium', '--reorder-hold-ms', '-5'], "option '--reorder-hold-ms <ms>' argument '-5' is invalid. expected a number from 0 to 60000"],
    [['medium', '--seed', '1.5'], "option '--seed <n>' argument '1.5' is invalid. expected an integer from 0 to 4294967295"],
    [['medium', '--duration', 'soon'], "option '--duration <s>' argument 'soon' is invalid. expected seconds from 0 to 1000000000"],
    [['medium', '--log-level', 'loud'], `option '--log-level <level>' argument 'loud' is invalid. Allowed choices are ${LOG_LEVELS.join(', ')}.`],
    [['medium', '--endpoint', 'udp://127.0.0.1:5560'], 'sl-bridge: --endpoint: expected tcp://HOST:PORT (PORT may be *), ipc:///PATH or inproc://NAME, got "udp://127.0.0.1:5560"'],
    [['medium', '--reorder', '0.1', '--reorder-hold-ms', '0'], 'sl-bridge: reorderHoldMs: expected > 0 when reorder > 0'],
    [['medium', '--profile', 'serial-modem'], 'has no medium section (use --profile emulator)'],
    [['demo', '--ues', '33'], "option '--ues <n>' argument '33' is invalid. expected an integer from 2 to 32"],
    [['demo', '--sdu-bytes', 'big'], "option '--sdu-bytes <n>' argument 'big' is invalid. expected an integer from 0 to 9000"],
    [['demo', '--security', 'maybe'], "option '--security <on|off>' argument 'maybe' is invalid. Allowed choices are on, off."],
  ])('a bad flag value exits 2 before anything starts: %j', (args, message) => {
    const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toContain(message);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
  });
});

describe('stdout closed early (`sl-bridge ... | head`)', () => {
  const VECTORS = new URL('../vectors/3gpp.json', import.meta.url).pathname;
  const dir = mkdtempSync(join(tmpdir(), 'slb-cli-epipe-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs the command with a stdout whose reader is already gone: every write fails with EPIPE. */
  function withClosedStdout(args: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    return new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stderr })));
  }

  it('exits 0 without a stack trace: vectors -v, pdu decode, pdu decode --json', async () => {
    await writeCapture(join(dir, 'c.pcap'), conversation(400));
    writeKeylog(join(dir, 'c.keys'), [material(UE_A)]);
    for (const args of [
      ['vectors', '-v', VECTORS],
      ['pdu', 'decode', '--pcap', join(dir, 'c.pcap'), '--keylog', join(dir, 'c.keys')],
      ['pdu', 'decode', '--json', '--pcap', join(dir, 'c.pcap'), '--keylog', join(dir, 'c.keys')],
    ]) {
      const r = await withClosedStdout(args);
      expect(r.stderr, args.join(' ')).not.toMatch(/EPIPE|\n\s+at /);
      expect({ code: r.code, signal: r.signal }, `${args.join(' ')}: ${r.stderr}`).toEqual({ code: 0, signal: null });
    }
  });

  it('a daemon whose status lines nobody reads any more stops cleanly (as on SIGTERM) with status 0', async () => {
    const config = join(dir, 'ue.yaml');
    writeFileSync(config, stringify({
      ue: { stateDir: join(dir, 'state'), l2SourceId: 5 },
      app: { endpoint: `ipc://${join(dir, 'app.sock')}` },
      stack: { endpoint: `ipc://${join(dir, 'no-medium.sock')}` },
      groups: [0x101],
    }));
    const r = await withClosedStdout(['run', '--security', 'off', '--config', config, '--status-interval', '0.1']);
    expect(r.stderr).not.toMatch(/EPIPE|\n\s+at /);
    expect(r.stderr).toContain('"msg":"daemon stopped"');
    expect({ code: r.code, signal: r.signal }).toEqual({ code: 0, signal: null });
  });

  it('through a real pipe into `head -n 1`', () => {
    const r = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${BIN}" vectors -v "${VECTORS}" | head -n 1`], { encoding: 'utf8' });
    expect(r.stdout).toMatch(/^ok /);
    expect(r.stderr).not.toMatch(/EPIPE|\n\s+at /);
    expect(r.status).toBe(0);
  });
});
