/**
 * The systemd units of deploy/systemd/ pass `systemd-analyze verify` (unknown keys, bad values,
 * a missing or non-executable ExecStart binary are all reported), and start the commands with
 * flags the CLI really has. Each unit is verified from a temporary copy whose ExecStart runs this
 * checkout's bin/sl-bridge.js instead of /usr/local/bin/sl-bridge (verify requires the binary to
 * exist). A unit with a typo'd option, or a bad value, must fail the same check.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, tmpDir } from '../fixtures/pkmf-testbed.js';

const exec = promisify(execFile);
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';
const UNIT_DIR = fileURLToPath(new URL('../../deploy/systemd/', import.meta.url));
const INSTALLED_BIN = '/usr/local/bin/sl-bridge';
/** Each unit, and the name its copy is verified under (a template as one of its instances). */
const UNITS = [
  { file: 'sl-bridge-pkmf.service', as: 'sl-bridge-pkmf.service' },
  { file: 'sl-bridge-medium.service', as: 'sl-bridge-medium.service' },
  { file: 'sl-bridge@.service', as: 'sl-bridge@ue1.service' },
];
const available = existsSync(SYSTEMD_ANALYZE);
if (!available) console.warn(`[systemd-units] skipped: ${SYSTEMD_ANALYZE} is not installed (Debian package systemd)`);

let t: ReturnType<typeof tmpDir>;
beforeAll(() => {
  t = tmpDir('sl-bridge-systemd-');
});
afterAll(() => t?.cleanup());

/** The unit's text with ExecStart pointing at this checkout's CLI. */
function testable(file: string): string {
  const text = readFileSync(join(UNIT_DIR, file), 'utf8');
  expect(text).toContain(`ExecStart=${INSTALLED_BIN} `);
  return text.replaceAll(`ExecStart=${INSTALLED_BIN} `, `ExecStart=${BIN} `);
}

/** What `systemd-analyze verify` reports for `text` saved as `name` (empty: nothing wrong). */
async function verify(name: string, text: string): Promise<string[]> {
  const file = join(t.dir, name);
  writeFileSync(file, text);
  // --man=no: Documentation= man pages are not the units' business (and may not be installed).
  const r = await exec(SYSTEMD_ANALYZE, ['verify', '--man=no', file]).then(
    (ok) => ({ code: 0, out: ok.stdout + ok.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? -1, out: (e.stdout ?? '') + (e.stderr ?? '') }),
  );
  const lines = r.out.split('\n').filter((l) => l.trim().length > 0);
  // Most problems are warnings with exit status 0: any output counts.
  return r.code === 0 ? lines : [`exit status ${r.code}`, ...lines];
}

/** `ExecStart=` of a unit: the sl-bridge subcommand and the long flags it passes. */
function execStart(text: string): { command: string; flags: string[] } {
  const line = /^ExecStart=(.*)$/m.exec(text)?.[1] ?? '';
  const words = line.split(/\s+/);
  return { command: words[1] ?? '', flags: words.filter((w) => w.startsWith('--')) };
}

describe.skipIf(!available)('systemd units (systemd-analyze verify)', () => {
  for (const unit of UNITS) {
    it(`${unit.file} verifies cleanly`, async () => {
      expect(await verify(unit.as, testable(unit.file))).toEqual([]);
    });
  }

  it('reports a typo in an option name, a bad value, and a missing ExecStart binary', async () => {
    const good = testable('sl-bridge@.service');
    const typo = await verify('sl-bridge@typo.service', good.replace('ProtectSystem=strict', 'ProtectSystm=strict'));
    expect(typo.join('\n')).toMatch(/Unknown key (name )?'ProtectSystm'/);
    const badValue = await verify('sl-bridge@value.service', good.replace('Restart=on-failure', 'Restart=on-failur'));
    expect(badValue.join('\n')).toMatch(/Restart.*on-failur|on-failur.*Restart/i);
    const missing = await verify('sl-bridge@missing.service', readFileSync(join(UNIT_DIR, 'sl-bridge@.service'), 'utf8').replace(INSTALLED_BIN, join(t.dir, 'no-such-sl-bridge')));
    expect(missing.join('\n')).toMatch(/no-such-sl-bridge.*(not executable|No such file)/);
  });
});

describe('systemd units: what they run', () => {
  it('start sl-bridge commands with flags the CLI has', async () => {
    for (const unit of UNITS) {
      const { command, flags } = execStart(readFileSync(join(UNIT_DIR, unit.file), 'utf8'));
      const help = (await exec(process.execPath, [BIN, command, '--help'])).stdout;
      for (const flag of flags) expect(help, `${unit.file}: sl-bridge ${command} ${flag}`).toContain(`${flag} <`);
    }
    expect(execStart(readFileSync(join(UNIT_DIR, 'sl-bridge@.service'), 'utf8'))).toEqual({ command: 'run', flags: ['--config', '--profile'] });
    expect(execStart(readFileSync(join(UNIT_DIR, 'sl-bridge-pkmf.service'), 'utf8'))).toEqual({ command: 'pkmf', flags: ['--config'] });
  });

  it('keep the UE state private and across restarts, and harden every service', () => {
    const ue = readFileSync(join(UNIT_DIR, 'sl-bridge@.service'), 'utf8');
    for (const line of ['StateDirectory=sl-bridge/%i', 'StateDirectoryMode=0700', 'ExecStart=/usr/local/bin/sl-bridge run --config /etc/sl-bridge/%i.yaml', 'SupplementaryGroups=dialout']) {
      expect(ue).toContain(line);
    }
    expect(ue).toMatch(/^After=.*sl-bridge-medium\.service.*sl-bridge-pkmf\.service/m);
    for (const unit of UNITS) {
      const text = readFileSync(join(UNIT_DIR, unit.file), 'utf8');
      for (const line of ['ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'NoNewPrivileges=yes', 'Restart=on-failure', 'RestartPreventExitStatus=2']) {
        expect(text, `${unit.file}: ${line}`).toMatch(new RegExp(`^${line}$`, 'm'));
      }
      expect(text, `${unit.file}: a dedicated user`).toMatch(/^(User=sl-bridge|DynamicUser=yes)$/m);
    }
  });
});
