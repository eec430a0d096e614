import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
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
