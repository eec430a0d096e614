/**
 * deploy/grafana/sl-bridge.json against a real Prometheus: `sl-bridge init` a testbed (3 UEs, 2
 * operators, a roaming UE), start it, let the `prometheus` binary scrape it with the generated
 * prometheus.yml (1 s scrapes), then run every PromQL expression of every panel, with the
 * dashboard's variables put in as Grafana would with "All" selected, through the HTTP API: each one
 * must return series. A dashboard panel that names a metric or label nothing exports fails here.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../bridge/testbed/generate.js';

const exec = promisify(execFile);
const BIN = new URL('../../bin/sl-bridge.js', import.meta.url).pathname;
const DASHBOARD = new URL('../../deploy/grafana/sl-bridge.json', import.meta.url).pathname;
// Fixed ports below the ephemeral range, different per run and apart from testbed-init.test.ts's
// (10000..29992); a testbed of 2 operators uses base..base+302.
const BASE = 30_000 + (process.pid % 8) * 330;
// What Grafana puts in for $__rate_interval at a 1 s scrape interval is at least 4 s; 15 s leaves
// every window several samples.
const BUILT_IN: Record<string, string> = { __rate_interval: '15s', __interval: '1s', __range: '1m' };

const hasPrometheus = spawnSync('prometheus', ['--version'], { encoding: 'utf8' }).error === undefined;
if (!hasPrometheus) console.warn('grafana-dashboard.test.ts: skipped, no `prometheus` on the PATH (Debian package prometheus)');

const root = mkdtempSync(join(tmpdir(), 'sl-grafana-'));
const testbed = join(root, 'tb');
let prometheus: ChildProcess | undefined;
let testbedStarted = false;

afterAll(async () => {
  if (testbedStarted) spawnSync(join(testbed, 'testbed.sh'), ['stop'], { encoding: 'utf8' });
  if (prometheus?.exitCode === null) {
    const exited = new Promise((r) => prometheus!.once('exit', r));
    prometheus.kill('SIGTERM');
    await exited;
  }
  rmSync(root, { recursive: true, force: true });
});

interface Target {
  expr?: string;
  refId: string;
  datasource?: { uid?: string };
}
interface Panel {
  title: string;
  type: string;
  datasource?: { uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  allValue?: string;
  definition?: string;
}
interface Dashboard {
  panels: Panel[];
  templating: { list: Variable[] };
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;

/** Every panel, those inside rows too. */
const allPanels = (panels: Panel[]): Panel[] => panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
const queries = allPanels(dashboard.panels).flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, refId: t.refId, expr: t.expr ?? '' })));
const queryVariables = dashboard.templating.list.filter((v) => v.type === 'query');

/** The expression as Grafana sends it with "All" selected in every variable. */
function substitute(expr: string): string {
  const values: Record<string, string> = { ...BUILT_IN };
  for (const v of queryVariables) values[v.name] = v.allValue ?? '';
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]/g, (whole, a?: string, b?: string, c?: string) => values[(a ?? b ?? c)!] ?? whole);
}

async function api<T>(port: number, path: string): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  const body = (await res.json()) as { status: string; data: T; error?: string };
  if (body.status !== 'success') throw new Error(`${path}: ${body.error}`);
  return body.data;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ms: number, ok: () => Promise<boolean>): Promise<void> {
  const by = Date.now() + ms;
  for (;;) {
    try {
      if (await ok()) return;
    } catch {
      // Not up yet: try again.
    }
    if (Date.now() > by) throw new Error(`timed out waiting for ${what}`);
    await sleep(300);
  }
}

/** A client without a certificate: the PKMF refuses its handshake (a refused-handshake series). */
function handshakeWithoutCertificate(port: number): Promise<void> {
  return new Promise((resolvePromise) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' });
    s.setTimeout(5_000, () => s.destroy());
    s.on('error', () => s.destroy());
    s.on('close', () => resolvePromise());
  });
}

