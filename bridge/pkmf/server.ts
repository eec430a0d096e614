/**
 * Starting and stopping a PKMF: the store, the service, the UE-facing TLS server, the inter-PKMF
 * HTTP/2 server and the PGK maintenance timer. `sl-bridge pkmf --config FILE` calls
 * {@link runPkmfFromFile}; tests and the demo may call {@link startPkmf} with a parsed config.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server as NetServer } from 'node:net';
import { pino, type Logger } from 'pino';
import type { RandomBytes } from '../../src/pkmf/lifecycle.js';
import type { PkmfConfig } from './config.js';
import { loadPkmfConfig } from './config.js';
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
  /** Default: pino on stdout at the config's logLevel. */
  logger?: Logger;
  /** Period of the PGK pre-creation tick; default min(1 min, smallest overlap / 4). */
  maintenanceIntervalMs?: number;
}

export interface RunningPkmf {
  config: PkmfConfig;
  ueAddress: { host: string; port: number };
  peerAddress: { host: string; port: number } | undefined;
  service: PkmfService;
  store: PkmfStore;
  stats: { ue: UeServerStats; peer: PeerServerStats | undefined };
  close(): Promise<void>;
}

/** Key material never reaches the log, whatever a log call passes. */
export const LOG_REDACT_PATHS = ['pgk', '*.pgk', 'pgks[*].pgk', '*.pgks[*].pgk', 'key', '*.key', 'keyPem', '*.keyPem'];

export function pkmfLogger(level: string): Logger {
  return pino({ level, base: { svc: 'pkmf' }, redact: { paths: LOG_REDACT_PATHS, censor: '[redacted]' } });
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
    log.info(
      { plmn: config.plmn, ue: ueAddress, peer: peerAddress, groups: config.groups.length, peers: config.peers.length, database: config.database },
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
      stats: { ue: ueServer.stats, peer: peerServer?.stats },
      close() {
        closed ??= (async () => {
          clearInterval(tick);
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
    store.close();
    throw e;
  }
}

/** `sl-bridge pkmf --config FILE`: runs until SIGINT or SIGTERM. */
export async function runPkmfFromFile(file: string, opts: { logLevel?: string } = {}): Promise<void> {
  const config = loadPkmfConfig(file);
  if (opts.logLevel) config.logLevel = opts.logLevel;
  const running = await startPkmf(config);
  await new Promise<void>((resolvePromise) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      running.close().then(resolvePromise, resolvePromise);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
