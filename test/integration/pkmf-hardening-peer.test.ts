/**
 * Hardening of the inter-PKMF port (HTTP/2 + mutual TLS) against clients that hold no peer
 * certificate, as test/integration/pkmf-hardening-flood.test.ts does for the UE port: silent TCP sockets
 * (closed at the handshake deadline, not only logged), many of them from one source address (the
 * per-source cap), and a flood of failed TLS handshakes (counted, logged as a bounded number of
 * warn lines). Real sockets on loopback, in-process PKMFs: op1's PKMF answers on its peer port,
 * op2's PKMF (the peer, from 127.0.0.1) relays a roaming UE's Key Request to it, and a
 * {@link PeerClient} with op2's PKMF certificate calls it directly (a new session per call, so
 * every call goes through the accept path under attack). Attackers bind other loopback source
 * addresses (127.x.y.z). Loops are bounded in count and time; the latencies printed are for the
 * issue note, asserted only as liveness bounds.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pkmfConfigFromObject } from '../../bridge/pkmf/config.js';
import { PeerClient } from '../../bridge/pkmf/peer-client.js';
import type { RunningPkmf } from '../../bridge/pkmf/server.js';
import { startPkmf } from '../../bridge/pkmf/server.js';
import { requestKeys } from '../../bridge/pkmf/ue-client.js';
import { ErrorCode } from '../../src/pkmf/errors.js';
import type { OperatorPki } from '../fixtures/pkmf-testbed.js';
import { makeOperatorPki, OP1, OP2, pkmfConfigDoc, supiOf, tmpDir, ueCreds } from '../fixtures/pkmf-testbed.js';
import type { TlsAttempt } from '../fixtures/tls-flood.js';
import { handshakeFlood, silentFloodStoppedBy, sources } from '../fixtures/tls-flood.js';

const GROUP = 0x0f0001; // owned by op1
const UE = supiOf(OP1, 1); // op1's subscriber, roaming in op2
const silent = pino({ level: 'silent' });

let t: ReturnType<typeof tmpDir>;
let op1: OperatorPki;
let op2: OperatorPki;
let rogue: OperatorPki;
let home: RunningPkmf | undefined;
let visited: RunningPkmf | undefined;
let logLines: string[];
let n = 0;
const cleanups: (() => void | Promise<void>)[] = [];
const silentFlood = silentFloodStoppedBy(cleanups);

beforeAll(async () => {
  t = tmpDir('sl-bridge-pkmf-peer-hardening-');
  op1 = await makeOperatorPki(join(t.dir, 'op1'), OP1);
  op2 = await makeOperatorPki(join(t.dir, 'op2'), OP2);
  rogue = await makeOperatorPki(join(t.dir, 'rogue'), '001-09');
  return () => t.cleanup();
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await visited?.close();
  await home?.close();
  visited = undefined;
  home = undefined;
});

/** op1's PKMF (peer port on 127.0.0.1, JSON log lines collected in `logLines`) and op2's, relaying to it. */
async function start(limits: Record<string, unknown>): Promise<{ home: RunningPkmf; peerPort: number }> {
  logLines = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logLines.push(...chunk.toString().split('\n').filter((l) => l.length > 0));
      cb();
    },
  });
  n++;
  home = await startPkmf(
    pkmfConfigFromObject(
      pkmfConfigDoc(op1, join(t.dir, `home${n}.db`), {
        peerListen: { host: '127.0.0.1', port: 0 },
        limits,
        groups: [{ id: GROUP, nea: 2, nia: 2, members: [UE] }],
        // Nothing listens at the URL: op1 never relays to op2 here.
        peers: [{ plmn: OP2, ca: op2.caCert, url: 'https://127.0.0.1:9', roaming: true }],
      }),
    ),
    { logger: pino({ level: 'info' }, sink) },
  );
  const peerPort = home.peerAddress!.port;
  visited = await startPkmf(
    pkmfConfigFromObject(
      pkmfConfigDoc(op2, join(t.dir, `visited${n}.db`), {
        limits: { peerTimeoutSec: 10 },
        peers: [{ plmn: OP1, ca: op1.caCert, url: `https://127.0.0.1:${peerPort}`, roaming: true, groups: [GROUP] }],
      }),
    ),
    { logger: silent },
  );
  return { home, peerPort };
}

