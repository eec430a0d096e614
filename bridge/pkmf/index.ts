/**
 * Public API of the PKMF part for the daemon, the demo and tests:
 * - the UE key client ({@link KeyClient}) and its config (`keys:` section of a UE YAML file);
 * - starting a PKMF from a config file or object;
 * - the testbed PKI and config helpers.
 */
export { KeyClient, readPersistedKeys, KEY_STATE_FILE } from './key-client.js';
export type { KeyClientOptions, KeyClientStatus, GroupStatus, FetchReport, Timers } from './key-client.js';
export { loadUeKeyConfig, ueKeyConfigFromObject } from './ue-config.js';
export type { UeKeyConfig, UeGroupConfig } from './ue-config.js';
export { requestKeys, ueSecureContext, KeyFetchError } from './ue-client.js';
export type { UeCredentials, PkmfEndpoint, KeyFetchErrorCode } from './ue-client.js';
export { startPkmf, runPkmfFromFile, pkmfLogger } from './server.js';
export type { RunningPkmf, StartPkmfOptions } from './server.js';
export { loadPkmfConfig, pkmfConfigFromObject, parsePkmfConfig } from './config.js';
export type { PkmfConfig, GroupConfig, PeerConfig } from './config.js';
export { makeOperatorPki, issueUe, writeYaml } from './testbed.js';
export type { OperatorPki } from './testbed.js';
export { initCa, issueCertificate, PkiError } from '../pki/ca.js';
export type { IssuedFiles, IssueOptions, InitCaOptions, CertKind } from '../pki/ca.js';
