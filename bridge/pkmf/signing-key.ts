/**
 * The UE's Ed25519 key pair for groups whose source authentication is `signature`
 * (src/pkmf/source-auth.ts): made by the UE itself on first need, one per UE (every group binds
 * the same public key to this UE's GMI in it). The private key stays in the keys state directory,
 * `signing-key.pem` (PKCS#8, so `openssl pkey` reads it), mode 0600, replaced only whole
 * (bridge/state/durable-file.ts); only the public key leaves the UE, in each Key Request. Neither
 * the file's content nor the seed is ever logged.
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SIGNING_PUBLIC_KEY_BYTES, SIGNING_SEED_BYTES } from '../../src/pkmf/source-auth.js';
import { writeFileDurably } from '../state/durable-file.js';

export const SIGNING_KEY_FILE = 'signing-key.pem';

export interface SigningKey {
  /** Ed25519 private key seed (32 bytes). Never logged. */
  seed: Uint8Array;
  /** Ed25519 public key (32 bytes). */
  publicKey: Uint8Array;
}

export interface LoadedSigningKey {
  key: SigningKey;
  file: string;
  /** Made now: there was no usable file (`replaced`: there was one, unreadable as a key). */
  created: boolean;
  replaced?: string;
}

function fromKeyObject(privateKey: KeyObject): SigningKey {
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`expected an Ed25519 private key, found ${privateKey.asymmetricKeyType ?? 'another kind'}`);
  const jwk = privateKey.export({ format: 'jwk' });
  const seed = Buffer.from(jwk.d ?? '', 'base64url');
  const publicKey = Buffer.from(jwk.x ?? '', 'base64url');
  if (seed.length !== SIGNING_SEED_BYTES || publicKey.length !== SIGNING_PUBLIC_KEY_BYTES) throw new Error('the Ed25519 key has unexpected lengths');
  return { seed: Uint8Array.from(seed), publicKey: Uint8Array.from(publicKey) };
}

/**
 * The signing key in `stateDir`, made (and written durably, 0600, in a 0700 directory) when there
 * is none. A file that is not an Ed25519 private key is replaced by a new key (the PKMF binds
 * whatever public key the authenticated UE sends); one that cannot be read (permissions, I/O)
 * throws, so a passing problem never costs the UE its key.
 */
export function loadOrCreateSigningKey(stateDir: string): LoadedSigningKey {
  const file = join(stateDir, SIGNING_KEY_FILE);
  let pem: string | undefined;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read ${file}: ${(e as Error).message}`);
  }
  let replaced: string | undefined;
  if (pem !== undefined) {
    try {
      return { key: fromKeyObject(createPrivateKey(pem)), file, created: false };
    } catch (e) {
      replaced = (e as Error).message;
    }
  }
  const { privateKey } = generateKeyPairSync('ed25519');
  const key = fromKeyObject(privateKey);
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  writeFileDurably(file, Buffer.from(privateKey.export({ format: 'pem', type: 'pkcs8' }) as string), 0o600);
  return { key, file, created: true, ...(replaced === undefined ? {} : { replaced }) };
}
