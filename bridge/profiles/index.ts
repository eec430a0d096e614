/** hw-profiles: typed, validated descriptions of how a daemon reaches its radio / stack / modem. */
export * from './types.js';
export {
  DEFAULT_PROFILE,
  MAX_PDU_BYTES_LIMIT,
  builtinProfileNames,
  builtinProfilesDir,
  isZmqEndpoint,
  loadHwProfile,
  parseHwProfile,
  resolveProfilePath,
} from './loader.js';
