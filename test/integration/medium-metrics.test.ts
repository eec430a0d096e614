/**
 * The medium's Prometheus endpoint and log, on the built CLI (`sl-bridge medium --metrics`) with
 * two real ZeroMQ DEALER peers: with --loss and --delay-ms set, what the peers sent and received
 * must be exactly what /metrics counts (frames in and out, drops by cause, malformed by code, the
 * per-link delay histograms), the process collector's metrics must be there, stdout must keep its
 * lines, and stderr (not a terminal) must hold the start and shutdown lines as JSON. Then the
 * bound on link labels: the 65th receiving link of an in-process medium is counted as "other".
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Dealer } from 'zeromq';
import { MediumMetrics } from '../../bridge/medium/metrics.js';
import { MAX_LINK_LABELS, OTHER_LINKS } from '../../bridge/medium/link-delays.js';
import { MediumServer } from '../../bridge/medium/server.js';
import { histogramSeries, parsePrometheusText, type PromFamily } from '../../bridge/metrics/prom-text.js';
import { NO_IMPAIRMENTS } from '../../src/medium/channel.js';
import { encodePduEnvelope } from '../../src/wire/envelope.js';
import { waitFor } from '../fixtures/transport-helpers.js';
import { family, sampleValue, scrape } from '../fixtures/prom-helpers.js';
import { spawnCli } from '../fixtures/cli-child.js';

const closers: Array<() => unknown> = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

/** A DEALER as a daemon's stack transport is one, counting what the medium sends it. */
function dealer(endpoint: string): { socket: Dealer; received: () => number } {
  const socket = new Dealer({ linger: 0, probeRouter: true });
  closers.push(() => socket.close());
  socket.connect(endpoint);
  let received = 0;
  void (async () => {
    try {
      for await (const _frames of socket) received++;
    } catch {
      // closed
    }
  })();
  return { socket, received: () => received };
}

/** Polls /metrics until `cond` holds for a scrape; returns that scrape. */
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

function envelope(source: number, i: number): Buffer {
  return Buffer.from(encodePduEnvelope({ l2SourceId: source, l2DestinationId: 0x00abcd, castType: 'groupcast', pdu: Uint8Array.of(i & 0xff, i >> 8, 0xee), txTimeNs: 0n, seq: i }));
}

const DELAY_MS = 15;

