/**
 * The bridge daemon of one UE (`sl-bridge run`), the shell around the I/O-free core
 * (src/daemon/core.ts): it is handed its stack transport, application server, key source, PTK
 * state store, logger and clock (factory.ts builds the real ones), and
 *
 *   - wires events to the core: application SDUs and stack envelopes (with the clock readings
 *     they need), key updates; the core's sink goes back to the two sockets;
 *   - runs the timers: pruning expired key state every 10 s, replay floors every 100 ms;
 *   - opens and closes everything in order, and settles the durable state on a clean stop;
 *   - assembles the status line and the Prometheus counter samples from the core's figures and
 *     the transports' counters, CPU and memory.
 *
 * The data path itself, its drop reasons and the status figures are the core's.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { DaemonCore, type GroupFigures, type LatencyFigures, type SecurityMode, type SenderFigures } from '../../src/daemon/core.js';
import type { DaemonCounters } from '../../src/daemon/counters.js';
import type { PdcpFigures, PdcpStateStore } from '../../src/daemon/protector.js';
import type { GroupKeyMaterial } from '../../src/keys/types.js';
import type { PdcpProfiler } from '../../src/pdcp/profiler.js';
import { errorName, type ErrorCode } from '../../src/pkmf/errors.js';
import { hex24 } from '../../src/pkmf/identity.js';
import type { KeyClientStatus } from '../pkmf/key-client.js';
import { unixNowNs } from '../transport/clock.js';
import type { AppServerTransport, MalformedFrame, PeerHandle, StackDetails, StackTransport, TransportCounters } from '../transport/types.js';
import type { DaemonConfig } from './config.js';
import { flattenDrops, securityDrops } from './counters.js';
import { daemonMetricSamples } from './metric-samples.js';
import { BusyPoll, type BusyPollFigures } from './busy-poll.js';
import type { CounterSample } from '../metrics/prom-registry.js';

export { MAX_TRACKED_SENDERS, type LatencyFigures, type SecurityMode } from '../../src/daemon/core.js';

const PRUNE_INTERVAL_MS = 10_000;
/** How often the source check's refusals are looked at for members this UE does not know yet. */
const MEMBER_CHECK_INTERVAL_MS = 1_000;
/**
 * How often the replay floors of senders close to theirs are raised in one batched write
 * (src/pdcp/replay-marks.ts): a sender must send fewer than replayMarkStep / 2 PDUs in this
 * time for its PDUs never to wait for a write (64 / 2 per 100 ms: 320 PDUs/s).
 */
const REPLAY_FLOOR_INTERVAL_MS = 100;

/** Something that sees every PDU on the stack side (the pcap writer). */
export interface StackTap {
  wrap(transport: StackTransport): StackTransport;
  close(): Promise<void>;
}

/** Something that records the PGKs in use (the keylog writer). */
export interface KeyTap {
  logGroup(material: GroupKeyMaterial): void;
  close(): void;
}

/** Where keys come from (bridge/pkmf/key-client.ts): the full set of groups at each change. */
export interface KeySource {
  on(event: 'keys', listener: (groups: GroupKeyMaterial[]) => void): unknown;
  on(event: 'group-error', listener: (e: { groupId: number; code: ErrorCode }) => void): unknown;
  /** Resolves after the first attempt; a key server that is down is retried in the background. */
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): Pick<KeyClientStatus, 'servingPlmn' | 'consecutiveFailures' | 'lastError' | 'policyRefusals'>;
  /** Ask again soon: PDUs arrived from a member this UE's keys do not know (source authentication). */
  refreshSoon?(): void;
}

/** The application socket (bridge/transport/zmq-app-server.ts). */
export interface AppServer extends AppServerTransport {
  /** Bound endpoints (after open). */
  readonly endpoints: readonly string[];
}

/** The durable PTK ID marks and replay floors (bridge/state/ptk-high-water-file.ts). */
export interface DaemonStateStore extends PdcpStateStore {
  /** Releases the store (its lock). */
  close(): void;
}

