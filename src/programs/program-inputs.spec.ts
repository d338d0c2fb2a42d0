import { programForPrompt, resolveComputation } from './program-inputs';

describe('resolveComputation', () => {
  const sut = resolveComputation;

  it('keeps program inputs that fit the schema as they are', () => {
    const inputs = { program: 'monte_carlo_pi', samples: 100_000_000, seed: 0 };
    expect(sut(inputs)).toEqual({ program: 'monte_carlo_pi', inputs });
    expect(sut({ program: 'text_stats', text: '' })).toMatchObject({ program: 'text_stats' });
  });

  it.each([
    [{ program: 'monte_carlo_pi', samples: 100_000_001 }, 'inputs.samples', 'must be from 1 to 100000000'],
    [{ program: 'monte_carlo_pi', samples: 2.5 }, 'inputs.samples', 'must be an integer'],
    [{ program: 'monte_carlo_pi', seed: -1 }, 'inputs.seed', 'must be from 0 to 9007199254740991'],
    [{ program: 'monte_carlo_pi', seed: 2 ** 53 }, 'inputs.seed', 'must be from 0 to 9007199254740991'],
    [{ program: 'monte_carlo_pi', seed: 1e300 }, 'inputs.seed', 'must be from 0 to 9007199254740991'],
    [{ program: 'monte_carlo_pi', seed: '1' }, 'inputs.seed', 'must be an integer'],
    [{ program: 'expression' }, 'inputs.expression', 'is required'],
    [{ program: 'expression', expression: '' }, 'inputs.expression', 'must be at least 1 characters'],
    [
      { program: 'expression', expression: '1'.repeat(1001) },
      'inputs.expression',
      'must be at most 1000 characters, counted in UTF-16 units (an emoji counts two)',
    ],
    [{ program: 'expression', expression: 7 }, 'inputs.expression', 'must be a string'],
    [{ program: 'expression', expression: '1', x: 1 }, 'inputs.x', 'is not an input of this program'],
    [{ program: 'sort' }, 'inputs.program', 'must be one of expression, monte_carlo_pi, text_stats'],
    [{ program: 3 }, 'inputs.program', 'must be one of expression, monte_carlo_pi, text_stats'],
    [
      { text: 'hi' },
      'inputs.program',
      'is required: one of expression, monte_carlo_pi, text_stats (or inputs.prompt)',
    ],
    [[1, 2], 'inputs', 'must be an object naming a program (expression, monte_carlo_pi, text_stats)'],
    [{ numbers: [1, 2], operation: 'max' }, 'inputs.operation', 'must be one of sum, product, average, mean'],
    [{ numbers: [1, '2'], operation: 'sum' }, 'inputs.numbers[1]', 'must be a number'],
    [{ numbers: [], operation: 'sum' }, 'inputs.numbers', 'must be a non-empty array of numbers'],
    [{ prompt: 'hi', seed: 1 }, 'inputs.seed', 'is not allowed beside prompt'],
    [
      { prompt: 'estimate pi with 1000000000 samples' },
      'inputs.prompt',
      'asks for samples that must be from 1 to 100000000',
    ],
  ])('refuses %j: %s %s', (inputs, field, message) => {
    expect(sut(inputs)).toEqual({ field, message });
  });

  it('counts maxLength in UTF-16 units, as the programs and the deep-JSON limit do; minLength in code points', () => {
    const emoji = '\u{1F600}';
    expect(emoji.length).toBe(2);
    const tooLong = {
      field: 'inputs.expression',
      message: 'must be at most 1000 characters, counted in UTF-16 units (an emoji counts two)',
    };
    // 501 emoji are 501 code points but 1002 units: the expression program would refuse them (exit 2), a run
    // that fails on every node; refused here instead, before anything is stored.
    expect(sut({ program: 'expression', expression: emoji.repeat(501) })).toEqual(tooLong);
    expect(sut({ program: 'expression', expression: emoji.repeat(500) })).toMatchObject({
      program: 'expression',
    });
    expect(sut({ program: 'expression', expression: '1'.repeat(1001) })).toEqual(tooLong);
    expect(sut({ program: 'text_stats', text: emoji.repeat(5_000) })).toMatchObject({
      program: 'text_stats',
    });
    expect(sut({ program: 'text_stats', text: emoji.repeat(4_999) + 'abc' })).toMatchObject({
      field: 'inputs.text',
    });
    // One emoji is one character for minLength 1, as JSON Schema counts.
    expect(sut({ program: 'expression', expression: emoji })).toMatchObject({ program: 'expression' });
  });

  it('refuses numbers a JSON number does not carry exactly, rather than answer exact for another number', () => {
    // What JSON.parse makes of the caller's 12345678901234567890 (the literal itself would lose precision).
    expect(sut({ numbers: [JSON.parse('12345678901234567890') as number, 1], operation: 'sum' })).toEqual({
      field: 'inputs.numbers[0]',
      message: expect.stringContaining('integer past 2^53 with more than 15 significant digits'),
    });
    // A double's own spelling reads back as sent: a client's serialised random fraction, 1e21, 2^53 − 1.
    expect(sut({ numbers: [0.8362529182946584, 9007199254740991, 1e21], operation: 'sum' })).toMatchObject({
      program: 'expression',
    });
  });

  it('maps the original demo body {numbers, operation} to an expression', () => {
    const expression = (operation: string, numbers: number[]) =>
      sut({ numbers, operation }) as unknown as { inputs: { expression: string } };
    expect(sut({ numbers: [1, 2, 3], operation: 'sum' })).toEqual({
      program: 'expression',
      inputs: { program: 'expression', expression: '1+2+3' },
    });
    expect(expression('product', [2, -3, 0.5]).inputs.expression).toBe('2*-3*0.5');
    expect(expression('average', [1, 2]).inputs.expression).toBe('(1+2)/2');
    // Numbers JavaScript spells with an exponent are written out, as the caller wrote them.
    expect(expression('sum', [0.0000001, 1e21, -1.5e-7, 2.5e25]).inputs.expression).toBe(
      `0.0000001+1${'0'.repeat(21)}+-0.00000015+25${'0'.repeat(24)}`,
    );
  });
});

