/**
 * The PKMF's Prometheus endpoint and log.
 *
 * On the built CLI (`sl-bridge pkmf --config FILE --metrics 127.0.0.1:0`, stdout a pipe): real UEs
 * over mutual TLS get keys, are refused for not being a member, for their rate, for a malformed
 * request, get mixed answers, and one with a certificate of an untrusted CA is refused at the
 * handshake; /metrics must count exactly that (by port, result and reason), the handling-time
 * histogram must count every answer, build info and the process collector must be there, every
 * series labelled with the PLMN. The log stays JSON lines with `PKMF listening` (and the metrics
 * URL), and SIGTERM logs `PKMF stopping` with the signal and `PKMF stopped` with the same figures.
 *
 * In-process (startPkmf with `metrics`), a serving PKMF relaying roaming UEs' requests to their home
 * PKMF, and to an unreachable one: the forwards out and in, by peer and result, on both sides.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { histogramSeries, type PromFamily } from '../../bridge/metrics/prom-text.js';
import { pkmfConfigFromObject } from '../../bridge/pkmf/config.js';
import { startPkmf, type RunningPkmf } from '../../bridge/pkmf/server.js';
import type { UeCredentials } from '../../bridge/pkmf/ue-client.js';
import { KeyFetchError, requestKeys } from '../../bridge/pkmf/ue-client.js';
import type { KeyRequestMsg } from '../../src/pkmf/codec.js';
import { ErrorCode } from '../../src/pkmf/errors.js';
import { BIN, freePort, makeOperatorPki, OP1, OP2, pkmfConfigDoc, supiOf, tmpDir, ueCreds, writeYaml } from '../fixtures/pkmf-testbed.js';
import { waitFor } from '../fixtures/transport-helpers.js';
import { family, scrape } from '../fixtures/prom-helpers.js';
import { spawnCli } from '../fixtures/cli-child.js';

const OP3 = '001-03';
const G1 = 0x0e0001;
const G2 = 0x0e0002;
const UE1 = supiOf(OP1, 1);
const UE2 = supiOf(OP1, 2);
const OUTSIDER = supiOf(OP1, 9);
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const closers: Array<() => unknown> = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

const request = (groups: number[], extra: Partial<KeyRequestMsg> = {}): KeyRequestMsg => ({
  transactionId: Math.floor(Math.random() * 2 ** 32),
  homePlmn: '',
  groups: groups.map((groupId) => ({ groupId, supportedNea: [1, 2, 3], supportedNia: [1, 2, 3] })),
  ...extra,
});

/** The samples of `name` whose labels include `labels`, as `{ label values joined by '/': value }` over `keys`. */
function series(fams: PromFamily[], name: string, keys: string[], labels: Record<string, string> = {}): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of family(fams, name).samples) {
    if (!Object.entries(labels).every(([k, v]) => s.labels[k] === v)) continue;
    out[keys.map((k) => s.labels[k]).join('/')] = s.value;
  }
  return out;
}

