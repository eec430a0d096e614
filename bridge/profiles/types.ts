/**
 * A hw-profile: how a daemon reaches the layer below it (one YAML file per radio / stack / modem
 * set-up in hw-profiles/). Loaded and validated by loader.ts.
 */
import type { ZmqTuning } from '../transport/zmq-options.js';
import type { ChannelImpairments } from '../../src/medium/channel.js';

export interface ZmqTransportProfile {
  kind: 'zmq';
  /** `connect` to a bound peer (the medium emulator); `bind` so that a stack shim connects to us. */
  role: 'connect' | 'bind';
  endpoint: string;
  /** High-water marks and timing (reconnect, heartbeat). */
  tuning: ZmqTuning;
}

export interface SerialTransportProfile {
  kind: 'serial';
  /** e.g. /dev/ttyUSB0, /dev/serial/by-id/... */
  device: string;
  baudRate: number;
  flowControl: 'none' | 'rts-cts';
  /** Largest frame on the line (envelope included), bytes. */
  mtu: number;
  framing: 'cobs' | 'slip';
  /** How often to retry opening the device after it disappeared, ms. */
  reopenMs: number;
}

export interface UdpTransportProfile {
  kind: 'udp';
  /** `multicast` to `group`, or `broadcast` to `group` (a broadcast address). */
  mode: 'multicast' | 'broadcast';
  /** Multicast group or broadcast address (IPv4, or IPv6 for multicast). */
  group: string;
  port: number;
  /** Network interface name (e.g. oaitun_ue1, tun_srsue). */
  interface: string;
  /** IP TTL / hop limit of multicast datagrams. */
  ttl: number;
  /** Receive our own multicast datagrams (IP_MULTICAST_LOOP); off on a real link. */
  loopback: boolean;
}

export type TransportProfile = ZmqTransportProfile | SerialTransportProfile | UdpTransportProfile;

/** The medium emulator's defaults (only in profiles meant for it, e.g. emulator.yaml). */
export interface MediumProfile {
  /** Endpoints the medium binds. */
  bind: string[];
  impairments: ChannelImpairments;
  seed: number;
}

export interface HwProfile {
  /** The file it was loaded from. */
  file: string;
  name: string;
  description: string;
  transport: TransportProfile;
  pdu: {
    /** Largest PDCP PDU sent or accepted, bytes (larger ones are dropped and counted). */
    maxBytes: number;
  };
  medium?: MediumProfile;
}