describe('sl-bridge medium --metrics', () => {
  it('counts exactly what two DEALER peers sent and received, with loss and delay, and logs JSON start and shutdown lines', async () => {
    const m = spawnCli(['medium', '--endpoint', 'tcp://127.0.0.1:*', '--loss', '0.25', '--delay-ms', String(DELAY_MS), '--seed', '5', '--metrics', '127.0.0.1:0'], closers);
    await waitFor(() => /medium: metrics on \S+\n/.test(m.stdout()), 'the metrics line', 15_000);
    const endpoint = /medium: listening on (\S+)/.exec(m.stdout())![1]!;
    const url = /medium: metrics on (\S+)\n/.exec(m.stdout())![1]!;
    expect(m.stdout().split('\n')[0]).toMatch(/^medium: listening on tcp:\/\/127\.0\.0\.1:\d+ \(loss 0\.25, delay 15 ms, .*seed 5\)$/);

    const a = dealer(endpoint);
    const b = dealer(endpoint);
    await scrapeUntil(url, (f) => sampleValue(f, 'slbridge_medium_links') === 2, 'two links');

    const SENT_A = 300;
    const SENT_B = 200;
    for (let i = 0; i < SENT_A; i++) await a.socket.send(envelope(0x000101, i));
    for (let i = 0; i < SENT_B; i++) await b.socket.send(envelope(0x000102, i));
    await b.socket.send(Buffer.from([0x08, 0x01, 0x22])); // truncated protobuf
    await b.socket.send(Buffer.from([0x18, 0x00, 0x22, 0x01, 0x01])); // cast type unspecified, no PDU
    await b.socket.send(['x', 'y']); // two frames

    const done = await scrapeUntil(
      url,
      (f) => sampleValue(f, 'slbridge_medium_frames_in_total') === SENT_A + SENT_B + 3 && sampleValue(f, 'slbridge_medium_pending_copies') === 0,
      'every message counted and every delayed copy sent',
    );
    const framesOut = sampleValue(done, 'slbridge_medium_frames_out_total');
    await waitFor(() => a.received() + b.received() === framesOut, `the peers to receive the ${framesOut} copies sent`);

    // Two links: each valid PDU has one receiver.
    expect(sampleValue(done, 'slbridge_medium_pairs_total')).toBe(SENT_A + SENT_B);
    const lost = sampleValue(done, 'slbridge_medium_drops_total', { cause: 'loss' });
    expect(lost + framesOut).toBe(SENT_A + SENT_B);
    expect(lost).toBeGreaterThan(0);
    expect(sampleValue(done, 'slbridge_medium_drops_total', { cause: 'malformed' })).toBe(3);
    expect(sampleValue(done, 'slbridge_medium_drops_total', { cause: 'queue_full' })).toBe(0);
    expect(sampleValue(done, 'slbridge_medium_drops_total', { cause: 'peer_gone' })).toBe(0);
    expect(sampleValue(done, 'slbridge_medium_malformed_total', { code: 'not-protobuf' })).toBe(1);
    expect(sampleValue(done, 'slbridge_medium_malformed_total', { code: 'missing-field' })).toBe(1);
    expect(sampleValue(done, 'slbridge_medium_malformed_total', { code: 'multipart' })).toBe(1);
    expect(sampleValue(done, 'slbridge_medium_link_attaches_total')).toBe(2);
    expect(sampleValue(done, 'slbridge_medium_duplicated_total')).toBe(0);

    // One delay series per receiving link, counting exactly the copies that link received, none
    // of them sent before the configured delay.
    const delays = histogramSeries(family(done, 'slbridge_medium_delay_seconds'));
    expect(delays.map((s) => s.count).sort((x, y) => x - y)).toEqual([a.received(), b.received()].sort((x, y) => x - y));
    expect(a.received()).toBeLessThan(SENT_B);
    expect(b.received()).toBeLessThan(SENT_A);
    for (const s of delays) {
      expect(s.labels.link).toMatch(/^[0-9a-f]+$/);
      const belowDelay = s.buckets.filter(([le]) => le < DELAY_MS / 1000).map(([, n]) => n);
      expect(belowDelay.every((n) => n === 0)).toBe(true);
      expect(s.sum).toBeGreaterThanOrEqual((s.count * DELAY_MS) / 1000);
    }

    // prom-client's process and Node.js collector.
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
      expect(family(done, name).samples.length, name).toBeGreaterThan(0);
    }

    m.child.kill('SIGTERM');
    expect(await m.exited).toBe(0);

    // stdout: the stats line, as before, with the same figures.
    const statsLine = m.stdout().trimEnd().split('\n').at(-1)!;
    expect(statsLine).toContain(`in ${SENT_A + SENT_B} PDUs, 3 malformed; out ${framesOut} copies delivered, ${lost} lost`);
    expect(statsLine).toMatch(/^medium: 2 peers attached \(2 attaches, 0 gone\);/);

    // stderr: JSON lines only (a pipe is not a terminal), with the start and shutdown lines.
    const lines = m.stderr().trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.every((l) => l.svc === 'medium' && typeof l.time === 'number')).toBe(true);
    const started = lines.find((l) => l.msg === 'medium: started');
    expect(started).toMatchObject({ level: 30, endpoints: [endpoint], impairments: { loss: 0.25, delayMs: DELAY_MS }, seed: 5, metricsUrl: url });
    expect(lines.filter((l) => l.msg === 'medium: link attached')).toHaveLength(2);
    const stopped = lines.at(-1);
    expect(stopped).toMatchObject({
      level: 30,
      msg: 'medium: stopped',
      reason: 'SIGTERM',
      stats: { received: SENT_A + SENT_B, malformed: 3, channel: { lost, delivered: framesOut } },
    });
  });

  it('gives the first 64 receiving links a delay series each and counts the rest as "other"', async () => {
    const server = new MediumServer({ endpoints: ['tcp://127.0.0.1:*'], impairments: NO_IMPAIRMENTS, seed: 1 });
    await server.start();
    closers.push(() => server.stop());
    const RECEIVERS = MAX_LINK_LABELS + 2;
    const sender = dealer(server.endpoints[0]!);
    await waitFor(() => server.peerCount === 1, 'the sender to attach');
    const receivers = Array.from({ length: RECEIVERS }, () => dealer(server.endpoints[0]!));
    await waitFor(() => server.peerCount === RECEIVERS + 1, `${RECEIVERS} receivers to attach`);
    await sender.socket.send(envelope(0x000101, 0));
    await sender.socket.send(envelope(0x000101, 1));
    await waitFor(() => receivers.every((r) => r.received() === 2), 'every receiver to get both PDUs');

    const fams = parsePrometheusText(await new MediumMetrics(server).metrics());
    const series = histogramSeries(family(fams, 'slbridge_medium_delay_seconds'));
    const links = series.map((s) => s.labels.link!);
    expect(new Set(links).size).toBe(MAX_LINK_LABELS + 1);
    expect(links.filter((l) => l !== OTHER_LINKS)).toHaveLength(MAX_LINK_LABELS);
    expect(series.find((s) => s.labels.link === OTHER_LINKS)!.count).toBe(2 * (RECEIVERS - MAX_LINK_LABELS));
    expect(series.filter((s) => s.labels.link !== OTHER_LINKS).every((s) => s.count === 2)).toBe(true);
    // No delay configured: every copy was sent the moment its PDU arrived.
    for (const s of series) expect(s.buckets[0]).toEqual([0, s.count]);
    expect(sampleValue(fams, 'slbridge_medium_frames_out_total')).toBe(2 * RECEIVERS);
    expect(sampleValue(fams, 'slbridge_medium_links')).toBe(RECEIVERS + 1);
  });
});
