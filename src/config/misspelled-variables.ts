import { CoreVariables } from '../common/config/core.config';
import { declaredRules, RawEnvironment } from '../common/config/problems';
import { FEATURE_CONFIGS } from './app-config';

/** Every variable the service reads: each schema's properties and the names features read besides them. */
export function knownVariables(): Set<string> {
  const schemaNames = (schema: new () => object) => declaredRules(schema).map((rule) => rule.propertyName);
  const features = Object.values(FEATURE_CONFIGS) as {
    schema: new () => object;
    otherVariables?: readonly string[];
  }[];
  return new Set([
    ...schemaNames(CoreVariables),
    ...features.flatMap((feature) => [...schemaNames(feature.schema), ...(feature.otherVariables ?? [])]),
  ]);
}

/**
 * Set variables that are not the service's but are one or two edits from one of its names
 * (`RATE_LIMIT_TSAK_RPM`, `ENVIROMENT`): a typo silently leaves the default in force, so start-up says so. Names
 * far from every known one (NODE_OPTIONS, a platform's own) and short single words (HOME) are not its business.
 */
export function misspelledVariables(raw: RawEnvironment, known = knownVariables()): string[] {
  const warnings: string[] = [];
  for (const name of Object.keys(raw)) {
    if (known.has(name) || raw[name] === undefined) continue;
    // A single word is the shell's (HOME, USER, TERM: one edit from PORT or HOST is chance) unless it is long
    // and one edit from ours: ENVIROMENT (one letter short) would skip every production check without a word.
    const word = !name.includes('_');
    if (name.length < (word ? 8 : 6)) continue;
    let closest: string | undefined;
    let best = word ? 2 : 3;
    for (const candidate of known) {
      const distance = editDistance(name, candidate, best);
      if (distance < best) [closest, best] = [candidate, distance];
    }
    if (closest) warnings.push(`${name} is not a setting of this service; did you mean ${closest}?`);
  }
  return warnings;
}

/** Optimal string alignment distance (a swap of neighbours is one edit), or `limit` once it reaches it. */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) >= limit) return limit;
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        value = Math.min(value, before[j - 2] + 1);
      current[j] = value;
      rowMin = Math.min(rowMin, value);
    }
    if (rowMin >= limit) return limit;
    before = previous;
    previous = current;
  }
  return Math.min(previous[b.length], limit);
}