/** The roaming UE asks op2's PKMF, which relays to op1's peer port: the UE must get keys. */
async function relayedRequest(): Promise<number> {
  const t0 = performance.now();
  const creds = await ueCreds(op1, UE, [op2]);
  const res = await requestKeys(
    { host: '127.0.0.1', port: visited!.ueAddress.port, servername: 'localhost' },
    creds,
    { transactionId: 7, homePlmn: '', groups: [{ groupId: GROUP, supportedNea: [2], supportedNia: [2] }] },
    { timeoutMs: 15_000 },
  );
  expect(res.error).toBe(ErrorCode.NONE);
  expect(res.groups[0]).toMatchObject({ groupId: GROUP, ok: true });
  return performance.now() - t0;
}

/** op2's PKMF as a client of op1's peer port. */
function peerClient(peerPort: number, timeoutMs: number): PeerClient {
  return new PeerClient({
    plmn: OP1,
    url: new URL(`https://127.0.0.1:${peerPort}`),
    caPem: [readFileSync(op1.caCert, 'utf8')],
    certPem: readFileSync(op2.pkmfCert, 'utf8'),
    keyPem: readFileSync(op2.pkmfKey, 'utf8'),
    timeoutMs,
  });
}

/** One Key Request of op2's PKMF to op1's peer port on a new HTTP/2 session: its duration in ms. */
async function peerRequest(peerPort: number, timeoutMs = 5_000): Promise<number> {
  const t0 = performance.now();
  const client = peerClient(peerPort, timeoutMs);
  try {
    const reply = await client.postKeyRequest({
      transactionId: 1,
      supi: UE,
      servingPlmn: { mcc: '001', mnc: '02' },
      groups: [{ groupId: GROUP.toString(16).padStart(6, '0'), supportedNea: [2], supportedNia: [2] }],
    });
    expect(reply.status).toBe(200);
    expect((reply.body as { groups: { gmi?: string }[] }).groups[0]?.gmi).toMatch(/^[0-9a-f]{6}$/);
  } finally {
    client.close();
  }
  return performance.now() - t0;
}

/**
 * What the handshake flood sends besides garbage bytes, in turn: TLS 1.3 + h2 without a client
 * certificate, and TLS 1.3 + h2 with a PKMF certificate of a CA no peer has. Each writes the
 * HTTP/2 client preface: a server that let this client in would answer it.
 */
function peerHandshakeAttempts(): TlsAttempt[] {
  const ca = readFileSync(op1.caCert, 'utf8');
  const rogueCert = { cert: readFileSync(rogue.pkmfCert, 'utf8'), key: readFileSync(rogue.pkmfKey, 'utf8') };
  const noCert: TlsAttempt['options'] = { servername: 'localhost', ca, minVersion: 'TLSv1.3', ALPNProtocols: ['h2'] };
  const preface = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';
  return [
    { options: noCert, payload: preface },
    { options: { ...noCert, ...rogueCert }, payload: preface },
  ];
}

const handshakeLogLines = (): string[] => logLines.filter((l) => /handshake|unauthenticated/i.test(l));
const fmt = (xs: number[]): string => xs.map((x) => x.toFixed(0)).join('/');

