/**
 * The hw-profile schema (hw-profiles/*.yaml): how a daemon reaches the layer below it. The types
 * in types.ts are inferred from it. Keys are snake_case in the file and camelCase in the result.
 */
import { isIP } from 'node:net';
import * as z from 'zod';
import { NO_IMPAIRMENTS, type ChannelImpairments } from '../../src/medium/channel.js';
import { bool, int, listOf, mapping, mappingMessage, num, oneOf, str, withChecks } from '../config/schema.js';
import { ENVELOPE_OVERHEAD_BYTES } from '../transport/serial-limits.js';
import { DEFAULT_ZMQ_TUNING, type ZmqTuning } from '../transport/zmq-options.js';

/** The largest PDU a profile may allow: a 9000-octet SDU (TS 38.323) plus our overhead, rounded up. */
export const MAX_PDU_BYTES_LIMIT = 65_535;

/**
 * A ZeroMQ endpoint: tcp://HOST:PORT (PORT may be `*` when binding: any free port), ipc://PATH
 * or inproc://NAME.
 */
export function isZmqEndpoint(v: string, binding: boolean): boolean {
  const tcp = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+|\*):(\d+|\*)$/.exec(v);
  if (tcp) {
    const port = tcp[2]!;
    // `*` (any interface, any free port) only makes sense for the side that binds.
    if (port === '*' || tcp[1] === '*') return binding && (port === '*' || validPort(port));
    return validPort(port);
  }
  return /^ipc:\/\/.+/.test(v) || /^inproc:\/\/.+/.test(v);
}

function validPort(port: string): boolean {
  const n = Number(port);
  return Number.isInteger(n) && n >= 1 && n <= 65_535;
}

export const ZMQ_ENDPOINT_EXPECTED = 'expected a ZeroMQ endpoint: tcp://HOST:PORT, ipc:///PATH or inproc://NAME';
export const ZMQ_BIND_ENDPOINT_EXPECTED = 'expected a ZeroMQ endpoint: tcp://HOST:PORT (PORT may be *), ipc:///PATH or inproc://NAME';

/** A ZeroMQ endpoint string (`binding`: the side that binds, so `*` is allowed). */
export function zmqEndpoint(binding: boolean, expected = binding ? ZMQ_BIND_ENDPOINT_EXPECTED : ZMQ_ENDPOINT_EXPECTED) {
  return str().refine((v) => isZmqEndpoint(v, binding), expected);
}

/** A list of endpoints to bind, at least one. */
export function zmqBindList(what: string) {
  return listOf((v): v is string => typeof v === 'string' && isZmqEndpoint(v, true), what).min(1, 'expected at least one endpoint');
}

const d = DEFAULT_ZMQ_TUNING;

const zmqTransport = mapping({
  kind: z.literal('zmq'),
  /** `connect` to a bound peer (the medium emulator); `bind` so that a stack shim connects to us. */
  role: oneOf(['connect', 'bind']),
  endpoint: str(),
  send_hwm: int(1, 1_000_000).default(d.sendHighWaterMark),
  receive_hwm: int(1, 1_000_000).default(d.receiveHighWaterMark),
  timing: mapping({
    reconnect_ms: int(1, 60_000).default(d.reconnectIntervalMs),
    reconnect_max_ms: int(0, 600_000).default(d.reconnectMaxIntervalMs),
    heartbeat_ms: int(0, 600_000).default(d.heartbeatIntervalMs),
    heartbeat_timeout_ms: int(0, 600_000).default(d.heartbeatTimeoutMs),
  })
    .superRefine(
      withChecks((t, fail) => {
        if (t.reconnect_max_ms !== 0 && t.reconnect_max_ms < t.reconnect_ms) {
          fail(`expected 0 or at least reconnect_ms (${t.reconnect_ms})`, { at: ['reconnect_max_ms'] });
        }
        if (t.heartbeat_ms > 0 && t.heartbeat_timeout_ms < t.heartbeat_ms) {
          fail(`expected at least heartbeat_ms (${t.heartbeat_ms})`, { at: ['heartbeat_timeout_ms'] });
        }
      }),
    )
    .prefault({}),
}).transform(
  withChecks((t, fail) => {
    if (!isZmqEndpoint(t.endpoint, t.role === 'bind')) {
      fail(t.role === 'bind' ? ZMQ_BIND_ENDPOINT_EXPECTED : ZMQ_ENDPOINT_EXPECTED, { at: ['endpoint'] });
    }
    /** High-water marks and timing (reconnect, heartbeat). */
    const tuning: ZmqTuning = {
      sendHighWaterMark: t.send_hwm,
      receiveHighWaterMark: t.receive_hwm,
      reconnectIntervalMs: t.timing.reconnect_ms,
      reconnectMaxIntervalMs: t.timing.reconnect_max_ms,
      heartbeatIntervalMs: t.timing.heartbeat_ms,
      heartbeatTimeoutMs: t.timing.heartbeat_timeout_ms,
      maxMessageBytes: d.maxMessageBytes,
      lingerMs: d.lingerMs,
    };
    return { kind: t.kind, role: t.role, endpoint: t.endpoint, tuning };
  }),
);

