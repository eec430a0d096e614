/**
 * The daemon's stack-side transport, built from the hw-profile: one constructor per
 * `transport.kind` of bridge/transport/, each loaded only when used (`serialport` alone takes
 * ~200 ms to load, and a daemon needs one kind). The UE config's `stack.endpoint` override applies
 * to ZeroMQ profiles only; using it elsewhere is a configuration error.
 */
import { CliError } from '../cli-error.js';
import type { HwProfile, TransportProfile } from '../profiles/types.js';
import type { StackTransport } from '../transport/types.js';

export interface StackTransportOverrides {
  /** Replaces a ZeroMQ profile's endpoint (e.g. the demo's medium on a temporary ipc:// path). */
  endpoint?: string;
}

type Constructor<K extends TransportProfile['kind']> = (
  t: Extract<TransportProfile, { kind: K }>,
  profile: HwProfile,
  overrides: StackTransportOverrides,
) => Promise<StackTransport>;

const CONSTRUCTORS: { [K in TransportProfile['kind']]: Constructor<K> } = {
  zmq: async (t, profile, o) =>
    (await import('../transport/zmq-stack.js')).createZmqStackTransport({
      role: t.role,
      endpoint: o.endpoint ?? t.endpoint,
      maxPduBytes: profile.pdu.maxBytes,
      tuning: t.tuning,
    }),
  serial: async (t, profile) =>
    (await import('../transport/serial.js')).createSerialStackTransport({
      device: t.device,
      baudRate: t.baudRate,
      flowControl: t.flowControl,
      mtu: t.mtu,
      framing: t.framing,
      maxPduBytes: profile.pdu.maxBytes,
      reopenMs: t.reopenMs,
    }),
  udp: async (t, profile) =>
    (await import('../transport/udp.js')).createUdpStackTransport({
      mode: t.mode,
      group: t.group,
      port: t.port,
      interface: t.interface,
      ttl: t.ttl,
      loopback: t.loopback,
      maxPduBytes: profile.pdu.maxBytes,
    }),
};

/**
 * The stack transport the profile describes (not opened). Throws CliError for an override that
 * does not apply, and the transport's own TransportError for options it refuses.
 */
export async function createDaemonStackTransport(profile: HwProfile, overrides: StackTransportOverrides = {}): Promise<StackTransport> {
  const t = profile.transport;
  if (overrides.endpoint !== undefined && t.kind !== 'zmq') {
    throw new CliError(`stack.endpoint is for ZeroMQ profiles; ${profile.file} has transport kind ${t.kind}`, 2);
  }
  const make = CONSTRUCTORS[t.kind] as Constructor<typeof t.kind>;
  return make(t as never, profile, overrides);
}
