/** PKMF protocol logic (I/O-free): codecs, validation, authorization, PGK lifecycle, schedules. */
export * from './errors.js';
export * from './identity.js';
export * from './codec.js';
export * from './validate.js';
export * from './lifecycle.js';
export * from './authorize.js';
export * from './json.js';
export * from './refresh.js';
export * from './key-state.js';
