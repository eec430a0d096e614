/**
 * Loads and validates hw-profiles (hw-profiles/*.yaml) into typed {@link HwProfile}s. Every error
 * is a ConfigError naming the file, the key and what was expected; unknown keys are errors too.
 */
import { existsSync, readdirSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, readYamlConfig, type ConfigReader } from '../config/reader.js';
import { DEFAULT_ZMQ_TUNING, type ZmqTuning } from '../transport/zmq-options.js';
import { NO_IMPAIRMENTS } from '../../src/medium/channel.js';
import { ENVELOPE_OVERHEAD_BYTES } from '../transport/serial-limits.js';
import type {
  HwProfile,
  MediumProfile,
  SerialTransportProfile,
  TransportProfile,
  UdpTransportProfile,
  ZmqTransportProfile,
} from './types.js';

/** The largest PDU a profile may allow: a 9000-octet SDU (TS 38.323) plus our overhead, rounded up. */
export const MAX_PDU_BYTES_LIMIT = 65_535;

/** The profile used when none is named. */
export const DEFAULT_PROFILE = 'emulator';

/**
 * The hw-profiles/ folder shipped with sl-bridge, found from this module whether it runs from
 * the sources (bridge/profiles/) or compiled (dist/bridge/profiles/).
 */
export function builtinProfilesDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ['../..', '../../..']) {
    const dir = resolve(here, up, 'hw-profiles');
    if (existsSync(join(dir, 'emulator.yaml'))) return dir;
  }
  return resolve(here, '../../hw-profiles');
}

/** Names of the shipped profiles (file names without .yaml). */
export function builtinProfileNames(): string[] {
  return readdirSync(builtinProfilesDir())
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .sort();
}

/** A profile name (`emulator`, `oai-nr-sl-zmq`, ...) or a path to a YAML file -> the file. */
export function resolveProfilePath(nameOrPath: string): string {
  if (/^[a-z0-9][a-z0-9-]*$/i.test(nameOrPath)) return join(builtinProfilesDir(), `${nameOrPath}.yaml`);
  return resolve(nameOrPath);
}

/** Reads, validates and returns a hw-profile (by shipped name or path). Throws ConfigError. */
export function loadHwProfile(nameOrPath: string = DEFAULT_PROFILE): HwProfile {
  const file = resolveProfilePath(nameOrPath);
  if (!existsSync(file) && !nameOrPath.includes('/') && !nameOrPath.endsWith('.yaml')) {
    throw new ConfigError(file, '', `no shipped hw-profile named "${nameOrPath}" (there are: ${builtinProfileNames().join(', ')})`);
  }
  return parseHwProfile(readYamlConfig(file));
}

/** Validates an already read profile document. */
export function parseHwProfile(r: ConfigReader): HwProfile {
  const name = r.string('name');
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) r.fail('name', 'expected lower-case letters, digits and dashes', name);
  const description = r.string('description');
  const transport = parseTransport(r.section('transport'));
  const pduSection = r.section('pdu');
  const maxBytes = pduSection.int('max_bytes', { min: 16, max: MAX_PDU_BYTES_LIMIT });
  pduSection.done();
  const mediumSection = r.section('medium', true);
  const medium = mediumSection ? parseMedium(mediumSection) : undefined;
  if (medium && !(transport.kind === 'zmq' && transport.role === 'connect')) {
    r.fail('medium', 'a medium section only goes with transport.kind zmq and transport.role connect');
  }
  if (transport.kind === 'serial' && maxBytes + ENVELOPE_OVERHEAD_BYTES > transport.mtu) {
    r.fail(
      'pdu.max_bytes',
      `expected at most transport.mtu - ${ENVELOPE_OVERHEAD_BYTES} (envelope fields) = ${transport.mtu - ENVELOPE_OVERHEAD_BYTES} for a serial link`,
      maxBytes,
    );
  }
  r.done();
  return { file: r.file, name, description, transport, pdu: { maxBytes }, ...(medium ? { medium } : {}) };
}

function parseTransport(r: ConfigReader): TransportProfile {
  const kind = r.oneOf('kind', ['zmq', 'serial', 'udp'] as const);
  let t: TransportProfile;
  switch (kind) {
    case 'zmq':
      t = parseZmq(r);
      break;
    case 'serial':
      t = parseSerial(r);
      break;
    case 'udp':
      t = parseUdp(r);
      break;
  }
  r.done();
  return t;
}

