/**
 * Whole-PDU rows of `bench crypto` (PDCP layer, profile `pcr`, SDU of `size` bytes):
 *
 * - `protect-neaX-niaY`: PdcpTxEntity.protect with the PTK's engines cached (a new PTK, with its
 *   derivations, only every 65536 PDUs);
 * - `unprotect-neaX-niaY`: PdcpRxEntity.unprotect of in-order PDUs with cached engines, including
 *   the replay window and every check of the receive path;
 * - `protect-first-neaX-niaY`: the first PDU of a new PTK: PTK ID allocation, PTK -> PEK/PIK
 *   derivation (3 HMAC-SHA-256), engine set-up, then protection;
 * - `unprotect-first-neaX-niaY`: the first PDU of a (sender, PTK ID) the receiver has not seen:
 *   derivation, engine set-up, verification (rate limits set out of the way).
 * - `protect-first-neaX-niaY@node-kdf`, `unprotect-first-neaX-niaY@node-kdf`: the same two with
 *   the key derivation on node:crypto's createHmac (the PGKs installed with `kdfBackend: 'node'`),
 *   as it was before the TypeScript HMAC; only when `kdf@node` is in `algs`.
 *
 * A pair is included when both its algorithms (`neaX`, `niaY`) are in `algs`.
 *
 * With `source-auth` in `algs` (source authentication, docs/pdcp.md), NEA2/NIA2: for `pairwise-mac`
 * and `signature` and each group size n of SOURCE_AUTH_GROUP_SIZES, `protect-<mode>-g<n>` (the
 * sender's block: n - 1 tags or one signature) and `unprotect-<mode>-g<n>` (one member's receive
 * path with its source check: one tag or one signature verification); beside them
 * `protect-no-source-auth` and `unprotect-no-source-auth`, the same calls in a group without.
 */
import { createHmac } from 'node:crypto';
import { ed25519PublicKeyOf } from '../../src/crypto/ed25519.js';
import type { KdfBackend } from '../../src/crypto/index.js';
import type { AlgId } from '../../src/crypto/types.js';
import { GroupKeyState } from '../../src/keys/group-key-state.js';
import type { GroupKeyMaterial } from '../../src/keys/types.js';
import {
  MemoryPtkHighWaterStore,
  PdcpRxEntity,
  PdcpTxEntity,
  PtkIdAllocator,
  type RxEntityOptions,
} from '../../src/pdcp/index.js';
import type { BenchCase } from './cases.js';
import { KDF_NODE_ALG, noSourceAuthRow, sourceAuthRow } from './crypto-cases.js';
import { SOURCE_AUTH_ALG, SOURCE_AUTH_GROUP_SIZES } from './crypto-rows.js';
import { consume } from './harness.js';

const GROUP_ID = 0x00be7c;
const SENDER = 0x000a01;
const RECEIVER = 0x000b02;
const NOW = Date.UTC(2030, 0, 1);
const PGK = Uint8Array.from({ length: 32 }, (_, i) => (i * 29 + 3) & 0xff);
/** Memory for pre-made PDUs of one receive row. */
const RING_BYTES = 16 << 20;

function keys(gmi: number, nea: AlgId, nia: AlgId, kdfBackend?: KdfBackend): GroupKeyState {
  const k = new GroupKeyState({ kdfBackend });
  k.install({ groupId: GROUP_ID, gmi, nea, nia, profile: 'pcr', pgks: [{ pgkId: 1, pgk: PGK, expiresAtMs: NOW + 86_400_000 }] });
  return k;
}

function sender(nea: AlgId, nia: AlgId, kdfBackend?: KdfBackend): PdcpTxEntity {
  return new PdcpTxEntity(keys(SENDER, nea, nia, kdfBackend), new PtkIdAllocator(new MemoryPtkHighWaterStore()));
}

function sduOf(size: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (i * 7) & 0xff);
}

