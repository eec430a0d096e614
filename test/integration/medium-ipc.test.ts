/**
 * `sl-bridge medium` on an ipc:// endpoint, as real processes (the built CLI): libzmq's bind
 * unlinks whatever is at the path, so without a check a second medium given the endpoint of a live
 * one silently takes it over (the first keeps running, unreachable). The second must exit 1 with
 * an "in use" error and the first must stay reachable; the stale socket file of a killed medium is
 * still taken over; a path naming an ordinary file is refused and the file kept.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { StackTransport } from '../../bridge/transport/types.js';
import { createZmqStackTransport } from '../../bridge/transport/zmq-stack.js';
import type { PduEnvelope } from '../../src/wire/envelope.js';
import { tempDir, waitFor } from '../fixtures/transport-helpers.js';
import { startMediumProcess, type MediumProcess } from '../fixtures/transport-medium-process.js';

const BIN = fileURLToPath(new URL('../../bin/sl-bridge.js', import.meta.url));

const closers: Array<() => unknown> = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

function endpointInTemp(): { endpoint: string; path: string; dir: string } {
  const { dir, cleanup } = tempDir('slb-medium-ipc-');
  closers.push(cleanup);
  const path = join(dir, 'medium.sock');
  return { endpoint: `ipc://${path}`, path, dir };
}

async function startMedium(args: string[]): Promise<MediumProcess> {
  const m = await startMediumProcess(args);
  closers.push(async () => {
    if (m.child.exitCode === null && m.child.signalCode === null) m.child.kill('SIGKILL');
    await m.exited;
  });
  return m;
}

/**
 * Runs `sl-bridge medium ARGS` until it exits or prints its "listening" line (then it is killed:
 * it took the endpoint), within 15 s.
 */
function runMedium(args: string[]): Promise<{ code: number | string; listening: boolean; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, 'medium', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let listening = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`medium neither exited nor listened within 15 s: ${out}`));
    }, 15_000);
    const onData = (b: Buffer): void => {
      out += b.toString();
      if (!listening && /medium: listening on /.test(out)) {
        listening = true;
        child.kill('SIGKILL');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? signal ?? -1, listening, output: out });
    });
  });
}

/** Two UEs' stack transports on the medium; resolves once each has heard the other through it. */
async function twoUesHearEachOther(endpoint: string): Promise<void> {
  const got = [0, 0];
  const ts: StackTransport[] = [];
  for (let i = 0; i < 2; i++) {
    const t = createZmqStackTransport({ role: 'connect', endpoint, tuning: { reconnectIntervalMs: 20, reconnectMaxIntervalMs: 100 } });
    await t.open({ frame: (e: PduEnvelope) => void (e.l2SourceId !== 0x000300 + i && got[i]!++) });
    closers.push(() => t.close());
    ts.push(t);
  }
  await waitFor(
    () => {
      ts.forEach((t, i) => t.send({ l2SourceId: 0x000300 + i, l2DestinationId: 0x00abcd, castType: 'groupcast', pdu: Uint8Array.of(1, 2, 3, i) }));
      return got[0]! > 0 && got[1]! > 0;
    },
    'both UEs to hear each other through the medium',
    10_000,
  );
}

/** SIGINT, then the stats line's number of attached peers. */
async function stopAndCountPeers(m: MediumProcess): Promise<number> {
  m.child.kill('SIGINT');
  await m.exited;
  return Number(/medium: (\d+) peers attached/.exec(m.output())?.[1] ?? NaN);
}

describe('sl-bridge medium on an ipc:// endpoint', () => {
  it('a second medium on the endpoint of a live one exits 1 with "in use"; the first stays reachable', async () => {
    const { endpoint, path } = endpointInTemp();
    const first = await startMedium(['--endpoint', endpoint]);
    const second = await runMedium(['--endpoint', endpoint]);
    expect(second.listening, `the second medium took the endpoint over:\n${second.output}`).toBe(false);
    expect(second.code).toBe(1);
    expect(second.output).toContain(`cannot bind ${endpoint}: in use (another process accepts connections on ${path}`);
    expect(second.output).not.toMatch(/\n\s+at /); // no stack trace
    // The first medium still owns the endpoint: two UEs reach each other through it.
    await twoUesHearEachOther(endpoint);
    expect(await stopAndCountPeers(first)).toBe(2);
  });

  it('takes over the stale socket file of a SIGKILLed medium', async () => {
    const { endpoint, path } = endpointInTemp();
    const dead = await startMedium(['--endpoint', endpoint]);
    dead.child.kill('SIGKILL');
    await dead.exited;
    expect(existsSync(path)).toBe(true);
    const next = await startMedium(['--endpoint', endpoint]);
    await twoUesHearEachOther(endpoint);
    expect(await stopAndCountPeers(next)).toBe(2);
  });

  it('refuses an ipc:// path naming an ordinary file (exit 1) and keeps the file', async () => {
    const { dir } = endpointInTemp();
    const precious = join(dir, 'notes.txt');
    writeFileSync(precious, 'keep me');
    const r = await runMedium(['--endpoint', `ipc://${precious}`]);
    expect(r.listening).toBe(false);
    expect(r.code).toBe(1);
    expect(r.output).toMatch(/exists and is not a socket/);
    expect(readFileSync(precious, 'utf8')).toBe('keep me');
  });
});
