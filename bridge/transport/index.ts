/**
 * Transports of sl-bridge. The daemon opens its stack-side transport from a hw-profile with
 * {@link openStackTransport}-style factories below and its application socket with
 * {@link ZmqAppServer}; see types.ts for the contract and docs/transport.md for the sockets.
 */
import type { HwProfile, TransportProfile } from '../profiles/types.js';
import type { StackTransport } from './types.js';

export * from './types.js';
export { unixNowNs, elapsedNs } from './clock.js';
export { DEFAULT_ZMQ_TUNING, type ZmqTuning } from './zmq-options.js';
export { TransportError, ZmqDealerTransport, type FrameCodec } from './zmq-dealer.js';
export { ZmqHub, type HubPeer, type HubHandlers, type HubCounters } from './zmq-hub.js';
export { ZmqAppServer, type ZmqAppServerOptions } from './zmq-app-server.js';
export { createZmqAppClient, type ZmqAppClientOptions } from './zmq-app-client.js';
export { createZmqStackTransport, type ZmqStackOptions } from './zmq-stack.js';
export type { SerialTransportOptions } from './serial.js';
export type { UdpTransportOptions } from './udp.js';

type Constructor<K extends TransportProfile['kind']> = (
  t: Extract<TransportProfile, { kind: K }>,
  profile: HwProfile,
  overrides: StackTransportOverrides,
) => Promise<StackTransport>;

// Imported when used: `serialport` alone takes ~200 ms to load, and a daemon needs one kind.
const CONSTRUCTORS: { [K in TransportProfile['kind']]: Constructor<K> } = {
  zmq: async (t, profile, o) =>
    (await import('./zmq-stack.js')).createZmqStackTransport({
      role: t.role,
      endpoint: o.endpoint ?? t.endpoint,
      maxPduBytes: profile.pdu.maxBytes,
      tuning: t.tuning,
    }),
  serial: async (t, profile) =>
    (await import('./serial.js')).createSerialStackTransport({
      device: t.device,
      baudRate: t.baudRate,
      flowControl: t.flowControl,
      mtu: t.mtu,
      framing: t.framing,
      maxPduBytes: profile.pdu.maxBytes,
      reopenMs: t.reopenMs,
    }),
  udp: async (t, profile) =>
    (await import('./udp.js')).createUdpStackTransport({
      mode: t.mode,
      group: t.group,
      port: t.port,
      interface: t.interface,
      ttl: t.ttl,
      loopback: t.loopback,
      maxPduBytes: profile.pdu.maxBytes,
    }),
};

export interface StackTransportOverrides {
  /** Replaces a ZeroMQ profile's endpoint (e.g. the demo's medium on a temporary ipc:// path). */
  endpoint?: string;
}

/**
 * The stack-side transport a hw-profile describes (not opened yet). `endpoint` applies to ZeroMQ
 * profiles only; the transports throw their own TransportError for options they refuse.
 */
export async function createStackTransport(profile: HwProfile, overrides: StackTransportOverrides = {}): Promise<StackTransport> {
  const t = profile.transport;
  const make = CONSTRUCTORS[t.kind] as Constructor<typeof t.kind>;
  return make(t as never, profile, overrides);
}