const UNLIMITED = { burst: 1e9, ratePerSec: 1e9 };
const FIRST_RX_OPTIONS: RxEntityOptions = {
  knownSenderDerivations: UNLIMITED,
  newSenderDerivations: UNLIMITED,
  nextPtkDerivations: UNLIMITED,
};

/**
 * An op that unprotects pre-made PDUs in order; when they run out, a fresh receiver starts over
 * (a receiver rightly drops the same PDUs a second time as replays).
 */
function unprotectRing(pdus: Uint8Array[], makeRx: () => PdcpRxEntity): () => void {
  let rx = makeRx();
  let i = 0;
  return () => {
    if (i === pdus.length) {
      rx = makeRx();
      i = 0;
    }
    const r = rx.unprotect(pdus[i++]!, SENDER, GROUP_ID, NOW);
    if (!r.ok) throw new Error(`bench PDU dropped: ${r.reason}`);
    consume(r);
  };
}

type SourceAuthBenchMode = 'none' | 'pairwise-mac' | 'signature';
/** Pre-made PDUs per source-auth receive row: signing them all takes ~0.3 s per signature row. */
const SOURCE_AUTH_RING = 8192;

/** Group members of a source-auth row: the sender, the receiver and n - 2 others. */
function benchMembers(groupSize: number): number[] {
  return [SENDER, RECEIVER, ...Array.from({ length: groupSize - 2 }, (_, i) => 0x000c00 + i)];
}

/** Key material of member `self` with source authentication `mode` (the PKMF's part done here with fixed secrets). */
function sourceAuthMaterial(self: number, members: readonly number[], mode: SourceAuthBenchMode): GroupKeyMaterial {
  const seed = (gmi: number): Uint8Array => Uint8Array.from({ length: 32 }, (_, i) => (gmi * 7 + i * 13) & 0xff);
  const pairwise = (a: number, b: number): Uint8Array =>
    new Uint8Array(createHmac('sha256', PGK).update(`${Math.min(a, b)}:${Math.max(a, b)}`).digest().subarray(0, 16));
  const m: GroupKeyMaterial = {
    groupId: GROUP_ID,
    gmi: self,
    nea: 2,
    nia: 2,
    profile: 'pcr',
    pgks: [{ pgkId: 1, pgk: PGK, expiresAtMs: NOW + 86_400_000 }],
  };
  if (mode === 'pairwise-mac') {
    m.sourceAuth = { mode };
    m.pgks[0]!.pairwiseKeys = new Map(members.filter((g) => g !== self).map((g) => [g, pairwise(self, g)]));
  } else if (mode === 'signature') {
    m.sourceAuth = { mode, signingSeed: seed(self), publicKeys: new Map(members.map((g) => [g, ed25519PublicKeyOf(seed(g))])) };
  }
  return m;
}

function sourceAuthKeys(self: number, members: readonly number[], mode: SourceAuthBenchMode): GroupKeyState {
  const k = new GroupKeyState();
  k.install(sourceAuthMaterial(self, members, mode));
  return k;
}

/** The protect and unprotect rows of one source-auth setting. */
function sourceAuthCases(size: number, mode: SourceAuthBenchMode, groupSize: number): BenchCase[] {
  const members = benchMembers(groupSize);
  const name = (call: 'protect' | 'unprotect'): string => (mode === 'none' ? noSourceAuthRow(call) : sourceAuthRow(call, mode, groupSize));
  const makeSender = (): PdcpTxEntity => new PdcpTxEntity(sourceAuthKeys(SENDER, members, mode), new PtkIdAllocator(new MemoryPtkHighWaterStore()));
  return [
    {
      name: name('protect'),
      size,
      makeOp() {
        const tx = makeSender();
        const sdu = sduOf(size);
        return () => consume(tx.protect(sdu, 1, GROUP_ID, NOW));
      },
    },
    {
      name: name('unprotect'),
      size,
      makeOp() {
        const tx = makeSender();
        const sdu = sduOf(size);
        const pdus = Array.from({ length: SOURCE_AUTH_RING }, () => tx.protect(sdu, 1, GROUP_ID, NOW).pdu);
        const keys = sourceAuthKeys(RECEIVER, members, mode);
        return unprotectRing(pdus, () => new PdcpRxEntity(keys));
      },
    },
  ];
}

