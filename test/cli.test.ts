import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const BIN = new URL('../bin/sl-bridge.js', import.meta.url).pathname;

describe('sl-bridge CLI', () => {
  it('prints help listing every command', () => {
    const out = execFileSync(process.execPath, [BIN, '--help'], { encoding: 'utf8' });
    for (const cmd of ['demo', 'run', 'medium', 'pkmf', 'ca', 'keys', 'pdu', 'vectors', 'bench']) {
      expect(out).toMatch(new RegExp(`^\\s+${cmd}\\b`, 'm'));
    }
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
