/**
 * The inter-PKMF interface in-process, over real HTTP/2 + mutual TLS on loopback: agreements
 * enforced by the answering PKMF, peer identity checks, and malformed calls answered with
 * ProblemDetails.
 */
import http2 from 'node:http2';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pkmfConfigFromObject } from '../../bridge/pkmf/config.js';
import type { RunningPkmf } from '../../bridge/pkmf/server.js';
import { startPkmf } from '../../bridge/pkmf/server.js';
import { requestKeys } from '../../bridge/pkmf/ue-client.js';
import { issueCertificate } from '../../bridge/pki/ca.js';
import { ErrorCode } from '../../src/pkmf/errors.js';
import { KEY_REQUEST_PATH } from '../../src/pkmf/json.js';
import type { OperatorPki } from '../fixtures/pkmf-testbed.js';
import { makeOperatorPki, OP1, OP2, pkmfConfigDoc, supiOf, tmpDir, ueCreds } from '../fixtures/pkmf-testbed.js';

const GROUP = 0x0d0001; // owned by op1, no operator agreement with op2
const silent = pino({ level: 'silent' });
let t: ReturnType<typeof tmpDir>;
let op1: OperatorPki;
let op2: OperatorPki;
let pkmf1: RunningPkmf;
let pkmf2: RunningPkmf;

beforeAll(async () => {
  t = tmpDir();
  op1 = await makeOperatorPki(join(t.dir, 'op1'), OP1);
  op2 = await makeOperatorPki(join(t.dir, 'op2'), OP2);
  // op1 has no roaming agreement with op2 and the group is not open to op2's subscribers, but
  // op2 believes otherwise: op1 must enforce its own side.
  pkmf1 = await startPkmf(
    pkmfConfigFromObject(
      pkmfConfigDoc(op1, join(t.dir, 'p1.db'), {
        peerListen: { host: '127.0.0.1', port: 0 },
        groups: [{ id: GROUP, members: [supiOf(OP1, 1)] }],
        peers: [{ plmn: OP2, ca: op2.caCert }],
      }),
    ),
    { logger: silent },
  );
  pkmf2 = await startPkmf(
    pkmfConfigFromObject(
      pkmfConfigDoc(op2, join(t.dir, 'p2.db'), {
        peers: [{ plmn: OP1, ca: op1.caCert, url: `https://127.0.0.1:${pkmf1.peerAddress!.port}`, roaming: true, groups: [GROUP] }],
      }),
    ),
    { logger: silent },
  );
});
afterAll(async () => {
  await pkmf2?.close();
  await pkmf1?.close();
  t?.cleanup();
});

const ask = async (supi: string, op: OperatorPki): Promise<unknown> => {
  const creds = await ueCreds(op, supi, [op2]);
  const res = await requestKeys({ host: '127.0.0.1', port: pkmf2.ueAddress.port, servername: 'localhost' }, creds, {
    transactionId: 9,
    homePlmn: '',
    groups: [{ groupId: GROUP, supportedNea: [2], supportedNia: [2] }],
  });
  return res.groups;
};

/** A raw HTTP/2 call to op1's peer endpoint with the given client certificate. */
function rawCall(certFile: string, keyFile: string, headers: http2.OutgoingHttpHeaders, body?: string): Promise<{ status: number; type: string; json: Record<string, unknown> }> {
  return new Promise((resolvePromise, reject) => {
    const session = http2.connect(`https://127.0.0.1:${pkmf1.peerAddress!.port}`, {
      ca: readFileSync(op1.caCert),
      cert: readFileSync(certFile),
      key: readFileSync(keyFile),
      minVersion: 'TLSv1.3',
    });
    session.on('error', reject);
    const stream = session.request(headers);
    stream.on('error', reject);
    let status = 0;
    let type = '';
    let data = '';
    stream.on('response', (h) => {
      status = Number(h[':status']);
      type = String(h['content-type']);
    });
    stream.on('data', (c: Buffer) => (data += c.toString()));
    stream.on('close', () => {
      session.close();
      if (!status) reject(new Error('stream closed without a response'));
      else resolvePromise({ status, type, json: data ? (JSON.parse(data) as Record<string, unknown>) : {} });
    });
    stream.end(body);
  });
}

