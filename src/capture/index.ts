/**
 * Captures of sl-bridge traffic, I/O-free: the pcap container (pcap.ts), the capture record inside
 * each pcap record (record.ts), the link / IP / UDP layers of captures taken on a network interface
 * (ip-udp.ts), the keylog format (keylog.ts), the decoder that deciphers a capture with a keylog
 * through the PDCP receive path (decoder.ts), what a deciphered SDU holds (sdu-content.ts) and the
 * records of the deciphered captures `pdu decode --write-pcap` writes (deciphered-record.ts). The
 * file writers and the `pdu decode` command are in bridge/capture/.
 */
export * from './pcap.js';
export * from './record.js';
export * from './ip-udp.js';
export * from './keylog.js';
export * from './decoder.js';
export * from './sdu-content.js';
export * from './deciphered-record.js';