describe('programForPrompt', () => {
  it.each([
    ['2+3*4', { program: 'expression', expression: '2+3*4' }],
    ['What is (1 + 2) / 3?', { program: 'expression', expression: '(1 + 2) / 3' }],
    ['calculate: 7 × 6 =', { program: 'expression', expression: '7 × 6' }],
    ['Estimate pi', { program: 'monte_carlo_pi' }],
    ['estimate π with 1,000,000 samples, seed 9', { program: 'monte_carlo_pi', samples: 1_000_000, seed: 9 }],
    ['Summarize: The cat sat.', { program: 'text_stats', text: 'The cat sat.' }],
    ['word count the fox and the hen', { program: 'text_stats', text: 'the fox and the hen' }],
    // A summary that mentions π is still a summary.
    [
      'summarize: The number pi is irrational.',
      { program: 'text_stats', text: 'The number pi is irrational.' },
    ],
    ['pi to 5 decimal points', { program: 'monte_carlo_pi' }],
    ['estimate pi, 500 samples, seed=3.', { program: 'monte_carlo_pi', samples: 500, seed: 3 }],
  ])('%s → %j', (prompt, inputs) => {
    expect(programForPrompt(prompt)).toEqual({ program: inputs.program, inputs });
  });

  it.each([
    ['estimate pi with 1e6 samples', 'samples'],
    ['estimate pi with 10 500 samples', 'samples'],
    ['estimate pi, seed of 5', 'seed'],
  ])('refuses %s rather than read another number from it', (prompt, what) => {
    expect(programForPrompt(prompt)).toEqual({
      field: 'inputs.prompt',
      message: expect.stringContaining(`names ${what} in a form this mapping cannot read`),
    });
  });

  it('passes a negative seed on for the schema to refuse, not dropped', () => {
    expect(resolveComputation({ prompt: 'estimate pi using seed -5 and 1000 samples' })).toEqual({
      field: 'inputs.prompt',
      message: expect.stringContaining('asks for seed that must be from'),
    });
  });

  it('lists the programs for a prompt it cannot map, instead of guessing', () => {
    for (const prompt of ['Write me a poem', 'spin the pipeline', 'summarize', '']) {
      expect(programForPrompt(prompt)).toMatchObject({
        field: 'inputs.prompt',
        message: expect.stringContaining('expression, monte_carlo_pi, text_stats'),
      });
    }
  });
});
