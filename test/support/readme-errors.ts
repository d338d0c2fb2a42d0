import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const README = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');

/** One row of README's "Error reasons" table. */
export interface ReasonRow {
  reason: string;
  status: number;
  code: string;
  /** `POST /tasks` as written (under /api/v1), or `every route`. */
  routes: string[];
}

/** The text of a README section, from its heading to the next heading of the same or a higher level. */
export function section(readme: string, heading: string): string {
  const start = readme.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`README has no section "${heading}"`);
  const level = /^#+/.exec(heading)![0].length;
  const rest = readme.slice(start + heading.length + 2);
  const end = rest.search(new RegExp(`^#{1,${level}} `, 'm'));
  return end < 0 ? rest : rest.slice(0, end);
}

/** The codes "HTTP conventions" lists after "Codes are stable:", up to the end of that sentence. */
export function readmeErrorCodes(readme = README): string[] {
  const text = section(readme, '## HTTP conventions');
  const start = text.indexOf('Codes are stable:');
  if (start < 0) throw new Error('README: "Codes are stable:" is gone from HTTP conventions');
  const sentence = text.slice(start, text.indexOf('. ', start));
  return [...sentence.matchAll(/`([^`]*)`/g)]
    .map((match) => match[1])
    .filter((span) => /^[a-z_]+$/.test(span));
}

export function readmeReasonTable(readme = README): ReasonRow[] {
  const rows = section(readme, '### Error reasons')
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .slice(1); // the header row
  return rows.map((line) => {
    const [reason, answer, routes] = line
      .split('|')
      .slice(1, -1)
      .map((cell) => cell.trim());
    const status = /^(\d{3}) `([a-z_]+)`$/.exec(answer);
    if (!status) throw new Error(`README: the answer of ${reason} is not "NNN \`code\`": ${answer}`);
    return {
      reason: reason.replace(/`/g, ''),
      status: Number(status[1]),
      code: status[2],
      routes: routes === 'every route' ? [routes] : [...routes.matchAll(/`([^`]+)`/g)].map((m) => m[1]),
    };
  });
}

/** Every backticked span of a text (spans may wrap lines, as README's do); fenced blocks are not prose. */
export const backticked = (text: string): string[] =>
  [...text.replace(/^ *```[\s\S]*?^ *```/gm, '').matchAll(/`([^`]+)`/g)].map((m) => m[1]);

/** Whether `word` appears as a whole word in one of the text's backticked spans. */
export function mentions(text: string, word: string): boolean {
  const whole = new RegExp(`(^|[^a-z_])${word}($|[^a-z_])`);
  return backticked(text).some((span) => whole.test(span));
}

/** The reasons a text names as such: `reason: x`, `reason: "x"`, or reason `x`. */
export function namedReasons(text: string): string[] {
  const inSpans = backticked(text).flatMap((span) => {
    const found = /^reason:\s*"?([a-z_]+)"?$/.exec(span);
    return found ? [found[1]] : [];
  });
  const after = [...text.matchAll(/\breason `([a-z_]+)`/g)].map((m) => m[1]);
  return [...inSpans, ...after];
}