describe('inter-PKMF port: clients without a peer certificate', () => {
  it('destroys silent sockets at the handshake deadline; a peer PKMF is served while they are open', async () => {
    const N = 1_000; // 20 sources x 50: under the per-source cap, so only the deadline closes them
    const { home: p, peerPort } = await start({ handshakeTimeoutSec: 1 });
    const flood = silentFlood(peerPort, sources(11, 20), N / 20);
    await expect.poll(() => flood.connected, { timeout: 15_000, interval: 20 }).toBe(N);
    const openWhileServed = flood.open();
    const relayed = await relayedRequest();
    const direct = [await peerRequest(peerPort), await peerRequest(peerPort)];
    console.log(
      `[peer deadline] ${N} silent sockets connected (${openWhileServed} open at the first request): relayed UE request ${relayed.toFixed(0)} ms, ` +
        `direct peer requests ${fmt(direct)} ms`,
    );
    // Every silent socket is closed by the PKMF at its deadline, and counted as such.
    await expect.poll(() => flood.closedByServer, { timeout: 5_000, interval: 50 }).toBe(N);
    expect(p.stats.peer!.handshakeTimeouts).toBeGreaterThanOrEqual(N);
    await expect.poll(() => p.stats.peer!.unauthenticated, { timeout: 5_000 }).toBe(0);
    // An authenticated session is not subject to the deadline: a request after 1.5 s idle on one session.
    const client = peerClient(peerPort, 5_000);
    cleanups.push(() => client.close());
    const body = { transactionId: 2, supi: UE, servingPlmn: { mcc: '001', mnc: '02' }, groups: [{ groupId: GROUP.toString(16).padStart(6, '0'), supportedNea: [2], supportedNia: [2] }] };
    expect((await client.postKeyRequest(body)).status).toBe(200);
    const sessions = p.stats.peer!.sessions;
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await client.postKeyRequest(body)).status).toBe(200);
    expect(p.stats.peer!.sessions).toBe(sessions); // the same session
    // The warn lines say why: the deadline, counted per reason; a bounded number of them.
    await p.close();
    const summaries = handshakeLogLines().map((l) => JSON.parse(l) as { level: number; reasons?: Record<string, number> });
    expect(summaries.reduce((k, s) => k + (s.reasons?.deadline ?? 0), 0)).toBeGreaterThanOrEqual(N);
    expect(summaries.length).toBeLessThanOrEqual(3);
  });

  it('caps unauthenticated sockets per source address on the peer port', async () => {
    const { home: p, peerPort } = await start({ handshakeTimeoutSec: 30 });
    const hold = silentFlood(peerPort, ['127.12.0.1'], 600);
    await expect.poll(() => hold.connected, { timeout: 15_000, interval: 20 }).toBe(600);
    await expect.poll(() => hold.closedByServer, { timeout: 5_000, interval: 20 }).toBeGreaterThanOrEqual(600 - 64);
    const latencies = [await peerRequest(peerPort), await peerRequest(peerPort), await peerRequest(peerPort)];
    console.log(`[peer per-source] one source opened 600 silent sockets: ${hold.open()} held, ${hold.closedByServer} closed at once; peer requests ${fmt(latencies)} ms`);
    expect(hold.open()).toBe(64);
    expect(p.stats.peer!.unauthenticated).toBe(64);
    expect(p.stats.peer!.refusedPerSource).toBe(600 - 64);
    await hold.stop();
    await expect.poll(() => p.stats.peer!.unauthenticated, { timeout: 5_000 }).toBe(0);
  });

  it('counts a flood of failed handshakes and logs it as a bounded number of warn lines', async () => {
    const { home: p, peerPort } = await start({ handshakeTimeoutSec: 10 });
    const before = p.stats.peer!.handshakeFailures;
    const t0 = performance.now();
    const storm = handshakeFlood(peerPort, sources(13, 20), { untilMs: t0 + 3_000, maxAttempts: 1_500, concurrency: 12 }, peerHandshakeAttempts());
    await new Promise((r) => setTimeout(r, 300));
    const latencies: number[] = [];
    for (let i = 0; i < 3; i++) latencies.push(await peerRequest(peerPort));
    const { attempts, answered } = await storm;
    const lines = handshakeLogLines().length;
    console.log(
      `[peer handshake flood] ${attempts} failed handshakes in ${((performance.now() - t0) / 1000).toFixed(1)} s: ` +
        `${lines} handshake log lines; peer requests meanwhile ${fmt(latencies)} ms`,
    );
    expect(attempts).toBeGreaterThanOrEqual(30);
    expect(answered).toBe(0);
    await expect.poll(() => p.stats.peer!.handshakeFailures - before, { timeout: 5_000 }).toBeGreaterThanOrEqual(attempts);
    // Not a line per failure: the first at once, then at most one per interval (10 s).
    expect(lines).toBeLessThanOrEqual(2);
    await p.close();
    const summaries = handshakeLogLines().map((l) => JSON.parse(l) as { level: number; failed?: number; reasons?: Record<string, number> });
    console.log(`[peer handshake flood] warn lines: ${summaries.map((s) => `failed ${s.failed} ${JSON.stringify(s.reasons)}`).join('; ')}`);
    expect(summaries.every((s) => s.level === 40)).toBe(true);
    expect(summaries.reduce((k, s) => k + (s.failed ?? 0), 0)).toBeGreaterThanOrEqual(attempts);
    expect(summaries.length).toBeLessThanOrEqual(3);
  });
});