/** Row name suffix of a node:crypto-derivation variant of a first-PDU row, e.g. `protect-first-nea2-nia2@node-kdf`. */
export const NODE_KDF_SUFFIX = '@node-kdf';

export function pdcpCases(sizes: readonly number[], algs: readonly string[]): BenchCase[] {
  const cases: BenchCase[] = [];
  // Default derivation always; node:crypto's beside it, in the same run, when asked for.
  const firstRowVariants: [string, KdfBackend | undefined][] = [['', undefined]];
  if (algs.includes(KDF_NODE_ALG)) firstRowVariants.push([NODE_KDF_SUFFIX, 'node']);
  for (const nea of [1, 2, 3] as AlgId[]) {
    for (const nia of [1, 2, 3] as AlgId[]) {
      if (!algs.includes(`nea${nea}`) || !algs.includes(`nia${nia}`)) continue;
      const pair = `nea${nea}-nia${nia}`;
      for (const size of sizes) {
        cases.push({
          name: `protect-${pair}`,
          size,
          makeOp() {
            const tx = sender(nea, nia);
            const sdu = sduOf(size);
            return () => consume(tx.protect(sdu, 1, GROUP_ID, NOW));
          },
        });
        cases.push({
          name: `unprotect-${pair}`,
          size,
          makeOp() {
            const tx = sender(nea, nia);
            const sdu = sduOf(size);
            const n = Math.max(1024, Math.min(65536, Math.floor(RING_BYTES / (size + 15))));
            const pdus = Array.from({ length: n }, () => tx.protect(sdu, 1, GROUP_ID, NOW).pdu);
            return unprotectRing(pdus, () => new PdcpRxEntity(keys(RECEIVER, nea, nia)));
          },
        });
        for (const [suffix, kdfBackend] of firstRowVariants) {
          cases.push({
            name: `protect-first-${pair}${suffix}`,
            size,
            makeOp() {
              let tx = sender(nea, nia, kdfBackend);
              let calls = 0;
              const sdu = sduOf(size);
              return () => {
                // 65536 PTK IDs per PGK: a fresh sender (fresh store) long before they run out.
                if (++calls === 60_000) {
                  tx = sender(nea, nia, kdfBackend);
                  calls = 0;
                }
                tx.rotatePtk(GROUP_ID);
                consume(tx.protect(sdu, 1, GROUP_ID, NOW));
              };
            },
          });
        }
        for (const [suffix, kdfBackend] of firstRowVariants) {
          cases.push({
            name: `unprotect-first-${pair}${suffix}`,
            size,
            makeOp() {
              const tx = sender(nea, nia);
              const sdu = sduOf(size);
              const pdus = Array.from({ length: 2048 }, () => {
                tx.rotatePtk(GROUP_ID);
                return tx.protect(sdu, 1, GROUP_ID, NOW).pdu;
              });
              return unprotectRing(pdus, () => new PdcpRxEntity(keys(RECEIVER, nea, nia, kdfBackend), FIRST_RX_OPTIONS));
            },
          });
        }
      }
    }
  }
  if (algs.includes(SOURCE_AUTH_ALG)) {
    for (const size of sizes) {
      cases.push(...sourceAuthCases(size, 'none', 2));
      for (const mode of ['pairwise-mac', 'signature'] as const) {
        for (const n of SOURCE_AUTH_GROUP_SIZES) cases.push(...sourceAuthCases(size, mode, n));
      }
    }
  }
  return cases;
}
