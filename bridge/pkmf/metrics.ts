/**
 * The PKMF's Prometheus metrics (`sl-bridge pkmf --metrics HOST:PORT`, served at /metrics by
 * bridge/metrics/http-endpoint.ts). Every figure is read at scrape time from counters the PKMF
 * keeps anyway: the service's {@link RequestStats} (answers by port and result, handling time,
 * keys issued, forwards), the ports' stats (handshake refusals by reason, open connections,
 * ConnectionErrors); plus prom-client's standard process and Node.js collector and
 * `slbridge_build_info`. Every series carries `plmn="<this PKMF's PLMN>"`. Names and meanings:
 * docs/pkmf.md, *Metrics*.
 */
import { Registry } from 'prom-client';
import { hex24 } from '../../src/pkmf/identity.js';
import { RecordedHistogram, registerProcessMetrics, scrapedCounter, scrapedGauge, type ScrapedSeries } from '../metrics/recorded-histogram.js';
import type { PeerServerStats } from './peer-server.js';
import { REQUEST_SECONDS_BOUNDS, RESULT_OK, type PkmfPort } from './request-stats.js';
import type { PkmfService } from './service.js';
import type { UeServerStats } from './ue-server.js';

export const PKMF_METRIC_PREFIX = 'slbridge_pkmf_';

/** What the metrics read: a running PKMF's parts. */
export interface PkmfMetricsSource {
  plmn: string;
  service: PkmfService;
  stats: { ue: UeServerStats; peer: PeerServerStats | undefined };
}

export class PkmfMetrics {
  readonly registry = new Registry();

  constructor(source: PkmfMetricsSource) {
    const { service, stats } = source;
    const requests = service.requests;
    this.registry.setDefaultLabels({ plmn: source.plmn });
    /** The ports this PKMF listens on (the peer port only with `peerListen`). */
    const ports = (): PkmfPort[] => (stats.peer === undefined ? ['ue'] : ['ue', 'peer']);
    const counter = (name: string, help: string, labelNames: string[], read: ScrapedSeries): void =>
      scrapedCounter(this.registry, PKMF_METRIC_PREFIX + name, help, labelNames, read);
    const gauge = (name: string, help: string, labelNames: string[], read: ScrapedSeries): void =>
      scrapedGauge(this.registry, PKMF_METRIC_PREFIX + name, help, labelNames, read);

    counter(
      'requests_total',
      'Key Requests answered, by port (ue: UEs over TLS, peer: other PKMFs over HTTP/2) and result: OK (keys for every group), an error code name (the request refused as a whole, e.g. RATE_LIMITED or MALFORMED_REQUEST, or every group refused for that reason, e.g. NOT_A_MEMBER), MIXED (groups answered differently)',
      ['port', 'result'],
      function* () {
        for (const port of ports()) {
          const results = requests.ports[port].results;
          // OK from the start, so that a rate over it exists before the first success.
          if (!results.has(RESULT_OK)) yield [{ port, result: RESULT_OK }, 0];
          for (const [result, n] of results) yield [{ port, result }, n];
        }
      },
    );
    new RecordedHistogram(
      `${PKMF_METRIC_PREFIX}request_seconds`,
      'Time to handle one Key Request, from its turn to its answer (local issuance, or the peer PKMF asked), by port',
      REQUEST_SECONDS_BOUNDS,
      () =>
        ports().map((port) => {
          const { counts, count, sum } = requests.ports[port].seconds;
          return { labels: { port }, counts, count, sum };
        }),
    ).register(this.registry);
    counter('keys_issued_total', "Group key material issued from this PKMF's store (to its UEs or to a peer PKMF for its UEs), by group (Group ID, 6 hex digits)", ['group'], function* () {
      for (const [groupId, n] of requests.keysIssued) yield [{ group: hex24(groupId) }, n];
    });
    counter(
      'roaming_forwards_total',
      'Key Requests sent to a peer PKMF (direction out: a roaming UE\'s home PKMF, the owner of a multi-operator group) or answered for one (direction in), by the peer\'s PLMN and result (as in requests_total; out: HOME_NETWORK_UNREACHABLE / OWNER_NETWORK_UNREACHABLE when it could not be reached)',
      ['direction', 'peer', 'result'],
      function* () {
        for (const direction of ['out', 'in'] as const) {
          for (const [peer, results] of requests.forwards[direction]) for (const [result, n] of results) yield [{ direction, peer, result }, n];
        }
      },
    );
    counter(
      'handshakes_refused_total',
      'Connections that failed or were refused before authentication, by port and reason: a TLS error code, the verify code of a refused client certificate (e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE), deadline, per-source cap, maxConnections (at most 32 reasons per port, then other)',
      ['port', 'reason'],
      function* () {
        for (const port of ports()) for (const [reason, n] of Object.entries(stats[port]!.handshakesRefused)) yield [{ port, reason }, n];
      },
    );
    counter('connection_errors_total', 'UE connections closed with a ConnectionError, by code (IDENTITY_REJECTED, FRAME_TOO_LARGE, MALFORMED_REQUEST)', ['code'], function* () {
      for (const [code, n] of Object.entries(stats.ue.connectionErrors)) yield [{ code }, n];
    });
    gauge('connections', 'Authenticated connections open now, by port (ue: UE TLS connections, peer: HTTP/2 sessions of peer PKMFs)', ['port'], function* () {
      yield [{ port: 'ue' }, stats.ue.activeConnections];
      if (stats.peer !== undefined) yield [{ port: 'peer' }, stats.peer.activeSessions];
    });
    gauge('handshakes_pending', 'Accepted sockets whose TLS handshake has not finished yet, by port', ['port'], function* () {
      for (const port of ports()) yield [{ port }, stats[port]!.unauthenticated];
    });
    registerProcessMetrics(this.registry);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text of everything. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}
