/**
 * Transports of sl-bridge. The daemon opens its stack-side transport from a hw-profile with
 * {@link openStackTransport}-style factories below and its application socket with
 * {@link ZmqAppServer}; see types.ts for the contract and docs/transport.md for the sockets.
 */
import type { HwProfile } from '../profiles/types.js';
import { createZmqStackTransport } from './zmq-stack.js';
import { createSerialStackTransport } from './serial.js';
import { createUdpStackTransport } from './udp.js';
import type { StackTransport } from './types.js';

export * from './types.js';
export { unixNowNs, elapsedNs } from './clock.js';
export { DEFAULT_ZMQ_TUNING, type ZmqTuning } from './zmq-options.js';
export { TransportError, ZmqDealerTransport, type FrameCodec } from './zmq-dealer.js';
export { ZmqHub, type HubPeer, type HubHandlers, type HubCounters } from './zmq-hub.js';
export { ZmqAppServer, type ZmqAppServerOptions } from './zmq-app-server.js';
export { createZmqAppClient, type ZmqAppClientOptions } from './zmq-app-client.js';
export { createZmqStackTransport, type ZmqStackOptions } from './zmq-stack.js';
export { createSerialStackTransport, type SerialTransportOptions } from './serial.js';
export { createUdpStackTransport, type UdpTransportOptions } from './udp.js';

/**
 * The stack-side transport a hw-profile describes (not opened yet). `endpoint` overrides the
 * profile's (e.g. the demo's medium on a temporary ipc:// path).
 */
export function createStackTransport(profile: HwProfile, overrides: { endpoint?: string } = {}): StackTransport {
  const t = profile.transport;
  switch (t.kind) {
    case 'zmq':
      return createZmqStackTransport({
        role: t.role,
        endpoint: overrides.endpoint ?? t.endpoint,
        maxPduBytes: profile.pdu.maxBytes,
        tuning: t.tuning,
      });
    case 'serial':
      return createSerialStackTransport({
        device: t.device,
        baudRate: t.baudRate,
        flowControl: t.flowControl,
        mtu: t.mtu,
        framing: t.framing,
        reopenMs: t.reopenMs,
        maxPduBytes: profile.pdu.maxBytes,
      });
    case 'udp':
      return createUdpStackTransport({
        mode: t.mode,
        group: t.group,
        port: t.port,
        interface: t.interface,
        ttl: t.ttl,
        loopback: t.loopback,
        maxPduBytes: profile.pdu.maxBytes,
      });
  }
}