export interface DaemonOptions {
  config: DaemonConfig;
  /** Largest PDCP PDU on the stack side (the hw-profile's `pdu.max_bytes`). */
  maxPduBytes: number;
  security: SecurityMode;
  /** The stack-side transport, not opened. */
  stack: StackTransport;
  /** The application socket, not opened. */
  apps: AppServer;
  /** Absent only with security off and no keys: section. */
  keys?: KeySource | undefined;
  /** Required with security on. */
  store?: DaemonStateStore | undefined;
  /** The root logger; the daemon logs through a child tagged `svc: daemon`. */
  logger: Logger;
  /** Per-stage profiler of the PDCP entities and the hand-offs (live metrics). */
  profiler?: PdcpProfiler | undefined;
  stackTap?: StackTap | undefined;
  keyTap?: KeyTap | undefined;
  /** Wall clock in ms since the epoch, for key validity (default Date.now). */
  now?: () => number;
  /**
   * Latency mode (`run --keep-warm MS`, docs/profiling.md): a scratch SDU through the PDCP code
   * every this many ms (src/pdcp/keep-warm.ts). Absent or 0: off. The timer fires at most every
   * 1 ms; a shorter period takes effect while busy-polling.
   */
  keepWarmMs?: number | undefined;
  /**
   * Latency mode's busy-poll (`run --busy-poll US`, busy-poll.ts): after each message keep the
   * event loop turning for this many µs, with a keep-warm pass every `keepWarmMs` (required).
   * Absent or 0: off.
   */
  busyPollUs?: number | undefined;
}

/** One status line (`--status-interval`): everything a monitor or the demo needs, no key bytes. */
export interface DaemonStatus {
  event: 'ready' | 'status' | 'final';
  ue: string;
  pid: number;
  timeMs: number;
  uptimeMs: number;
  security: SecurityMode;
  stack: { kind: string; description: string; linkUp: boolean; counters: TransportCounters } & StackDetails;
  app: { endpoints: readonly string[]; peers: number; counters: TransportCounters };
  keys: {
    servingPlmn: string | null;
    consecutiveFailures: number;
    lastError: string | null;
    /** Key Responses this UE refused for being outside its algorithm policy (src/pkmf/policy.ts). */
    policyRefusals: number;
    /** Every carried group has keys. */
    ready: boolean;
    groups: GroupFigures[];
  };
  counters: Omit<DaemonCounters, 'dropped'>;
  /** Every drop, reason -> count (zero counts left out). */
  dropped: Record<string, number>;
  /** Drops by the PDCP receive entity (integrity, replay, identity, keys, malformed PDUs). */
  securityDrops: number;
  /** Per L2 source (GMI, hex). */
  rxBySender: Record<string, SenderFigures>;
  /** Whole protect / unprotect call per packet, measured in the daemon. */
  latency: { protect: LatencyFigures; unprotect: LatencyFigures };
  pdcp: PdcpFigures;
  /** Latency mode, when on: its period, the passes so far and the scratch round trips they made. */
  keepWarm?: { everyMs: number; passes: number; roundTrips: number };
  /** Latency mode's busy-poll, when on (its passes are among keepWarm.passes). */
  busyPoll?: BusyPollFigures;
  cpu: { userUs: number; systemUs: number; percentSinceStart: number; percentRecent: number };
  memory: { rssBytes: number };
  /** The Prometheus endpoint, when served (`--metrics`). */
  metricsUrl?: string;
}

export class BridgeDaemon {
  readonly security: SecurityMode;
  private readonly core: DaemonCore<PeerHandle>;
  private readonly config: DaemonConfig;
  private readonly log: Logger;
  private readonly now: () => number;
  /** The stack transport as the daemon uses it: behind the capture tap, if any. */
  private readonly stack: StackTransport;
  private readonly apps: AppServer;
  private readonly warnedMalformed = new Set<string>();
  private readonly startedAtMs = Date.now();
  /** Senders with their own Prometheus series (at most MAX_SENDER_LABELS). */
  private readonly labelledSenders = new Set<string>();
  private readonly startCpu = process.cpuUsage();
  private lastCpu = { at: performance.now(), usage: process.cpuUsage() };
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly busyPoll: BusyPoll | undefined;
  private started = false;
  private stopped: Promise<DaemonStatus> | undefined;

  constructor(private readonly options: DaemonOptions) {
    const { config } = options;
    this.config = config;
    this.security = options.security;
    this.log = options.logger.child({ svc: 'daemon' });
    this.now = options.now ?? Date.now;
    const stack = (this.stack = options.stackTap ? options.stackTap.wrap(options.stack) : options.stack);
    const apps = (this.apps = options.apps);
    const keyTap = options.keyTap;
    const busyPollUs = options.busyPollUs ?? 0;
    if (busyPollUs > 0) {
      // Throws a RangeError without a keep-warm period (the CLI refuses that combination first).
      this.busyPoll = new BusyPoll({ windowUs: busyPollUs, warmEveryMs: options.keepWarmMs ?? 0, warm: () => this.core.warm(), nowMs: () => performance.now() });
    }
    this.core = new DaemonCore<PeerHandle>(
      {
        security: options.security,
        groups: config.groups,
        l2SourceId: config.l2SourceId,
        maxSduBytes: config.maxSduBytes,
        maxPduBytes: options.maxPduBytes,
        pdcp: config.pdcp,
        now: this.now,
        store: options.store,
        log: this.log,
        perfNow: () => performance.now(),
        profiler: options.profiler,
        onKeysInstalled: keyTap && ((m) => keyTap.logGroup(m)),
      },
      {
        send: (pdu) => stack.send(pdu),
        deliver: (e, sduType, sdu, rxTimeNs) =>
          apps.send({
            kind: 'delivery',
            groupId: e.l2DestinationId,
            sduType,
            sdu,
            senderGmi: e.l2SourceId,
            txTimeNs: e.txTimeNs,
            rxTimeNs,
            deliveredTimeNs: unixNowNs(),
            envelopeSeq: e.seq,
          }),
        refuse: (appSeq, peer, reason) => void apps.sendTo(peer, { kind: 'refused', appSeq, reason }),
      },
    );
  }

