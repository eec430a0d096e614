/**
 * Starting and stopping a PKMF: the store, the service, the UE-facing TLS server, the inter-PKMF
 * HTTP/2 server, the PGK maintenance timer and, if asked, the Prometheus endpoint (metrics.ts).
 * `sl-bridge pkmf --config FILE [--metrics HOST:PORT]` calls {@link runPkmfFromFile}; tests and
 * the demo may call {@link startPkmf} with a parsed config.
 *
 * The log goes to stdout (bridge/logging.ts): JSON lines, pretty on a terminal. Scripts and tests
 * wait for the JSON line `"msg":"PKMF listening"`, which carries the bound addresses (and the
 * metrics URL).
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server as NetServer } from 'node:net';
import type { Logger } from 'pino';
import type { RandomBytes } from '../../src/pkmf/lifecycle.js';
import { createLogger } from '../logging.js';
import { MetricsHttpServer } from '../metrics/http-endpoint.js';
import type { PkmfConfig } from './config.js';
import { loadPkmfConfig } from './config.js';
import { PkmfMetrics } from './metrics.js';
import type { PeerServerStats } from './peer-server.js';
import { createPeerServer } from './peer-server.js';
import { PkmfService } from './service.js';
import { PkmfStore } from './store.js';
import type { UeServerStats } from './ue-server.js';
import { createUeServer } from './ue-server.js';

export interface StartPkmfOptions {
  /** Default: Date.now. */
  now?: () => number;
  /** Default: crypto.randomBytes (PGKs, GMIs, first PGK IDs). */
  random?: RandomBytes;
  /** Default: {@link pkmfLogger} at the config's logLevel. */
  logger?: Logger;
  /** Period of the PGK pre-creation tick; default min(1 min, smallest overlap / 4). */
  maintenanceIntervalMs?: number;
  /**
   * `HOST:PORT` (`[::1]:PORT`; port 0 picks a free one) to serve Prometheus metrics on, at
   * `/metrics`; none: no endpoint. A malformed value throws a RangeError before anything starts.
   */
  metrics?: string;
}

export interface RunningPkmf {
  config: PkmfConfig;
  ueAddress: { host: string; port: number };
  peerAddress: { host: string; port: number } | undefined;
  service: PkmfService;
  store: PkmfStore;
  stats: { ue: UeServerStats; peer: PeerServerStats | undefined };
  /** `http://HOST:PORT/metrics` when started with `metrics`. */
  metricsUrl: string | undefined;
  close(): Promise<void>;
}

/** Key material never reaches the log, whatever a log call passes. */
export const LOG_REDACT_PATHS = ['pgk', '*.pgk', 'pgks[*].pgk', '*.pgks[*].pgk', 'key', '*.key', 'keyPem', '*.keyPem'];

/** The PKMF's log: stdout, JSON lines (pretty on a terminal), key fields redacted. */
export function pkmfLogger(level: string): Logger {
  return createLogger({ level, base: { svc: 'pkmf' }, redactPaths: LOG_REDACT_PATHS, destination: 1 });
}

function listen(server: NetServer, host: string, port: number): Promise<{ host: string; port: number }> {
  return new Promise((resolvePromise, reject) => {
    const onError = (e: Error): void => reject(e);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const a = server.address() as AddressInfo;
      resolvePromise({ host: a.address, port: a.port });
    });
  });
}

function closeServer(server: NetServer): Promise<void> {
  return new Promise((r) => server.close(() => r()));
}

