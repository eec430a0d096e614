/**
 * Transports of sl-bridge. The daemon builds its stack-side transport from a hw-profile
 * (bridge/daemon/transports.ts, with the constructors below) and its application socket with
 * {@link ZmqAppServer}; see types.ts for the contract and docs/transport.md for the sockets.
 * Nothing here knows about hw-profiles.
 */
export * from './types.js';
export { unixNowNs, elapsedNs } from './clock.js';
export { DEFAULT_ZMQ_TUNING, type ZmqTuning } from './zmq-options.js';
export { ZmqDealerTransport, type FrameCodec } from './zmq-dealer.js';
export { ZmqHub, type HubPeer, type HubHandlers, type HubCounters } from './zmq-hub.js';
export { ZmqAppServer, type ZmqAppServerOptions } from './zmq-app-server.js';
export { createZmqAppClient, type ZmqAppClientOptions } from './zmq-app-client.js';
export { createZmqStackTransport, type ZmqStackOptions } from './zmq-stack.js';
export type { SerialTransportOptions } from './serial.js';
export type { UdpTransportOptions } from './udp.js';
