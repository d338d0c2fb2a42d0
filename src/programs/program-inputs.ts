import type { FieldError } from '../common/errors/app.exception';
import {
  InputSchema,
  MAX_EXPRESSION_LENGTH,
  PROGRAM_NAMES,
  programNamed,
  ProgramName,
} from './program-catalog';

/** The program a `computation` task runs and the inputs it reads on stdin (stored as the task's inputs). */
export interface ResolvedComputation {
  program: ProgramName;
  inputs: Record<string, unknown>;
}

const PROGRAM_LIST = PROGRAM_NAMES.join(', ');
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The first way `value` breaks `schema` (the subset in program-catalog.ts), as a field error under `inputs`. */
export function schemaProblem(schema: InputSchema, value: Record<string, unknown>): FieldError | null {
  const problem = (key: string, message: string): FieldError => ({ field: `inputs.${key}`, message });
  for (const key of Object.keys(value)) {
    if (!Object.hasOwn(schema.properties, key)) return problem(key, 'is not an input of this program');
  }
  for (const key of schema.required) {
    if (!Object.hasOwn(value, key)) return problem(key, 'is required');
  }
  for (const [key, rule] of Object.entries(schema.properties)) {
    if (!Object.hasOwn(value, key)) continue;
    const field = value[key];
    if (rule.type === 'string') {
      if (typeof field !== 'string') return problem(key, 'must be a string');
      if (rule.const !== undefined && field !== rule.const) return problem(key, `must be "${rule.const}"`);
      if (rule.minLength !== undefined && codePointsAtMost(field, rule.minLength - 1)) {
        return problem(key, `must be at least ${rule.minLength} characters`);
      }
      // UTF-16 units, not code points: the programs (and the deep-JSON limit before them) count a string's
      // `length`, so an input within the code-point count but not this one would be accepted and then make
      // its program refuse it, a run that fails on every node.
      if (rule.maxLength !== undefined && field.length > rule.maxLength) {
        return problem(
          key,
          `must be at most ${rule.maxLength} characters, counted in UTF-16 units (an emoji counts two)`,
        );
      }
    } else {
      // Integers only: a node reads the literal digit by digit, so 1e3 or 2.5 must never reach it.
      if (typeof field !== 'number' || !Number.isInteger(field)) return problem(key, 'must be an integer');
      // 2^53 and past (1e300 too) is an integer out of range, not "not an integer": the range says what is.
      if (
        !Number.isSafeInteger(field) ||
        (rule.minimum !== undefined && field < rule.minimum) ||
        (rule.maximum !== undefined && field > rule.maximum)
      ) {
        return problem(key, `must be from ${rule.minimum} to ${rule.maximum}`);
      }
    }
  }
  return null;
}

/**
 * Whether `text` has at most `limit` code points: what the published schema's minLength counts (JSON Schema
 * counts characters, not UTF-16 units), so a client validating with it agrees with this check on emoji.
 */
function codePointsAtMost(text: string, limit: number): boolean {
  if (text.length <= limit) return true;
  if (text.length > 2 * limit) return false;
  let points = 0;
  for (let i = 0; i < text.length; i++, points++) {
    const unit = text.charCodeAt(i);
    const next = text.charCodeAt(i + 1);
    if (unit >= 0xd800 && unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) i++;
  }
  return points <= limit;
}

