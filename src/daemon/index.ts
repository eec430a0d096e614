/**
 * The bridge daemon's logic without I/O (docs/daemon.md, "Core and shell"): the data path, key
 * installation, durable-state upkeep and status figures. The process around it (sockets, key
 * client, timers, clocks) is bridge/daemon/.
 */
export * from './counters.js';
export * from './log.js';
export * from './protector.js';
export * from './core.js';
