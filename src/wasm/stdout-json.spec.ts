import { numbersSurviveParsing, parseStdout } from './stdout-json';

const stdout = (text: string) => parseStdout(Buffer.from(text, 'utf8'));

describe('parseStdout', () => {
  it('parses JSON whose numbers parsing keeps', () => {
    expect(stdout('{"id":9007199254740991,"min":-9007199254740991}\n')).toEqual({
      id: 9007199254740991,
      min: -9007199254740991,
    });
    expect(stdout('[1.0, 1e2, 0.1, 2.5E-3, -0, 0.30000000000000004, 6.02e23]')).toEqual([
      1, 100, 0.1, 0.0025, -0, 0.30000000000000004, 6.02e23,
    ]);
  });

  it('returns the text as printed when parsing would change a number', () => {
    for (const text of [
      '{"id":12345678901234567891}\n',
      '9007199254740992',
      '-9007199254740992',
      '[[1, [2, [3, 9007199254740993]]]]',
      '{"a":{"b":[0.12345678901234567890]}}',
      '1e400',
      '-1e400',
      '1e-400',
    ]) {
      expect(stdout(text)).toBe(text);
    }
  });

  it('reads digits inside strings as text, escaped quotes included', () => {
    expect(stdout('{"id":"12345678901234567891","n":1}')).toEqual({ id: '12345678901234567891', n: 1 });
    expect(stdout('["say \\"99999999999999999999\\"", 2]')).toEqual(['say "99999999999999999999"', 2]);
    expect(stdout('{"12345678901234567891":true}')).toEqual({ '12345678901234567891': true });
  });

  it('keeps the rest of the contract: text that is not JSON, empty output, too-deep JSON', () => {
    expect(stdout('hello 12345678901234567891')).toBe('hello 12345678901234567891');
    expect(stdout('  ')).toBe('  ');
    const deep = `${'['.repeat(100)}${']'.repeat(100)}`;
    expect(stdout(deep)).toBe(deep);
  });
});

describe('numbersSurviveParsing', () => {
  it('holds integers to the safe range and other numbers to their decimal value', () => {
    expect(numbersSurviveParsing('[9007199254740991, -9007199254740991, 1e21, 1.5e300, 5e-324]')).toBe(true);
    expect(numbersSurviveParsing('[100000000000000000000]')).toBe(false); // an integer past 2^53 − 1
    expect(numbersSurviveParsing('[1.00000000000000000001]')).toBe(false);
    expect(numbersSurviveParsing('[2e-324]')).toBe(false); // underflows to 0
  });
});