/** Only digits, operators, parentheses and spaces (a question like "what is 2+2?" is stripped to this first). */
const ARITHMETIC = /^[\d\s.+\-*/()×÷−]+$/u;
const QUESTION = /^(?:what\s+is|what's|calculate|compute|evaluate|solve)\s*:?\s*/i;
const SUMMARY =
  /^(?:summari[sz]e|analy[sz]e|text\s+stats|word\s+count|count\s+(?:the\s+)?words(?:\s+in)?)\s*:?\s*/i;
const PI = /(?:^|[^a-z])(?:pi|π)(?:[^a-z]|$)/iu;

/**
 * The original service's prompt-style inputs (`{prompt: "..."}`), mapped to a program: arithmetic (optionally
 * "what is …", "calculate …", ending in "?" or "=") → expression; a prompt naming π → monte_carlo_pi, with
 * "N samples" and "seed N" when given; "summarize …", "analyze …", "word count …" → text_stats of the rest.
 * Anything else is a 422 listing the programs: guessing would run something the caller did not ask for.
 */
export function programForPrompt(prompt: string): ResolvedComputation | FieldError {
  const text = prompt.trim();
  const arithmetic = text
    .replace(QUESTION, '')
    .replace(/[?=]\s*$/, '')
    .trim();
  if (arithmetic.length > 0 && /\d/.test(arithmetic) && ARITHMETIC.test(arithmetic)) {
    return { program: 'expression', inputs: { program: 'expression', expression: arithmetic } };
  }
  // Before π: "summarize: the number pi is irrational" asks for the text's stats, not for π.
  const summary = SUMMARY.exec(text);
  if (summary && text.length > summary[0].length) {
    return { program: 'text_stats', inputs: { program: 'text_stats', text: text.slice(summary[0].length) } };
  }
  if (PI.test(text)) return piFromPrompt(text);
  return {
    field: 'inputs.prompt',
    message:
      `matches no built-in program (${PROGRAM_LIST}); give inputs.program, or a prompt that is arithmetic, ` +
      'asks to estimate pi, or starts with "summarize"',
  };
}

const COUNT_WORD = /^(?:samples|points|iterations)\b/i;
const WHOLE_NUMBER = /^\d[\d_,]*$/;
const SEED = /\bseed\b\s*[:=]?\s*(\S*)/i;

/**
 * "N samples" and "seed N" read out of a π prompt only when unambiguous: anything else that names them (1e6
 * samples, 10 500 samples, seed -5) is a 422 asking for the number in inputs, never a guess that runs.
 */
function piFromPrompt(text: string): ResolvedComputation | FieldError {
  const inputs: Record<string, unknown> = { program: 'monte_carlo_pi' };
  const unreadable = (what: string): FieldError => ({
    field: 'inputs.prompt',
    message: `names ${what} in a form this mapping cannot read: give inputs.program "monte_carlo_pi" with inputs.${what}`,
  });
  const words = text.split(/\s+/);
  // "5 decimal points" names no count: only a count word right after something numeric is read.
  const at = words.findIndex((word, i) => COUNT_WORD.test(word) && /\d/.test(words[i - 1] ?? ''));
  if (at >= 0) {
    const count = words[at - 1];
    if (!WHOLE_NUMBER.test(count) || /\d$/.test(words[at - 2] ?? '')) return unreadable('samples');
    inputs.samples = Number(count.replace(/[_,]/g, ''));
  }
  const seed = SEED.exec(text);
  if (seed) {
    const value = seed[1].replace(/[.,;!?)]+$/, '');
    // A negative or fractional seed is passed on as written, for the schema to refuse by its range.
    if (!/^-?\d+(?:\.\d+)?$/.test(value)) return unreadable('seed');
    inputs.seed = Number(value);
  }
  return { program: 'monte_carlo_pi', inputs };
}

const OPERATIONS: Record<string, (terms: string[]) => string> = {
  sum: (terms) => terms.join('+'),
  product: (terms) => terms.join('*'),
  average: (terms) => `(${terms.join('+')})/${terms.length}`,
  mean: (terms) => `(${terms.join('+')})/${terms.length}`,
};

/**
 * A number as the expression grammar (which has no exponents) reads it: String(n), a double's shortest exact
 * spelling, with its exponent written out — 1e-7 → "0.0000001", 1e21 → "1" and 21 zeros — so the exact
 * arithmetic gets the very number the caller sent (JSON.parse turns 0.0000001 into 1e-7 on the way in).
 */
