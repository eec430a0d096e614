/**
 * The UE's own algorithm policy (docs/protocol.md section 5): what a Key Response may hand this UE
 * for a group. The PKMF chooses the group's algorithms, but a PKMF whose certificate chains to a
 * trusted CA (any roaming partner's, through a visited network) could answer NEA0, integrity off,
 * or `allow_null_algorithms`; the UE must not follow it silently. A response outside the policy is
 * refused: the group is not installed and nothing is sent on it.
 *
 * Integrity is required by default in every profile: `pcr` and `ts33533` need it for what they
 * promise, and accepting `lte-prose` (which has none) by default would let a PKMF downgrade a
 * group to it. A group that really runs without integrity says `allowNoIntegrity: true`.
 *
 * Source authentication (src/pkmf/source-auth.ts) is the PKMF's choice too; a group whose policy
 * lists the modes it accepts refuses an answer with any other, so a PKMF cannot silently turn
 * a group the UE needs source-authenticated (ranging: distance fraud) back to `none`.
 */
import type { AlgId } from '../crypto/types.js';
import type { GroupKeyMaterial, SourceAuthMode } from '../keys/types.js';
import { sourceAuthModeOf } from './source-auth.js';

export interface GroupAlgorithmPolicy {
  /** Ciphering algorithms this UE advertises and accepts (never 0 without allowNullAlgorithms). */
  supportedNea: readonly AlgId[];
  /** Integrity algorithms this UE advertises and accepts (never 0 without allowNullAlgorithms). */
  supportedNia: readonly AlgId[];
  /** Accept a group without integrity (nia null; every `lte-prose` group). Default false. */
  allowNoIntegrity: boolean;
  /** Accept NEA0 / NIA0 and a response flagging `allow_null_algorithms` (test set-ups). Default false. */
  allowNullAlgorithms: boolean;
  /** The source-authentication modes accepted for the group; undefined: any. */
  acceptSourceAuth?: readonly SourceAuthMode[] | undefined;
}

/** What the policy looks at: a group's algorithms and its source-authentication mode (issued or held). */
export type PolicySubject = Pick<GroupKeyMaterial, 'nea' | 'nia' | 'profile' | 'allowNullAlgorithms'> & { sourceAuth?: { mode: SourceAuthMode } | undefined };

/** Why `material` is outside `policy`, or undefined when it is acceptable. */
export function policyViolation(material: PolicySubject, policy: GroupAlgorithmPolicy): string | undefined {
  if (!policy.supportedNea.includes(material.nea)) {
    return `the PKMF chose NEA${material.nea}, which this UE did not offer (nea: ${policy.supportedNea.join(', ')})`;
  }
  if (material.nia === null) {
    if (!policy.allowNoIntegrity) {
      return `the PKMF turned integrity off (profile ${material.profile}); this UE requires integrity for the group (allowNoIntegrity: true accepts it)`;
    }
  } else if (!policy.supportedNia.includes(material.nia)) {
    return `the PKMF chose NIA${material.nia}, which this UE did not offer (nia: ${policy.supportedNia.join(', ') || 'none'})`;
  }
  if ((material.allowNullAlgorithms ?? false) && !policy.allowNullAlgorithms) {
    return 'the PKMF allows null algorithms (NEA0/NIA0) for the group; this UE does not (allowNullAlgorithms: true accepts it)';
  }
  const mode = sourceAuthModeOf(material.sourceAuth);
  if (policy.acceptSourceAuth !== undefined && !policy.acceptSourceAuth.includes(mode)) {
    return `the PKMF set source authentication ${mode} for the group; this UE accepts only ${policy.acceptSourceAuth.join(', ')} (sourceAuth)`;
  }
  return undefined;
}
