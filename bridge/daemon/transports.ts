/**
 * The daemon's stack-side transport, built from the hw-profile by bridge/transport's
 * createStackTransport (one constructor per `transport.kind`, each loaded only when used). What
 * the daemon adds: the UE config's `stack.endpoint` override applies to ZeroMQ profiles only,
 * and using it elsewhere is a configuration error.
 */
import { CliError } from '../cli-error.js';
import type { HwProfile } from '../profiles/types.js';
import { createStackTransport, type StackTransportOverrides } from '../transport/index.js';
import type { StackTransport } from '../transport/types.js';

export type { StackTransportOverrides };

/**
 * The stack transport the profile describes (not opened). Throws CliError for an override that
 * does not apply, and the transport's own TransportError for options it refuses.
 */
export async function createDaemonStackTransport(profile: HwProfile, overrides: StackTransportOverrides = {}): Promise<StackTransport> {
  if (overrides.endpoint !== undefined && profile.transport.kind !== 'zmq') {
    throw new CliError(`stack.endpoint is for ZeroMQ profiles; ${profile.file} has transport kind ${profile.transport.kind}`, 2);
  }
  return createStackTransport(profile, overrides);
}