function plainDecimal(n: number): string {
  const text = String(n);
  const parts = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (!parts) return text;
  const [, sign, lead, fraction = '', exponent] = parts;
  const digits = lead + fraction;
  const point = 1 + Number(exponent); // where the decimal point falls in `digits`
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** Every decimal of at most this many significant digits survives a double exactly (DBL_DIG). */
const MAX_EXACT_DIGITS = 15;

function significantDigits(literal: string): number {
  return literal.replace(/[-.]/g, '').replace(/^0+/, '').replace(/0+$/, '').length;
}

/** The original demo body `{numbers: [1, 2, 3], operation: "sum"}` as an expression ("1+2+3"). */
function programForNumbers(inputs: Record<string, unknown>): ResolvedComputation | FieldError {
  const extra = Object.keys(inputs).find((key) => key !== 'numbers' && key !== 'operation');
  if (extra !== undefined) return { field: `inputs.${extra}`, message: 'is not an input of this program' };
  const operation = inputs.operation;
  if (typeof operation !== 'string' || !Object.hasOwn(OPERATIONS, operation)) {
    return { field: 'inputs.operation', message: `must be one of ${Object.keys(OPERATIONS).join(', ')}` };
  }
  const numbers = inputs.numbers;
  if (!Array.isArray(numbers) || numbers.length === 0) {
    return { field: 'inputs.numbers', message: 'must be a non-empty array of numbers' };
  }
  const terms: string[] = [];
  for (const [i, n] of numbers.entries()) {
    const literal = typeof n === 'number' ? plainDecimal(n) : '';
    if (!/^-?\d+(?:\.\d+)?$/.test(literal)) {
      return { field: `inputs.numbers[${i}]`, message: 'must be a number' };
    }
    // An integer past 2^53 with more than 15 significant digits is not the one the caller wrote
    // (12345678901234567890 arrives as …567000): the exact arithmetic would answer `exact: true` for another
    // number. A double's own spelling (1e21, or any fraction a client serialised) reads back as sent.
    if (!Number.isSafeInteger(n) && Number.isInteger(n) && significantDigits(literal) > MAX_EXACT_DIGITS) {
      return {
        field: `inputs.numbers[${i}]`,
        message:
          `is an integer past 2^53 with more than ${MAX_EXACT_DIGITS} significant digits, which a JSON number ` +
          'does not keep exactly: write the computation as inputs.expression (program "expression")',
      };
    }
    terms.push(literal);
  }
  const expression = OPERATIONS[operation](terms);
  if (expression.length > MAX_EXPRESSION_LENGTH) {
    return {
      field: 'inputs.numbers',
      message: `make an expression over ${MAX_EXPRESSION_LENGTH} characters`,
    };
  }
  return { program: 'expression', inputs: { program: 'expression', expression } };
}

/**
 * A `computation` task's inputs → its program and the inputs that program reads. `{program, …}` is checked
 * against the program's schema; `{prompt}` and the original `{numbers, operation}` are mapped (and then
 * checked the same way). A FieldError is the 422.
 */
export function resolveComputation(inputs: unknown): ResolvedComputation | FieldError {
  if (!isObject(inputs)) {
    return { field: 'inputs', message: `must be an object naming a program (${PROGRAM_LIST})` };
  }
  let resolved: ResolvedComputation | FieldError;
  if (Object.hasOwn(inputs, 'program')) {
    const program = typeof inputs.program === 'string' ? programNamed(inputs.program) : undefined;
    if (!program) return { field: 'inputs.program', message: `must be one of ${PROGRAM_LIST}` };
    resolved = { program: program.name, inputs };
  } else if (Object.hasOwn(inputs, 'prompt')) {
    if (typeof inputs.prompt !== 'string') return { field: 'inputs.prompt', message: 'must be a string' };
    const extra = Object.keys(inputs).find((key) => key !== 'prompt');
    if (extra !== undefined) return { field: `inputs.${extra}`, message: 'is not allowed beside prompt' };
    resolved = programForPrompt(inputs.prompt);
  } else if (Object.hasOwn(inputs, 'numbers') || Object.hasOwn(inputs, 'operation')) {
    resolved = programForNumbers(inputs);
  } else {
    return { field: 'inputs.program', message: `is required: one of ${PROGRAM_LIST} (or inputs.prompt)` };
  }
  if ('field' in resolved) return resolved;
  const problem = schemaProblem(programNamed(resolved.program)!.inputSchema, resolved.inputs);
  if (!problem) return resolved;
  // A value read out of a prompt is reported against the prompt, the only field the caller wrote.
  if (!Object.hasOwn(inputs, 'prompt')) return problem;
  return {
    field: 'inputs.prompt',
    message: `asks for ${problem.field.slice('inputs.'.length)} that ${problem.message}`,
  };
}
