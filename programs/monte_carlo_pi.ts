// Built-in program `monte_carlo_pi`: estimates π from `samples` random points in the unit square.
// Input {program?, samples?: 1..10^8 (default 1 000 000), seed?: 0..2^53-1 (default 0)}.
// Output {estimated_pi, samples, seed, inside}: estimated_pi = 4 · inside / samples.
// Same seed and samples → same answer on every node: the generator is xoshiro256** seeded through
// SplitMix64, and the test is integer-only (31-bit coordinates, x² + y² < 2^62), so no floating-point
// behaviour enters the count; the one division at the end is IEEE-exact in WebAssembly.
import { errorJson, inputProblem, integerIn, parseInput } from "./lib/json";
import { exit, readStdin, writeStdout } from "./lib/io";

const MAX_SAMPLES: i64 = 100_000_000;
const MAX_SEED: i64 = 9_007_199_254_740_991;
const DEFAULT_SAMPLES: i64 = 1_000_000;

function splitmix(state: u64): u64 {
  let z = state + 0x9e3779b97f4a7c15;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}

/** How many of `samples` points fall inside the quarter circle; the generator state lives in locals. */
function countInside(seed: u64, samples: i64): i64 {
  const step: u64 = 0x9e3779b97f4a7c15;
  let s0 = splitmix(seed);
  let s1 = splitmix(seed + step);
  let s2 = splitmix(seed + 2 * step);
  let s3 = splitmix(seed + 3 * step);
  const radiusSquared: u64 = 1 << 62;
  let inside: i64 = 0;
  for (let i: i64 = 0; i < samples; i++) {
    // xoshiro256** (Blackman and Vigna): one 64-bit output per point.
    const r = rotl<u64>(s1 * 5, 7) * 9;
    const t = s1 << 17;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl<u64>(s3, 45);
    const x = r >> 33; // top 31 bits
    const y = (r >> 2) & 0x7fffffff; // the next 31
    if (x * x + y * y < radiusSquared) inside++;
  }
  return inside;
}

function invalid(message: string): void {
  writeStdout(errorJson("invalid_input", message));
  exit(2);
}

export function _main(): void {
  const root = parseInput(readStdin(), "monte_carlo_pi", ["program", "samples", "seed"]);
  if (root === null) return invalid(inputProblem);
  let samples = DEFAULT_SAMPLES;
  const samplesValue = root.get("samples");
  if (samplesValue !== null) {
    samples = integerIn(samplesValue, 1, MAX_SAMPLES);
    if (samples < 0) return invalid("samples must be an integer from 1 to 100000000");
  }
  let seed: i64 = 0;
  const seedValue = root.get("seed");
  if (seedValue !== null) {
    seed = integerIn(seedValue, 0, MAX_SEED);
    if (seed < 0) return invalid("seed must be an integer from 0 to 9007199254740991");
  }
  const inside = countInside(<u64>seed, samples);
  const estimate = (4.0 * <f64>inside) / <f64>samples;
  writeStdout(
    '{"estimated_pi":' + estimate.toString() +
      ',"samples":' + samples.toString() +
      ',"seed":' + seed.toString() +
      ',"inside":' + inside.toString() + "}",
  );
  exit(0);
}

_main();
