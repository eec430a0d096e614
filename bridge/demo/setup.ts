/**
 * The demo's testbed (bridge/testbed/generate.ts), written into a temporary directory: two
 * operators' PKIs and PKMFs (roaming agreement both ways), and one UE config per UE. UE 1..N-1 are
 * subscribers of the home operator served at home; UE N is a home subscriber roaming in the
 * visited network, so its keys come through the visited PKMF (which asks the home PKMF).
 */
import { TESTBED_GROUP, TESTBED_NEA, TESTBED_NIA, writeTestbed, type Testbed, type TestbedPkmf, type TestbedUe } from '../testbed/generate.js';

export { freePort, supiOf } from '../testbed/generate.js';
export const DEMO_GROUP = TESTBED_GROUP;
export const DEMO_NEA = TESTBED_NEA;
export const DEMO_NIA = TESTBED_NIA;
export type DemoUe = TestbedUe;
export type DemoPkmf = TestbedPkmf;
export type DemoTestbed = Testbed;

export function writeDemoTestbed(dir: string, ueCount: number): Promise<DemoTestbed> {
  return writeTestbed({ dir, ues: ueCount, operators: 2, roaming: ueCount >= 2, spread: false, ports: 'free' });
}
