/**
 * The built-in programs of `computation` tasks (issue 17): WASI modules compiled from `programs/*.ts`
 * (AssemblyScript) by `npm run build`. Each module's SHA-256 is pinned here: the server refuses to boot with
 * other bytes, and a test rebuilds the modules from source and checks that they reproduce these hashes. After
 * changing a program or the compiler, `node scripts/build-programs.js --print` prints the new ones.
 */

export const PROGRAM_NAMES = ['expression', 'monte_carlo_pi', 'text_stats'] as const;
export type ProgramName = (typeof PROGRAM_NAMES)[number];

/** The subset of JSON Schema the input checks interpret (and GET /programs publishes as is). */
export interface PropertySchema {
  type: 'string' | 'integer';
  description: string;
  const?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  default?: number;
}

export interface InputSchema {
  type: 'object';
  required: string[];
  additionalProperties: false;
  properties: Record<string, PropertySchema>;
}

export interface ProgramDefinition {
  name: ProgramName;
  description: string;
  sha256: string;
  inputSchema: InputSchema;
  example: Record<string, unknown>;
}

export const MAX_EXPRESSION_LENGTH = 1000;
export const MAX_SAMPLES = 100_000_000;
/** The task `inputs` string limit (DEFAULT_DEEP_JSON_LIMITS.maxStringLength) bounds the text anyway. */
export const MAX_TEXT_LENGTH = 10_000;

const programField = (name: ProgramName): PropertySchema => ({
  type: 'string',
  const: name,
  description: 'The program to run',
});

const schema = (required: string[], properties: Record<string, PropertySchema>): InputSchema => ({
  type: 'object',
  required: ['program', ...required],
  additionalProperties: false,
  properties,
});

export const PROGRAMS: readonly ProgramDefinition[] = [
  {
    name: 'expression',
    description:
      'Evaluates an arithmetic expression (+ − * /, unary signs, parentheses, decimal literals) on exact ' +
      'rationals. Output {result, decimal, exact, fraction}: `decimal` is exact when the value terminates, ' +
      'else rounded to 30 fractional digits (`exact: false`); `fraction` is always exact; `result` is `decimal` ' +
      'as a JSON number, null past 300 integer digits or 300 zeros after the point. An expression ' +
      'without a value answers {error: syntax_error | division_by_zero | number_too_large, message, position}.',
    sha256: '141acc59ae659fe59dcf2201ae56133bc6d41961b85452646047fd43f6d07c05',
    inputSchema: schema(['expression'], {
      program: programField('expression'),
      expression: {
        type: 'string',
        minLength: 1,
        maxLength: MAX_EXPRESSION_LENGTH,
        description: 'e.g. "2+3*4" or "(1/3)*3"; no exponents',
      },
    }),
    example: { program: 'expression', expression: '2+3*4' },
  },
  {
    name: 'monte_carlo_pi',
    description:
      'Estimates π from `samples` pseudo-random points (xoshiro256** seeded with `seed`, integer-only ' +
      'test), so the same seed and samples give the same answer on every node. Output {estimated_pi, ' +
      'samples, seed, inside}. Cost: about 10–30 ns per sample (10^8 samples: 1–3 s).',
    sha256: '713ca2fbcaf87bf1b70aafaac03841c39bf7944ab8cb0a3660124c77049bed1c',
    inputSchema: schema([], {
      program: programField('monte_carlo_pi'),
      samples: {
        type: 'integer',
        minimum: 1,
        maximum: MAX_SAMPLES,
        default: 1_000_000,
        description: 'Points',
      },
      seed: {
        type: 'integer',
        minimum: 0,
        maximum: Number.MAX_SAFE_INTEGER,
        default: 0,
        description: 'Seed of the generator',
      },
    }),
    example: { program: 'monte_carlo_pi', samples: 1_000_000, seed: 42 },
  },
  {
    name: 'text_stats',
    description:
      'Counts words, sentences, characters (code points) and distinct words, and lists the `top` keywords ' +
      '(lower-cased words of 3+ characters outside an English stopword list, by count then word). Output ' +
      '{word_count, sentence_count, character_count, unique_word_count, top_keywords: [{word, count}]}.',
    sha256: 'a055cdf17534b3b3ba9449b3327eb63fd128016a4a1ea8d778147990ec9e31b1',
    inputSchema: schema(['text'], {
      program: programField('text_stats'),
      text: { type: 'string', maxLength: MAX_TEXT_LENGTH, description: 'The text to analyse' },
      top: { type: 'integer', minimum: 1, maximum: 50, default: 10, description: 'Keywords to list' },
    }),
    example: { program: 'text_stats', text: 'The quick brown fox. The lazy dog sleeps.' },
  },
];

export function programNamed(name: string): ProgramDefinition | undefined {
  return PROGRAMS.find((program) => program.name === name);
}
