/**
 * The C stack shim (bridge/shims/c/) as a real peer of the daemon's ZeroMQ stack transport:
 * `make` builds it (into a temporary directory, warnings as errors, ASan + UBSan), then the
 * example program exchanges protected PDUs with the TypeScript side: PDCP transmit entities
 * protect, the C shim carries the PDUs (echoing them back, or sending them from stdin), PDCP
 * receive entities verify. Also: malformed frames from the socket (counted, never fatal, checked
 * against the TypeScript envelope decoder), the daemon restarting, and what the shim refuses.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Dealer } from 'zeromq';
import { GroupKeyState } from '../../src/keys/group-key-state.js';
import { PdcpRxEntity } from '../../src/pdcp/index.js';
import { decodePduEnvelope, encodePduEnvelope, type PduEnvelope } from '../../src/wire/envelope.js';
import { createZmqStackTransport } from '../../bridge/transport/zmq-stack.js';
import type { StackTransport } from '../../bridge/transport/types.js';
import { GROUP, T0_MS, UE_A, UE_B, hex, material, protect, sender, tempDir } from '../fixtures/capture-helpers.js';
import { rng } from '../fixtures/pdcp-helpers.js';

const SHIM_DIR = new URL('../../bridge/shims/c', import.meta.url).pathname;
let buildDir = '';
let example = '';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

beforeAll(() => {
  const t = tempDir('slb-shim-build-');
  buildDir = t.path('build');
  const r = spawnSync('make', ['-C', SHIM_DIR, `BUILD_DIR=${buildDir}`, 'WERROR=1', 'SANITIZE=1'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`make failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  example = `${buildDir}/sl-bridge-shim-example`;
  return t.cleanup;
});

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  lines: () => string[];
  exit: Promise<number | null>;
}

function runExample(args: string[], stdin?: string): Run {
  const child = spawn(example, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  if (stdin !== undefined) child.stdin!.end(stdin);
  else child.stdin!.end();
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exit;
    }
  });
  return { child, stdout: () => out, stderr: () => err, lines: () => out.split('\n').filter((l) => l.length > 0), exit };
}

async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function counters(stderr: string): Record<string, number> {
  const line = stderr.split('\n').find((l) => l.startsWith('counters '));
  if (line === undefined) throw new Error(`no counters line in: ${stderr}`);
  return Object.fromEntries(line.slice('counters '.length).split(' ').map((kv) => [kv.split('=')[0]!, Number(kv.split('=')[1])]));
}

function expectClean(stderr: string): void {
  expect(stderr).not.toMatch(/AddressSanitizer|UndefinedBehaviorSanitizer|runtime error|LeakSanitizer/);
}

async function daemonSide(endpoint: string): Promise<{ transport: StackTransport; got: PduEnvelope[] }> {
  const transport = createZmqStackTransport({ role: 'bind', endpoint });
  const got: PduEnvelope[] = [];
  await transport.open({ frame: (f) => got.push(f) });
  cleanups.push(() => transport.close());
  return { transport, got };
}

function receiver(gmi: number): PdcpRxEntity {
  const keys = new GroupKeyState();
  keys.install(material(gmi));
  return new PdcpRxEntity(keys);
}

function ipc(name: string): string {
  const t = tempDir('slb-shim-ipc-');
  cleanups.push(t.cleanup);
  return `ipc://${t.path(name)}`;
}

describe('C stack shim (libzmq + protobuf-c) as a peer of the TypeScript stack transport', () => {
  it('builds a static library and the example with make', () => {
    expect(existsSync(`${buildDir}/libslbridge_shim.a`)).toBe(true);
    expect(existsSync(`${buildDir}/gen/bridge.pb-c.c`)).toBe(true);
    expect(existsSync(example)).toBe(true);
  });

  it('carries protected PDUs both ways: TS tx entity -> C shim (echo) -> TS rx entity verifies every one', async () => {
    const endpoint = ipc('stack.sock');
    const { transport, got } = await daemonSide(endpoint);
    const n = 60;
    const run = runExample(['--endpoint', endpoint, '--echo', '--receive', String(n), '--timeout-ms', '20000']);
    await waitFor(() => transport.linkUp, 'the shim to connect');
    const tx = sender(UE_A, {}, 16);
    const sent = Array.from({ length: n }, (_, i) => {
      const sdu = new TextEncoder().encode(`ranging request ${i} `.repeat(1 + (i % 7)));
      const p = protect(tx, sdu, T0_MS + i, i);
      expect(transport.send({ l2SourceId: p.envelope.l2SourceId, l2DestinationId: p.envelope.l2DestinationId, castType: 'groupcast', pdu: p.envelope.pdu })).toBe('accepted');
      return { sdu, pdu: p.envelope.pdu };
    });
    await waitFor(() => got.length === n, 'the echoed PDUs');
    expect(await run.exit).toBe(0);

    // The C side saw each PDU with its L2 IDs, cast type and the transport's seq, unchanged.
    expect(run.lines()).toHaveLength(n);
    for (const [i, line] of run.lines().entries()) {
      expect(line).toMatch(new RegExp(`^rx src=00a001 dst=12ab34 cast=groupcast seq=${i} tx_time_ns=\\d+ pdu=${hex(sent[i]!.pdu)}$`));
    }
    // Back on the TypeScript side: another UE of the group verifies and deciphers all of them.
    const rx = receiver(UE_B);
    for (const [i, env] of got.entries()) {
      expect([env.l2SourceId, env.l2DestinationId, env.castType, env.seq]).toEqual([UE_A, GROUP, 'groupcast', i]);
      const r = rx.unprotect(env.pdu, env.l2SourceId, env.l2DestinationId, T0_MS + i);
      expect(r.ok && hex(r.sdu), `PDU ${i}`).toBe(hex(sent[i]!.sdu));
    }
    expect(rx.counters.accepted).toBe(n);
    expect(counters(run.stderr())).toMatchObject({ sent: n, received: n, malformed: 0, dropped_no_peer: 0, dropped_hwm: 0, link_ups: 1 });
    expectClean(run.stderr());
  });

  it('sends PDUs given on stdin and --send with their L2 IDs, stamped with seq and tx time; the TS side verifies them', async () => {
    const endpoint = ipc('stack.sock');
    const { transport, got } = await daemonSide(endpoint);
    const tx = sender(UE_B, {}, 8);
    const pdus = Array.from({ length: 30 }, (_, i) => protect(tx, Uint8Array.of(i, i + 1, i + 2), T0_MS + i, i).envelope.pdu);
    const stdin = ['# comment', ...pdus.slice(1).map((p) => `00b002 12ab34 ${hex(p)}`), ''].join('\n');
    const before = BigInt(Date.now()) * 1_000_000n;
    const run = runExample(['--endpoint', endpoint, '--src', 'b002', '--dst', '12ab34', '--send', hex(pdus[0]!), '--stdin'], stdin);
    expect(await run.exit).toBe(0);
    await waitFor(() => got.length === pdus.length, 'the PDUs from the shim');
    const after = BigInt(Date.now() + 1) * 1_000_000n;
    const rx = receiver(UE_A);
    for (const [i, env] of got.entries()) {
      expect([env.l2SourceId, env.l2DestinationId, env.castType, env.seq]).toEqual([UE_B, GROUP, 'groupcast', i]);
      expect(env.txTimeNs >= before && env.txTimeNs <= after, `tx_time_ns ${env.txTimeNs}`).toBe(true);
      const r = rx.unprotect(env.pdu, env.l2SourceId, env.l2DestinationId, T0_MS + i);
      expect(r.ok && [...r.sdu]).toEqual([i, i + 1, i + 2]);
    }
    expect(transport.counters.malformed).toBe(0);
    expect(counters(run.stderr())).toMatchObject({ sent: 30, dropped_no_peer: 0, dropped_closed: 0 });
    expectClean(run.stderr());
  });

  it('drops and counts malformed frames (agreeing with the TS envelope decoder) and keeps delivering the good ones', async () => {
    const endpoint = ipc('raw.sock');
    const sock = new Dealer({ linger: 0 });
    await sock.bind(endpoint);
    cleanups.push(() => sock.close());
    const valid = (i: number): PduEnvelope => ({ l2SourceId: UE_A, l2DestinationId: GROUP, castType: 'groupcast', pdu: Uint8Array.of(0x27, 0, 0, 0, i & 0xff, 1, 2, 3), txTimeNs: 1000n + BigInt(i), seq: i });
    const base = encodePduEnvelope(valid(0));
    const crafted: Uint8Array[] = [
      Uint8Array.of(0xff, 0xff, 0xff), // truncated varint
      encodeRaw({ src: 0x1000000 }), // 25-bit L2 source
      encodeRaw({ cast: 0 }), // cast type unspecified
      encodeRaw({ cast: 4 }), // unknown cast type
      encodeRaw({ pdu: new Uint8Array(0) }), // empty PDU
      encodeRaw({ pdu: new Uint8Array(70000) }), // larger than 65535
      Uint8Array.of(0x0a, 0x01, 0x05), // field 1 with the wrong wire type
      base.subarray(0, base.length - 3), // cut inside the PDU field
    ];
    for (const c of crafted) expect(decodePduEnvelope(c).ok, 'the TS decoder refuses every crafted frame too').toBe(false);
    const r = rng(42);
    const fuzz = Array.from({ length: 400 }, (_, i) => {
      const b = encodePduEnvelope(valid(i)).slice();
      if (r() % 4 === 0) return Uint8Array.from({ length: 1 + (r() % 30) }, () => r() & 0xff);
      const flips = 1 + (r() % 3);
      for (let k = 0; k < flips; k++) b[r() % b.length]! ^= 1 << (r() % 8);
      return r() % 3 === 0 ? b.subarray(0, 1 + (r() % b.length)) : b;
    });
    // protobuf-c keeps the last occurrence of a repeated scalar field (protobuf's rule), while the
    // TypeScript decoder also refuses an out-of-range earlier occurrence: frames that repeat a
    // known field are left out of the comparison (docs/captures-shim.md notes the difference).
    const comparable = fuzz.filter((f) => !repeatsKnownField(f));
    expect(fuzz.length - comparable.length).toBeLessThan(40);
    const frames = [...crafted, ...comparable, encodePduEnvelope(valid(999))];
    const expected = frames.map((f) => decodePduEnvelope(f)).filter((d) => d.ok).map((d) => (d.ok ? d.value : undefined)!);

    const run = runExample(['--endpoint', endpoint, '--receive', String(expected.length), '--timeout-ms', '20000']);
    await waitFor(() => run.stderr().includes('connected'), 'the shim to connect');
    await sock.send([Uint8Array.of(1), Uint8Array.of(2)]); // a multipart message: one malformed
    for (const f of frames) await sock.send(f);
    expect(await run.exit).toBe(0);
    const lines = run.lines();
    expect(lines).toEqual(
      expected.map((e) => `rx src=${e.l2SourceId.toString(16).padStart(6, '0')} dst=${e.l2DestinationId.toString(16).padStart(6, '0')} cast=${e.castType} seq=${e.seq} tx_time_ns=${e.txTimeNs} pdu=${hex(e.pdu)}`),
    );
    expect(lines.at(-1)).toMatch(/seq=999 /);
    expect(counters(run.stderr())).toMatchObject({ received: expected.length, malformed: frames.length - expected.length + 1 });
    expectClean(run.stderr());
  });

  it('reconnects by itself when the daemon side restarts on the same endpoint', async () => {
    const endpoint = ipc('restart.sock');
    let side = await daemonSide(endpoint);
    const run = runExample(['--endpoint', endpoint, '--echo', '--timeout-ms', '20000']);
    await waitFor(() => side.transport.linkUp, 'the first connection');
    const tx = sender(UE_A);
    const one = protect(tx, Uint8Array.of(1), T0_MS, 0).envelope;
    side.transport.send({ l2SourceId: UE_A, l2DestinationId: GROUP, castType: 'groupcast', pdu: one.pdu });
    await waitFor(() => side.got.length === 1, 'the first echo');
    await side.transport.close();
    side = await daemonSide(endpoint);
    await waitFor(() => side.transport.linkUp, 'the reconnection');
    const two = protect(tx, Uint8Array.of(2), T0_MS, 1).envelope;
    side.transport.send({ l2SourceId: UE_A, l2DestinationId: GROUP, castType: 'groupcast', pdu: two.pdu });
    await waitFor(() => side.got.length === 1, 'the echo after the restart');
    expect(hex(side.got[0]!.pdu)).toBe(hex(two.pdu));
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
    expect(counters(run.stderr())).toMatchObject({ received: 2, sent: 2, link_ups: 2, link_downs: 1 });
    expectClean(run.stderr());
  });

  it('refuses and counts what it cannot send; reports a daemon that never answers', async () => {
    const endpoint = ipc('stack.sock');
    const { got } = await daemonSide(endpoint);
    const big = runExample(['--endpoint', endpoint, '--max-pdu-bytes', '10', '--src', '1', '--dst', '2', '--send', '00'.repeat(11), '--send', '00'.repeat(10)]);
    expect(await big.exit).toBe(4);
    expect(big.stderr()).toContain('send refused: PDU larger than max_pdu_bytes');
    expect(counters(big.stderr())).toMatchObject({ dropped_too_large: 1, sent: 1 });
    await waitFor(() => got.length === 1, 'the PDU that fits');
    const bad = runExample(['--endpoint', endpoint, '--stdin'], 'zz\n');
    expect(await bad.exit).toBe(4);
    const nobody = runExample(['--endpoint', ipc('nobody.sock'), '--timeout-ms', '300']);
    expect(await nobody.exit).toBe(2);
    expect(nobody.stderr()).toMatch(/no connection to ipc:\/\/.*nobody\.sock within 300 ms/);
    expect(runExample(['--src', '1']).exit).resolves.toBe(1);
    expectClean(big.stderr() + bad.stderr() + nobody.stderr());
  });
});

/** A PduEnvelope with one field replaced, encoded by hand (the TS encoder refuses bad values). */
function encodeRaw(o: { src?: number; cast?: number; pdu?: Uint8Array }): Uint8Array {
  const out: number[] = [];
  const varint = (v: number) => {
    while (v > 0x7f) {
      out.push((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    out.push(v);
  };
  varint((1 << 3) | 0);
  varint(o.src ?? UE_A);
  varint((2 << 3) | 0);
  varint(GROUP);
  if ((o.cast ?? 2) !== 0) {
    varint((3 << 3) | 0);
    varint(o.cast ?? 2);
  }
  const pdu = o.pdu ?? Uint8Array.of(1, 2, 3, 4, 5, 6);
  varint((4 << 3) | 2);
  varint(pdu.length);
  out.push(...pdu);
  return Uint8Array.from(out);
}

/** True when a frame parses as protobuf far enough to show one of fields 1..6 twice. */
function repeatsKnownField(b: Uint8Array): boolean {
  const seen = new Set<number>();
  let at = 0;
  const varint = (): number | undefined => {
    let v = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (at >= b.length) return undefined;
      const x = b[at++]!;
      v += (x & 0x7f) * 2 ** shift;
      if ((x & 0x80) === 0) return v;
    }
    return undefined;
  };
  while (at < b.length) {
    const tag = varint();
    if (tag === undefined) return false;
    const field = Math.floor(tag / 8);
    const wt = tag % 8;
    if (field >= 1 && field <= 6) {
      if (seen.has(field)) return true;
      seen.add(field);
    }
    if (wt === 0) {
      if (varint() === undefined) return false;
    } else if (wt === 1) at += 8;
    else if (wt === 5) at += 4;
    else if (wt === 2) {
      const n = varint();
      if (n === undefined) return false;
      at += n;
    } else return false;
  }
  return false;
}