  /** Opens both sockets and starts the key source (which retries in the background). */
  async start(): Promise<void> {
    if (this.started) throw new Error('start() called twice');
    this.started = true;
    if (this.security === 'off') {
      this.log.warn('SECURITY OFF: SDUs go in clear and unauthenticated in the envelope, no PDCP protection (for measurements only)');
    }
    try {
      await this.stack.open({
        frame: (e) => {
          this.busyPoll?.kick();
          this.core.onEnvelope(e, unixNowNs());
        },
        malformed: (e) => this.onMalformed('envelope', e),
        link: (up, detail) => this.log[up ? 'info' : 'warn']({ detail }, up ? 'stack link up' : 'stack link down'),
      });
      await this.apps.open({
        frame: (m, from) => {
          this.busyPoll?.kick();
          this.core.onSdu(m, from);
        },
        malformed: (e) => this.onMalformed('sdu', e),
        link: (up, detail) => this.log.info({ detail }, up ? 'application attached' : 'no application attached'),
      });
    } catch (e) {
      await this.release();
      throw e;
    }
    this.every(PRUNE_INTERVAL_MS, () => this.core.prune(this.now()));
    if (this.security === 'on') this.every(REPLAY_FLOOR_INTERVAL_MS, () => this.core.extendReplayFloors());
    const keepWarmMs = this.options.keepWarmMs ?? 0;
    // While the busy-poll spins, its passes run at the keep-warm period (which may be under the
    // timer's 1 ms floor), and the timer's would only add to them.
    if (keepWarmMs > 0) {
      this.every(Math.max(1, keepWarmMs), () => {
        if (!this.busyPoll?.spinning) this.core.warm();
      });
    }
    const keys = this.options.keys;
    if (keys) {
      keys.on('keys', (groups) => this.core.installKeys(groups));
      keys.on('group-error', (e) => this.log.warn({ group: hex24(e.groupId), code: errorName(e.code) }, 'the PKMF refused keys for a group'));
      void keys.start().catch((e: unknown) => this.log.error({ err: (e as Error).message }, 'key client failed to start'));
      if (keys.refreshSoon && this.security === 'on') this.every(MEMBER_CHECK_INTERVAL_MS, this.memberCheck(keys.refreshSoon.bind(keys)));
    }
    this.log.info(
      { stack: this.stack.description, app: this.apps.endpoints, groups: this.config.groups.map(hex24), security: this.security, stateDir: this.config.stateDir },
      'daemon running',
    );
  }

  /**
   * A tick that asks the key source again when the source check refused PDUs since the last tick:
   * a member that joined or took a fresh GMI (or rebound its key) after this UE's last answer is
   * unknown until then. A forger or a removed member triggers it too: the key client backs off.
   */
  private memberCheck(refreshSoon: () => void): () => void {
    let seen = 0;
    return () => {
      const rx = this.core.rxCounters;
      const refused = rx === undefined ? 0 : rx['unknown-member'] + rx['bad-source-tag'];
      if (refused > seen) refreshSoon();
      seen = refused;
    };
  }

  private every(ms: number, tick: () => void): void {
    const timer = setInterval(tick, ms);
    timer.unref();
    this.timers.push(timer);
  }

  /** Stops cleanly: key source, sockets, captures, PTK state. Idempotent; resolves with the final status. */
  stop(): Promise<DaemonStatus> {
    this.stopped ??= (async () => {
      for (const t of this.timers) clearInterval(t);
      this.busyPoll?.stop();
      await this.options.keys?.stop();
      await this.release();
      // After the release: frames the transports dropped while closing (still queued: `closed`)
      // are in the final counters, and the links show down.
      const final = this.status('final');
      const { sdusIn, pdusOut, envelopesIn, delivered } = final.counters;
      this.log.info({ sdusIn, pdusOut, envelopesIn, delivered, dropped: final.dropped }, 'daemon stopped');
      return final;
    })();
    return this.stopped;
  }

