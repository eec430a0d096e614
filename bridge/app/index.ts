/** The bundled ranging application (library); main.ts runs it as a process. */
export { RANGING_SDU_TYPE, RangingApp } from './ranging.js';
export type { LatencySummary, PeerCounts, RangingAppOptions, RangingStats } from './ranging.js';
