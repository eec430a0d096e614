/**
 * The demo's testbed (bridge/testbed/generate.ts), written into a temporary directory: two
 * operators' PKIs and PKMFs (roaming agreement both ways), and one UE config per UE. UE 1..N-1 are
 * subscribers of the home operator served at home; UE N is a home subscriber roaming in the
 * visited network, so its keys come through the visited PKMF (which asks the home PKMF).
 */
import type { SourceAuthMode } from '../../src/keys/types.js';
import type { DaemonStatus } from '../daemon/daemon.js';
import { TESTBED_GROUP, TESTBED_NEA, TESTBED_NIA, writeTestbed, type Testbed, type TestbedPkmf, type TestbedUe } from '../testbed/generate.js';

export { freePort, supiOf } from '../testbed/generate.js';
export const DEMO_GROUP = TESTBED_GROUP;
export const DEMO_NEA = TESTBED_NEA;
export const DEMO_NIA = TESTBED_NIA;
export type DemoUe = TestbedUe;
export type DemoPkmf = TestbedPkmf;
export type DemoTestbed = Testbed;

/** `sourceAuth`: the group's source authentication (docs/pkmf.md), default none. */
export function writeDemoTestbed(dir: string, ueCount: number, sourceAuth: SourceAuthMode = 'none'): Promise<DemoTestbed> {
  return writeTestbed({ dir, ues: ueCount, operators: 2, roaming: ueCount >= 2, spread: false, ports: 'free', sourceAuth });
}

/**
 * A testbed daemon can send: it holds the group's keys and, with source authentication, they
 * cover all `ueCount` UEs (members that asked first learn the later ones by asking again: the PKMF
 * reports pending members), so no PDU of the run is refused as from an unknown member.
 */
export function keysComplete(status: DaemonStatus | undefined, ueCount: number): boolean {
  const g = status?.keys.groups[0];
  return status?.keys.ready === true && (g?.members === undefined || g.members === ueCount);
}

/** Why {@link keysComplete} is false, for an error message. */
export function keysShortfall(status: DaemonStatus | undefined, ueCount: number): string {
  if (status?.keys.lastError) return status.keys.lastError;
  if (!status?.keys.ready) return 'no answer yet';
  return `its keys cover ${status.keys.groups[0]?.members ?? 0} of ${ueCount} members`;
}