export async function startPkmf(config: PkmfConfig, opts: StartPkmfOptions = {}): Promise<RunningPkmf> {
  const now = opts.now ?? Date.now;
  const random: RandomBytes = opts.random ?? ((n) => randomBytes(n));
  const log = opts.logger ?? pkmfLogger(config.logLevel);
  // Made first: a malformed address is refused before the database is opened.
  let metrics: PkmfMetrics | undefined;
  const http =
    opts.metrics === undefined
      ? undefined
      : new MetricsHttpServer(opts.metrics, { '/metrics': async () => ({ contentType: metrics!.contentType, body: await metrics!.metrics() }) }, log);
  const store = PkmfStore.open(config.database);
  const sockets = new Set<import('node:net').Socket>();
  let ue: ReturnType<typeof createUeServer> | undefined;
  let peer: ReturnType<typeof createPeerServer> | undefined;
  let service: PkmfService | undefined;
  try {
    store.syncGroups(config.groups, now());
    store.maintain(config.groups, now(), random);
    service = new PkmfService(config, store, { now, random }, log);
    service.housekeeping();
    ue = createUeServer(config, service, log);
    ue.server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    const ueAddress = await listen(ue.server, config.listen.host, config.listen.port);
    let peerAddress: { host: string; port: number } | undefined;
    if (config.peerListen) {
      peer = createPeerServer(config, service, log);
      peer.server.on('connection', (s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      peerAddress = await listen(peer.server, config.peerListen.host, config.peerListen.port);
    }
    const svcForTick = service;
    const smallestOverlap = Math.min(60_000, ...config.groups.map((g) => g.pgkOverlapMs / 4));
    const tick = setInterval(
      () => {
        try {
          const created = store.maintain(config.groups, now(), random);
          if (created > 0) log.info({ created }, 'pre-created PGKs ahead of rollover');
        } catch (e) {
          log.error({ err: e }, 'PGK maintenance failed');
        }
        try {
          const pruned = svcForTick.housekeeping();
          if (pruned > 0) log.info({ pruned }, 'issuance log: deleted rows beyond its age or row bound');
        } catch (e) {
          log.error({ err: e }, 'issuance log pruning failed');
        }
      },
      Math.max(50, opts.maintenanceIntervalMs ?? smallestOverlap),
    );
    tick.unref();
    if (!config.peerListen && config.peers.some((p) => p.roaming || config.groups.some((g) => g.operators.includes(p.plmn)))) {
      log.warn('peers have roaming or operator agreements with this PKMF but no peerListen is configured: they cannot reach it');
    }
    const stats = { ue: ue.stats, peer: peer?.stats };
    let metricsUrl: string | undefined;
    if (http !== undefined) {
      // Before the "listening" line, so that a PKMF said to be ready can be scraped.
      metrics = new PkmfMetrics({ plmn: config.plmn, service, stats });
      await http.start();
      metricsUrl = `${http.origin!}/metrics`;
      log.info({ url: metricsUrl }, 'metrics: serving Prometheus metrics');
    }
    log.info(
      { plmn: config.plmn, ue: ueAddress, peer: peerAddress, metrics: metricsUrl, groups: config.groups.length, peers: config.peers.length, database: config.database },
      'PKMF listening',
    );
    const svc = service;
    const ueServer = ue;
    const peerServer = peer;
    let closed: Promise<void> | undefined;
    return {
      config,
      ueAddress,
      peerAddress,
      service: svc,
      store,
      stats,
      metricsUrl,
      close() {
        closed ??= (async () => {
          clearInterval(tick);
          await http?.stop();
          const done = Promise.all([closeServer(ueServer.server), peerServer ? closeServer(peerServer.server) : undefined]);
          for (const s of sockets) s.destroy();
          await done;
          svc.close();
          store.close();
        })();
        return closed;
      },
    };
  } catch (e) {
    service?.close();
    ue?.server.close();
    peer?.server.close();
    await http?.stop();
    store.close();
    throw e;
  }
}

/** What the `PKMF stopped` line says: uptime and the figures of the metrics, summed. */
export function shutdownSummary(running: RunningPkmf, uptimeMs: number): Record<string, unknown> {
  const { requests } = running.service;
  const sum = (values: Iterable<number>): number => [...values].reduce((a, b) => a + b, 0);
  const results: Record<string, number> = {};
  for (const port of ['ue', 'peer'] as const) for (const [result, n] of requests.ports[port].results) results[result] = (results[result] ?? 0) + n;
  const forwards = (direction: 'out' | 'in'): number => sum([...requests.forwards[direction].values()].map((m) => sum(m.values())));
  const { ue, peer } = running.stats;
  return {
    uptimeSec: Math.round(uptimeMs / 1000),
    requests: { ue: requests.total('ue'), peer: requests.total('peer') },
    results,
    keysIssued: sum(requests.keysIssued.values()),
    forwards: { out: forwards('out'), in: forwards('in') },
    handshakesRefused: { ue: sum(Object.values(ue.handshakesRefused)), ...(peer === undefined ? {} : { peer: sum(Object.values(peer.handshakesRefused)) }) },
  };
}

/**
 * `sl-bridge pkmf --config FILE [--metrics HOST:PORT]`: runs until SIGINT or SIGTERM, then logs
 * `PKMF stopping` (with the signal) and, once closed, `PKMF stopped` with {@link shutdownSummary}.
 */
export async function runPkmfFromFile(file: string, opts: { logLevel?: string; metrics?: string } = {}): Promise<void> {
  const config = loadPkmfConfig(file);
  if (opts.logLevel) config.logLevel = opts.logLevel;
  const log = pkmfLogger(config.logLevel);
  const running = await startPkmf(config, { logger: log, ...(opts.metrics === undefined ? {} : { metrics: opts.metrics }) });
  const startedAt = performance.now();
  const signal = await new Promise<NodeJS.Signals>((resolvePromise) => {
    const stop = (sig: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolvePromise(sig);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  log.info({ signal }, 'PKMF stopping');
  try {
    await running.close();
  } catch (e) {
    log.error({ err: e }, 'PKMF: closing failed');
  }
  log.info(shutdownSummary(running, performance.now() - startedAt), 'PKMF stopped');
}