describe('deploy/grafana/sl-bridge.json', () => {
  it('uses the datasource variable, $__rate_interval in every range and regex matchers for the multi-value variables', () => {
    expect(queries.length).toBeGreaterThan(15);
    for (const p of allPanels(dashboard.panels).filter((x) => x.type !== 'row')) {
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
      for (const t of p.targets ?? []) expect(t.datasource?.uid, `${p.title} ${t.refId}`).toBe('${datasource}');
    }
    for (const q of queries) {
      const where = `${q.panel} ${q.refId}: ${q.expr}`;
      for (const [, range] of q.expr.matchAll(/\[([^\]]*)\]/g)) expect(range, where).toBe('$__rate_interval');
      for (const [, op] of q.expr.matchAll(/(=~|!~|!=|=)"\$\{?(?:\w+)\}?"/g)) expect(op, where).toBe('=~');
      expect(substitute(q.expr), where).not.toMatch(/\$/);
    }
    expect(queryVariables.map((v) => v.name)).toContain('ue');
  });

  it.skipIf(!hasPrometheus)(
    'returns data for every expression from a real Prometheus scraping an `sl-bridge init` testbed',
    async () => {
      const init = spawnSync(process.execPath, [BIN, 'init', testbed, '--ues', '3', '--operators', '2', '--roaming', '--base-port', String(BASE)], { encoding: 'utf8' });
      expect(init.stderr).toBe('');
      expect(init.status).toBe(0);

      const config = parse(readFileSync(join(testbed, 'prometheus.yml'), 'utf8')) as { global: Record<string, string>; scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] };
      expect(config.scrape_configs.map((j) => j.job_name)).toEqual(['sl-bridge-daemons', 'sl-bridge-medium', 'sl-bridge-pkmf']);
      const targets = config.scrape_configs.flatMap((j) => j.static_configs.flatMap((s) => s.targets));
      expect(targets).toHaveLength(3 + 1 + 2);
      config.global = { ...config.global, scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' };
      const promConfig = join(root, 'prometheus.yml');
      writeFileSync(promConfig, stringify(config));

      testbedStarted = true;
      await exec(join(testbed, 'testbed.sh'), ['start']);
      let status = '';
      await until('every UE receiving', 30_000, async () => {
        status = (await exec(join(testbed, 'testbed.sh'), ['status', '--json'])).stdout;
        const { ues } = JSON.parse(status) as { ues: { running: boolean; received: number }[] };
        return ues.length === 3 && ues.every((u) => u.running && u.received > 0);
      }).catch((e: Error) => {
        const logs = ['ue1', 'ue2', 'ue3'].map((ue) => `${ue}.log: ${readFileSync(join(testbed, 'logs', `${ue}.log`), 'utf8').split('\n').slice(-3).join('\n')}`);
        throw new Error(`${e.message}: ${status}\n${logs.join('\n')}`);
      });

      const promPort = await freePort();
      prometheus = spawn(
        'prometheus',
        [`--config.file=${promConfig}`, `--storage.tsdb.path=${join(root, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let promLog = '';
      prometheus.stderr!.on('data', (d: Buffer) => (promLog += d.toString()));

      type Active = { activeTargets: { scrapeUrl: string; health: string; lastError: string }[] };
      let active: Active['activeTargets'] = [];
      await until('every target up', 30_000, async () => {
        active = (await api<Active>(promPort, '/api/v1/targets')).activeTargets;
        return active.length === targets.length && active.every((t) => t.health === 'up');
      }).catch((e: Error) => {
        const health = active.map((t) => `${t.scrapeUrl} ${t.health} ${t.lastError}`).join('\n');
        throw new Error(`${e.message}:\n${health}\n${promLog}`);
      });
      // Every target scraped at least 6 times: the 15 s rate windows hold several samples.
      await until('6 s of samples', 30_000, async () => {
        const r = await api<{ result: { value: [number, string] }[] }>(promPort, `/api/v1/query?query=${encodeURIComponent('min(count_over_time(up[1m]))')}`);
        return Number(r.result[0]?.value[1]) >= 6;
      });

      // Events inside the rate windows: key requests to both PKMFs, one of them forwarded for the
      // roaming ue3 (`keys fetch` asks with the running daemon's GMI, costing it nothing), and a
      // client without a certificate at operator 1's PKMF.
      for (const ue of ['ue1', 'ue3']) await exec(process.execPath, [BIN, 'keys', 'fetch', '--config', `${ue}.yaml`], { cwd: testbed });
      await handshakeWithoutCertificate(BASE + 10);

      // The variables' own queries (label_values(METRIC, LABEL)) find their values.
      for (const v of queryVariables) {
        const m = /^label_values\((\w+), *(\w+)\)$/.exec(v.definition ?? '');
        expect(m, v.name).not.toBeNull();
        const values = await api<string[]>(promPort, `/api/v1/label/${m![2]}/values?match[]=${encodeURIComponent(m![1]!)}`);
        expect(values.length, `variable ${v.name}: ${v.definition}`).toBeGreaterThan(0);
        if (v.name === 'ue') expect(values).toEqual(['ue1', 'ue2', 'ue3']);
      }

      // Series that only appear with their first event (a sender heard, a key issued) may take a
      // few scrapes more: ask again until every expression has had data once or the time is up.
      // A histogram_quantile over windows without an observation is NaN: Grafana draws nothing.
      const noDataYet = new Map(queries.map((q) => [q, '']));
      await until('data for every expression', 20_000, async () => {
        for (const q of noDataYet.keys()) {
          const r = await api<{ result: { value: [number, string] }[] }>(promPort, `/api/v1/query?query=${encodeURIComponent(substitute(q.expr))}`).catch((e: Error) => e);
          if (r instanceof Error) noDataYet.set(q, r.message);
          else if (r.result.length === 0) noDataYet.set(q, 'no series');
          else if (r.result.every((x) => Number.isNaN(Number(x.value[1])))) noDataYet.set(q, 'only NaN');
          else noDataYet.delete(q);
        }
        return noDataYet.size === 0;
      }).catch(() => undefined);
      const noData = [...noDataYet].map(([q, why]) => `${q.panel} ${q.refId} (${why}): ${q.expr}`);
      expect(noData, 'dashboard expressions without data').toEqual([]);
    },
    150_000,
  );
});
