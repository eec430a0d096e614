/**
 * Size limits of the serial transport, in a module without the serialport dependency so that
 * the hw-profile loader can check a profile's `mtu` against `pdu.max_bytes` cheaply.
 */

/**
 * The most bytes a PduEnvelope adds around its PDU: tags and varints of the two 24-bit IDs
 * (1 + 4 each), cast type (1 + 1), the PDU's tag and length (1 + 3, for PDUs up to 2^21 - 1
 * bytes), tx_time_ns (1 + 8) and seq (1 + 5). A serial `mtu` must be at least `pdu.max_bytes`
 * plus this (test/integration/serial-transport.test.ts checks the bound is reached and never exceeded).
 */
export const ENVELOPE_OVERHEAD_BYTES = 31;
