/**
 * A hw-profile: how a daemon reaches the layer below it (one YAML file per radio / stack / modem
 * set-up in hw-profiles/). The types are those of the schema (schema.ts) that validates it.
 */
import type { hwProfileSchema } from './schema.js';

export type HwProfile = import('zod').output<ReturnType<typeof hwProfileSchema>>;
export type TransportProfile = HwProfile['transport'];
export type ZmqTransportProfile = Extract<TransportProfile, { kind: 'zmq' }>;
export type SerialTransportProfile = Extract<TransportProfile, { kind: 'serial' }>;
export type UdpTransportProfile = Extract<TransportProfile, { kind: 'udp' }>;
/** The medium emulator's defaults (only in profiles meant for it, e.g. emulator.yaml). */
export type MediumProfile = NonNullable<HwProfile['medium']>;
