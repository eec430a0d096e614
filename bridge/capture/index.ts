/**
 * Captures for the daemon and the CLI: the pcap writer (`--pcap`), the keylog writer
 * (`--keylog`), a stack-transport wrapper that feeds the pcap writer, and `pdu decode`.
 * The formats and the decoder are I/O-free in src/capture/.
 */
export { PcapWriter, PCAP_DROP_REASONS, type PcapDropReason, type PcapWriterCounters, type PcapWriterOptions } from './pcap-writer.js';
export { KeylogFileError, KeylogWriter } from './keylog-writer.js';
export { captureStackTransport } from './capturing-transport.js';
export { CaptureInputError, decodeCapture, formatFrame, frameJson, loadKeylog, summarize, type DecodeOptions, type DecodeRun } from './decode.js';
