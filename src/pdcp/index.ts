/**
 * The groupcast PDCP security layer (docs/protocol.md sections 4 to 6): PDU codec, transmit and
 * receive entities, anti-replay window, engine cache, crash-safe PTK ID allocation and drop
 * reasons. I/O-free: time comes in as `nowMs`, the PTK ID store is an interface.
 */
export * from './drop-reasons.js';
export * from './pdu.js';
export * from './replay-window.js';
export * from './replay-marks.js';
export * from './token-bucket.js';
export * from './ptk-allocator.js';
export * from './ptk-engines.js';
export * from './seal.js';
export * from './source-auth.js';
export * from './engine-cache.js';
export * from './rx-entity.js';
export * from './tx-entity.js';
export * from './manual.js';
export * from './profiler.js';
export * from './keep-warm.js';