describe('inter-PKMF HTTP/2', () => {
  it('the home PKMF refuses a roaming relay without its own roaming agreement', async () => {
    expect(await ask(supiOf(OP1, 1), op1)).toEqual([{ groupId: GROUP, ok: false, error: ErrorCode.NO_ROAMING_AGREEMENT }]);
    expect(pkmf1.store.issuanceLog(5)[0]).toMatchObject({ supi: supiOf(OP1, 1), requester: OP2, result: 'NO_ROAMING_AGREEMENT' });
  });

  it('the group owner refuses another operator\'s subscriber without an operator agreement', async () => {
    expect(await ask(supiOf(OP2, 1), op2)).toEqual([{ groupId: GROUP, ok: false, error: ErrorCode.NO_OPERATOR_AGREEMENT }]);
  });

  it('answers malformed calls with ProblemDetails', async () => {
    const c = { cert: op2.pkmfCert, key: op2.pkmfKey };
    const post = { ':method': 'POST', ':path': KEY_REQUEST_PATH, 'content-type': 'application/json' };
    const notJson = await rawCall(c.cert, c.key, post, '{');
    expect(notJson).toMatchObject({ status: 400, type: 'application/problem+json', json: { cause: 'MALFORMED_REQUEST', detail: 'body is not JSON' } });
    const badBody = await rawCall(c.cert, c.key, post, JSON.stringify({ transactionId: 1, supi: 'x' }));
    expect(badBody).toMatchObject({ status: 400, json: { cause: 'MALFORMED_REQUEST', detail: expect.stringMatching(/supi/) } });
    expect((await rawCall(c.cert, c.key, { ...post, ':path': '/npkmf-keyreq/v1/other' }, '{}')).status).toBe(404);
    expect((await rawCall(c.cert, c.key, { ':method': 'GET', ':path': KEY_REQUEST_PATH })).status).toBe(405);
    expect((await rawCall(c.cert, c.key, { ...post, 'content-type': 'text/plain' }, '{}')).status).toBe(415);
    // A well-formed call for a UE of neither network: refused as a whole.
    const stranger = await rawCall(c.cert, c.key, post, JSON.stringify({ transactionId: 1, supi: 'imsi-999990000000001', servingPlmn: { mcc: '001', mnc: '02' }, groups: [{ groupId: '0d0001', supportedNea: [2], supportedNia: [2] }] }));
    expect(stranger).toMatchObject({ status: 403, json: { cause: 'NO_ROAMING_AGREEMENT' } });
  });

  it('closes a session whose certificate names a PLMN its CA may not vouch for', async () => {
    // Signed by op2's (trusted) CA, but claiming to be op1's own PKMF.
    const fake = await issueCertificate({ caDir: op2.dir, kind: 'pkmf', plmn: OP1, out: join(op2.dir, 'fake'), force: true });
    const before = pkmf1.stats.peer!.rejectedSessions;
    const err = await rawCall(fake.certFile, fake.keyFile, { ':method': 'POST', ':path': KEY_REQUEST_PATH, 'content-type': 'application/json' }, '{}').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(pkmf1.stats.peer!.rejectedSessions).toBe(before + 1);
  });

  it('refuses a peer certificate from an unknown CA at the handshake', async () => {
    const rogue = await makeOperatorPki(join(t.dir, 'rogue'), '001-09');
    const before = pkmf1.stats.peer!.handshakeFailures;
    const err = await rawCall(rogue.pkmfCert, rogue.pkmfKey, { ':method': 'POST', ':path': KEY_REQUEST_PATH }, '{}').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    await expect.poll(() => pkmf1.stats.peer!.handshakeFailures).toBe(before + 1);
  });
});
