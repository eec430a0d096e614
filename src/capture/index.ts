/**
 * Captures of sl-bridge traffic, I/O-free: the pcap container (pcap.ts), the capture record inside
 * each pcap record (record.ts), the link / IP / UDP layers of captures taken on a network interface
 * (ip-udp.ts), the keylog format (keylog.ts) and the decoder that deciphers a capture with a
 * keylog through the PDCP receive path (decoder.ts). The file writers and the `pdu decode` command
 * are in bridge/capture/.
 */
export * from './pcap.js';
export * from './record.js';
export * from './ip-udp.js';
export * from './keylog.js';
export * from './decoder.js';