  private async release(): Promise<void> {
    const attempt = async (what: string, fn: () => unknown): Promise<void> => {
      try {
        await fn();
      } catch (e) {
        this.log.error({ err: (e as Error).message }, `closing ${what} failed`);
      }
    };
    await attempt('application socket', () => this.apps.close());
    await attempt('stack transport', () => this.stack.close());
    await attempt('capture', () => this.options.stackTap?.close());
    await attempt('keylog', () => this.options.keyTap?.close());
    // Every PTK ID mark is already durable (saved before use). The replay floors are ahead of
    // what was accepted; with the stack closed nothing more arrives, so they can be made exact
    // (a clean restart then drops no live PDU). Closing releases the lock.
    await attempt('replay floors', () => this.core.settleReplayMarks());
    await attempt('PTK state', () => this.options.store?.close());
  }

  private onMalformed(where: 'envelope' | 'sdu', e: MalformedFrame): void {
    // Counted by the transport (malformed-*). Log each kind once at warn, then at debug.
    const key = `${where}:${e.code}`;
    const first = !this.warnedMalformed.has(key);
    if (first) this.warnedMalformed.add(key);
    this.log[first ? 'warn' : 'debug']({ code: e.code, err: e.message }, `malformed ${where} dropped`);
  }

  status(event: DaemonStatus['event'] = 'status'): DaemonStatus {
    const nowPerf = performance.now();
    const usage = process.cpuUsage();
    const total = process.cpuUsage(this.startCpu);
    const recent = process.cpuUsage(this.lastCpu.usage);
    const recentWallUs = (nowPerf - this.lastCpu.at) * 1000;
    this.lastCpu = { at: nowPerf, usage };
    const uptimeMs = Date.now() - this.startedAtMs;
    const pct = (cpuUs: number, wallUs: number): number => (wallUs > 0 ? Math.round((cpuUs / wallUs) * 1000) / 10 : 0);

    const stackCounters = { ...this.stack.counters, dropped: { ...this.stack.counters.dropped } };
    const appCounters = this.apps.counters;
    const dropped = flattenDrops(this.core.counters, this.core.rxCounters, stackCounters, appCounters);
    const ks = this.options.keys?.status();
    const core = this.core.figures();
    const { sdusIn, pdusOut, envelopesIn, delivered } = this.core.counters;
    return {
      event,
      ue: this.config.name,
      pid: process.pid,
      timeMs: Date.now(),
      uptimeMs,
      security: this.security,
      // Details from the transport itself: the capture tap (this.stack) wraps it and hides them.
      stack: { kind: this.stack.kind, description: this.stack.description, linkUp: this.stack.linkUp, counters: stackCounters, ...this.options.stack.details?.() },
      app: { endpoints: this.apps.endpoints, peers: this.apps.peerCount, counters: appCounters },
      keys: {
        servingPlmn: ks?.servingPlmn ?? null,
        consecutiveFailures: ks?.consecutiveFailures ?? 0,
        lastError: ks?.lastError ? `${ks.lastError.code}: ${ks.lastError.message}` : null,
        policyRefusals: ks?.policyRefusals ?? 0,
        ready: core.keysReady,
        groups: core.groups,
      },
      counters: { sdusIn, pdusOut, envelopesIn, delivered },
      dropped,
      securityDrops: securityDrops(dropped),
      rxBySender: core.rxBySender,
      latency: core.latency,
      pdcp: core.pdcp,
      ...(this.options.keepWarmMs ? { keepWarm: { everyMs: this.options.keepWarmMs, passes: this.core.warmPasses, roundTrips: this.core.warmRoundTrips } } : {}),
      ...(this.busyPoll ? { busyPoll: this.busyPoll.figures() } : {}),
      cpu: {
        userUs: total.user,
        systemUs: total.system,
        percentSinceStart: pct(total.user + total.system, uptimeMs * 1000),
        percentRecent: pct(recent.user + recent.system, recentWallUs),
      },
      memory: { rssBytes: process.memoryUsage.rss() },
    };
  }

  /** The daemon's figures as Prometheus samples (metric-samples.ts), read at every scrape. */
  counterSamples(): CounterSample[] {
    return daemonMetricSamples({
      counters: this.core.counters,
      drops: flattenDrops(this.core.counters, this.core.rxCounters, this.stack.counters, this.apps.counters, true),
      figures: this.core.figures(),
      linkUp: this.stack.linkUp,
      nowMs: this.now(),
      labelledSenders: this.labelledSenders,
    });
  }
}
