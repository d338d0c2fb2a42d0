import { neutralize, neutralizeDeep } from './sanitize';

describe('neutralize', () => {
  it.each([
    ['CR and LF', 'alice\r\n{"level":30,"msg":"forged"}', 'alice\\u000d\\u000a{"level":30,"msg":"forged"}'],
    ['an ANSI escape', '\u001b[31mred\u001b[0m', '\\u001b[31mred\\u001b[0m'],
    ['NUL and DEL', 'a\u0000b\u007f', 'a\\u0000b\\u007f'],
    ['a bidi override', 'evil\u202etxt.exe', 'evil\\u202etxt.exe'],
    ['a line separator', 'x\u2028y', 'x\\u2028y'],
  ])('escapes %s', (_case, input, expected) => {
    expect(neutralize(input)).toBe(expected);
  });

  it('leaves ordinary text, including non-ASCII letters, alone', () => {
    expect(neutralize('Zoë — 東京 ok')).toBe('Zoë — 東京 ok');
  });

  it('walks nested metadata, keys included', () => {
    expect(neutralizeDeep({ 'k\n': ['v\r', { deep: '\u001b' }], n: 1, b: true, z: null })).toEqual({
      'k\\u000a': ['v\\u000d', { deep: '\\u001b' }],
      n: 1,
      b: true,
      z: null,
    });
  });
});
