/**
 * Seeded pseudo-random numbers for the medium emulator, so that a run can be repeated decision
 * for decision. sfc32 (Chris Doty-Humphrey's Small Fast Counter, as in PractRand) seeded through
 * splitmix32; not for cryptography.
 */

/** A source of uniform numbers in [0, 1). */
export type RandomSource = () => number;

/** Returns a generator whose sequence is fully determined by `seed` (a uint32). */
export function seededRandom(seed: number): RandomSource {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) {
    throw new RangeError(`seed: expected an integer from 0 to 4294967295, got ${seed}`);
  }
  let s = seed >>> 0;
  const splitmix32 = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix32();
  let b = splitmix32();
  let c = splitmix32();
  let d = 1;
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  // Discard the first outputs: sfc32 mixes its state during its first rounds.
  for (let i = 0; i < 12; i++) next();
  return next;
}