async function scrapeUntil(url: string, cond: (f: PromFamily[]) => boolean, what: string): Promise<PromFamily[]> {
  let last: PromFamily[] = [];
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    last = await scrape(url);
    if (cond(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('sl-bridge pkmf --metrics', () => {
  it('counts exactly what real UEs got, per result and refusal reason, and logs JSON start and shutdown lines', async () => {
    const t = tmpDir();
    closers.push(() => t.cleanup());
    const op1 = await makeOperatorPki(join(t.dir, 'op1'), OP1);
    const rogue = await makeOperatorPki(join(t.dir, 'rogue'), OP2);
    const configFile = writeYaml(
      join(t.dir, 'pkmf.yaml'),
      pkmfConfigDoc(op1, join(t.dir, 'pkmf.db'), {
        limits: { ueRequestBurst: 2, ueRequestsPerMin: 0.001 },
        groups: [
          { id: G1, members: [UE1, UE2] },
          { id: G2, members: [UE1] },
        ],
      }),
    );
    const [ue1, ue2, outsider, rogueUe] = await Promise.all([
      ueCreds(op1, UE1),
      ueCreds(op1, UE2),
      ueCreds(op1, OUTSIDER),
      // A SUPI of op1, but the certificate of another operator's CA, which this PKMF does not trust.
      ueCreds(rogue, supiOf(OP1, 3), [op1]),
    ]);

    const p = spawnCli(['pkmf', '--config', configFile, '--metrics', '127.0.0.1:0'], closers);
    await waitFor(() => p.stdout().includes('"PKMF listening"'), 'the PKMF listening line', 20_000);
    const listening = p.lines().find((l) => l.msg === 'PKMF listening') as { ue: { port: number }; metrics: string };
    expect(listening.metrics).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const url = listening.metrics;
    expect(p.lines().find((l) => l.msg === 'metrics: serving Prometheus metrics')).toMatchObject({ level: 30, svc: 'pkmf', url });
    const endpoint = { host: '127.0.0.1', port: listening.ue.port, servername: 'localhost' };

    const fresh = await scrape(url);
    expect(series(fresh, 'slbridge_pkmf_requests_total', ['port', 'result'])).toEqual({ 'ue/OK': 0 });
    expect(histogramSeries(family(fresh, 'slbridge_pkmf_request_seconds')).map((s) => [s.labels.port, s.count])).toEqual([['ue', 0]]);

    const ask = (creds: UeCredentials, req: KeyRequestMsg) => requestKeys(endpoint, creds, req);
    // ue1: keys for both groups, twice (its burst), then refused for its rate.
    const first = await ask(ue1, request([G1, G2]));
    expect(first.groups.map((g) => g.ok)).toEqual([true, true]);
    expect((await ask(ue1, request([G1]))).groups.map((g) => g.ok)).toEqual([true]);
    expect((await ask(ue1, request([G1]))).error).toBe(ErrorCode.RATE_LIMITED);
    // ue2: keys for G1, not a member of G2: mixed; then a request without groups: malformed.
    expect((await ask(ue2, request([G1, G2]))).groups.map((g) => (g.ok ? 'OK' : g.error))).toEqual(['OK', ErrorCode.NOT_A_MEMBER]);
    expect((await ask(ue2, request([]))).error).toBe(ErrorCode.MALFORMED_REQUEST);
    // Not a member of the one group asked for.
    expect((await ask(outsider, request([G1]))).groups).toEqual([{ groupId: G1, ok: false, error: ErrorCode.NOT_A_MEMBER }]);
    // Refused at the handshake: no Key Request is answered.
    await expect(ask(rogueUe, request([G1]))).rejects.toBeInstanceOf(KeyFetchError);

    const REFUSED = 'UNABLE_TO_VERIFY_LEAF_SIGNATURE';
    const fams = await scrapeUntil(
      url,
      (f) => series(f, 'slbridge_pkmf_handshakes_refused_total', ['reason'])[REFUSED] === 1 && series(f, 'slbridge_pkmf_connections', ['port']).ue === 0,
      'the refused handshake counted and every UE connection closed',
    );
    expect(series(fams, 'slbridge_pkmf_requests_total', ['port', 'result'])).toEqual({
      'ue/OK': 2,
      'ue/RATE_LIMITED': 1,
      'ue/MIXED': 1,
      'ue/MALFORMED_REQUEST': 1,
      'ue/NOT_A_MEMBER': 1,
    });
    expect(series(fams, 'slbridge_pkmf_handshakes_refused_total', ['port', 'reason'])).toEqual({ [`ue/${REFUSED}`]: 1 });
    // ue1: G1 twice and G2 once; ue2: G1 once.
    expect(series(fams, 'slbridge_pkmf_keys_issued_total', ['group'])).toEqual({ '0e0001': 3, '0e0002': 1 });
    expect(series(fams, 'slbridge_pkmf_handshakes_pending', ['port'])).toEqual({ ue: 0 });
    expect(family(fams, 'slbridge_pkmf_connection_errors_total').samples).toEqual([]);
    expect(family(fams, 'slbridge_pkmf_roaming_forwards_total').samples).toEqual([]);
    const [seconds, ...others] = histogramSeries(family(fams, 'slbridge_pkmf_request_seconds'));
    expect(others).toEqual([]);
    expect(seconds!.labels).toEqual({ plmn: OP1, port: 'ue' });
    expect(seconds!.count).toBe(6);
    expect(seconds!.sum).toBeGreaterThan(0);

    expect(series(fams, 'slbridge_build_info', ['version'])).toEqual({ [VERSION]: 1 });
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
      expect(family(fams, name).samples.length, name).toBeGreaterThan(0);
    }
    // Every series names this PKMF's PLMN.
    for (const f of fams) for (const s of f.samples) expect(s.labels.plmn, `${s.name} ${JSON.stringify(s.labels)}`).toBe(OP1);

    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(p.stderr()).toBe('');
    // stdout is a pipe: JSON lines only, the shutdown lines last, no key bytes anywhere.
    const lines = p.lines();
    expect(lines.every((l) => l.svc === 'pkmf' && typeof l.time === 'number')).toBe(true);
    expect(lines.at(-2)).toMatchObject({ level: 30, msg: 'PKMF stopping', signal: 'SIGTERM' });
    expect(lines.at(-1)).toMatchObject({
      level: 30,
      msg: 'PKMF stopped',
      requests: { ue: 6, peer: 0 },
      results: { OK: 2, RATE_LIMITED: 1, MIXED: 1, MALFORMED_REQUEST: 1, NOT_A_MEMBER: 1 },
      keysIssued: 4,
      forwards: { out: 0, in: 0 },
      handshakesRefused: { ue: 1 },
    });
    expect(lines.at(-1)!.uptimeSec).toEqual(expect.any(Number));
    const g1 = first.groups[0]!;
    if (!g1.ok) throw new Error('expected keys');
    const pgk = Buffer.from(g1.material.pgks[0]!.pgk);
    expect(p.stdout()).not.toContain(pgk.toString('hex'));
    expect(p.stdout()).not.toContain(pgk.toString('base64'));
  });

  it('refuses a malformed --metrics address before starting (exit status 2)', () => {
    const r = spawnSync(process.execPath, [BIN, 'pkmf', '--config', 'missing.yaml', '--metrics', 'localhost'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--metrics: listen: expected HOST:PORT');
    expect(r.stdout).toBe('');
  });
});

describe('PKMF metrics of roaming forwards (in-process)', () => {
  it('counts requests relayed to the home PKMF (out) and answered for the serving one (in), by peer and result', async () => {
    const t = tmpDir();
    closers.push(() => t.cleanup());
    const [op1, op2, op3] = await Promise.all([
      makeOperatorPki(join(t.dir, 'op1'), OP1),
      makeOperatorPki(join(t.dir, 'op2'), OP2),
      makeOperatorPki(join(t.dir, 'op3'), OP3),
    ]);
    const silent = pino({ level: 'silent' });
    const start = async (doc: Record<string, unknown>): Promise<RunningPkmf> => {
      const running = await startPkmf(pkmfConfigFromObject(doc), { logger: silent, metrics: '127.0.0.1:0' });
      closers.push(() => running.close());
      return running;
    };
    // op1 is the home network of the roaming UEs; op3's PKMF is down.
    const home = await start(
      pkmfConfigDoc(op1, join(t.dir, 'home.db'), {
        peerListen: { host: '127.0.0.1', port: 0 },
        groups: [{ id: G1, members: [UE1] }],
        // A roaming agreement needs a URL; the home PKMF never calls the serving one here.
        peers: [{ plmn: OP2, ca: op2.caCert, url: `https://127.0.0.1:${await freePort()}`, roaming: true }],
      }),
    );
    const serving = await start(
      pkmfConfigDoc(op2, join(t.dir, 'serving.db'), {
        limits: { peerTimeoutSec: 2 },
        peers: [
          { plmn: OP1, ca: op1.caCert, url: `https://127.0.0.1:${home.peerAddress!.port}`, roaming: true },
          { plmn: OP3, ca: op3.caCert, url: `https://127.0.0.1:${await freePort()}`, roaming: true },
        ],
      }),
    );
    const endpoint = { host: '127.0.0.1', port: serving.ueAddress.port, servername: 'localhost' };
    const roam = async (op: typeof op1, supi: string): Promise<unknown> => {
      const res = await requestKeys(endpoint, await ueCreds(op, supi, [op2]), request([G1], { homePlmn: op.plmn }));
      return res.groups[0];
    };
    expect(await roam(op1, UE1)).toMatchObject({ ok: true });
    expect(await roam(op1, OUTSIDER)).toEqual({ groupId: G1, ok: false, error: ErrorCode.NOT_A_MEMBER });
    expect(await roam(op3, supiOf(OP3, 1))).toEqual({ groupId: G1, ok: false, error: ErrorCode.HOME_NETWORK_UNREACHABLE });

    const s = await scrape(serving.metricsUrl!);
    expect(series(s, 'slbridge_pkmf_requests_total', ['port', 'result'])).toEqual({ 'ue/OK': 1, 'ue/NOT_A_MEMBER': 1, 'ue/HOME_NETWORK_UNREACHABLE': 1 });
    expect(series(s, 'slbridge_pkmf_roaming_forwards_total', ['direction', 'peer', 'result'])).toEqual({
      [`out/${OP1}/OK`]: 1,
      [`out/${OP1}/NOT_A_MEMBER`]: 1,
      [`out/${OP3}/HOME_NETWORK_UNREACHABLE`]: 1,
    });
    expect(family(s, 'slbridge_pkmf_keys_issued_total').samples).toEqual([]);
    expect(histogramSeries(family(s, 'slbridge_pkmf_request_seconds')).map((h) => [h.labels.port, h.count])).toEqual([['ue', 3]]);

    const h = await scrape(home.metricsUrl!);
    expect(series(h, 'slbridge_pkmf_requests_total', ['port', 'result'])).toEqual({ 'ue/OK': 0, 'peer/OK': 1, 'peer/NOT_A_MEMBER': 1 });
    expect(series(h, 'slbridge_pkmf_roaming_forwards_total', ['direction', 'peer', 'result'])).toEqual({ [`in/${OP2}/OK`]: 1, [`in/${OP2}/NOT_A_MEMBER`]: 1 });
    expect(series(h, 'slbridge_pkmf_keys_issued_total', ['group'])).toEqual({ '0e0001': 1 });
    expect(histogramSeries(family(h, 'slbridge_pkmf_request_seconds')).map((x) => [x.labels.port, x.count])).toEqual([
      ['ue', 0],
      ['peer', 2],
    ]);
    // The serving PKMF keeps its HTTP/2 session to the home PKMF open; closed, it is gone.
    expect(series(h, 'slbridge_pkmf_connections', ['port'])).toEqual({ ue: 0, peer: 1 });
    await serving.close();
    await scrapeUntil(home.metricsUrl!, (f) => series(f, 'slbridge_pkmf_connections', ['port']).peer === 0, 'the peer session to close');
    for (const f of h) for (const x of f.samples) expect(x.labels.plmn).toBe(OP1);
  });
});
