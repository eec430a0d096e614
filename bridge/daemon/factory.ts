/**
 * Builds a daemon from its config and hw-profile with the real parts: the stack transport of the
 * profile, the ZeroMQ application server, the key client and the PTK state file in the state
 * directory. `sl-bridge run` (run.ts) uses it; the shell and its core take any parts that keep
 * the same contracts.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { PdcpProfiler } from '../../src/pdcp/profiler.js';
import { KeyClient } from '../pkmf/key-client.js';
import type { HwProfile } from '../profiles/types.js';
import { FilePtkHighWaterStore, PTK_STATE_FILE } from '../state/ptk-high-water-file.js';
import { ZmqAppServer } from '../transport/zmq-app-server.js';
import type { DaemonConfig } from './config.js';
import { BridgeDaemon, type KeyTap, type SecurityMode, type StackTap } from './daemon.js';
import { createDaemonStackTransport } from './transports.js';

/** The daemon cannot run with this configuration (a user error, not a bug). */
export class ConfigurationError extends Error {
  readonly code = 'ECONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigurationError';
  }
}

export interface DaemonParts {
  security: SecurityMode;
  /** The root logger; the daemon and the key client log through children tagged `svc`. */
  logger: Logger;
  profiler?: PdcpProfiler;
  stackTap?: StackTap;
  keyTap?: KeyTap;
  /** Latency mode: a keep-warm pass every this many ms (absent: off). */
  keepWarmMs?: number;
  /** Latency mode's busy-poll window after each message, µs (absent: off; needs keepWarmMs). */
  busyPollUs?: number;
}

/**
 * A daemon, not started. Throws CliError / TransportError for a stack transport the profile or an
 * override cannot give, ConfigurationError for security on without keys, PtkStateError for a PTK
 * state file that is locked or damaged.
 */
export async function createDaemon(config: DaemonConfig, profile: HwProfile, parts: DaemonParts): Promise<BridgeDaemon> {
  const stack = await createDaemonStackTransport(profile, config.stackEndpoint !== undefined ? { endpoint: config.stackEndpoint } : {});
  if (parts.security === 'on' && config.keys === undefined) {
    throw new ConfigurationError(`${config.file}: a keys: section is needed (security on); only --security off runs without keys`);
  }
  const store = parts.security === 'on' ? new FilePtkHighWaterStore(join(config.stateDir, PTK_STATE_FILE)) : undefined;
  try {
    const apps = new ZmqAppServer({ endpoints: config.appEndpoints, maxSduBytes: config.maxSduBytes });
    // The PTK state is the GMI ledger: keys are used only under a GMI whose marks it holds.
    const keys = config.keys && new KeyClient(config.keys, { logger: parts.logger.child({ svc: 'keys' }), ...(store ? { ledger: store } : {}) });
    return new BridgeDaemon({ ...parts, config, maxPduBytes: profile.pdu.maxBytes, stack, apps, keys, store });
  } catch (e) {
    store?.close();
    throw e;
  }
}
