/**
 * Ed25519 (RFC 8032 5.1, pure Ed25519: no pre-hash, no context) through node:crypto, with the
 * KeyObjects made once per key: the signatures of source authentication `signature`
 * (docs/pdcp.md, "Source authentication"). Keys travel as RFC 8032 raw octets: the 32-byte
 * private key (the "seed" of 5.1.5) and the 32-byte public key (5.1.5 step 4); node:crypto takes
 * them wrapped in the fixed DER prefixes of RFC 8410 (PKCS #8 7, SubjectPublicKeyInfo 4).
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { checkBytes } from './checks.js';

export const ED25519_SEED_BYTES = 32;
export const ED25519_PUBLIC_KEY_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;

/** RFC 8410 7: PrivateKeyInfo { version 0, AlgorithmIdentifier id-Ed25519 (1.3.101.112), OCTET STRING { OCTET STRING seed } }. */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
/** RFC 8410 4: SubjectPublicKeyInfo { AlgorithmIdentifier id-Ed25519, BIT STRING public key }. */
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

const REDACTED = '[Ed25519 private key]';

function privateKeyOf(seed: Uint8Array): KeyObject {
  checkBytes('seed', seed, ED25519_SEED_BYTES);
  const der = Buffer.concat([PKCS8_PREFIX, seed]);
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    der.fill(0);
  }
}

/** The public key (32 octets) of the private key `seed` (RFC 8032 5.1.5). */
export function ed25519PublicKeyOf(seed: Uint8Array): Uint8Array {
  const spki = createPublicKey(privateKeyOf(seed)).export({ format: 'der', type: 'spki' });
  return new Uint8Array(spki.subarray(SPKI_PREFIX.length));
}

/** Signs with one private key. Holds key material: never log it (it shows as a placeholder). */
export class Ed25519Signer {
  readonly #key: KeyObject;
  /** The matching public key, 32 octets. */
  readonly publicKey: Uint8Array;

  constructor(seed: Uint8Array) {
    this.#key = privateKeyOf(seed);
    this.publicKey = new Uint8Array(createPublicKey(this.#key).export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length));
  }

  /** The 64-octet signature of `message` (RFC 8032 5.1.6). */
  sign(message: Uint8Array): Uint8Array {
    return sign(null, message, this.#key);
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return REDACTED;
  }
}

/** Verifies against one public key. */
export class Ed25519Verifier {
  readonly #key: KeyObject;

  constructor(publicKey: Uint8Array) {
    checkBytes('publicKey', publicKey, ED25519_PUBLIC_KEY_BYTES);
    this.#key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
  }

  /**
   * True when `signature` (64 octets) is a valid signature of `message` (RFC 8032 5.1.7). Never
   * throws: anything node:crypto refuses is an invalid signature.
   */
  verify(message: Uint8Array, signature: Uint8Array): boolean {
    if (signature.length !== ED25519_SIGNATURE_BYTES) return false;
    try {
      return verify(null, message, this.#key, signature);
    } catch {
      return false;
    }
  }
}
