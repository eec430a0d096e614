/**
 * The UE-facing PKMF server in-process, over real TLS sockets on loopback: issuance, certificate
 * checks at the handshake, and bad frames closing only their own connection.
 */
import tls from 'node:tls';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pkmfConfigFromObject } from '../../bridge/pkmf/config.js';
import type { RunningPkmf } from '../../bridge/pkmf/server.js';
import { startPkmf } from '../../bridge/pkmf/server.js';
import type { UeCredentials } from '../../bridge/pkmf/ue-client.js';
import { KeyFetchError, requestKeys } from '../../bridge/pkmf/ue-client.js';
import type { KeyRequestMsg, ServerMessage } from '../../src/pkmf/codec.js';
import { decodeServerFrame, encodeFrame, encodeKeyRequest, FrameDecoder } from '../../src/pkmf/codec.js';
import { ErrorCode } from '../../src/pkmf/errors.js';
import type { OperatorPki } from '../fixtures/pkmf-testbed.js';
import { makeOperatorPki, OP1, OP2, pkmfConfigDoc, supiOf, tmpDir, ueCreds } from '../fixtures/pkmf-testbed.js';

const G1 = 0x0a0001;
const G_LTE = 0x0a0002;
const UE1 = supiOf(OP1, 1);
const UE2 = supiOf(OP1, 2);
const OUTSIDER = supiOf(OP1, 9);

let t: ReturnType<typeof tmpDir>;
let op1: OperatorPki;
let op2: OperatorPki;
let pkmf: RunningPkmf;
let ue1: UeCredentials;
let ue2: UeCredentials;
let outsider: UeCredentials;

const req = (groups: number[], extra: Partial<KeyRequestMsg> = {}): KeyRequestMsg => ({
  transactionId: Math.floor(Math.random() * 2 ** 32),
  homePlmn: OP1,
  groups: groups.map((groupId) => ({ groupId, supportedNea: [1, 2, 3], supportedNia: [1, 2, 3] })),
  ...extra,
});
const endpoint = (): { host: string; port: number; servername: string } => ({ host: '127.0.0.1', port: pkmf.ueAddress.port, servername: 'localhost' });

/** A raw TLS connection to the PKMF that reads ServerFrames. */
function rawConnection(creds: UeCredentials): Promise<{
  socket: tls.TLSSocket;
  next(): Promise<ServerMessage>;
  closed: Promise<void>;
}> {
  return new Promise((resolvePromise, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: pkmf.ueAddress.port, servername: 'localhost', cert: creds.certPem, key: creds.keyPem, ca: creds.caPem, minVersion: 'TLSv1.3' });
    const decoder = new FrameDecoder(1 << 20);
    const queue: ServerMessage[] = [];
    const waiters: ((m: ServerMessage) => void)[] = [];
    socket.on('data', (c: Buffer) => {
      for (const f of decoder.push(c)) {
        const m = decodeServerFrame(f);
        const w = waiters.shift();
        if (w) w(m);
        else queue.push(m);
      }
    });
    socket.on('error', () => undefined);
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.once('secureConnect', () =>
      resolvePromise({
        socket,
        closed,
        next: () => (queue.length ? Promise.resolve(queue.shift()!) : new Promise((r) => waiters.push(r))),
      }),
    );
    socket.once('error', reject);
  });
}

beforeAll(async () => {
  t = tmpDir();
  op1 = await makeOperatorPki(join(t.dir, 'op1'), OP1);
  op2 = await makeOperatorPki(join(t.dir, 'op2'), OP2);
  ue1 = await ueCreds(op1, UE1);
  ue2 = await ueCreds(op1, UE2);
  outsider = await ueCreds(op1, OUTSIDER);
  const config = pkmfConfigFromObject(
    pkmfConfigDoc(op1, join(t.dir, 'pkmf.db'), {
      limits: { maxFrameBytes: 4096 },
      groups: [
        { id: G1, nea: 2, nia: 3, members: [UE1, UE2] },
        { id: G_LTE, profile: 'lte-prose', nea: 1, allowNoIntegrity: true, members: [UE1] },
      ],
      // op2 is a roaming partner: its CA is trusted for its own subscribers only.
      peers: [{ plmn: OP2, url: 'https://127.0.0.1:9', ca: op2.caCert, roaming: true }],
    }),
  );
  pkmf = await startPkmf(config, { logger: pino({ level: 'silent' }) });
});

