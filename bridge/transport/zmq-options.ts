/**
 * ZeroMQ socket options of sl-bridge's transports in one place, with the reasons for each.
 * docs/transport.md explains them to users; hw-profiles set the tunable ones.
 */
import type { Socket } from 'zeromq';

export interface ZmqTuning {
  /** ZMQ_SNDHWM: messages queued per peer before further ones are dropped (counted `hwm`). */
  sendHighWaterMark: number;
  /** ZMQ_RCVHWM: messages queued per peer on receive before the peer's own sends drop. */
  receiveHighWaterMark: number;
  /** ZMQ_RECONNECT_IVL: first retry after a lost connection, ms. */
  reconnectIntervalMs: number;
  /** ZMQ_RECONNECT_IVL_MAX: retry interval doubles up to this, ms (0: no back-off). */
  reconnectMaxIntervalMs: number;
  /** ZMQ_HEARTBEAT_IVL: ZMTP PING interval, ms (0: off). Detects peers that vanish silently. */
  heartbeatIntervalMs: number;
  /** ZMQ_HEARTBEAT_TIMEOUT: no traffic this long after a PING closes the connection, ms. */
  heartbeatTimeoutMs: number;
  /**
   * ZMQ_MAXMSGSIZE: a peer sending a bigger message is disconnected by libzmq (it reconnects).
   * Set well above the frame limits, which are checked (and counted) by the decoders.
   */
  maxMessageBytes: number;
  /**
   * ZMQ_LINGER: how long frames still queued at close may take to leave, ms. Bounded so that a
   * clean stop delivers what it has but a dead peer cannot hold the process up.
   */
  lingerMs: number;
}

export const DEFAULT_ZMQ_TUNING: Readonly<ZmqTuning> = {
  sendHighWaterMark: 1000,
  receiveHighWaterMark: 1000,
  reconnectIntervalMs: 100,
  reconnectMaxIntervalMs: 250,
  heartbeatIntervalMs: 1000,
  heartbeatTimeoutMs: 3000,
  maxMessageBytes: 1 << 20,
  lingerMs: 200,
};

/**
 * Options common to every socket of ours. `sendTimeout: 0` makes every send complete or fail at
 * once: the transports never wait on a full queue (a wait would also make the next send fail
 * with EBUSY in zeromq.js); they count the frame as dropped instead.
 */
export function socketOptions(t: ZmqTuning): Partial<Socket> & Record<string, unknown> {
  return {
    sendHighWaterMark: t.sendHighWaterMark,
    receiveHighWaterMark: t.receiveHighWaterMark,
    reconnectInterval: t.reconnectIntervalMs,
    reconnectMaxInterval: t.reconnectMaxIntervalMs,
    heartbeatInterval: t.heartbeatIntervalMs,
    heartbeatTimeout: t.heartbeatTimeoutMs,
    maxMessageSize: t.maxMessageBytes,
    sendTimeout: 0,
    linger: t.lingerMs,
  };
}

/** zeromq.js errors carry the libzmq errno name in `code`. */
export function zmqErrorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'UNKNOWN';
}
