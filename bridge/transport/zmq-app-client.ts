/**
 * The application side of the application link: a DEALER connecting to a daemon's application
 * socket (zmq-app-server.ts). Reconnects by itself when the daemon restarts; SDUs sent while the
 * daemon is away are dropped as `no-peer` (an application that must not lose them retries).
 */
import { APP_MAX_SDU_BYTES, decodeDaemonToApp, encodeAppToDaemon, type AppToDaemon, type DaemonToApp } from '../../src/wire/app.js';
import { ZmqDealerTransport, type FrameCodec } from './zmq-dealer.js';
import type { ZmqTuning } from './zmq-options.js';
import type { AppClientTransport } from './types.js';

export interface ZmqAppClientOptions {
  /** The daemon's application endpoint. */
  endpoint: string;
  maxSduBytes?: number;
  tuning?: Partial<ZmqTuning>;
}

export function createZmqAppClient(options: ZmqAppClientOptions): AppClientTransport {
  const maxSduBytes = options.maxSduBytes ?? APP_MAX_SDU_BYTES;
  const codec: FrameCodec<AppToDaemon, DaemonToApp> = {
    encode: (m) => (m.sdu.length > maxSduBytes ? 'too-large' : encodeAppToDaemon(m)),
    decode: (bytes) => decodeDaemonToApp(bytes, maxSduBytes),
  };
  return new ZmqDealerTransport({ role: 'connect', endpoint: options.endpoint, tuning: options.tuning }, codec);
}
