import { readFileSync } from 'node:fs';
import { README } from './readme-tour';

/** One row of README's configuration table, as written. */
export interface ConfigRow {
  /** The variables the row documents (`RATE_LIMIT_<TIER>_RPM` expanded with the tiers its meaning names). */
  names: string[];
  /** The names as the first cell writes them (`RATE_LIMIT_<TIER>_RPM`). */
  written: string[];
  /** The Default cell, trimmed. */
  defaultText: string;
  meaning: string;
}

/** README's `## <title>` section (without its heading), or `### <title>` when `level` says so. */
export function readmeSection(title: string, level = '##', readme = readFileSync(README, 'utf8')): string {
  const heading = `\n${level} ${title}\n`;
  const start = readme.indexOf(heading);
  if (start < 0) throw new Error(`README has no "${level} ${title}" section`);
  const rest = readme.slice(start + heading.length);
  const end = rest.search(new RegExp(`^#{1,${level.length}} `, 'm'));
  return end < 0 ? rest : rest.slice(0, end);
}

/** The backticked texts of a cell (`a`, `b` → ['a', 'b']). */
export const backticked = (text: string): string[] => [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]);

/** The rows of the table in README's "Configuration" section. */
export function configTable(section = readmeSection('Configuration')): ConfigRow[] {
  const rows = section.split('\n').filter((line) => line.startsWith('| `'));
  if (rows.length === 0) throw new Error('README\'s "Configuration" section has no table rows');
  return rows.map((line) => {
    const cells = line
      .replace(/^\|/, '')
      .replace(/\|\s*$/, '')
      .split('|');
    if (cells.length !== 3) throw new Error(`not a three-cell row of the configuration table: ${line}`);
    const [nameCell, defaultText, meaning] = cells.map((cell) => cell.trim());
    const written = backticked(nameCell);
    const names = written.flatMap((name) => {
      if (!name.includes('<TIER>')) return [name];
      // The tiers are the upper-case backticked words of the meaning (`AUTH`, `NODE`, …).
      const tiers = backticked(meaning).filter((word) => /^[A-Z]+$/.test(word));
      return tiers.map((tier) => name.replace('<TIER>', tier));
    });
    return { names, written, defaultText, meaning };
  });
}

/**
 * A range a row's meaning states: `(1–3600)`, `(60–86400 s)`, `16–512 characters`, `8–72 bytes of UTF-8`, or
 * only a lower bound: `(at least 1024)`.
 */
export interface DocumentedRange {
  low: number;
  /** null: no upper bound. */
  high: number | null;
  /** What is counted: the value itself, or the length of a text. */
  unit: 'number' | 'characters' | 'bytes';
  text: string;
}

export function documentedRanges(meaning: string): DocumentedRange[] {
  const bounded = [...meaning.matchAll(/(\d+)–(\d+)( s| characters| bytes of UTF-8)?/g)].map(
    (match): DocumentedRange => ({
      low: Number(match[1]),
      high: Number(match[2]),
      unit: match[3] === ' characters' ? 'characters' : match[3] === ' bytes of UTF-8' ? 'bytes' : 'number',
      text: match[0],
    }),
  );
  const atLeast = [...meaning.matchAll(/\(at least (\d+)[;)]/g)].map((match): DocumentedRange => ({
    low: Number(match[1]),
    high: null,
    unit: 'number',
    text: match[0],
  }));
  return [...bounded, ...atLeast];
}

/**
 * The names README writes as environment variables (backticked UPPER_SNAKE_CASE, `NAME=value` included),
 * anywhere in it. Single words (`PORT`, `HOST`) are left out: too many other backticked words look the same.
 */
export function readmeVariableMentions(readme = readFileSync(README, 'utf8')): Set<string> {
  const mentions = [...readme.matchAll(/`([A-Z][A-Z0-9]*(?:_[A-Z0-9<>]+)+)(?:=[^`]*)?`/g)];
  return new Set(mentions.map((match) => match[1]));
}

/** Rate-limit defaults as README's "Rate limits" section states them (`auth` 10/3, …), by variable. */
export function documentedTierDefaults(
  section = readmeSection('Rate limits', '###'),
): Record<string, string> {
  const limits = [...section.matchAll(/`([a-z]+)`\s+(\d+)\/(\d+)/g)];
  return Object.fromEntries(
    limits.flatMap(([, tier, rpm, burst]) => [
      [`RATE_LIMIT_${tier.toUpperCase()}_RPM`, rpm],
      [`RATE_LIMIT_${tier.toUpperCase()}_BURST`, burst],
    ]),
  );
}

/** A JSON value flattened to its leaves by path (`wasm.timeoutMs` → 30000). */
function leaves(value: unknown, path = '', into = new Map<string, unknown>()): Map<string, unknown> {
  if (value !== null && typeof value === 'object')
    for (const [key, child] of Object.entries(value)) leaves(child, path ? `${path}.${key}` : key, into);
  else into.set(path, value);
  return into;
}

/** The leaves two JSON values differ in, as `path: before → after`. */
export function differences(before: unknown, after: unknown): string[] {
  const [a, b] = [leaves(before), leaves(after)];
  const paths = new Set([...a.keys(), ...b.keys()]);
  return [...paths]
    .filter((path) => a.get(path) !== b.get(path))
    .map((path) => `${path}: ${JSON.stringify(a.get(path))} → ${JSON.stringify(b.get(path))}`);
}
