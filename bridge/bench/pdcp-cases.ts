import type { BenchCase } from './cases.js';

/**
 * Whole-PDU rows of `bench crypto` (`protect-nea2-nia2`, `unprotect-...`, and the first PDU of a
 * new PTK with its derivations). Filled in by the PDCP layer.
 */
export function pdcpCases(_sizes: readonly number[], _algs: readonly string[]): BenchCase[] {
  return [];
}
