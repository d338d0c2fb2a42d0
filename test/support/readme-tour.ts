import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const README = join(__dirname, '../../README.md');

/** The ```bash blocks of README's `## <title>` section, as written. */
export function bashBlocks(title: string, readme = readFileSync(README, 'utf8')): string[] {
  const start = readme.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`README has no "## ${title}" section`);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/^```bash\n([\s\S]*?)^```$/gm)].map((match) => match[1]);
}

export interface Expectation {
  /** The `# → …` line's text after the arrow. */
  expected: string;
  /** The commands since the comment before it, whose output it describes. */
  commands: string;
}

const MARK = '@@readme-tour-mark@@';

/**
 * The block with a marker printed before each of its comment lines (which stand between whole commands), so the
 * output of the commands after one comment and before an `# → …` line can be told apart from the rest.
 */
export function instrument(block: string): { script: string; expectations: Expectation[] } {
  const lines = block.split('\n');
  const expectations: Expectation[] = [];
  const script: string[] = [];
  let commands: string[] = [];
  for (const line of lines) {
    if (line.startsWith('#')) {
      script.push(`printf '\\n${MARK}\\n'`);
      const arrow = /^# → (.*)$/.exec(line);
      if (arrow) expectations.push({ expected: arrow[1], commands: commands.join('\n').trim() });
      commands = [];
    } else if (line.trim()) commands.push(line);
    script.push(line);
  }
  return { script: script.join('\n'), expectations };
}

/** The output each expectation describes: what was printed between the markers around its commands. */
export function outputsOf(stdout: string, block: string): string[] {
  const segments = stdout.split(`\n${MARK}\n`);
  const outputs: string[] = [];
  block
    .split('\n')
    .filter((line) => line.startsWith('#'))
    .forEach((line, index) => {
      if (line.startsWith('# → ')) outputs.push((segments[index] ?? '').trim());
    });
  return outputs;
}

const WILD = '…';

/** A regular expression for text with `…` wildcards (any text, lines included); a run of blanks is any. */
function textPattern(expected: string): RegExp {
  const parts = expected.split(WILD).map((part) =>
    part
      .trim()
      .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
      .replace(/\s+/g, '\\s+'),
  );
  return new RegExp(`^${parts.join('[\\s\\S]*?')}$`);
}

/** JSON text whose bare `…` are strings, and `…` closing an object an `"…": "…"` member (more fields allowed). */
function wildJson(expected: string): unknown {
  let out = '';
  let inString = false;
  for (let i = 0; i < expected.length; i++) {
    const char = expected[i];
    if (inString) {
      if (char === '\\') out += char + expected[++i];
      else out += char;
      if (char === '"') inString = false;
    } else if (char === '"') {
      inString = true;
      out += char;
    } else if (char === WILD) {
      const closesObject = /^\s*\}/.test(expected.slice(i + 1)) && /[,{]\s*$/.test(out);
      out += closesObject ? `"${WILD}":"${WILD}"` : `"${WILD}"`;
    } else out += char;
  }
  return JSON.parse(out);
}

function matchValue(expected: unknown, actual: unknown, path: string): string[] {
  if (typeof expected === 'string' && expected.includes(WILD)) {
    if (expected === WILD) return actual === undefined ? [`${path}: missing`] : [];
    return typeof actual === 'string' && textPattern(expected).test(actual)
      ? []
      : [`${path}: ${JSON.stringify(actual)} is not ${JSON.stringify(expected)}`];
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length)
      return [`${path}: ${JSON.stringify(actual)} is not ${JSON.stringify(expected)}`];
    return expected.flatMap((item, i) => matchValue(item, actual[i], `${path}[${i}]`));
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual))
      return [`${path}: ${JSON.stringify(actual)} is not an object`];
    const want = expected as Record<string, unknown>;
    const have = actual as Record<string, unknown>;
    const open = WILD in want;
    const problems = Object.keys(want)
      .filter((key) => key !== WILD)
      .flatMap((key) =>
        key in have ? matchValue(want[key], have[key], `${path}.${key}`) : [`${path}.${key}: missing`],
      );
    if (!open)
      problems.push(
        ...Object.keys(have)
          .filter((key) => !(key in want))
          .map((key) => `${path}.${key}: not shown`),
      );
    return problems;
  }
  return Object.is(expected, actual)
    ? []
    : [`${path}: ${JSON.stringify(actual)} is not ${JSON.stringify(expected)}`];
}

/**
 * Why `actual` does not match an `# → …` expectation (empty when it does). JSON expectations compare fields: those
 * shown must match (a `…` value is any value, a `…` inside a string any text), and a `…` closing an object allows
 * more fields. Anything else is text where `…` is any text.
 */
export function mismatches(expected: string, actual: string): string[] {
  if (/^[[{]/.test(expected)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(actual);
    } catch {
      return [`not one JSON value: ${JSON.stringify(actual)}`];
    }
    return matchValue(wildJson(expected), parsed, '$');
  }
  return textPattern(expected).test(actual.trim())
    ? []
    : [`${JSON.stringify(actual)} does not read "${expected}"`];
}