const serialTransport = mapping({
  kind: z.literal('serial'),
  /** e.g. /dev/ttyUSB0, /dev/serial/by-id/... */
  device: str().refine((v) => v.startsWith('/'), 'expected an absolute device path such as /dev/ttyUSB0'),
  baud_rate: int(300, 16_000_000),
  // xon-xoff is refused: 0x11/0x13 occur in binary frames and the tty would swallow them.
  flow_control: oneOf(['none', 'rts-cts']).default('none'),
  /** Largest frame on the line (envelope included), bytes. */
  mtu: int(64, MAX_PDU_BYTES_LIMIT),
  framing: oneOf(['cobs', 'slip']).default('cobs'),
  timing: mapping({ reopen_ms: int(10, 60_000).default(500) }).prefault({}),
}).transform((s) => ({
  kind: s.kind,
  device: s.device,
  baudRate: s.baud_rate,
  flowControl: s.flow_control,
  mtu: s.mtu,
  framing: s.framing,
  /** How often to retry opening the device after it disappeared, ms. */
  reopenMs: s.timing.reopen_ms,
}));

const udpTransport = mapping({
  kind: z.literal('udp'),
  /** `multicast` to `group`, or `broadcast` to `group` (a broadcast address). */
  mode: oneOf(['multicast', 'broadcast']).default('multicast'),
  /** Multicast group or broadcast address (IPv4, or IPv6 for multicast). */
  group: str(),
  port: int(1, 65_535),
  /** Network interface name (e.g. oaitun_ue1, tun_srsue). */
  interface: str(),
  /** IP TTL / hop limit of multicast datagrams. */
  ttl: int(1, 255).default(1),
  /** Receive our own multicast datagrams (IP_MULTICAST_LOOP); off on a real link. */
  loopback: bool().default(false),
}).superRefine(
  withChecks((u, fail) => {
    const family = isIP(u.group);
    if (u.mode === 'multicast' && !isMulticast(u.group, family)) {
      fail('expected an IPv4 multicast address (224.0.0.0 to 239.255.255.255) or an IPv6 one (ff00::/8)', { at: ['group'] });
    }
    if (u.mode === 'broadcast' && family !== 4) fail('expected an IPv4 broadcast address such as 10.0.0.255', { at: ['group'] });
  }),
);

function isMulticast(address: string, family: number): boolean {
  if (family === 4) {
    const first = Number(address.split('.')[0]);
    return first >= 224 && first <= 239;
  }
  return family === 6 && /^ff/i.test(address);
}

const TRANSPORT_KINDS = 'expected one of zmq, serial, udp';

const transport = z.discriminatedUnion('kind', [zmqTransport, serialTransport, udpTransport], {
  error: (iss) => mappingMessage(iss) ?? (iss.code === 'invalid_union' ? TRANSPORT_KINDS : undefined),
});

const n = NO_IMPAIRMENTS;

/** The medium emulator's defaults (only in profiles meant for it, e.g. emulator.yaml). */
const medium = mapping({
  /** Endpoints the medium binds. */
  bind: zmqBindList('ZeroMQ endpoints to bind (tcp://HOST:PORT, ipc:///PATH)'),
  loss: num(0, 1).default(n.loss),
  delay_ms: num(0, 60_000).default(n.delayMs),
  jitter_ms: num(0, 60_000).default(n.jitterMs),
  duplicate: num(0, 1).default(n.duplicate),
  reorder: num(0, 1).default(n.reorder),
  reorder_hold_ms: num(0.001, 60_000).default(n.reorderHoldMs),
  seed: int(0, 0xffff_ffff).default(1),
}).transform((m) => {
  const impairments: ChannelImpairments = {
    loss: m.loss,
    delayMs: m.delay_ms,
    jitterMs: m.jitter_ms,
    duplicate: m.duplicate,
    reorder: m.reorder,
    reorderHoldMs: m.reorder_hold_ms,
  };
  return { bind: m.bind, impairments, seed: m.seed };
});

/** The schema of the profile in `file`. */
export function hwProfileSchema(file: string) {
  return mapping({
    name: str().refine((v) => /^[a-z0-9][a-z0-9-]*$/.test(v), 'expected lower-case letters, digits and dashes'),
    description: str(),
    transport,
    pdu: mapping({ max_bytes: int(16, MAX_PDU_BYTES_LIMIT) }),
    medium: medium.optional(),
  }).transform(
    withChecks((p, fail) => {
      const t = p.transport;
      if (p.medium && !(t.kind === 'zmq' && t.role === 'connect')) {
        fail('a medium section only goes with transport.kind zmq and transport.role connect', { at: ['medium'], found: undefined });
      }
      if (t.kind === 'serial' && p.pdu.max_bytes + ENVELOPE_OVERHEAD_BYTES > t.mtu) {
        const most = t.mtu - ENVELOPE_OVERHEAD_BYTES;
        fail(`expected at most transport.mtu - ${ENVELOPE_OVERHEAD_BYTES} (envelope fields) = ${most} for a serial link`, { at: ['pdu', 'max_bytes'] });
      }
      return {
        /** The file it was loaded from. */
        file,
        name: p.name,
        description: p.description,
        transport: t,
        pdu: {
          /** Largest PDCP PDU sent or accepted, bytes (larger ones are dropped and counted). */
          maxBytes: p.pdu.max_bytes,
        },
        ...(p.medium ? { medium: p.medium } : {}),
      };
    }),
  );
}
