/** The medium emulator's I/O-free core: the channel model and its seeded randomness. */
export { MediumChannel, NO_IMPAIRMENTS, checkImpairments } from './channel.js';
export type { ChannelCounters, ChannelImpairments, Emit } from './channel.js';
export { seededRandom } from './random.js';
export type { RandomSource } from './random.js';
