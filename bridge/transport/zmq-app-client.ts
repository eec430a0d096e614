/**
 * The application side of the application link: a DEALER connecting to a daemon's application
 * socket (zmq-app-server.ts). Reconnects by itself when the daemon restarts; SDUs sent while the
 * daemon is away are dropped as `no-peer` (an application that must not lose them retries).
 * Every connection starts with an AppHello asking for batched deliveries unless told otherwise.
 */
import { APP_MAX_SDU_BYTES, decodeDaemonToApp, encodeAppToDaemon, type AppSendSdu, type DaemonToApp } from '../../src/wire/app.js';
import { ZmqDealerTransport, type FrameCodec } from './zmq-dealer.js';
import type { ZmqTuning } from './zmq-options.js';
import type { AppClientTransport } from './types.js';

export interface ZmqAppClientOptions {
  /** The daemon's application endpoint. */
  endpoint: string;
  maxSduBytes?: number;
  tuning?: Partial<ZmqTuning>;
  /**
   * Ask the daemon for batched deliveries (AppHello on every connection): what one daemon turn
   * has for this application arrives as one ZeroMQ message. Default true; the sink sees the same
   * DaemonToApp messages either way.
   */
  batchedDeliveries?: boolean;
}

export function createZmqAppClient(options: ZmqAppClientOptions): AppClientTransport {
  const maxSduBytes = options.maxSduBytes ?? APP_MAX_SDU_BYTES;
  const codec: FrameCodec<AppSendSdu, DaemonToApp> = {
    encode: (m) => (m.sdu.length > maxSduBytes ? 'too-large' : encodeAppToDaemon(m)),
    decode: (bytes) => decodeDaemonToApp(bytes, maxSduBytes),
  };
  const batches = options.batchedDeliveries ?? true;
  const greeting = batches ? encodeAppToDaemon({ kind: 'hello', batchedDeliveries: true }) : undefined;
  return new ZmqDealerTransport({ role: 'connect', endpoint: options.endpoint, tuning: options.tuning, greeting, batches }, codec);
}
