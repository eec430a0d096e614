/**
 * What `sl-bridge bench crypto` can measure: its row names and payload sizes. Its own module, with
 * no imports, so that the command declaration (bridge/commands/bench.ts) checks `--algs` and
 * `--sizes` without loading the engines (crypto-cases.ts builds the rows).
 */

/** Algorithm rows of `bench crypto`, in table order; the default set. */
export const CRYPTO_ALGS = [
  'nea1',
  'nia1',
  'nea2',
  'nia2',
  'nea3',
  'nia3',
  'baseline-nea2',
  'baseline-nia2',
] as const;
/** Extra rows for comparing AES backends: `--algs nea2,nea2@ts,nea2@noble,...`. */
export const AES_BACKEND_ALGS = ['nea2@node', 'nia2@node', 'nea2@ts', 'nia2@ts', 'nea2@noble', 'nia2@noble'] as const;
/** The derivation on node:crypto; selecting it also adds the `@node-kdf` first-PDU rows. */
export const KDF_NODE_ALG = 'kdf@node';
/** Key derivation rows: `--algs kdf` (its baseline `kdf@node` comes with it). */
export const KDF_ALGS = ['kdf', KDF_NODE_ALG] as const;
/**
 * Source authentication (docs/pdcp.md): `--algs source-auth` is the row of a `pairwise-mac`
 * receiver's source crypto (digest and one tag) per payload size, and it adds protect / unprotect
 * rows (NEA2/NIA2, profile pcr) for `pairwise-mac` and `signature` at each of
 * {@link SOURCE_AUTH_GROUP_SIZES}, and the same two calls without source authentication, in the
 * same run.
 */
export const SOURCE_AUTH_ALG = 'source-auth';
/** Group sizes (members, the sender included) of the source-auth rows. */
export const SOURCE_AUTH_GROUP_SIZES: readonly number[] = [2, 4, 8, 16, 32];
export const ALL_CRYPTO_ALGS: readonly string[] = [...CRYPTO_ALGS, ...AES_BACKEND_ALGS, ...KDF_ALGS, SOURCE_AUTH_ALG];

export const DEFAULT_SIZES: readonly number[] = [16, 64, 128, 512, 1500];
/** The largest `--sizes` payload, in bytes. */
export const MAX_BENCH_SIZE = 65536;