afterAll(async () => {
  await pkmf?.close();
  t?.cleanup();
});

describe('PKMF over TLS (in-process server)', () => {
  it('issues members the group keys: GMI, algorithms, a 256-bit PGK; the GMI stable on a second request that holds it', async () => {
    const a = await requestKeys(endpoint(), ue1, req([G1, G_LTE]));
    expect(a.error).toBe(ErrorCode.NONE);
    expect(a.servingPlmn).toBe(OP1);
    const [g1, lte] = a.groups;
    if (!g1?.ok || !lte?.ok) throw new Error(`expected keys, got ${JSON.stringify(a.groups)}`);
    expect(g1.material).toMatchObject({ groupId: G1, nea: 2, nia: 3, profile: 'pcr' });
    expect(g1.material.pgks).toHaveLength(1);
    expect(g1.material.pgks[0]!.pgk).toHaveLength(32);
    expect(g1.material.pgks[0]!.expiresAtMs).toBeGreaterThan(Date.now() + 86_000_000);
    expect(lte.material).toMatchObject({ groupId: G_LTE, nea: 1, nia: null, profile: 'lte-prose' });

    const held = req([G1]);
    held.groups[0]!.heldGmi = g1.material.gmi;
    const b = await requestKeys(endpoint(), ue1, held);
    const g1b = b.groups[0];
    if (!g1b?.ok) throw new Error('expected keys');
    expect(g1b.material.gmi).toBe(g1.material.gmi);
    expect(g1b.material.pgks).toEqual(g1.material.pgks);
    // Without held_gmi (the UE holds no PTK state for it) the GMI is fresh, the old one retired.
    const lost = await requestKeys(endpoint(), ue1, req([G1]));
    const g1lost = lost.groups[0];
    if (!g1lost?.ok) throw new Error('expected keys');
    expect(g1lost.material.gmi).not.toBe(g1.material.gmi);
    expect(pkmf.store.retiredGmiCount(G1)).toBe(1);

    const c = await requestKeys(endpoint(), ue2, req([G1]));
    const g1c = c.groups[0];
    if (!g1c?.ok) throw new Error('expected keys');
    expect(g1c.material.gmi).not.toBe(g1.material.gmi);
    expect(g1c.material.pgks).toEqual(g1.material.pgks);
    expect(pkmf.store.issuanceLog(10).some((e) => e.supi === UE2 && e.result === 'OK' && e.gmi === g1c.material.gmi)).toBe(true);
  });

  it('answers with per-group codes: not a member, unknown group, algorithm not supported', async () => {
    const a = await requestKeys(endpoint(), outsider, req([G1, 0x0a0fff]));
    expect(a.groups).toEqual([
      { groupId: G1, ok: false, error: ErrorCode.NOT_A_MEMBER },
      { groupId: 0x0a0fff, ok: false, error: ErrorCode.UNKNOWN_GROUP },
    ]);
    const b = await requestKeys(endpoint(), ue1, { ...req([]), groups: [{ groupId: G1, supportedNea: [1, 2], supportedNia: [1, 2] }] });
    expect(b.groups).toEqual([{ groupId: G1, ok: false, error: ErrorCode.ALGORITHM_NOT_SUPPORTED }]);
    expect(pkmf.store.issuanceLog(10).some((e) => e.supi === OUTSIDER && e.result === 'NOT_A_MEMBER')).toBe(true);
  });

  it('refuses a client certificate from another CA at the handshake', async () => {
    const foreign = await ueCreds(await makeOperatorPki(join(t.dir, 'rogue'), '999-99'), UE1, [op1]);
    const before = pkmf.stats.ue.handshakeFailures;
    const err = await requestKeys(endpoint(), foreign, req([G1])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeyFetchError);
    expect(['TLS', 'CLOSED']).toContain((err as KeyFetchError).code);
    await expect.poll(() => pkmf.stats.ue.handshakeFailures).toBe(before + 1);
  });

  it('refuses an expired client certificate at the handshake', async () => {
    const day = 86_400_000;
    const expired = await ueCreds(op1, UE1, [op1], { notBefore: new Date(Date.now() - 3 * day), notAfter: new Date(Date.now() - day) });
    const before = pkmf.stats.ue.handshakeFailures;
    const err = await requestKeys(endpoint(), expired, req([G1])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeyFetchError);
    await expect.poll(() => pkmf.stats.ue.handshakeFailures).toBe(before + 1);
  });

  it('refuses a client without a certificate at the handshake', async () => {
    const before = pkmf.stats.ue.handshakeFailures;
    const outcome = await new Promise<string>((resolvePromise) => {
      const s = tls.connect({ host: '127.0.0.1', port: pkmf.ueAddress.port, servername: 'localhost', ca: ue1.caPem, minVersion: 'TLSv1.3' });
      s.on('secureConnect', () => s.write(encodeFrame(encodeKeyRequest(req([G1])))));
      s.on('data', () => resolvePromise('answered'));
      s.on('error', (e: NodeJS.ErrnoException) => resolvePromise(e.code ?? 'error'));
      s.on('close', () => resolvePromise('closed'));
    });
    expect(outcome).not.toBe('answered');
    await expect.poll(() => pkmf.stats.ue.handshakeFailures).toBe(before + 1);
  });

  it('refuses a trusted certificate whose SUPI is not of the issuing CA\'s network', async () => {
    // op2's CA is trusted (roaming partner), but it may not vouch for an op1 subscriber.
    const impostor = await ueCreds(op2, UE1, [op1], {});
    const err = (await requestKeys(endpoint(), impostor, req([G1])).catch((e: unknown) => e)) as KeyFetchError;
    expect(err.code).toBe('CONNECTION_ERROR');
    expect(err.protocolCode).toBe(ErrorCode.IDENTITY_REJECTED);
  });

  it('closes a connection sending a malformed frame, answering what came before, and serves the others', async () => {
    const bystander = await rawConnection(ue1);
    const bad = await rawConnection(ue2);
    const good = req([G1]);
    // One write: a valid request, then a frame that is not a ClientFrame.
    bad.socket.write(Buffer.concat([encodeFrame(encodeKeyRequest(good)), encodeFrame(Uint8Array.of(0xff, 0xff, 0xff))]));
    const first = await bad.next();
    expect(first).toMatchObject({ kind: 'key-response', response: { transactionId: good.transactionId, error: ErrorCode.NONE } });
    expect(await bad.next()).toMatchObject({ kind: 'connection-error', code: ErrorCode.MALFORMED_REQUEST });
    await bad.closed;

    const r = req([G1]);
    bystander.socket.write(encodeFrame(encodeKeyRequest(r)));
    expect(await bystander.next()).toMatchObject({ kind: 'key-response', response: { transactionId: r.transactionId, error: ErrorCode.NONE } });
    bystander.socket.end();
  });

  it('closes a connection announcing an oversized frame without waiting for its body', async () => {
    const bystander = await rawConnection(ue1);
    const big = await rawConnection(ue2);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(4097);
    big.socket.write(header);
    expect(await big.next()).toMatchObject({ kind: 'connection-error', code: ErrorCode.FRAME_TOO_LARGE });
    await big.closed;
    const r = req([G1]);
    bystander.socket.write(encodeFrame(encodeKeyRequest(r)));
    expect(await bystander.next()).toMatchObject({ kind: 'key-response', response: { transactionId: r.transactionId } });
    bystander.socket.end();
    expect(pkmf.stats.ue.connectionErrors.FRAME_TOO_LARGE).toBeGreaterThanOrEqual(1);
  });

  it('answers a decodable but invalid request with MALFORMED_REQUEST and keeps the connection', async () => {
    const c = await rawConnection(ue1);
    const empty = req([]);
    c.socket.write(encodeFrame(encodeKeyRequest(empty)));
    expect(await c.next()).toMatchObject({ kind: 'key-response', response: { transactionId: empty.transactionId, error: ErrorCode.MALFORMED_REQUEST, groups: [] } });
    const wrongHome = req([G1], { homePlmn: OP2 });
    c.socket.write(encodeFrame(encodeKeyRequest(wrongHome)));
    expect(await c.next()).toMatchObject({ kind: 'key-response', response: { error: ErrorCode.MALFORMED_REQUEST } });
    const r = req([G1]);
    c.socket.write(encodeFrame(encodeKeyRequest(r)));
    expect(await c.next()).toMatchObject({ kind: 'key-response', response: { transactionId: r.transactionId, error: ErrorCode.NONE } });
    c.socket.end();
  });

  it('answers every Key Request pipelined on one connection, in order, also when the UE half-closes after writing them', async () => {
    const within = <T>(p: Promise<T>, what: string): Promise<T> =>
      Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer to ${what} within 5 s`)), 5_000))]);
    const c = await rawConnection(ue1);
    const a = req([G1]);
    const b = req([G1, G_LTE]);
    // Both frames written back-to-back before reading anything, in one write and in two.
    c.socket.write(Buffer.concat([encodeFrame(encodeKeyRequest(a)), encodeFrame(encodeKeyRequest(b))]));
    expect(await within(c.next(), 'the first request')).toMatchObject({ kind: 'key-response', response: { transactionId: a.transactionId, error: ErrorCode.NONE } });
    expect(await within(c.next(), 'the second request')).toMatchObject({ kind: 'key-response', response: { transactionId: b.transactionId, error: ErrorCode.NONE } });
    const d = req([G1]);
    const e = req([G_LTE]);
    c.socket.write(encodeFrame(encodeKeyRequest(d)));
    c.socket.write(encodeFrame(encodeKeyRequest(e)));
    expect(await within(c.next(), 'the third request')).toMatchObject({ kind: 'key-response', response: { transactionId: d.transactionId } });
    expect(await within(c.next(), 'the fourth request')).toMatchObject({ kind: 'key-response', response: { transactionId: e.transactionId } });
    c.socket.end();

    // A roaming UE's requests are answered asynchronously (forwarded to its home PKMF, here
    // unreachable). It writes two and half-closes at once, as a UE that has nothing more to say.
    const roamer = await rawConnection(await ueCreds(op2, supiOf(OP2, 1), [op1]));
    const f = req([G1], { homePlmn: OP2 });
    const g = req([G1], { homePlmn: OP2 });
    roamer.socket.end(Buffer.concat([encodeFrame(encodeKeyRequest(f)), encodeFrame(encodeKeyRequest(g))]));
    const unreachable = (x: KeyRequestMsg): unknown => ({
      kind: 'key-response',
      response: { transactionId: x.transactionId, error: ErrorCode.NONE, groups: [{ groupId: G1, ok: false, error: ErrorCode.HOME_NETWORK_UNREACHABLE }] },
    });
    expect(await within(roamer.next(), 'the first request before the half-close')).toMatchObject(unreachable(f) as object);
    expect(await within(roamer.next(), 'the second request before the half-close')).toMatchObject(unreachable(g) as object);
    await within(roamer.closed, 'the close after the answers');
  });

  it('survives a burst of random garbage connections and still serves', async () => {
    let seed = 12345;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0), seed / 2 ** 32);
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        const c = await rawConnection(ue2);
        const junk = Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 64) }, () => Math.floor(rnd() * 256)));
        c.socket.write(junk);
        c.socket.end();
        await c.closed;
      }),
    );
    const a = await requestKeys(endpoint(), ue1, req([G1]));
    expect(a.groups[0]?.ok).toBe(true);
  });
});