function parseZmq(r: ConfigReader): ZmqTransportProfile {
  const role = r.oneOf('role', ['connect', 'bind'] as const);
  const endpoint = zmqEndpoint(r, 'endpoint', role === 'bind');
  const timing = r.section('timing', true);
  const d = DEFAULT_ZMQ_TUNING;
  const tuning: ZmqTuning = {
    sendHighWaterMark: r.int('send_hwm', { min: 1, max: 1_000_000, def: d.sendHighWaterMark }),
    receiveHighWaterMark: r.int('receive_hwm', { min: 1, max: 1_000_000, def: d.receiveHighWaterMark }),
    reconnectIntervalMs: timing?.int('reconnect_ms', { min: 1, max: 60_000, def: d.reconnectIntervalMs }) ?? d.reconnectIntervalMs,
    reconnectMaxIntervalMs: timing?.int('reconnect_max_ms', { min: 0, max: 600_000, def: d.reconnectMaxIntervalMs }) ?? d.reconnectMaxIntervalMs,
    heartbeatIntervalMs: timing?.int('heartbeat_ms', { min: 0, max: 600_000, def: d.heartbeatIntervalMs }) ?? d.heartbeatIntervalMs,
    heartbeatTimeoutMs: timing?.int('heartbeat_timeout_ms', { min: 0, max: 600_000, def: d.heartbeatTimeoutMs }) ?? d.heartbeatTimeoutMs,
    maxMessageBytes: d.maxMessageBytes,
    lingerMs: d.lingerMs,
  };
  if (timing) {
    if (tuning.reconnectMaxIntervalMs !== 0 && tuning.reconnectMaxIntervalMs < tuning.reconnectIntervalMs) {
      timing.fail('reconnect_max_ms', `expected 0 or at least reconnect_ms (${tuning.reconnectIntervalMs})`, tuning.reconnectMaxIntervalMs);
    }
    if (tuning.heartbeatIntervalMs > 0 && tuning.heartbeatTimeoutMs < tuning.heartbeatIntervalMs) {
      timing.fail('heartbeat_timeout_ms', `expected at least heartbeat_ms (${tuning.heartbeatIntervalMs})`, tuning.heartbeatTimeoutMs);
    }
    timing.done();
  }
  return { kind: 'zmq', role, endpoint, tuning };
}

/**
 * A ZeroMQ endpoint: tcp://HOST:PORT (PORT may be `*` when binding: any free port), ipc://PATH
 * or inproc://NAME.
 */
function zmqEndpoint(r: ConfigReader, key: string, binding: boolean): string {
  const v = r.string(key);
  const expected = binding
    ? 'expected a ZeroMQ endpoint: tcp://HOST:PORT (PORT may be *), ipc:///PATH or inproc://NAME'
    : 'expected a ZeroMQ endpoint: tcp://HOST:PORT, ipc:///PATH or inproc://NAME';
  if (!isZmqEndpoint(v, binding)) r.fail(key, expected, v);
  return v;
}

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

function parseSerial(r: ConfigReader): SerialTransportProfile {
  const device = r.string('device');
  if (!device.startsWith('/')) r.fail('device', 'expected an absolute device path such as /dev/ttyUSB0', device);
  const baudRate = r.int('baud_rate', { min: 300, max: 16_000_000 });
  // xon-xoff is refused: 0x11/0x13 occur in binary frames and the tty would swallow them.
  const flowControl = r.oneOf('flow_control', ['none', 'rts-cts'] as const, 'none');
  const mtu = r.int('mtu', { min: 64, max: MAX_PDU_BYTES_LIMIT });
  const framing = r.oneOf('framing', ['cobs', 'slip'] as const, 'cobs');
  const timing = r.section('timing', true);
  const reopenMs = timing?.int('reopen_ms', { min: 10, max: 60_000, def: 500 }) ?? 500;
  timing?.done();
  return { kind: 'serial', device, baudRate, flowControl, mtu, framing, reopenMs };
}

function parseUdp(r: ConfigReader): UdpTransportProfile {
  const mode = r.oneOf('mode', ['multicast', 'broadcast'] as const, 'multicast');
  const group = r.string('group');
  const family = isIP(group);
  if (mode === 'multicast' && !isMulticast(group, family)) {
    r.fail('group', 'expected an IPv4 multicast address (224.0.0.0 to 239.255.255.255) or an IPv6 one (ff00::/8)', group);
  }
  if (mode === 'broadcast' && family !== 4) r.fail('group', 'expected an IPv4 broadcast address such as 10.0.0.255', group);
  const port = r.int('port', { min: 1, max: 65_535 });
  const iface = r.string('interface');
  const ttl = r.int('ttl', { min: 1, max: 255, def: 1 });
  const loopback = r.bool('loopback', false);
  return { kind: 'udp', mode, group, port, interface: iface, ttl, loopback };
}

function isMulticast(address: string, family: number): boolean {
  if (family === 4) {
    const first = Number(address.split('.')[0]);
    return first >= 224 && first <= 239;
  }
  return family === 6 && /^ff/i.test(address);
}

function parseMedium(r: ConfigReader): MediumProfile {
  const bind = r.scalarList('bind', (v): v is string => typeof v === 'string' && isZmqEndpoint(v, true), 'ZeroMQ endpoints to bind (tcp://HOST:PORT, ipc:///PATH)');
  if (bind.length === 0) r.fail('bind', 'expected at least one endpoint');
  const d = NO_IMPAIRMENTS;
  const impairments = {
    loss: r.number('loss', { min: 0, max: 1, def: d.loss }),
    delayMs: r.number('delay_ms', { min: 0, max: 60_000, def: d.delayMs }),
    jitterMs: r.number('jitter_ms', { min: 0, max: 60_000, def: d.jitterMs }),
    duplicate: r.number('duplicate', { min: 0, max: 1, def: d.duplicate }),
    reorder: r.number('reorder', { min: 0, max: 1, def: d.reorder }),
    reorderHoldMs: r.number('reorder_hold_ms', { min: 0.001, max: 60_000, def: d.reorderHoldMs }),
  };
  const seed = r.int('seed', { min: 0, max: 0xffff_ffff, def: 1 });
  r.done();
  return { bind, impairments, seed };
}
