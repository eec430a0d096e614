/**
 * `sl-bridge pkmf bench` (hidden): N UEs (default 500) request keys concurrently over TLS from one
 * PKMF process (`sl-bridge pkmf --config`, spawned), for a few rounds. Reports per-request latency
 * (connect + TLS 1.3 handshake with client certificate + Key Request/Response) p50/p99/p99.9 and
 * requests per second, against a baseline measured in the same run: a bare mutual-TLS 1.3 echo
 * server process with the same certificates answering one frame per connection.
 *
 * Round 1 includes first issuance (a GMI per UE, written durably); later rounds are steady state.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KeyRequestMsg } from '../../src/pkmf/codec.js';
import { ErrorCode } from '../../src/pkmf/errors.js';
import { percentile } from '../../src/stats/percentile.js';
import { makeOperatorPki, issueUe, writeYaml } from './testbed.js';
import type { UeCredentials } from './ue-client.js';
import { requestKeys, ueSecureContext } from './ue-client.js';

const BIN = fileURLToPath(new URL('../../../bin/sl-bridge.js', import.meta.url));
const GROUP = 0x00b001;

// A mutual-TLS 1.3 server answering each frame with a frame of the same size as a typical Key
// Response; no protobuf, no SQLite: the cost floor of one request.
const ECHO_SERVER = `
const tls = require('node:tls'); const fs = require('node:fs');
const [cert, key, ca, size] = process.argv.slice(1);
const reply = Buffer.alloc(4 + Number(size)); reply.writeUInt32BE(Number(size), 0);
const s = tls.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key), ca: fs.readFileSync(ca),
  requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' }, (sock) => {
  let buf = Buffer.alloc(0);
  sock.on('data', (c) => { buf = Buffer.concat([buf, c]); while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
    buf = buf.subarray(4 + buf.readUInt32BE(0)); sock.write(reply); } });
  sock.on('error', () => {});
});
s.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ msg: 'PKMF listening', ue: s.address() })));
`;

interface Row {
  name: string;
  n: number;
  ok: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  rps: number;
}

function waitListening(child: ChildProcess): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    let out = '';
    let err = '';
    child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      for (const line of out.split('\n')) {
        if (!line.includes('PKMF listening')) continue;
        try {
          resolvePromise((JSON.parse(line) as { ue: { port: number } }).ue.port);
          return;
        } catch {
          /* partial line */
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${err}`)));
  });
}

async function round(name: string, port: number, ues: UeCredentials[], txBase: number): Promise<Row> {
  const lat: number[] = [];
  let ok = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    ues.map(async (creds, i) => {
      const req: KeyRequestMsg = { transactionId: txBase + i, homePlmn: '', groups: [{ groupId: GROUP, supportedNea: [1, 2, 3], supportedNia: [1, 2, 3] }] };
      const s = process.hrtime.bigint();
      try {
        const res = await requestKeys({ host: '127.0.0.1', port, servername: 'localhost' }, creds, req, { timeoutMs: 60_000 });
        if (res.error === ErrorCode.NONE && res.groups[0]?.ok) ok++;
      } catch (e) {
        // The baseline echo server answers with an empty frame: decoding it fails, which is fine.
        if (name.startsWith('baseline') && (e as { code?: string }).code === 'BAD_RESPONSE') ok++;
      }
      lat.push(Number(process.hrtime.bigint() - s) / 1e6);
    }),
  );
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  lat.sort((a, b) => a - b);
  return { name, n: ues.length, ok, p50: percentile(lat, 50), p99: percentile(lat, 99), p999: percentile(lat, 99.9), max: lat[lat.length - 1]!, rps: ues.length / wall };
}

export async function runPkmfBench(opts: { ues: number; rounds: number; json?: boolean }): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sl-bridge-pkmf-bench-'));
  const children: ChildProcess[] = [];
  try {
    process.stderr.write(`bench: issuing ${opts.ues} UE certificates...\n`);
    const op = await makeOperatorPki(join(dir, 'op1'), '001-01');
    const supis = Array.from({ length: opts.ues }, (_, i) => `imsi-00101${String(i + 1).padStart(10, '0')}`);
    const ues: UeCredentials[] = [];
    for (const supi of supis) {
      const f = await issueUe(op, supi);
      const creds: UeCredentials = { certPem: readFileSync(f.certFile, 'utf8'), keyPem: readFileSync(f.keyFile, 'utf8'), caPem: [readFileSync(op.caCert, 'utf8')] };
      // Built before timing: a UE holds its TLS context for its lifetime.
      ues.push({ ...creds, secureContext: ueSecureContext(creds) });
    }
    const config = writeYaml(join(dir, 'pkmf.yaml'), {
      plmn: '001-01',
      database: join(dir, 'pkmf.db'),
      listen: { host: '127.0.0.1', port: 0 },
      tls: { cert: op.pkmfCert, key: op.pkmfKey, ca: op.caCert },
      // Every simulated UE connects from 127.0.0.1 at once: lift the per-source handshake cap.
      limits: { maxConnections: opts.ues * 2, maxUnauthenticatedPerSource: opts.ues * 2 },
      logLevel: 'warn',
      groups: [{ id: GROUP, nea: 2, nia: 2, members: supis }],
    });
    // Same log level for the echo server's start line: it prints it with console.log.
    const pkmf = spawn(process.execPath, [BIN, 'pkmf', '--config', config, '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(pkmf);
    const pkmfPort = await waitListening(pkmf);
    const echo = spawn(process.execPath, ['-e', ECHO_SERVER, op.pkmfCert, op.pkmfKey, op.caCert, '150'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(echo);
    const echoPort = await waitListening(echo);

    const rows: Row[] = [];
    for (let r = 1; r <= opts.rounds; r++) {
      process.stderr.write(`bench: round ${r}/${opts.rounds}\n`);
      rows.push(await round(`baseline-mtls-echo r${r}`, echoPort, ues, r * 1_000_000));
      rows.push(await round(`pkmf-key-request r${r}${r === 1 ? ' (first issuance)' : ''}`, pkmfPort, ues, r * 1_000_000 + 500_000));
    }
    const baseline = rows.filter((x) => x.name.startsWith('baseline'));
    const basep50 = baseline.map((x) => x.p50).sort((a, b) => a - b)[Math.floor(baseline.length / 2)]!;
    if (opts.json) {
      process.stdout.write(JSON.stringify({ ues: opts.ues, rounds: opts.rounds, rows: rows.map((x) => ({ ...x, ratioP50: x.p50 / basep50 })) }, null, 2) + '\n');
    } else {
      const f = (v: number): string => v.toFixed(1).padStart(8);
      const lines = [
        `${opts.ues} UEs requesting keys concurrently over TLS 1.3 (mutual auth) from one PKMF process; latency in ms`,
        `${'case'.padEnd(40)} ${'ok'.padStart(9)} ${'p50'.padStart(8)} ${'p99'.padStart(8)} ${'p99.9'.padStart(8)} ${'max'.padStart(8)} ${'req/s'.padStart(8)} ${'p50/base'.padStart(9)}`,
        ...rows.map(
          (x) =>
            `${x.name.padEnd(40)} ${`${x.ok}/${x.n}`.padStart(9)} ${f(x.p50)} ${f(x.p99)} ${f(x.p999)} ${f(x.max)} ${f(x.rps)} ${(x.p50 / basep50).toFixed(2).padStart(9)}`,
        ),
      ];
      process.stdout.write(lines.join('\n') + '\n');
    }
    if (rows.some((x) => x.ok !== x.n)) process.exitCode = 1;
  } finally {
    for (const c of children) c.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}
