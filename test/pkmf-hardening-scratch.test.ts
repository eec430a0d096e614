import tls from 'node:tls';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { pkmfConfigFromObject } from '../bridge/pkmf/config.js';
import { startPkmf, type RunningPkmf } from '../bridge/pkmf/server.js';
import { decodeServerFrame, encodeFrame, encodeKeyRequest, FrameDecoder } from '../src/pkmf/codec.js';
import { makeOperatorPki, OP1, OP2, pkmfConfigDoc, supiOf, tmpDir, ueCreds } from './fixtures/pkmf-testbed.js';

let p1: RunningPkmf; let p2: RunningPkmf; let t: ReturnType<typeof tmpDir>; let creds: Awaited<ReturnType<typeof ueCreds>>;
beforeAll(async () => {
  t = tmpDir(); const op1 = await makeOperatorPki(join(t.dir, 'op1'), OP1); const op2 = await makeOperatorPki(join(t.dir, 'op2'), OP2);
  creds = await ueCreds(op1, supiOf(OP1, 1), [op2]);
  p1 = await startPkmf(pkmfConfigFromObject(pkmfConfigDoc(op1, join(t.dir, 'p1.db'), { peerListen: { host: '127.0.0.1', port: 0 }, groups: [{ id: 1, members: [supiOf(OP1, 1)] }], peers: [{ plmn: OP2, ca: op2.caCert, url: 'https://127.0.0.1:9', roaming: true }] })), { logger: pino({ level: 'silent' }) });
  p2 = await startPkmf(pkmfConfigFromObject(pkmfConfigDoc(op2, join(t.dir, 'p2.db'), { peers: [{ plmn: OP1, ca: op1.caCert, url: `https://127.0.0.1:${p1.peerAddress!.port}`, roaming: true }] })), { logger: pino({ level: 'silent' }) });
});
afterAll(async () => { await p2.close(); await p1.close(); t.cleanup(); });
const req = (id: number) => encodeFrame(encodeKeyRequest({ transactionId: id, homePlmn: OP1, groups: [{ groupId: 1, supportedNea: [1, 2, 3], supportedNia: [1, 2, 3] }] }));
it.each(['write', 'end'])('roaming pipelined %s', async (mode) => {
  const s = tls.connect({ host: '127.0.0.1', port: p2.ueAddress.port, servername: 'localhost', cert: creds.certPem, key: creds.keyPem, ca: creds.caPem, allowHalfOpen: true } as tls.ConnectionOptions);
  const dec = new FrameDecoder(1 << 20); const got: number[] = [];
  s.on('data', (c: Buffer) => { for (const f of dec.push(c)) { const m = decodeServerFrame(f); got.push(m.kind === 'key-response' ? m.response.transactionId : -1); } });
  s.on('error', () => undefined);
  await new Promise((r) => s.once('secureConnect', r));
  if (mode === 'end') s.end(Buffer.concat([req(1), req(2)])); else s.write(Buffer.concat([req(1), req(2)]));
  await new Promise((r) => setTimeout(r, 1500));
  s.destroy();
  expect(got).toEqual([1, 2]);
});
